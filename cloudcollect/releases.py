"""Kept releases: list them, and make one current again (``flask cloudcollect releases``
and ``rollback``). Fingerprinting only; no Flask, no boto3.

The kept releases are the history manifests under ``PREFIX.cloudcollect/manifests/``
(``CLOUDCOLLECT_KEEP_MANIFESTS`` and cleanup decide how many stay). Release ids sort by
time, so "the previous release" is the newest kept one older than the current one.

A rollback, in this order:

1. reads the release lease, lists the prefix and reads the current manifest;
2. picks the release (named, or the previous one) and reads its history manifest;
3. checks that every key it names is stored (plain and hashed), listing ``roots`` (the
   prefix, or without one each static URL root; a HEAD per key when listing is denied);
   one missing is RollbackRefused (exit 3) and nothing is written;
4. takes the release lease like a publish (LeaseLost, exit 3, when a publish started
   writing since step 1), then writes that manifest's bytes as the current manifest,
   the only object it writes besides the lease; then the local manifest file.
   The state object, trusted before, is written again naming this run, so the next
   publish still trusts it (the objects did not change).

A dry run stops after step 3 and writes nothing. The next ``flask cloudcollect`` makes a
new release from the local files as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CloudCollectError, FatalStorageError, FingerprintError
from .fingerprint.manifest import MANIFEST_HEADERS, Manifest, decode_manifest
from .fingerprint.names import HISTORY_FOLDER, current_manifest_key, history_key, release_of
from .lease import LIST_DENIED, Lease, lease_key, lease_run
from .release import write_atomically
from .remote import list_under
from .state import STATE_HEADERS, encode, read_state, state_key
from .storage.base import Storage, put_bytes


class RollbackRefused(CloudCollectError):
    """The release cannot be made current (unknown, or files missing); nothing changed."""

    exit_code = 3


@dataclass(frozen=True)
class Releases:
    """The kept releases, newest first, and the current release's id (None: none)."""

    kept: list[Manifest]
    current: str | None
    problems: list[str]


def list_releases(storage: Storage, prefix: str) -> Releases:
    """The history manifests under ``prefix``, newest first; an unreadable one is left
    out and named in ``problems``."""
    keys = sorted(
        (obj.key for obj in storage.list(prefix + HISTORY_FOLDER)),
        reverse=True,
    )
    kept, problems = [], []
    for key in keys:
        if release_of(key, prefix) is None:
            continue
        try:
            kept.append(_read(storage, key))
        except FingerprintError as error:
            problems.append(str(error))
    current = _current(storage, prefix)
    return Releases(kept, current.release if current is not None else None, problems)


@dataclass(frozen=True)
class Rollback:
    """What a rollback did (or, dry, would do): the release made current and the one
    it replaced."""

    target: Manifest
    previous: str | None
    written: bool


def rollback(
    storage: Storage,
    prefix: str,
    release: str | None,
    local_manifest: Path | None,
    *,
    dry_run: bool = False,
    roots: Sequence[str] = (),
) -> Rollback:
    """Make ``release`` (None: the previous one) current again; see the module docstring.
    Raises RollbackRefused, LeaseLost or a StorageError; writes nothing on any of them
    raised before the manifest."""
    storage.check()
    seen = Lease.read(storage, lease_key(prefix))
    state = storage.get(state_key(prefix))
    current = _current(storage, prefix)
    kept = sorted(
        {r for obj in storage.list(prefix + HISTORY_FOLDER) if (r := release_of(obj.key, prefix))}
    )
    target_id = _pick(release, current, kept)
    key = history_key(prefix, target_id)
    data = storage.get(key)
    if data is None:
        raise RollbackRefused(f"release manifest {key} vanished: nothing changed")
    target = decode_manifest(data, key)
    _require_stored(storage, prefix, target, list(roots) or [prefix])
    previous = current.release if current is not None else None
    if dry_run or target_id == previous:
        return Rollback(target, previous, False)
    lease = Lease(storage, prefix, seen)
    lease.hold("the manifest")
    put_bytes(storage, current_manifest_key(prefix), data, MANIFEST_HEADERS)
    if local_manifest is not None:
        write_atomically(local_manifest, data)
    _restamp_state(storage, prefix, state, seen, lease)
    return Rollback(target, previous, True)


def _pick(release: str | None, current: Manifest | None, kept: list[str]) -> str:
    """The release id to make current; RollbackRefused naming the kept ones otherwise."""
    if release is not None:
        if release not in kept:
            raise RollbackRefused(
                f"no kept release {release!r} (kept: {_names(kept)}): nothing changed"
            )
        return release
    older = [r for r in kept if current is None or r < current.release]
    if not older:
        raise RollbackRefused(
            f"no kept release before the current one (kept: {_names(kept)}): nothing changed"
        )
    return older[-1]


def _require_stored(
    storage: Storage, prefix: str, manifest: Manifest, roots: Sequence[str]
) -> None:
    """RollbackRefused when a key the manifest names (plain or hashed) is not stored;
    ``roots`` are listed to know (``remote.listing_roots``)."""
    wanted = sorted({prefix + p for pair in manifest.files.items() for p in pair})
    try:
        stored = list_under(storage, roots, workers=len(roots))
        missing = [key for key in wanted if key not in stored]
    except FatalStorageError as error:
        if error.code not in LIST_DENIED:
            raise
        missing = [key for key in wanted if storage.head(key) is None]
    if missing:
        raise RollbackRefused(
            f"release {manifest.release} cannot be made current: {len(missing)} of the "
            f"{len(wanted)} files it names are not stored (first: {missing[0]}); "
            "nothing changed"
        )


def _restamp_state(
    storage: Storage, prefix: str, state: bytes | None, seen: bytes | None, lease: Lease
) -> None:
    """Write the state object again naming this run, when it was trusted before (it
    named the run that held the lease): the objects are unchanged, so it stays true."""
    document = read_state(state)
    if not document.entries or document.run is None or document.run != lease_run(seen):
        return
    lease.hold("the state object")
    put_bytes(storage, state_key(prefix), encode(document.entries, lease.run), STATE_HEADERS)
    lease.hold("the state object")


def _current(storage: Storage, prefix: str) -> Manifest | None:
    """The current manifest; None when there is none or it cannot be read (a rollback
    then replaces it)."""
    key = current_manifest_key(prefix)
    data = storage.get(key)
    try:
        return decode_manifest(data, key) if data is not None else None
    except FingerprintError:
        return None


def _read(storage: Storage, key: str) -> Manifest:
    data = storage.get(key)
    if data is None:
        raise FingerprintError(f"release manifest {key} vanished", path=key)
    return decode_manifest(data, key)


def _names(releases: Iterable[str]) -> str:
    names = list(releases)
    return ", ".join(names) if names else "none"
