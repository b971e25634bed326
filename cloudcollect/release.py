"""One fingerprinted publish run (``CLOUDCOLLECT_FINGERPRINT``), as its plug-in
(``cloudcollect.plugins.fingerprinting``) drives it.

Order, for releases without 404s:

1. ``derive``: the hashed copies join the run's assets (uploaded with the originals; an
   unchanged hashed copy is skipped like any unchanged file).
2. ``take_own``: cloudcollect's own objects under ``PREFIX.cloudcollect/`` (the current
   manifest and the history ``manifests/<release>.json``) are left out of the objects the
   plan compares with (a new mapping; the listing is not changed), so the plan
   never treats them as orphans; the current manifest is read.
3. ``record_integrity`` (the SRI plug-in, ``cloudcollect.plugins.sri``): each path's
   digest, recorded in the manifest.
4. ``settle``: the manifest this run publishes: the current one when the files and the
   digests are the same, else a new release.
5. ``cleanup``: the plan's deletions are cut down to what no kept release references (the
   new one and the ``CLOUDCOLLECT_KEEP_MANIFESTS`` before it) and what is older than
   ``CLOUDCOLLECT_GRACE_SECONDS`` by the storage's clock where it tells it (``storage_time``);
   old history manifests go by the same rule.
6. ``finish`` (after every upload succeeded): verify that each hashed key is stored (one
   listing; HEAD per key when listing is denied), then upload the manifest, its history
   copy first and ``manifest.json`` last, and write the local manifest file. A failed
   upload leaves the previous manifest in place. Deletion comes after this.

A run whose files map to the same hashed names as the current manifest makes no new
release (nothing is written but the local file, when it differs).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from .config import Settings
from .errors import DeletionRefused, FatalStorageError, FingerprintError, StorageError
from .fingerprint.cleanup import kept_releases, removable
from .fingerprint.copies import fingerprint_assets
from .fingerprint.manifest import (
    MANIFEST_HEADERS,
    Manifest,
    commit_from_env,
    decode_manifest,
    encode_manifest,
    new_manifest,
)
from .fingerprint.names import OWN_FOLDER, current_manifest_key, history_key, release_of
from .globs import compile_globs
from .lease import LIST_DENIED
from .plan import Action, LocalAsset, Plan, Step
from .remote import list_under
from .report import FAILED, UPLOADED, Outcome, Report
from .storage.base import RemoteObject, Storage, put_bytes, storage_time


class Release:
    """The fingerprinting side of one run; see the module docstring for the order."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        report: Report,
        now: datetime,
        hashed: Callable[[str], bool] = lambda path: False,
        roots: Sequence[str] = (),
    ):
        self.settings = settings
        self.storage = storage
        self.report = report
        self.now = now
        self.hashed = hashed  # names a bundler hashed already: kept as they are
        self.roots = list(roots) or [settings.prefix]  # listed to verify (remote.listing_roots)
        self.plain = compile_globs(settings.fingerprint_exclude)  # kept plain on purpose
        self.prefix = settings.prefix
        self.workdir = Path(tempfile.mkdtemp(prefix="cloudcollect-rewritten-"))
        self._cleanup_workdir = weakref.finalize(self, shutil.rmtree, self.workdir, True)
        self.files: dict[str, str] = {}
        self.sources: dict[str, Path] = {}  # path -> the local bytes of its hashed object
        self.own: dict[str, RemoteObject] = {}
        self.current: Manifest | None = None  # the manifest live before this run
        self.integrity: dict[str, str] = {}  # path -> SRI digest (record_integrity)
        self.manifest: Manifest | None = None  # the one this run publishes

    def close(self) -> None:
        """Remove the work directory of rewritten files (also done when collected)."""
        self._cleanup_workdir()

    def derive(self, assets: list[LocalAsset]) -> list[LocalAsset]:
        """The run's assets plus their hashed copies (FingerprintError: stop the run)."""
        copies, self.files = fingerprint_assets(
            assets,
            self.prefix,
            self.workdir,
            strict=self.settings.manifest_strict,
            modules=self.settings.rewrite_js_imports,
            warn=self.report.warn,
            hashed=self._kept_plain,
        )
        originals = {asset.key for asset in assets}
        published = assets + [copy for copy in copies if copy.key not in originals]
        by_key = {asset.key: asset.path for asset in published}
        self.sources = {path: by_key[self.prefix + name] for path, name in self.files.items()}
        return published

    def _kept_plain(self, path: str) -> bool:
        """Whether ``path`` keeps its name: hashed by a bundler already, or matched by
        ``CLOUDCOLLECT_FINGERPRINT_EXCLUDE`` (no copy, not rewritten, referenced as is)."""
        return self.hashed(path) or self.plain.match(path) is not None

    def take_own(
        self, objects: Mapping[str, RemoteObject], listed: bool
    ) -> dict[str, RemoteObject]:
        """``objects`` without cloudcollect's own objects (kept in ``own``); reads the
        current manifest."""
        folder = self.prefix + OWN_FOLDER
        self.own = {key: obj for key, obj in objects.items() if key.startswith(folder)}
        others = {key: obj for key, obj in objects.items() if not key.startswith(folder)}
        key = current_manifest_key(self.prefix)
        if key in self.own or not listed:
            data = self.storage.get(key)
            if data is not None:
                try:
                    self.current = decode_manifest(data, key)
                except FingerprintError as error:
                    self.report.warn(f"{error}: a new release replaces it")
        return others

    def record_integrity(self, integrity: Mapping[str, str]) -> None:
        """Record each path's SRI digest in the manifest (before ``settle``)."""
        self.integrity = dict(integrity)

    def settle(self) -> None:
        """Decide the manifest this run publishes (after ``take_own``): the current one
        when its files and digests are this run's, else a new release (dated ``now``)."""
        current = self.current
        if current and dict(current.files) == self.files and current.integrity == self.integrity:
            self.manifest = current
        else:
            commit = commit_from_env(os.environ)
            self.manifest = new_manifest(self.files, self.now, self.integrity, commit)

    def cleanup(self, plan: Plan, objects: Mapping[str, RemoteObject]) -> Plan:
        """``plan`` with only the deletions a release-aware cleanup allows (reason "no
        local source", as ``--check`` reads it: none of these objects has one)."""
        assert self.manifest is not None
        history = {
            release: key
            for key in self.own
            if (release := release_of(key, self.prefix)) is not None
        }
        kept_ids = kept_releases(history, self.manifest.release, self.settings.keep_manifests)
        kept = [self.manifest, *(self._read(history[r]) for r in kept_ids[1:] if r in history)]
        candidates = [objects[s.key] for s in plan.deletes if s.key in objects]
        candidates += [self.own[key] for key in sorted(history.values())]
        grace = timedelta(seconds=self.settings.grace_seconds)
        now = storage_time(self.storage) or self.now  # object times are the storage's
        allowed = set(removable(candidates, self.prefix, kept, now, grace))
        deletes = [
            Step(Action.DELETE, obj.key, "no local source", size=obj.size)
            for obj in sorted(candidates, key=lambda obj: obj.key)
            if obj.key in allowed
        ]
        others = tuple(step for step in plan.steps if step.action is not Action.DELETE)
        return Plan(others + tuple(deletes))

    def _read(self, key: str) -> Manifest:
        data = self.storage.get(key)
        if data is None:
            raise DeletionRefused(f"manifest {key} vanished while cleaning up: nothing deleted")
        try:
            return decode_manifest(data, key)
        except FingerprintError as error:
            raise DeletionRefused(f"{error}: refusing to delete") from None

    def finish(self, guard: Callable[[str], None] | None = None) -> None:
        """Verify the hashed keys, publish the manifest last, write the local file.

        ``guard(what)`` runs before the manifest is written to the storage (the release
        lease's check: it raises when a newer run took over)."""
        assert self.manifest is not None
        if self.report.with_status(FAILED):
            self.report.warn(
                "manifest not published (some files failed): the previous release stays live"
            )
            return
        self._verify()
        data = encode_manifest(self.manifest)
        if self.manifest is not self.current:
            if guard is not None:
                guard("the manifest")
            self._put(history_key(self.prefix, self.manifest.release), data)
            self._put(current_manifest_key(self.prefix), data)
        path = self.settings.manifest_path
        if path:
            write_atomically(Path(path), data)

    def _verify(self) -> None:
        wanted = sorted({self.prefix + hashed for hashed in self.files.values()})
        try:
            stored = list_under(self.storage, self.roots, self.settings.workers)
            missing = [key for key in wanted if key not in stored]
        except FatalStorageError as error:
            if error.code not in LIST_DENIED:
                raise
            missing = [key for key in wanted if self.storage.head(key) is None]
        if missing:
            raise StorageError(
                f"{len(missing)} hashed files are not in the storage after upload (first: "
                f"{missing[0]}): the manifest was not published, the previous release stays",
                key=missing[0],
                code="VerificationFailed",
            )

    def _put(self, key: str, data: bytes) -> None:
        etag = put_bytes(self.storage, key, data, MANIFEST_HEADERS)
        self.report.add(Outcome(key, "upload", UPLOADED, "manifest", len(data), etag=etag))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` so that a reading app server sees the old file or the new one."""
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
