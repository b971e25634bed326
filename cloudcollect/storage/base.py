"""The storage protocol: what every backend (s3, filesystem, memory, yours) provides.

The docstrings below are the specification; ``tests/test_storage_contract.py`` runs the
same checks against every backend.
"""

from __future__ import annotations

import builtins
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, cast, runtime_checkable

from ..errors import StorageError

#: User-metadata name under which every backend records the hex MD5 of the content.
MD5_METADATA = "cloudcollect-md5"


@dataclass(frozen=True)
class RemoteObject:
    """One stored object as a listing or a HEAD sees it.

    ``md5`` is the hex MD5 of the content when the backend knows it for sure (a plain
    single-part ETag, or the MD5 recorded at upload); ``None`` means "unknown", never
    "empty". ``headers`` holds the object's HTTP headers (Content-Type, Cache-Control...)
    when the backend read them (a HEAD); a listing leaves it empty. ``last_modified``
    (timezone-aware, UTC) is when the object was last written, where the backend tells
    (listings of s3, filesystem and memory do); ``None`` means unknown.
    """

    key: str
    size: int
    md5: str | None = None
    etag: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None


@dataclass(frozen=True)
class DeleteFailure:
    """A key that a delete request did not remove, with the service's error code (and,
    when the whole request failed, its request id and the retries made)."""

    key: str
    code: str
    message: str = ""
    request_id: str | None = None
    retries: int = 0

    @classmethod
    def of(cls, key: str, error: StorageError) -> DeleteFailure:
        """``key`` was not deleted because its request failed with ``error``."""
        return cls(key, error.code or "Error", str(error), error.request_id, error.retries)


@runtime_checkable
class Storage(Protocol):
    """Where collected files go. Methods may be called from several threads at once.

    ``stores_headers`` says whether ``put`` keeps the headers it is given (so that
    ``head`` reports them); a filesystem cannot, and then headers are never compared.
    """

    stores_headers: bool

    def check(self) -> None:
        """Verify that the target exists and is reachable, before any write.

        Raises FatalStorageError (bucket or root missing, credentials rejected, access
        denied). Never creates the target.
        """

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        """Yield every object whose key starts with ``prefix`` (``""`` = everything).

        ``prefix`` is matched as a plain string: callers pass a normalised prefix ending
        in ``/``. Order is unspecified. An empty target yields nothing.
        """

    def head(self, key: str) -> RemoteObject | None:
        """Return the object at ``key`` with its headers and recorded MD5, or ``None``."""

    def get(self, key: str) -> bytes | None:
        """Return the whole content of the small object at ``key``, or ``None`` if missing.

        Only used for cloudcollect's own state object (see ``cloudcollect.state``).
        """

    def put(
        self, key: str, file: BinaryIO, size: int, md5: str, headers: Mapping[str, str]
    ) -> str | None:
        """Store ``size`` bytes read from ``file`` (at its start) under ``key``.

        The content is streamed, never read whole into memory. ``md5`` is the hex MD5
        of those bytes: the backend sends it for verification where it can and records
        it so that ``head``/``list`` report it. ``headers`` are HTTP headers
        (Content-Type, Cache-Control, Content-Encoding...). An existing object is
        replaced. On failure nothing partial is left under ``key``. Returns the new
        object's ETag as a listing will show it, or ``None`` when the store has none.
        """

    def delete(self, keys: Sequence[str]) -> builtins.list[DeleteFailure]:
        """Delete ``keys``; return the ones that could not be deleted.

        Deleting a key that does not exist is a no-op, not a failure. ``keys`` may be
        any number: a backend whose requests take fewer splits them itself, and a
        request that fails for all its keys makes a failure of each of them (the other
        requests still go). FatalStorageError is raised (nothing else can succeed).
        """

    def public_url(self, key: str) -> str:
        """Return the URL at which ``key`` is served (``key`` is percent-encoded)."""

    def close(self) -> None:
        """Release connections and other resources. Safe to call twice."""

    # Optional capabilities, looked up with getattr (a backend may leave them out):
    #
    # - ``server_time() -> datetime | None``: the storage's clock (see ``storage_time``).
    # - ``bucket_cors() -> list[cloudcollect.cors.CorsRule]``: the bucket's CORS rules
    #   (empty: no configuration); raises ``cors.CorsUnsupported`` when the store has none.
    # - ``put_bucket_cors(rules)``: replace the bucket's CORS configuration with ``rules``
    #   (only ``flask cloudcollect cors`` calls it, after merging). s3 and memory have
    #   both; a backend without them (filesystem) "does not support bucket CORS".


class CreatesIfAbsent(Protocol):
    """An optional capability (not part of :class:`Storage`, so that your own backends
    need not have it): storing a small object only when ``key`` holds none yet.

    ``put_if_absent`` stores ``data`` with ``headers`` (as ``put``) and returns True, or
    returns False and changes nothing when an object already exists at ``key``. The
    decision is made by the store, atomically (S3: ``If-None-Match: *``, answered ``412
    PreconditionFailed``). A store that ignores the condition stores the object (True).
    The memory, filesystem and s3 storages have it; the release lease uses it
    (``cloudcollect.lease``).
    """

    def put_if_absent(self, key: str, data: bytes, headers: Mapping[str, str]) -> bool: ...


def create_if_absent(storage: Storage, key: str, data: bytes, headers: Mapping[str, str]) -> bool:
    """``storage.put_if_absent`` where the storage has it, else a plain ``put`` (True)."""
    conditional = getattr(storage, "put_if_absent", None)
    if conditional is None:
        put_bytes(storage, key, data, headers)
        return True
    return bool(conditional(key, data, headers))


def put_bytes(storage: Storage, key: str, data: bytes, headers: Mapping[str, str]) -> str | None:
    """Store the small in-memory object ``data`` (cloudcollect's state, a manifest) under
    ``key`` through ``storage.put``; return its ETag."""
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return storage.put(key, io.BytesIO(data), len(data), md5, headers)


def storage_time(storage: Storage) -> datetime | None:
    """The storage's own clock, for a backend that tells it with an optional
    ``server_time()`` method (s3: the Date of a HeadBucket answer; memory: its clock);
    None for the others (the filesystem's clock is the local one)."""
    reader = getattr(storage, "server_time", None)
    return cast("datetime | None", reader()) if callable(reader) else None
