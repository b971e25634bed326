"""S3-compatible object storage (AWS S3, MinIO, R2, SeaweedFS, Ceph, GCS).

The storage builds every request and reads every answer itself and speaks to the bucket
through one :class:`~.transport.Transport`: the fast one (SigV4 over a urllib3 pool) or
botocore's client, chosen by the rule in ``awsenv`` (``CLOUDCOLLECT_TRANSPORT``). Its other
jobs live beside it: listing (``s3listing``), multipart (``s3multipart``), headers
(``s3headers``), error translation (``s3errors``), checks before the first request
(``s3preflight``).

What makes S3-compatible stores work, on both transports: no checksum trailers unless
``CLOUDCOLLECT_CHECKSUM_POLICY=when_supported`` (then botocore sends them); our own
``Content-MD5`` on every PutObject, UploadPart and DeleteObjects, which every store checks
(``BadDigest``); one retry policy (``retry``); no ACL header unless ``CLOUDCOLLECT_ACL``
is set; buckets are never created and bucket ACL/policy APIs never called.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, BinaryIO

from .. import providers, redact
from ..baseurl import derive_base_url, object_url
from ..config import Settings, require
from ..errors import FatalStorageError, StorageError
from ..hashing import hex_to_base64, part_size_for
from . import awsenv, s3cors, s3errors, s3preflight
from .base import MD5_METADATA, DeleteFailure, RemoteObject
from .opentransport import open_transport
from .s3headers import META_PREFIX, remote_from_head, wire_headers
from .s3listing import list_objects
from .s3multipart import PART_BUFFER, ByteBudget, Upload
from .s3wire import delete_errors
from .transport import FileSlice, Request, Response, Transport, TransportError

if TYPE_CHECKING:
    from ..cors import CorsRule

DELETE_BATCH = 1000
#: What a DeleteObjects answer means when the store cannot do multi-object delete.
_NO_MULTI_DELETE = frozenset({"MissingContentMD5", "NotImplemented", "InvalidRequest"})
#: DeleteObjects refused for one key in the batch (a control character, which XML 1.0
#: cannot carry): that batch is deleted key by key, so the other keys still go.
_ONE_BAD_KEY = frozenset({"MalformedXML"})
_Failures = list[DeleteFailure]
#: The codes a store answers ``put_if_absent`` with when the key exists (412) or another
#: conditional write to it is in flight (409, AWS).
_EXISTS_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


class S3Storage:
    """Objects in an S3 bucket. Thread-safe: one transport shared by every worker.

    Build it with :meth:`from_settings`. ``operations`` counts the requests sent by
    operation name (``operations["PutObject"]``), retries not included.
    """

    stores_headers = True

    def __init__(self, settings: Settings, transport: Transport) -> None:
        self.settings = settings
        self.bucket: str = require(settings, "bucket")
        self.transport = transport
        self.operations: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._put_retries = threading.local()
        self._part_budget = ByteBudget(PART_BUFFER)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The storage for ``settings`` (the provider preset fills what is unset).
        ConfigError, before any request, for a missing bucket, a header rule S3 cannot
        store, an unknown profile, a bad endpoint URL, an unusable CA bundle, credentials
        with a control character, or an option the chosen transport cannot honour;
        FatalStorageError when botocore's client cannot load the credentials it is made with."""
        settings = providers.effective(settings)
        require(settings, "bucket")
        for _glob, rule in settings.headers:
            wire_headers({name: value for name, value in rule.items() if value})
        redact.remember_url(settings.endpoint_url)
        s3preflight.check_ca_bundle(settings, os.environ)
        s3preflight.check_environment(settings, os.environ)
        session = awsenv.aws_session(settings)
        s3preflight.botocore_credentials(session, os.environ)
        try:
            return cls(settings, open_transport(settings, settings.transport, session))
        except TransportError as failure:  # botocore's client loads the credentials at once
            raise s3errors.storage_error(failure, "S3 client", None) from None

    # -- requests -------------------------------------------------------------------------

    def _send(self, request: Request) -> Response:
        """Send ``request``, counted; a failure as a StorageError (``s3errors``)."""
        with self._lock:
            self.operations[request.operation] += 1
        try:
            return self.transport.send(request)
        except TransportError as failure:
            raise s3errors.storage_error(failure, request.operation, request.key) from None

    def _unless_missing(self, request: Request) -> Response | None:
        """The answer, or None when the key does not exist."""
        try:
            return self._send(request)
        except StorageError as failure:
            if failure.code in s3errors.MISSING_KEY:
                return None
            raise

    def _where(self) -> str:
        where = self.settings.endpoint_url or "AWS S3"
        return f"{where} (region {self.settings.region})" if self.settings.region else where

    # -- protocol -------------------------------------------------------------------------

    def check(self) -> None:
        """HeadBucket. FatalStorageError when the bucket is missing, the credentials are
        rejected or access is denied; StorageError when the endpoint cannot be reached."""
        try:
            self._send(Request("HeadBucket"))
        except StorageError as failure:
            if failure.code in ("404", "NoSuchBucket"):
                message = f"bucket {self.bucket!r} not found at {self._where()}"
                raise FatalStorageError(
                    message, code="NoSuchBucket", request_id=failure.request_id
                ) from None
            if failure.code in s3errors.CHECK_REASONS:
                code, request_id = str(failure.code), failure.request_id
                if code in ("400", "403"):  # AWS answers HeadBucket 400 for an expired token
                    code, request_id = self._why_denied(failure)
                reason = s3errors.DENIAL_REASONS.get(code) or s3errors.CHECK_REASONS[code]
                message = f"bucket {self.bucket!r} at {self._where()}: {reason}"
                raise FatalStorageError(message, code=code, request_id=request_id) from None
            raise

    def _why_denied(self, failure: StorageError) -> tuple[str, str | None]:
        """The S3 code behind HeadBucket's bare 400 or 403 (a HEAD answer has no body to
        name it): the same question as a ListObjectsV2 of no keys, whose error body says
        InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, ExpiredToken or
        InvalidToken. ``failure``'s code and request id when that answer names nothing
        more (a 400 for a wrong region stays one)."""
        try:
            self._send(Request("ListObjectsV2", query={"max-keys": "0"}))
        except StorageError as denied:
            if denied.code in s3errors.DENIAL_REASONS:
                return str(denied.code), denied.request_id
        return str(failure.code), failure.request_id

    def server_time(self) -> datetime | None:
        """The storage's clock: the Date header of a HeadBucket answer (None without a
        readable one). Fingerprint cleanup measures its grace period with it, so a
        runner whose clock is ahead cannot void the grace."""
        date = self._send(Request("HeadBucket")).headers.get("date")
        try:
            return parsedate_to_datetime(date).astimezone(timezone.utc) if date else None
        except (TypeError, ValueError):
            return None

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        """ListObjectsV2 (V1 with ``CLOUDCOLLECT_LIST_VERSION=1``) under ``prefix``, every
        page; ``md5`` is the plain ETag when trust_etag is on."""

        def fetch(operation: str, query: dict[str, str]) -> bytes:
            return self._send(Request(operation, query=query)).body

        version = 1 if self.settings.list_version == 1 else 2
        return list_objects(fetch, prefix, version, self.settings.trust_etag)

    def head(self, key: str) -> RemoteObject | None:
        """HeadObject; ``None`` on 404. ``md5`` comes from our metadata, else from a plain
        ETag (trust_etag on, object not SSE-KMS/SSE-C), else ``None``."""
        answer = self._unless_missing(Request("HeadObject", key))
        if answer is None:
            return None
        return remote_from_head(key, answer.headers, self.settings.trust_etag)

    def get(self, key: str) -> bytes | None:
        """GetObject, whole body in memory (small objects only); ``None`` when missing."""
        answer = self._unless_missing(Request("GetObject", key))
        return None if answer is None else answer.body

    def put(
        self, key: str, file: BinaryIO, size: int, md5: str, headers: Mapping[str, str]
    ) -> str | None:
        """PutObject with Content-MD5 up to multipart_threshold, else multipart
        (``s3multipart``). Our MD5 goes into metadata ``cloudcollect-md5`` either way. A
        wrong MD5 is refused (BadDigest) and leaves nothing."""
        self._put_retries.count = 0
        wire = wire_headers(headers)
        wire[META_PREFIX + MD5_METADATA] = md5
        if self.settings.acl:
            wire["x-amz-acl"] = self.settings.acl
        part_size = self.multipart_part_size(size)
        if part_size is not None:
            upload = Upload(key, self._send, self._part_budget, self.settings.workers, part_size)
            etag, retries = upload.run(file, size, md5, wire)
            self._put_retries.count = retries
            return etag
        wire["content-md5"] = hex_to_base64(md5)
        body = FileSlice(file, file.tell(), size)
        answer = self._send(Request("PutObject", key, headers=wire, body=body))
        self._put_retries.count = answer.retries
        return answer.headers.get("etag")

    def multipart_part_size(self, size: int) -> int | None:
        """The part size ``put`` uses for ``size`` bytes; None: one PutObject."""
        if size <= self.settings.multipart_threshold:
            return None
        return part_size_for(size, self.settings.multipart_chunksize)

    def last_put_retries(self) -> int:
        """Retries made for the calling thread's last ``put`` (all its requests); a
        failed put reports its retries in the StorageError instead."""
        return int(getattr(self._put_retries, "count", 0))

    def delete(self, keys: Sequence[str]) -> _Failures:
        """DeleteObjects (Quiet) in batches of 1000; per-key errors become DeleteFailure.

        Stores without multi-object delete (MissingContentMD5, NotImplemented), and a
        batch refused as MalformedXML (a key with a control character), get one
        DeleteObject per key. A batch that fails otherwise is a failure of each of its
        keys (the next batches still go); FatalStorageError is raised. Missing keys are
        not failures.
        """
        failures: _Failures = []
        for start in range(0, len(keys), DELETE_BATCH):
            failures += self._delete_batch(keys[start : start + DELETE_BATCH])
        return failures

    def _delete_batch(self, keys: Sequence[str]) -> _Failures:
        document = {"Objects": [{"Key": key} for key in keys], "Quiet": True}
        try:
            answer = self._send(Request("DeleteObjects", document=document))
        except StorageError as failure:
            if failure.code in _NO_MULTI_DELETE or failure.code in _ONE_BAD_KEY:
                return self._delete_one_by_one(keys)
            if isinstance(failure, FatalStorageError):
                raise
            return [DeleteFailure.of(key, failure) for key in keys]
        return [
            DeleteFailure(key, code, message)
            for key, code, message in delete_errors(answer.body)
            if code not in s3errors.MISSING_KEY
        ]

    def _delete_one_by_one(self, keys: Sequence[str]) -> _Failures:
        failures: _Failures = []
        for key in keys:
            try:
                self._send(Request("DeleteObject", key))
            except StorageError as failure:
                if isinstance(failure, FatalStorageError):
                    raise
                if failure.code not in s3errors.MISSING_KEY:
                    failures.append(DeleteFailure(key, failure.code or "Error", str(failure)))
        return failures

    def put_if_absent(self, key: str, data: bytes, headers: Mapping[str, str]) -> bool:
        """PutObject with ``If-None-Match: *``: False when the store answers 412
        PreconditionFailed (or 409 ConditionalRequestConflict, a concurrent conditional
        write), i.e. an object exists. A store that ignores the header stores it (True).
        Small objects only (no multipart)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        wire = wire_headers(headers)
        wire[META_PREFIX + MD5_METADATA] = md5
        wire["content-md5"] = hex_to_base64(md5)
        wire["if-none-match"] = "*"
        if self.settings.acl:
            wire["x-amz-acl"] = self.settings.acl
        try:
            self._send(Request("PutObject", key, headers=wire, body=data))
        except StorageError as error:
            if error.code in _EXISTS_CODES:
                return False
            raise
        return True

    def bucket_cors(self) -> builtins.list[CorsRule]:
        """Optional capability: the bucket's CORS rules (see ``s3cors``)."""
        with s3cors.transport_of(self) as transport:
            return s3cors.read(transport, self._where())

    def put_bucket_cors(self, rules: Sequence[CorsRule]) -> None:
        """Optional capability: replace the bucket's CORS rules (see ``s3cors``)."""
        with s3cors.transport_of(self) as transport:
            s3cors.write(transport, rules, self._where())

    def public_url(self, key: str) -> str:
        return object_url(derive_base_url(self.settings), key)

    def close(self) -> None:
        """Close the transport's connections; safe to call twice."""
        self.transport.close()
