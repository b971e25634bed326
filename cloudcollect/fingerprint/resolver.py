"""The url_for side of fingerprinting: the manifest, read on first use, maps paths to
hashed paths. No Flask, no boto3."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import FingerprintError
from .manifest import Manifest, decode_manifest

logger = logging.getLogger("cloudcollect")


class ManifestResolver:
    """Maps paths to hashed paths for url_for; the manifest is loaded on first use.

    ``load`` returns the manifest's bytes, or None when there is none. Strict: a missing
    manifest or a path it does not list (matched exactly: ``Logo.PNG`` is not
    ``logo.png``) is a FingerprintError. Lenient: the plain path is used.
    """

    def __init__(self, load: Callable[[], bytes | None], where: str, strict: bool) -> None:
        self._load = load
        self.where = where
        self.strict = strict
        self._manifest: Manifest | None = None
        self._lock = threading.Lock()

    def resolve(self, path: str) -> str:
        files = self._current().files
        hashed = files.get(path)
        if hashed is not None:
            return hashed
        if self.strict:
            raise FingerprintError(
                f"{path!r} is not in the manifest {self.where} (names are case-sensitive); "
                "publish it, or set CLOUDCOLLECT_MANIFEST_STRICT = False",
                path=path,
            )
        return path

    def integrity(self, path: str) -> str | None:
        """The SRI digest the manifest records for ``path``; None when it records none
        (a manifest written before digests were recorded, or lenient mode and an
        unknown path). Strict: a missing manifest or an unknown path is a
        FingerprintError, as for ``resolve``."""
        self.resolve(path)
        return self._current().integrity.get(path)

    def reload(self) -> None:
        """Read the manifest again on next use (``publish`` calls this after a release)."""
        with self._lock:
            self._manifest = None

    def _current(self) -> Manifest:
        with self._lock:
            if self._manifest is None:
                self._manifest = self._read()
            return self._manifest

    def _read(self) -> Manifest:
        """The manifest's files; lenient mode logs a missing or unreadable manifest once
        and maps nothing (plain keys) until ``reload``."""
        data = self._load()
        if data is None:
            error = FingerprintError(
                f"no manifest at {self.where}: run `flask cloudcollect` with "
                "CLOUDCOLLECT_FINGERPRINT on first",
                path=self.where,
            )
        else:
            try:
                return decode_manifest(data, self.where)
            except FingerprintError as unreadable:
                error = unreadable
        if self.strict:
            raise error
        logger.warning("%s; serving plain (unhashed) URLs", error)
        return Manifest({}, "", "")
