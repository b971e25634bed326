"""A public in-memory storage, for your tests and ours.

``MemoryStorage().objects`` maps keys to :class:`StoredObject` so tests can assert on what
was published; ``requests`` records every call (``("put", key)``...) in order;
``cors_rules`` is the bucket CORS configuration (the optional capability of
``storage.base``).
"""

from __future__ import annotations

import builtins
import io
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

from ..baseurl import object_url
from ..cors import CorsRule
from ..errors import StorageError
from ..hashing import md5_of_stream
from .base import DeleteFailure, RemoteObject


@dataclass(frozen=True)
class StoredObject:
    """An object held by MemoryStorage; ``modified`` is when it was stored."""

    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    md5: str = ""
    modified: datetime | None = None


class MemoryStorage:
    """Keeps objects in a dict; thread-safe; verifies the MD5 of what it receives.

    ``clock`` (default: the current UTC time) stamps each stored object; listings report
    it as ``last_modified``, so tests can age objects without sleeping.
    """

    stores_headers = True

    def __init__(
        self,
        base_url: str = "memory://bucket/",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.objects: dict[str, StoredObject] = {}
        self.requests: list[tuple[str, str]] = []
        self.cors_rules: list[CorsRule] = []
        self._lock = threading.Lock()

    def _record(self, operation: str, key: str) -> None:
        with self._lock:
            self.requests.append((operation, key))

    def check(self) -> None:
        """Always reachable."""

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        self._record("list", prefix)
        with self._lock:
            items = [(k, v) for k, v in self.objects.items() if k.startswith(prefix)]
        for key, stored in items:
            yield RemoteObject(
                key,
                len(stored.data),
                md5=stored.md5,
                etag=stored.md5,
                last_modified=stored.modified,
            )

    def head(self, key: str) -> RemoteObject | None:
        self._record("head", key)
        with self._lock:
            stored = self.objects.get(key)
        if stored is None:
            return None
        return RemoteObject(
            key, len(stored.data), md5=stored.md5, etag=stored.md5, headers=dict(stored.headers)
        )

    def get(self, key: str) -> bytes | None:
        self._record("get", key)
        with self._lock:
            stored = self.objects.get(key)
        return None if stored is None else stored.data

    def put(self, key: str, file: BinaryIO, size: int, md5: str, headers: Mapping[str, str]) -> str:
        self._record("put", key)
        data = file.read(size)
        if len(data) != size or md5_of_stream(io.BytesIO(data)) != md5:
            message = f"content of {key!r} does not match its MD5"
            raise StorageError(message, key=key, code="BadDigest")
        with self._lock:
            self.objects[key] = StoredObject(data, dict(headers), md5, self.clock())
        return md5

    def put_if_absent(self, key: str, data: bytes, headers: Mapping[str, str]) -> bool:
        """Store ``data`` only if ``key`` holds nothing (see ``base.CreatesIfAbsent``)."""
        self._record("put_if_absent", key)
        md5 = md5_of_stream(io.BytesIO(data))
        with self._lock:
            if key in self.objects:
                return False
            self.objects[key] = StoredObject(data, dict(headers), md5, self.clock())
        return True

    def delete(self, keys: Sequence[str]) -> builtins.list[DeleteFailure]:
        for key in keys:
            self._record("delete", key)
            with self._lock:
                self.objects.pop(key, None)
        return []

    def public_url(self, key: str) -> str:
        return object_url(self.base_url, key)

    def bucket_cors(self) -> builtins.list[CorsRule]:
        """The CORS rules last written (``cors_rules``; see ``cloudcollect.cors``)."""
        self._record("get-cors", "")
        with self._lock:
            return builtins.list(self.cors_rules)

    def put_bucket_cors(self, rules: Sequence[CorsRule]) -> None:
        """Replace ``cors_rules``, as S3's PutBucketCors replaces the configuration."""
        self._record("put-cors", "")
        with self._lock:
            self.cors_rules = builtins.list(rules)

    def server_time(self) -> datetime:
        """The clock that dates what this storage stores (see ``storage_time``)."""
        return self.clock()

    def close(self) -> None:
        """Nothing to release."""
