"""PutObject without botocore's request pipeline: SigV4 over ``http.client``.

botocore spends about 1 ms of CPU per request (parameter validation, serialisation, endpoint
rules, a dozen events, response parsing); this path spends about a quarter of that, which
is what bounds a cold upload of many small files on a machine shared with the store.
:class:`S3Storage` decides when it is used (single PUTs, an endpoint and credentials it
could learn from botocore, nobody hooking the client's events) and falls back to botocore
otherwise. Pure standard library: the URL template, region and credentials come from the
botocore client; nothing here imports botocore.

Behaviour kept equal to the botocore path:

- the request: ``Content-MD5`` (the store verifies it), ``x-amz-content-sha256:
  UNSIGNED-PAYLOAD``, the same headers and metadata, no checksum trailers, no
  ``Expect: 100-continue``; the key is percent-encoded as botocore does (``/`` and ``~``
  kept), the endpoint's host and path prefix are botocore's own (see :class:`PutTarget`);
- retries as botocore's ``standard`` mode: connection errors, timeouts, HTTP 500/502/503/
  504 and the throttling/transient error codes, ``max_attempts`` in total, full-jitter
  exponential backoff (at most 20 s). A non-retryable error ends at once;
- failures are raised as :class:`PutFailed` with the error code, message, request id and
  retry count, which S3Storage turns into the same StorageError as botocore's;
- connections: one keep-alive connection per thread, TCP_NODELAY, 10 s to connect, 60 s
  per read; TLS verified against the CA bundle botocore would use.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
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


class PutFailed(Exception):
    """A PUT that failed for good. ``code``: the service's error code, or ``ConnectionError``,
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
class PutTarget:
    """Where a key's PutObject goes: ``{scheme}://{netloc}{path_prefix}{quoted key}``,
    signed for ``region``."""

    scheme: str
    netloc: str
    path_prefix: str
    region: str

    @classmethod
    def from_request(cls, url: str, authorization: str | None, key: str) -> PutTarget | None:
        """The target read from a PutObject request botocore signed for ``key``, or None
        when it is not a plain SigV4 request for S3 (SigV2, SigV4a, anonymous, S3 Express)
        or its URL is not ``<prefix><quoted key>`` without a query."""
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
            or not parts.path.endswith(quoted)
        ):
            return None
        return cls(parts.scheme, parts.netloc, parts.path[: -len(quoted)], scope[2])

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.netloc}{self.path(key)}"

    def path(self, key: str) -> str:
        return self.path_prefix + quote(key, safe="/~")


# -- signing ------------------------------------------------------------------------------


def sign(
    method: str,
    path: str,
    headers: dict[str, str],
    credentials: Credentials,
    region: str,
    now: datetime,
) -> None:
    """Add ``x-amz-date``, the session token and ``Authorization`` (SigV4, unsigned payload)
    to ``headers``, whose names must be lower case and include ``host``."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = UNSIGNED_PAYLOAD
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    signed = ";".join(names)
    canonical = f"{method}\n{path}\n\n{canonical_headers}\n{signed}\n{UNSIGNED_PAYLOAD}"
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


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), CONNECT_TIMEOUT)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TLSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, context: ssl.SSLContext) -> None:
        super().__init__(host, context=context, blocksize=BLOCK)
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), CONNECT_TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(READ_TIMEOUT)


# -- the PUT ------------------------------------------------------------------------------


class LeanPut:
    """Signed single PutObject requests, thread-safe (a connection per thread)."""

    def __init__(
        self,
        target: PutTarget,
        credentials: Callable[[], Credentials],
        *,
        max_attempts: int,
        tls: ssl.SSLContext | None = None,
        user_agent: str = "cloudcollect",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
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
        (Content-MD5 included by the caller); return (ETag, retries). PutFailed when it
        fails for good; what the file's reads raise (e.g. a cancellation) propagates."""
        path = self.target.path(key)
        start = file.tell()
        base = {name.lower(): value for name, value in headers.items()}
        base["host"] = self.target.netloc
        attempt = 0
        while True:
            attempt += 1
            file.seek(start)
            try:
                return self._attempt(path, file, size, dict(base)), attempt - 1
            except _Retryable as failure:
                if attempt >= self._max_attempts:
                    raise failure.final(attempt - 1) from None
                self._sleep(random.random() * min(MAX_BACKOFF, 2.0 ** (attempt - 1)))

    def _attempt(self, path: str, file: BinaryIO, size: int, headers: dict[str, str]) -> str | None:
        sign("PUT", path, headers, self._credentials(), self.target.region, _utcnow())
        headers["content-length"] = str(size)
        headers["user-agent"] = self._user_agent
        connection = self._connection()
        try:
            body: bytes | Iterator[bytes] = (
                _read_all(file, size) if size <= INLINE_BODY else _blocks(file, size)
            )
            connection.request("PUT", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
        except ssl.SSLCertVerificationError as error:  # does not heal by retrying
            self._drop(connection)
            raise PutFailed("SSLError", str(error)) from None
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
        if response.status == 200:
            return response.getheader("ETag")
        code, message, request_id = _parse_error(response.status, answer)
        request_id = request_id or response.getheader("x-amz-request-id")
        if response.status in RETRYABLE_STATUS or code in RETRYABLE_CODES:
            raise _Retryable(code, message, request_id)
        raise PutFailed(code, message, request_id=request_id)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self.target.scheme == "https":
                assert self._tls is not None
                connection = _TLSConnection(self.target.netloc, self._tls)
            else:
                connection = _Connection(self.target.netloc, blocksize=BLOCK)
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


class _Retryable(Exception):
    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def final(self, retries: int) -> PutFailed:
        return PutFailed(self.code, self.message, request_id=self.request_id, retries=retries)


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


def _source_short(got: int, expected: int) -> PutFailed:
    """The file ended before its size: it changed since it was hashed (not retried)."""
    return PutFailed("SourceChanged", f"file ended early ({got} of {expected} bytes)")
