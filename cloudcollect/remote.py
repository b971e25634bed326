"""What the storage holds, as far as a run knows it: listing, state object and HEADs.

``read_remote`` lists the run's roots (:func:`listing_roots`) and reads the state object
(see ``cloudcollect.state``);
``resolve_unknown`` HEADs only the keys a listing cannot decide; ``state_entries`` says
what the run left right (written by ``cloudcollect.plugins.stateobject``). Without list
permission every key is HEADed and nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from .config import Settings
from .errors import FatalStorageError, StorageError
from .hashing import plain_md5_from_etag
from .headers import headers_digest
from .lease import LIST_DENIED, Lease, lease_key, lease_run
from .plan import LocalAsset, needs_head
from .report import UNCHANGED, UPLOADED, Report
from .sources import StaticSource
from .state import Recorded, StateDocument, merge, read_state, state_key
from .storage.base import RemoteObject, Storage
from .sync import run_parallel

#: How the keys of cloudcollect's own objects under the prefix begin: the state object,
#: the lease and the fingerprinting folder (``.cloudcollect/``).
OWN_KEYS = ".cloudcollect"

#: The headers digest of an object another client rewrote: matches no wanted headers.
REWRITTEN = "rewritten-by-another-client"


def rewritten_elsewhere(obj: RemoteObject) -> bool:
    """Whether a HEAD shows bytes other than the ones cloudcollect uploaded: a plain-MD5
    ETag that differs from the MD5 recorded in the metadata at upload (another client
    wrote the object and copied the metadata: same size and headers, other bytes). Only
    meaningful where ETags are MD5s (``CLOUDCOLLECT_TRUST_ETAG``; not SSE-KMS)."""
    etag_md5 = plain_md5_from_etag(obj.etag)
    return obj.md5 is not None and etag_md5 is not None and etag_md5 != obj.md5


@dataclass(frozen=True)
class RemoteView:
    """What the storage holds under the prefix, as far as the run knows it. A stage that
    learns more returns a new view (``dataclasses.replace``), never edits this one."""

    objects: dict[str, RemoteObject]
    live_headers: dict[str, str] | None  # key -> headers_digest; None: no headers stored
    recorded: dict[str, Recorded]  # the state object's entries as read
    listed: bool = True  # False: listing denied, ``objects`` holds only what HEAD found
    lease: bytes | None = None  # the release lease as listed (cloudcollect.lease)
    problems: tuple[str, ...] = ()  # why the state object was ignored, for the report


def listing_roots(sources: Iterable[StaticSource], prefix: str) -> list[str]:
    """Where the keys of an app's static ``sources`` live, which a run lists and may delete
    under: ``[prefix]`` when a prefix is set. Without one, each static URL root
    (``static/``, ``admin/static/``; a root inside another is left out), so that the other
    objects of a shared bucket are neither listed nor deleted; ``[""]`` (the whole bucket)
    when a static folder is served at the URL root or there is no static source."""
    if prefix:
        return [prefix]
    roots = sorted({source.url_prefix for source in sources})
    if not roots or "" in roots:
        return [""]
    kept: list[str] = []
    for root in roots:  # sorted: a root comes after every root it lies inside
        if not any(root.startswith(outer) for outer in kept):
            kept.append(root)
    return kept


def read_remote(
    settings: Settings,
    storage: Storage,
    trust_state: bool = True,
    roots: list[str] | None = None,
) -> RemoteView:
    """List ``roots`` (default: the prefix) and the keys of cloudcollect's own objects
    (:data:`OWN_KEYS`), on parallel threads; the lease and the state object are read as
    soon as the listing of the own keys shows them, while the roots are still listed.
    When a root holds the own keys and only their own listing is denied (a policy that
    allows listing ``PREFIX/`` itself), they are read as the roots' listing shows them.

    The state object is ignored when it is corrupt or when the lease names another run
    (an overlapping release, see ``cloudcollect.lease``); ``problems`` says why. With
    ``trust_state`` off it is ignored too, so that every key's headers are read with HEAD
    (``--check --verify-headers``: drift made by another client keeps the ETag). A failure
    to read the lease or the state object is raised once every listing ended.
    """
    key, lease_at = state_key(settings.prefix), lease_key(settings.prefix)
    where = [settings.prefix] if roots is None else roots
    items = [(root, False) for root in where] + [(settings.prefix + OWN_KEYS, True)]
    covered = any(key.startswith(root) for root in where)
    objects: dict[str, RemoteObject] = {}
    own: list[_OwnObjects] = []

    def work(item: tuple[str, bool]) -> tuple[list[RemoteObject], _OwnObjects | None]:
        root, holds_own = item
        try:
            listed = list(storage.list(root))
        except FatalStorageError as error:
            # a policy may allow listing the prefix itself only: its listing shows them too
            if not (holds_own and covered and error.code in LIST_DENIED):
                raise
            return [], None
        if not holds_own:
            return listed, None
        return listed, _read_own(storage, {obj.key for obj in listed}, lease_at, key)

    def keep(result: tuple[list[RemoteObject], _OwnObjects | None]) -> None:
        objects.update((obj.key, obj) for obj in result[0])
        if result[1] is not None:
            own.append(result[1])

    try:
        run_parallel(items, work, keep, workers=min(settings.workers, len(items)))
    except FatalStorageError as error:
        if error.code not in LIST_DENIED:
            raise
        lease = Lease.read(storage, lease_at)
        return RemoteView({}, {} if storage.stores_headers else None, {}, False, lease)
    if not own:  # the own keys' listing was denied: read them as the roots' listing shows
        own.append(_read_own(storage, objects.keys(), lease_at, key))
    if own[0].failure is not None:
        raise own[0].failure
    objects.pop(lease_at, None)
    objects.pop(key, None)
    lease, state = own[0].lease, own[0].state
    recorded, problems = (state.entries if trust_state else {}), []
    if state.problem is not None:
        problems.append(f"state object {key} is corrupt ({state.problem}): ignored")
    elif recorded and lease is not None and state.run != lease_run(lease):
        problems.append(
            f"state object {key} was not written by the run holding the release lease "
            "(overlapping releases): ignored, every file is checked with HEAD"
        )
        recorded = {}
    merged, digests = merge(objects, recorded)
    headers = digests if storage.stores_headers else None
    return RemoteView(merged, headers, recorded, True, lease, tuple(problems))


@dataclass(frozen=True)
class _OwnObjects:
    """The lease and the parsed state object, as the listing of the own keys found them,
    or the failure to read them."""

    lease: bytes | None = None
    state: StateDocument = field(default_factory=lambda: StateDocument({}))
    failure: StorageError | None = None


def _read_own(storage: Storage, keys: Collection[str], lease_at: str, key: str) -> _OwnObjects:
    """Read the lease and the state object when the listed ``keys`` hold them."""
    try:
        lease = storage.get(lease_at) if lease_at in keys else None
        raw = storage.get(key) if key in keys else None
    except StorageError as error:
        return _OwnObjects(failure=error)
    return _OwnObjects(lease, read_state(raw))


def list_under(storage: Storage, prefixes: Sequence[str], workers: int) -> dict[str, RemoteObject]:
    """Every object under any of ``prefixes``, by key; several are listed on parallel
    threads (``workers`` at most)."""
    if len(prefixes) == 1:
        return {obj.key: obj for obj in storage.list(prefixes[0])}
    objects: dict[str, RemoteObject] = {}

    def keep(listed: list[RemoteObject]) -> None:
        objects.update((obj.key, obj) for obj in listed)

    run_parallel(prefixes, lambda prefix: list(storage.list(prefix)), keep, workers=workers)
    return objects


def state_entries(
    assets: list[LocalAsset], remote: RemoteView, report: Report
) -> dict[str, Recorded]:
    """The state object's entries after a run: every key now known to be right (uploaded,
    with the ETag the upload returned, or unchanged, with the listed ETag)."""
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
    return entries


def resolve_unknown(
    assets: list[LocalAsset],
    remote: RemoteView,
    storage: Storage,
    report: Report,
    settings: Settings,
) -> RemoteView:
    """``remote`` with what a HEAD shows for each key the listing cannot decide (all of
    them when listing was denied); a failed HEAD means "unknown", so that key is uploaded.
    ``remote`` itself is left as it is."""
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

    objects = dict(remote.objects)
    live = None if remote.live_headers is None else dict(remote.live_headers)

    def remember(found: tuple[str, RemoteObject | StorageError | None]) -> None:
        key, obj = found
        if isinstance(obj, StorageError):
            if remote.listed or obj.code not in LIST_DENIED:
                report.warn(f"cannot check {key} ({obj.code}): uploading it")
            obj = None if not remote.listed else remote.objects.get(key)
        if obj is None:
            objects.pop(key, None)
            return
        rewritten = settings.trust_etag and rewritten_elsewhere(obj)
        if rewritten:
            obj = replace(obj, md5=plain_md5_from_etag(obj.etag))
        objects[key] = obj
        if live is not None:
            live[key] = REWRITTEN if rewritten else headers_digest(obj.headers)

    keys = (
        needs_head(assets, remote.objects, remote.live_headers)
        if remote.listed
        else [asset.key for asset in assets]
    )
    run_parallel(keys, head, remember, workers=settings.workers)
    return replace(remote, objects=objects, live_headers=live)
