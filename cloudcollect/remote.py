"""What the storage holds, as far as a run knows it: listing, state object and HEADs.

``read_remote`` lists the prefix and reads the state object (see ``cloudcollect.state``);
``resolve_unknown`` HEADs only the keys a listing cannot decide; ``save_state`` records
what the run left right. Without list permission every key is HEADed and nothing is
deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .errors import FatalStorageError, StorageError
from .plan import LocalAsset, needs_head
from .report import UNCHANGED, UPLOADED, Report
from .state import Recorded, decode, encode, headers_digest, merge, state_key
from .storage.base import RemoteObject, Storage, put_bytes
from .sync import run_parallel

STATE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


@dataclass
class RemoteView:
    """What the storage holds under the prefix, as far as the run knows it."""

    objects: dict[str, RemoteObject]
    live_headers: dict[str, str] | None  # key -> headers_digest; None: no headers stored
    recorded: dict[str, Recorded]  # the state object's entries as read
    listed: bool = True  # False: listing denied, ``objects`` holds only what HEAD found


#: Codes a listing can fail with when the credentials may write but not list (no
#: s3:ListBucket): then every key is checked with HEAD and nothing is deleted.
LIST_DENIED = frozenset({"AccessDenied", "403"})


def read_remote(settings: Settings, storage: Storage) -> RemoteView:
    """List the prefix; read the state object when the listing shows one."""
    key = state_key(settings.prefix)
    try:
        objects = {obj.key: obj for obj in storage.list(settings.prefix)}
    except FatalStorageError as error:
        if error.code not in LIST_DENIED:
            raise
        return RemoteView({}, {} if storage.stores_headers else None, {}, listed=False)
    raw = storage.get(key) if objects.pop(key, None) is not None else None
    recorded = decode(raw)
    merged, digests = merge(objects, recorded)
    return RemoteView(merged, digests if storage.stores_headers else None, recorded)


def save_state(
    assets: list[LocalAsset],
    remote: RemoteView,
    report: Report,
    settings: Settings,
    storage: Storage,
) -> None:
    """Record every key now known to be right (uploaded or unchanged); write only if new."""
    by_key = {asset.key: asset for asset in assets}
    entries: dict[str, Recorded] = {}
    for outcome in report.outcomes:
        asset = by_key.get(outcome.key)
        if asset is None or outcome.status not in (UPLOADED, UNCHANGED):
            continue
        listed = remote.objects.get(outcome.key)
        if outcome.status == UPLOADED:
            etag = outcome.etag
        else:
            etag = listed.etag if listed is not None else None
        entries[outcome.key] = Recorded(etag, asset.md5, headers_digest(asset.headers))
    if entries != remote.recorded:
        put_bytes(storage, state_key(settings.prefix), encode(entries), STATE_HEADERS)


def resolve_unknown(
    assets: list[LocalAsset],
    remote: RemoteView,
    storage: Storage,
    report: Report,
    settings: Settings,
) -> None:
    """HEAD the keys the listing cannot decide (all of them when listing was denied) and
    record what they show; a failed HEAD means "unknown", so that key is uploaded."""
    if not remote.listed:
        report.warn(
            f"cannot list {settings.prefix or 'the bucket'!r} (access denied): checking each "
            "file with HEAD, uploading what cannot be confirmed, deleting nothing"
        )

    def head(key: str) -> tuple[str, RemoteObject | StorageError | None]:
        try:
            return key, storage.head(key)
        except FatalStorageError:
            raise
        except StorageError as error:  # unknown, never "unchanged": the key is uploaded
            return key, error

    def remember(found: tuple[str, RemoteObject | StorageError | None]) -> None:
        key, obj = found
        if isinstance(obj, StorageError):
            if remote.listed or obj.code not in LIST_DENIED:
                report.warn(f"cannot check {key} ({obj.code}): uploading it")
            obj = None if not remote.listed else remote.objects.get(key)
        if obj is None:
            remote.objects.pop(key, None)
            return
        remote.objects[key] = obj
        if remote.live_headers is not None:
            remote.live_headers[key] = headers_digest(obj.headers)

    keys = (
        needs_head(assets, remote.objects, remote.live_headers)
        if remote.listed
        else [asset.key for asset in assets]
    )
    run_parallel(keys, head, remember, workers=settings.workers)
