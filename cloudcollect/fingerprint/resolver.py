"""The url_for side of fingerprinting: the manifest, read on first use, maps paths to
hashed paths. No Flask, no boto3."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from ..errors import FingerprintError
from .manifest import decode_manifest

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
        self._files: Mapping[str, str] | None = None
        self._lock = threading.Lock()

    def resolve(self, path: str) -> str:
        files = self._current()
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

    def reload(self) -> None:
        """Read the manifest again on next use (``publish`` calls this after a release)."""
        with self._lock:
            self._files = None

    def _current(self) -> Mapping[str, str]:
        with self._lock:
            if self._files is None:
                self._files = self._read()
            return self._files

    def _read(self) -> Mapping[str, str]:
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
                return decode_manifest(data, self.where).files
            except FingerprintError as unreadable:
                error = unreadable
        if self.strict:
            raise error
        logger.warning("%s; serving plain (unhashed) URLs", error)
        return {}
