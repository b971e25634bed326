"""S3 requests without botocore's request pipeline: SigV4 over ``http.client``.

botocore spends about 1 ms of CPU per request (parameter validation, serialisation, endpoint
rules, a dozen events, response parsing), and importing it and building a client costs
about 0.15 s per run. :class:`LeanS3` sends single PutObjects, and the reads a run starts
with (HeadBucket, ListObjectsV2 pages, GetObject of a small object), for about a quarter of
the CPU. :class:`S3Storage` decides when it is used and falls back to botocore otherwise;
its target (URL template and signing region) comes either from a request botocore signed
(:meth:`Target.from_request`) or from settings simple enough to resolve without botocore
(``s3direct``). Pure standard library: nothing here imports botocore.

Behaviour kept equal to the botocore path:

- the request: for a PUT, ``Content-MD5`` (the store verifies it), ``x-amz-content-sha256:
  UNSIGNED-PAYLOAD``, the same headers and metadata, no checksum trailers, no
  ``Expect: 100-continue``; a GET or HEAD signs the empty payload's SHA-256, as botocore
  does; keys are percent-encoded as botocore does (``/`` and ``~`` kept), query values as
  SigV4 wants (RFC 3986 unreserved characters kept);
- retries as botocore's ``standard`` mode: connection errors, timeouts, HTTP 500/502/503/
  504 and the throttling/transient error codes, ``max_attempts`` in total, full-jitter
  exponential backoff (at most 20 s). A non-retryable error ends at once;
- failures are raised as :class:`RequestFailed` with the error code (the HTTP status when
  the answer has no XML body, as botocore does: ``404`` for a HEAD), message, request id
  and retry count, which S3Storage turns into the same StorageError as botocore's;
- connections: one keep-alive connection per thread, TCP_NODELAY, 10 s to connect, 60 s
  per read; TLS verified against the CA bundle botocore would use.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
import re
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO, NamedTuple
from urllib.parse import quote, urlsplit

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
MAX_BACKOFF = 20.0
#: Bodies up to this size go out in the same ``send`` as the headers.
INLINE_BODY = 256 * 1024
BLOCK = 256 * 1024
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: An answer body whose root element is <Error> (S3 can answer 200 with one).
_ERROR_DOCUMENT = re.compile(rb"\s*(<\?xml[^>]*\?>\s*)?<Error[\s>]")
#: What SigV4 leaves unencoded in a query string (RFC 3986 unreserved).
_QUERY_SAFE = "-_.~"

#: botocore ``standard`` retry mode: retried error codes and HTTP statuses.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
    }
)
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None


class RequestFailed(Exception):
    """A request that failed for good. ``code``: the service's error code, or ``ConnectionError``,
    ``Timeout``, ``SSLError``; ``retries``: attempts made beyond the first."""

    def __init__(
        self, code: str, message: str, *, request_id: str | None = None, retries: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retries = retries


@dataclass(frozen=True)
class Target:
    """Where a bucket's requests go: a key at ``{scheme}://{netloc}{path_prefix}{quoted
    key}``, the bucket itself at :meth:`bucket_path`; signed for ``region``."""

    scheme: str
    netloc: str
    path_prefix: str
    region: str

    @classmethod
    def from_request(cls, url: str, authorization: str | None, key: str) -> Target | None:
        """The target read from a PutObject request botocore signed for ``key``, or None
        when it is not a plain SigV4 request for S3 (SigV2, SigV4a, anonymous, S3 Express)
        or its URL is not ``<prefix><quoted key>`` without a query and without userinfo
        (``user:password@``, which botocore leaves out of the connection's host)."""
        scheme = "AWS4-HMAC-SHA256 Credential="
        if not authorization or not authorization.startswith(scheme):
            return None
        scope = authorization[len(scheme) :].split(",")[0].split("/")
        parts = urlsplit(url)
        quoted = quote(key, safe="/~")
        if (
            len(scope) != 5
            or scope[3] != "s3"
            or scope[4] != "aws4_request"
            or parts.scheme not in ("http", "https")
            or parts.query
            or "@" in parts.netloc
            or not parts.path.endswith(quoted)
        ):
            return None
        return cls(parts.scheme, parts.netloc, parts.path[: -len(quoted)], scope[2])

    @classmethod
    def path_style(cls, endpoint_url: str, bucket: str, region: str) -> Target | None:
        """Path-style addressing on a custom endpoint, as botocore builds it:
        ``{endpoint}/{bucket}/{key}`` (the endpoint's own path kept); None for a URL
        botocore would not take as it is (no http(s) scheme or host, a query, a fragment,
        credentials in it)."""
        parts = urlsplit(endpoint_url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            return None
        base = parts.path.rstrip("/") + "/"
        return cls(parts.scheme, parts.netloc, f"{base}{quote(bucket, safe='')}/", region)

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.netloc}{self.path(key)}"

    def bucket_path(self) -> str:
        """The path of bucket-level requests (HeadBucket, ListObjectsV2)."""
        return self.path_prefix.rstrip("/") or "/"

    def path(self, key: str) -> str:
        return self.path_prefix + quote(key, safe="/~")


# -- signing ------------------------------------------------------------------------------


def canonical_query(params: Mapping[str, str]) -> str:
    """A query string in SigV4's canonical form, which is also what is sent."""
    encoded = sorted(
        (quote(name, safe=_QUERY_SAFE), quote(value, safe=_QUERY_SAFE))
        for name, value in params.items()
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def sign(
    method: str,
    path: str,
    headers: dict[str, str],
    credentials: Credentials,
    region: str,
    now: datetime,
    *,
    query: str = "",
    payload: str = UNSIGNED_PAYLOAD,
) -> None:
    """Add ``x-amz-date``, the session token and ``Authorization`` (SigV4) to ``headers``,
    whose names must be lower case and include ``host``. ``query`` must be canonical
    (:func:`canonical_query`); ``payload`` is the body's SHA-256 or ``UNSIGNED-PAYLOAD``."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = payload
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    signed = ";".join(names)
    canonical = f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload}"
    scope = f"{day}/{region}/s3/aws4_request"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}"
    key = _signing_key(credentials.secret_key, day, region)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


# -- connections --------------------------------------------------------------------------


#: (connect, read) timeouts in seconds: CLOUDCOLLECT_CONNECT_TIMEOUT / _READ_TIMEOUT.
Timeouts = tuple[float, float]


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, timeouts: Timeouts) -> None:
        super().__init__(host, blocksize=BLOCK)
        self._timeouts = timeouts

    def connect(self) -> None:
        connect, read = self._timeouts
        self.sock = socket.create_connection((self.host, self.port), connect)
        self.sock.settimeout(read)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TLSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, context: ssl.SSLContext, timeouts: Timeouts) -> None:
        super().__init__(host, context=context, blocksize=BLOCK)
        self._tls = context
        self._timeouts = timeouts

    def connect(self) -> None:
        connect, read = self._timeouts
        raw = socket.create_connection((self.host, self.port), connect)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(read)  # the TLS handshake waits for answers too
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(read)


# -- requests -----------------------------------------------------------------------------


class Answer(NamedTuple):
    """A successful (2xx) answer: its body (empty for HEAD), headers and retries made."""

    body: bytes
    headers: http.client.HTTPMessage
    retries: int


#: What makes a request's body, once per attempt.
_Body = Callable[[], "bytes | Iterator[bytes]"]


class LeanS3:
    """Signed S3 requests to one :class:`Target`; thread-safe (a connection per thread)."""

    def __init__(
        self,
        target: Target,
        credentials: Callable[[], Credentials],
        *,
        max_attempts: int,
        tls: ssl.SSLContext | None = None,
        user_agent: str = "cloudcollect",
        sleep: Callable[[float], None] = time.sleep,
        timeouts: Timeouts = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        self.target = target
        self._timeouts = timeouts
        self._credentials = credentials
        self._max_attempts = max(1, max_attempts)
        self._tls = tls
        self._user_agent = user_agent
        self._sleep = sleep
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []

    def put(
        self, key: str, file: BinaryIO, size: int, headers: Mapping[str, str]
    ) -> tuple[str | None, int]:
        """Send ``size`` bytes of ``file`` (from its position) to ``key`` with ``headers``
        (Content-MD5 included by the caller); return (ETag, retries). RequestFailed when it
        fails for good; what the file's reads raise (e.g. a cancellation) propagates."""
        start = file.tell()

        def body() -> bytes | Iterator[bytes]:
            file.seek(start)
            return _read_all(file, size) if size <= INLINE_BODY else _blocks(file, size)

        sized = {**headers, "content-length": str(size)}
        answer = self.request("PUT", self.target.path(key), headers=sized, body=body)
        return answer.headers.get("ETag"), answer.retries

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        body: _Body | None = None,
        object_body: bool = False,
    ) -> Answer:
        """One request with retries; the Answer for a 2xx status, else RequestFailed.

        Without ``body`` the empty payload's SHA-256 is signed (GET, HEAD); with it, the
        payload is unsigned (its Content-MD5 header protects it). A 200 whose body is an
        ``<Error>`` document is an error (retried as a 500), as botocore has it, unless the
        body is an object's content (``object_body``)."""
        canonical = canonical_query(query) if query else ""
        base = {name.lower(): value for name, value in (headers or {}).items()}
        base["host"] = self.target.netloc
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._attempt(method, path, canonical, dict(base), body, object_body)
                return answer._replace(retries=attempt - 1)
            except _Retryable as failure:
                if attempt >= self._max_attempts:
                    raise failure.final(attempt - 1) from None
                self._sleep(random.random() * min(MAX_BACKOFF, 2.0 ** (attempt - 1)))

    def _attempt(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: _Body | None,
        object_body: bool,
    ) -> Answer:
        payload = UNSIGNED_PAYLOAD if body is not None else EMPTY_SHA256
        now = _utcnow()
        credentials = self._credentials()
        sign(
            method,
            path,
            headers,
            credentials,
            self.target.region,
            now,
            query=query,
            payload=payload,
        )
        headers["user-agent"] = self._user_agent
        url = f"{path}?{query}" if query else path
        connection = self._connection()
        try:
            connection.request(method, url, body=body() if body else None, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except ssl.SSLCertVerificationError as error:  # does not heal by retrying
            self._drop(connection)
            raise RequestFailed("SSLError", str(error)) from None
        except TimeoutError as error:
            self._drop(connection)
            where = self.target.netloc
            raise _Retryable("Timeout", f"{where}: no answer in time ({error})") from None
        except (OSError, http.client.HTTPException) as error:
            self._drop(connection)
            message = f"{self.target.netloc}: {type(error).__name__}: {error}"
            raise _Retryable("ConnectionError", message) from None
        except BaseException:
            self._drop(connection)
            raise
        if response.will_close:
            self._drop(connection)
        status = response.status
        if 200 <= status < 300:
            if object_body or not _ERROR_DOCUMENT.match(data):
                return Answer(data, response.headers, 0)
            status = 500
        code, message, request_id = _parse_error(status, data)
        request_id = request_id or response.getheader("x-amz-request-id")
        if status in RETRYABLE_STATUS or code in RETRYABLE_CODES:
            raise _Retryable(code, message, request_id=request_id)
        raise RequestFailed(code, message, request_id=request_id)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self.target.scheme == "https":
                assert self._tls is not None
                connection = _TLSConnection(self.target.netloc, self._tls, self._timeouts)
            else:
                connection = _Connection(self.target.netloc, self._timeouts)
            self._local.connection = connection
            with self._lock:
                self._open.append(connection)
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)

    def close(self) -> None:
        """Close every thread's connection; safe to call twice."""
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            connection.close()


class _Retryable(RequestFailed):
    """A failure worth another attempt; :meth:`final` is what is raised after the last."""

    def final(self, retries: int) -> RequestFailed:
        return RequestFailed(self.code, self.message, request_id=self.request_id, retries=retries)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _parse_error(status: int, body: bytes) -> tuple[str, str, str | None]:
    """(code, message, request id) of an S3 error answer; without an XML body, as botocore
    does: the status as the code and its reason phrase as the message."""
    try:
        root = ET.fromstring(body) if body else None
    except ET.ParseError:
        root = None
    fields: dict[str, str] = {}
    if root is not None:
        for element in root.iter():
            fields.setdefault(element.tag.rpartition("}")[2], (element.text or "").strip())
    code = fields.get("Code") or str(status)
    message = fields.get("Message") or http.client.responses.get(status, "")
    return code, message, fields.get("RequestId") or None


def _read_all(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise _source_short(len(data), size)
    return data


def _blocks(file: BinaryIO, size: int) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        block = file.read(min(BLOCK, remaining))
        if not block:
            raise _source_short(size - remaining, size)
        remaining -= len(block)
        yield block


def _source_short(got: int, expected: int) -> RequestFailed:
    """The file ended before its size: it changed since it was hashed (not retried)."""
    return RequestFailed("SourceChanged", f"file ended early ({got} of {expected} bytes)")
