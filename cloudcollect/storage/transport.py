"""The seam under the S3 storage: one small :class:`Transport` (the httpx idea).

The storage builds every request itself (:class:`Request`: operation, key, wire query and
headers, a body or an XML document), parses every answer itself (:class:`Response`: status,
headers, raw body) and turns failures into its own errors. A transport only carries one
request to the bucket and back, with one shared retry policy (``storage/retry.py``).

Two implementations, chosen by the rule in ``storage/awsenv.py`` (and the README):

- ``fasttransport.FastTransport``: SigV4 by ``sigv4`` (as ``botocore.auth``), credentials from
  botocore's credential chain, HTTP over a urllib3 pool;
- ``botocoretransport.BotocoreTransport``: botocore's client, for what the fast one does
  not implement (FIPS, dual-stack, accelerate, another signature version...).

Both answer the same way: a 2xx :class:`Response`, or :class:`TransportError` once the
retry policy gives up (after retries, or at once for what is not retryable). Both turn a
failure of botocore's credential chain into the same error (:func:`credentials_error`).
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from ..config import MIB

#: operation -> (HTTP method, whether it addresses an object key)
OPERATIONS: Mapping[str, tuple[str, bool]] = {
    "HeadBucket": ("HEAD", False),
    "ListObjectsV2": ("GET", False),
    "ListObjects": ("GET", False),
    "DeleteObjects": ("POST", False),
    "HeadObject": ("HEAD", True),
    "GetObject": ("GET", True),
    "PutObject": ("PUT", True),
    "DeleteObject": ("DELETE", True),
    "CreateMultipartUpload": ("POST", True),
    "UploadPart": ("PUT", True),
    "CompleteMultipartUpload": ("POST", True),
    "AbortMultipartUpload": ("DELETE", True),
    "GetBucketCors": ("GET", False),
    "PutBucketCors": ("PUT", False),
}
#: Query parameters that name the operation itself (sent bare: ``?uploads``).
SUBRESOURCES: Mapping[str, Mapping[str, str]] = {
    "ListObjectsV2": {"list-type": "2"},
    "DeleteObjects": {"delete": ""},
    "CreateMultipartUpload": {"uploads": ""},
    "GetBucketCors": {"cors": ""},
    "PutBucketCors": {"cors": ""},
}
#: Operations whose 2xx body is an object's content, never an ``<Error>`` document.
OBJECT_BODIES = frozenset({"GetObject"})
#: The most bytes of an object's content read into memory (GetObject: the state object,
#: about 90 bytes a file, a manifest, the lease).
MAX_OBJECT_BODY = 256 * MIB
#: The most bytes of any other answer (a listing page of 1,000 keys, an error document):
#: an S3 store's are far smaller.
MAX_BODY = 16 * MIB


def body_limit(operation: str) -> int:
    """The most bytes read from an answer to ``operation``; a longer answer fails as
    :func:`too_large` instead of filling memory (an endpoint that is not an S3 store, or
    one answering without end)."""
    return MAX_OBJECT_BODY if operation in OBJECT_BODIES else MAX_BODY


def read_within_limit(body: Any, declared: int | None, operation: str, where: str) -> bytes:
    """All of ``body`` (anything with ``read(n)`` and ``close()``): at most
    :func:`body_limit` bytes. A longer answer, declared (``declared``: its Content-Length,
    None when unknown) or sent, is closed, not read further, and fails as
    :func:`too_large`."""
    limit = body_limit(operation)
    if declared is None or declared <= limit:
        data: bytes = body.read(limit + 1)
        if len(data) <= limit:
            return data
    body.close()
    raise too_large(operation, where)


def too_large(operation: str, where: str) -> TransportError:
    """The failure for an answer longer than :func:`body_limit`: not retried."""
    limit = body_limit(operation) // MIB
    message = f"{where}: the answer is longer than {limit} MiB, not read (is this an S3 endpoint?)"
    return TransportError("ResponseTooLarge", message)


@dataclass(frozen=True)
class FileSlice:
    """``size`` bytes of ``file`` from offset ``start``: a request body read once per
    attempt. With ``shared`` (a lock held by every slice of ``file``), several slices of
    one file are read at once: each read seeks to its own place under the lock; without
    it, the file is shared by nobody else while the request runs."""

    file: BinaryIO
    start: int
    size: int
    shared: threading.Lock | None = None

    def reader(self) -> SliceReader:
        return SliceReader(self)


class SliceReader(io.RawIOBase):
    """A readable, seekable view of a :class:`FileSlice` (what HTTP clients stream).

    Reading past the file's end before ``size`` bytes raises :class:`SourceChanged`: the
    file shrank since it was hashed.
    """

    def __init__(self, part: FileSlice) -> None:
        super().__init__()
        self._part = part
        self._position = 0
        if part.shared is None:  # a shared file is sought under its lock, at each read
            part.file.seek(part.start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._part.size}
        self._position = max(0, min(self._part.size, base[whence] + offset))
        if self._part.shared is None:
            self._part.file.seek(self._part.start + self._position)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._part.size - self._position
        count = remaining if size is None or size < 0 else min(size, remaining)
        data = self._read(count) if count else b""
        if len(data) < count:
            got = self._position + len(data)
            raise SourceChanged(f"file ended early ({got} of {self._part.size} bytes)")
        self._position += len(data)
        return data

    def _read(self, count: int) -> bytes:
        part = self._part
        if part.shared is None:
            return part.file.read(count)
        with part.shared:
            part.file.seek(part.start + self._position)
            return part.file.read(count)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __len__(self) -> int:
        return self._part.size


Body = bytes | FileSlice


@dataclass(frozen=True)
class Request:
    """One S3 request, described on the wire's terms.

    ``key`` is the object key (None for bucket-level operations); ``query`` and ``headers``
    are wire names and values (headers lower case), without the operation's own
    sub-resource (:data:`SUBRESOURCES`). ``body`` is the payload; ``document`` the
    structured payload of CompleteMultipartUpload (``{"Parts": [...]}``), DeleteObjects
    (``{"Objects": [...], "Quiet": True}``) and PutBucketCors (``{"CORSRules": [...]}``,
    see ``s3cors``) in botocore's parameter shape, which each
    transport serialises (the fast one with ``s3wire.document_xml``).
    """

    operation: str
    key: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Body | None = None
    document: Mapping[str, Any] | None = None

    @property
    def method(self) -> str:
        return OPERATIONS[self.operation][0]


@dataclass(frozen=True)
class Response:
    """A successful answer: status, headers (lower-case names), the whole body (empty for
    HEAD; at most :func:`body_limit` bytes) and the retries it took."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    retries: int = 0


class TransportError(Exception):
    """A request that failed for good.

    ``code``: the service's error code (the HTTP status as text when the answer had no
    error document, as botocore does: ``"404"`` for a HEAD), or one of
    ``ConnectionError``, ``Timeout``, ``SSLError``, ``SourceChanged``, ``NoCredentialsError``,
    ``CredentialsError``, ``ResponseTooLarge`` (:func:`body_limit`). ``status`` is the HTTP
    status when there was an answer.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retries: int = 0,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.retries = retries


class SourceChanged(TransportError):
    """The file being sent ended before its size (it changed since it was hashed)."""

    def __init__(self, message: str) -> None:
        super().__init__("SourceChanged", message)


class Transport(Protocol):
    """Carries requests for one bucket. Thread-safe; ``name`` is ``fast`` or ``botocore``."""

    name: str

    def send(self, request: Request) -> Response:
        """The 2xx answer to ``request``, after the retry policy's retries; else raise
        :class:`TransportError` (what reading the body raises otherwise propagates)."""

    def close(self) -> None:
        """Close every connection; safe to call twice."""


def credentials_error(error: Exception) -> TransportError:
    """The TransportError for credentials botocore's chain could not load or refresh,
    whatever it raised: besides its own errors, a provider can raise OSError (a web
    identity token file or a credential process's program that is missing) or ValueError
    (a credential process printing no JSON, a container credentials URI on a host it
    refuses). Only the error's class is told, as messages can quote a credential
    process's output. Two kinds say more and name no secret: a PartialCredentialsError
    names a provider and a setting ("... found in env, missing: AWS_SECRET_ACCESS_KEY"),
    and an OSError the file it could not use."""
    import botocore.exceptions

    if isinstance(error, (botocore.exceptions.NoCredentialsError,)):
        return TransportError("NoCredentialsError", "no AWS credentials found")
    detail = type(error).__name__
    if isinstance(error, botocore.exceptions.PartialCredentialsError):
        detail += f": {error}"
    elif isinstance(error, OSError) and error.filename is not None:
        detail += f": {error.strerror}: {os.fsdecode(error.filename)!r}"
    return TransportError("CredentialsError", f"credentials could not be loaded ({detail})")
