"""A fault-injecting HTTP/1.1 reverse proxy in front of the test S3 server.

Reliability tests point a boto3 client's ``endpoint_url`` at :attr:`FaultProxy.url`
(path-style addressing, plain HTTP). Each request goes to the upstream server as the client
sent it (request line, Host header, signed headers, body), so SigV4 signatures stay valid,
unless a :class:`Fault` rule of the plan matches it::

    with FaultProxy(upstream=seaweed.endpoint) as proxy:
        proxy.add(Fault("PutObject", "static/*.css", error(503, "SlowDown"), times=2))
        ...  # upload through proxy.url
        assert [r.status for r in proxy.requests("PutObject")] == [503, 503, 200]

Rules are tried in order; the first that matches the request's operation and key glob, is
past its ``after`` count and has ``times`` left, fires. Counting is per rule and under a
lock, never by a global request number, because uploads run concurrently.

Design notes (research/reliability-security.md, d.1 point 5 and X8/X9):

- ``Expect: 100-continue`` is answered by the proxy itself and stripped before forwarding;
  relaying the server's interim 100 as if it were the final answer hangs the client.
- Chunked request bodies are de-chunked and forwarded with a Content-Length.
- Request and response bodies are buffered whole: fine for test objects, not for GiB.
- The log keeps a safe subset of headers: Authorization, security tokens and presigned-URL
  signatures never enter it.
- One fresh upstream connection per request; the client side is kept alive. When the
  upstream cannot be reached (server stopped) the client gets 502 BadGateway.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.client
import itertools
import math
import socket
import socketserver
import struct
import threading
import traceback
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape

__all__ = [
    "Action",
    "Fault",
    "FaultProxy",
    "LoggedRequest",
    "delay",
    "delete_errors",
    "error",
    "error_200_body",
    "flip_byte",
    "head_403_if_missing",
    "infer_operation",
    "require_content_md5",
    "reset_after_forward",
    "reset_mid_body",
]

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})

# Hop-by-hop headers (RFC 9110 7.6.1) plus Expect, which the proxy answers itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# An allow-list: whatever is not named here (Authorization, X-Amz-Security-Token, ...)
# never reaches the log.
_LOGGED_HEADERS = frozenset(
    {
        "cache-control",
        "content-encoding",
        "content-length",
        "content-md5",
        "content-type",
        "expect",
        "transfer-encoding",
        "user-agent",
        "x-amz-acl",
        "x-amz-content-sha256",
        "x-amz-copy-source",
        "x-amz-decoded-content-length",
        "x-amz-sdk-checksum-algorithm",
        "x-amz-trailer",
    }
)
_LOGGED_HEADER_PREFIXES = ("x-amz-checksum-", "x-amz-meta-")
# Presigned-URL credentials, SigV4 and SigV2 style.
_SECRET_QUERY_PARAMS = frozenset(
    {
        "awsaccesskeyid",
        "signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
    }
)
# Object sub-resources that make a request something other than the plain object operation.
_OBJECT_SUBRESOURCES = frozenset(
    {"acl", "attributes", "legal-hold", "restore", "retention", "select", "tagging", "torrent"}
)
_DEFAULT_MESSAGES = {
    "AccessDenied": "Access Denied",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "ExpiredToken": "The provided token has expired.",
    "InternalError": "We encountered an internal error. Please try again.",
    "MissingContentMD5": "Missing required header for this request: Content-Md5.",
    "NotImplemented": "A header you provided implies functionality that is not implemented.",
    "ServiceUnavailable": "Reduce your request rate.",
    "SlowDown": "Please reduce your request rate.",
    "TooManyRequests": "Please reduce your request rate.",
}
_request_ids = itertools.count(1)


# --------------------------------------------------------------------------- operations


def infer_operation(
    method: str, path: str, query: str, headers: Mapping[str, str] | None = None
) -> tuple[str, str | None, str | None]:
    """Return ``(operation, bucket, key)`` of a path-style S3 request; unknown -> ``"Other"``.

    ``path`` is the raw (percent-encoded) request path; bucket and key come back decoded.
    """
    params = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    bucket, _, key = path.lstrip("/").partition("/")
    bucket_name = unquote(bucket) or None
    key_name = unquote(key) or None
    copying = headers is not None and "x-amz-copy-source" in {h.lower() for h in headers}
    if bucket_name is None:
        operation = "ListBuckets" if method == "GET" else "Other"
    elif key_name is None:
        operation = _bucket_operation(method, params)
    else:
        operation = _object_operation(method, params, copying)
    return operation, bucket_name, key_name


def _bucket_operation(method: str, params: set[str]) -> str:
    if method == "HEAD":
        return "HeadBucket"
    if method == "POST" and "delete" in params:
        return "DeleteObjects"
    if "cors" in params:
        return {"GET": "GetBucketCors", "PUT": "PutBucketCors"}.get(method, "DeleteBucketCors")
    if method == "GET":
        if "list-type" in params:
            return "ListObjectsV2"
        if "uploads" in params:
            return "ListMultipartUploads"
        if not params - {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}:
            return "ListObjects"
    if not params - {"x-id"}:
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, "Other")
    return "Other"


def _object_operation(method: str, params: set[str], copying: bool) -> str:
    if params & _OBJECT_SUBRESOURCES:
        return "Other"
    if method == "PUT":
        if {"partNumber", "uploadId"} <= params:
            return "UploadPartCopy" if copying else "UploadPart"
        return "CopyObject" if copying else "PutObject"
    if method == "POST":
        if "uploads" in params:
            return "CreateMultipartUpload"
        if "uploadId" in params:
            return "CompleteMultipartUpload"
        return "Other"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in params else "DeleteObject"
    if method == "GET":
        return "ListParts" if "uploadId" in params else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    return "Other"


def _delete_request_keys(body: bytes) -> tuple[str, ...]:
    """The keys named in a DeleteObjects request body (``<Delete><Object><Key>``)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return ()
    return tuple(
        node.text or ""
        for obj in root
        if _local(obj.tag) == "Object"
        for node in obj
        if _local(node.tag) == "Key"
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# --------------------------------------------------------------------------- log


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the proxy saw it. ``status`` is None when the client got no response.

    ``upstream_status`` is what the server answered (None: not forwarded, or no answer),
    ``fault`` names the action that changed the exchange (None: forwarded untouched),
    ``delete_keys`` lists the keys of a DeleteObjects request.
    """

    method: str
    path: str
    query: str
    operation: str
    bucket: str | None
    key: str | None
    headers: dict[str, str]
    status: int | None
    fault: str | None
    upstream_status: int | None = None
    delete_keys: tuple[str, ...] = ()

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


def _safe_headers(headers: Message) -> dict[str, str]:
    safe: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in _LOGGED_HEADERS or lower.startswith(_LOGGED_HEADER_PREFIXES):
            safe[lower] = value
    return safe


def _safe_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k.lower() not in _SECRET_QUERY_PARAMS])


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Action:
    """What a firing rule does with a request; build one with the functions below.

    ``run`` performs the exchange (it must answer or reset the client); ``applies`` is an
    extra match condition checked before the rule counts the request.
    """

    name: str
    run: Callable[[_Exchange, Fault], None]
    applies: Callable[[_Exchange], bool] = field(default=lambda exchange: True)


@dataclass
class Fault:
    """One rule of the fault plan.

    ``operation`` (e.g. ``"PutObject"``, None = any) and ``key_glob`` (``fnmatchcase``
    over the decoded key, ``*`` crosses ``/``; None = any request, with or without a key;
    for DeleteObjects it matches when any key in the request body matches) select the
    requests; the rule skips its first ``after`` matching requests, then fires ``times``
    times (None = forever). ``seen`` and ``fired`` count under the proxy's lock.
    """

    operation: str | None
    key_glob: str | None
    action: Action
    times: int | None = 1
    after: int = 0
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.action, Action):
            raise TypeError(f"action must be an Action (call the factory): {self.action!r}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        if self.after < 0:
            raise ValueError("after must be >= 0")

    def matches_key(self, key: str) -> bool:
        return self.key_glob is None or fnmatch.fnmatchcase(key, self.key_glob)

    def _selects(self, exchange: _Exchange) -> bool:
        if self.operation is not None and self.operation != exchange.operation:
            return False
        if self.key_glob is not None:
            keys = exchange.delete_keys if exchange.key is None else (exchange.key,)
            if not any(self.matches_key(key) for key in keys):
                return False
        return self.action.applies(exchange)

    def _claim(self) -> bool:
        """Count one selected request; True if the rule fires for it (caller holds the lock)."""
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


def _message(code: str, message: str | None) -> str:
    return _DEFAULT_MESSAGES.get(code, code) if message is None else message


def error(
    status: int, code: str, message: str | None = None, retry_after: float | None = None
) -> Action:
    """Answer with an S3 error (XML body; none for HEAD); nothing is forwarded.

    ``retry_after`` (seconds) sends ``Retry-After`` and botocore's ``x-amz-retry-after`` (ms).
    """
    text = _message(code, message)
    extra: dict[str, str] = {}
    if retry_after is not None:
        extra["Retry-After"] = str(math.ceil(retry_after))
        extra["x-amz-retry-after"] = str(round(retry_after * 1000))

    def run(exchange: _Exchange, fault: Fault) -> None:
        exchange.body()
        exchange.respond_error(status, code, text, extra)

    return Action(f"error {status} {code}", run)


def reset_mid_body() -> Action:
    """Read about half the request body, then RST the client connection; nothing forwarded."""

    def run(exchange: _Exchange, fault: Fault) -> None:
        exchange.read_half_body()
        exchange.reset()

    return Action("reset_mid_body", run)


def reset_after_forward() -> Action:
    """Forward and let the server apply the request, then RST instead of relaying the answer."""

    def run(exchange: _Exchange, fault: Fault) -> None:
        exchange.forward()
        exchange.reset()

    return Action("reset_after_forward", run)


def delay(seconds: float) -> Action:
    """Wait ``seconds`` (cut short when the proxy closes), then forward."""

    def run(exchange: _Exchange, fault: Fault) -> None:
        body = exchange.body()
        if exchange.wait(seconds):
            exchange.reset()
        else:
            exchange.relay(exchange.forward(body))

    return Action(f"delay {seconds}", run)


def flip_byte() -> Action:
    """Forward the body with its middle byte flipped; the server must reject it."""

    def run(exchange: _Exchange, fault: Fault) -> None:
        body = bytearray(exchange.body())
        if body:
            body[len(body) // 2] ^= 0x01
        else:
            exchange.fault = None  # nothing to flip
        exchange.relay(exchange.forward(bytes(body)))

    return Action("flip_byte", run)


def error_200_body(code: str = "InternalError", message: str | None = None) -> Action:
    """Answer 200 with an ``<Error>`` body (S3's CompleteMultipartUpload failure); not forwarded."""
    text = _message(code, message)

    def run(exchange: _Exchange, fault: Fault) -> None:
        exchange.body()
        exchange.respond_error(200, code, text, {})

    return Action(f"error_200_body {code}", run)


def delete_errors(code: str = "AccessDenied", message: str | None = None) -> Action:
    """DeleteObjects: forward, then report ``<Error>`` for the keys matching the rule's glob.

    The server really deleted those keys; only the answer the client hears changes.
    """
    text = _message(code, message)

    def run(exchange: _Exchange, fault: Fault) -> None:
        response = exchange.forward()
        if response.status == 200:
            failing = [key for key in exchange.delete_keys if fault.matches_key(key)]
            response.body = _rewrite_delete_result(response.body, failing, code, text)
        exchange.relay(response)

    return Action(f"delete_errors {code}", run, applies=lambda ex: ex.operation == "DeleteObjects")


def require_content_md5() -> Action:
    """Answer 400 MissingContentMD5 to requests without Content-MD5; others pass untouched."""
    reject = error(400, "MissingContentMD5")
    return Action(
        "require_content_md5", reject.run, applies=lambda ex: "Content-MD5" not in ex.headers
    )


def head_403_if_missing() -> Action:
    """HEAD: forward, and turn the server's 404 into 403 (a caller without ListBucket)."""

    def run(exchange: _Exchange, fault: Fault) -> None:
        response = exchange.forward()
        if response.status == 404:
            exchange.respond(403, "Forbidden", _error_headers(exchange.request_id(), {}), b"")
        else:
            exchange.fault = None
            exchange.relay(response)

    return Action("head_403_if_missing", run, applies=lambda ex: ex.method == "HEAD")


def long_answer(size: int, *, declared: bool = True, sent: list[int] | None = None) -> Action:
    """Answer 200 with ``size`` filler bytes: with a Content-Length (``declared``) or
    chunked; nothing forwarded. Sending stops when the client closes the connection; the
    bytes written are added to ``sent``. An endpoint that is not an S3 store, or one that
    answers without end."""
    block = b"<x>" + b"0" * (64 * 1024 - 7) + b"</x>"

    def run(exchange: _Exchange, fault: Fault) -> None:
        exchange.body()
        written = exchange.respond_filler(size, block, declared=declared)
        if sent is not None:
            sent.append(written)

    return Action(f"long_answer {size}", run)


def pages_per_listing(proxy: FaultProxy) -> Counter[str]:
    """How many ListObjectsV2 pages the proxy saw for each listed prefix."""
    return Counter(parse_qs(r.query)["prefix"][0] for r in proxy.requests("ListObjectsV2"))


def _rewrite_delete_result(body: bytes, failing: list[str], code: str, message: str) -> bytes:
    root = ET.fromstring(body)
    deleted: list[str] = []
    errors: list[tuple[str, str, str]] = []
    for entry in root:
        fields = {_local(node.tag): node.text or "" for node in entry}
        if _local(entry.tag) == "Deleted" and fields.get("Key") not in failing:
            deleted.append(fields.get("Key", ""))
        elif _local(entry.tag) == "Error":
            errors.append((fields["Key"], fields.get("Code", ""), fields.get("Message", "")))
    errors += [(key, code, message) for key in failing]
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="{S3_XMLNS}">']
    parts += [f"<Deleted><Key>{escape(key)}</Key></Deleted>" for key in deleted]
    parts += [
        f"<Error><Key>{escape(k)}</Key><Code>{escape(c)}</Code><Message>{escape(m)}</Message>"
        "</Error>"
        for k, c, m in errors
    ]
    parts.append("</DeleteResult>")
    return "".join(parts).encode("utf-8")


def _error_headers(request_id: str, extra: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/xml"),
        ("x-amz-request-id", request_id),
        ("x-amz-id-2", f"faultproxy/{request_id}"),
        *extra.items(),
    ]


# --------------------------------------------------------------------------- exchange


class _UpstreamError(Exception):
    """The upstream server could not be reached or answered garbage; the client gets a 502."""


@dataclass
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _Exchange:
    """One request on a client connection: lazy body, forwarding, answering, logging."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler
        self.proxy = handler.proxy
        self.method = handler.command
        self.raw_path = handler.path
        path, _, query = handler.path.partition("?")
        self.path, self.query = path, query
        self.headers = handler.headers
        self.operation, self.bucket, self.key = infer_operation(
            self.method, path, query, dict(handler.headers.items())
        )
        self.fault: str | None = None
        self.upstream_status: int | None = None
        self._body: bytes | None = None
        self._request_id: str | None = None
        self.delete_keys: tuple[str, ...] = ()
        if self.operation == "DeleteObjects":
            self.delete_keys = _delete_request_keys(self.body())

    # -- request body
    def body(self) -> bytes:
        if self._body is None:
            self._body = self._read_body()
        return self._body

    def _read_body(self) -> bytes:
        rfile = self._handler.rfile
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(rfile.read(size))
                rfile.readline()
            while rfile.readline().strip():  # trailers, then the blank line
                pass
            return b"".join(chunks)
        return rfile.read(int(self.headers.get("Content-Length") or 0))

    def read_half_body(self) -> None:
        if self._body is None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self._handler.rfile.read(length // 2)
            else:
                self._handler.rfile.readline()

    def wait(self, seconds: float) -> bool:
        """Sleep; True if the proxy started closing meanwhile."""
        return self.proxy._stopping.wait(seconds)

    # -- upstream
    def forward(self, body: bytes | None = None) -> _Response:
        payload = self.body() if body is None else body
        host, port = self.proxy.upstream_address
        connection = http.client.HTTPConnection(host, port, timeout=self.proxy.upstream_timeout)
        try:
            connection.putrequest(
                self.method, self.raw_path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            if payload or self.method in WRITE_METHODS:
                connection.putheader("Content-Length", str(len(payload)))
            connection.endheaders(payload)
            answer = connection.getresponse()
            response = _Response(answer.status, answer.reason, answer.getheaders(), answer.read())
        except (OSError, http.client.HTTPException) as exc:
            raise _UpstreamError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()
        self.upstream_status = response.status
        return response

    # -- client side
    def request_id(self) -> str:
        if self._request_id is None:
            self._request_id = f"FAULTPROXY{next(_request_ids):08X}"
        return self._request_id

    def relay(self, response: _Response) -> None:
        headers = [
            (name, value)
            for name, value in response.headers
            if name.lower() not in _HOP_BY_HOP
            and (name.lower() != "content-length" or not self._sends_body(response.status))
        ]
        self.respond(response.status, response.reason, headers, response.body)

    def respond_error(self, status: int, code: str, message: str, extra: Mapping[str, str]) -> None:
        request_id = self.request_id()
        resource = escape(unquote(self.path))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        reason = http.client.responses.get(status, "Error")
        self.respond(status, reason, _error_headers(request_id, extra), body)

    def respond(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        self._record(status)
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {v}" for name, v in headers)]
        if self._sends_body(status):
            lines.append(f"Content-Length: {len(body)}")
        else:
            body = b""
            if not any(name.lower() == "content-length" for name, _ in headers):
                lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._handler.wfile.write(head + body)

    def respond_filler(self, size: int, block: bytes, *, declared: bool) -> int:
        """Answer 200 with ``size`` bytes of ``block`` repeated, with a Content-Length
        (``declared``) or chunked, then close; the bytes written before the client closed."""
        self._record(200)
        length = f"Content-Length: {size}" if declared else "Transfer-Encoding: chunked"
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n{length}\r\n\r\n"
        wfile, written = self._handler.wfile, 0
        self._handler.close_connection = True
        with contextlib.suppress(OSError):
            wfile.write(head.encode("latin-1"))
            while written < size:
                piece = block[: size - written]
                wfile.write(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
                written += len(piece)
            if not declared:
                wfile.write(b"0\r\n\r\n")
            wfile.flush()
        return written

    def _sends_body(self, status: int) -> bool:
        return self.method != "HEAD" and status not in (204, 304)

    def reset(self) -> None:
        """Abort the client connection with a TCP RST (SO_LINGER 0)."""
        self._record(None)
        handler = self._handler
        handler.close_connection = True
        connection = handler.connection
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()  # drop the makefile reference, or close() keeps the fd open
        connection.close()

    def _record(self, status: int | None) -> None:
        self.proxy._record(
            LoggedRequest(
                method=self.method,
                path=unquote(self.path),
                query=_safe_query(self.query),
                operation=self.operation,
                bucket=self.bucket,
                key=self.key,
                headers=_safe_headers(self.headers),
                status=status,
                fault=self.fault,
                upstream_status=self.upstream_status,
                delete_keys=self.delete_keys,
            )
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and the built-in 100 Continue answer
    timeout = 60  # an idle keep-alive connection ends after this many seconds

    @property
    def proxy(self) -> FaultProxy:
        return cast(_Server, self.server).proxy

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line."""

    def handle_one_request(self) -> None:
        """Read and answer one request; a client that resets while idle just ends the loop.

        A killed client's kernel resets its keep-alive connections, which the wait for the
        next request line sees as ConnectionResetError: the client's doing, not a proxy bug.
        """
        try:
            super().handle_one_request()
        except ConnectionError:
            self.close_connection = True

    def _proxy_request(self) -> None:
        try:
            exchange = _Exchange(self)
            fault = self.proxy._select(exchange)
            if fault is not None:
                exchange.fault = fault.action.name
            try:
                if fault is None:
                    exchange.relay(exchange.forward())
                else:
                    fault.action.run(exchange, fault)
            except _UpstreamError as exc:
                exchange.respond_error(502, "BadGateway", f"faultproxy upstream: {exc}", {})
        except OSError:
            self.close_connection = True  # client or upstream went away mid-exchange

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy_request


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.proxy._lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def close_request(self, request: Any) -> None:
        with self.proxy._lock:
            self.connections.discard(request)
        super().close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        with self.proxy._lock:
            self.proxy.errors.append(traceback.format_exc())


# --------------------------------------------------------------------------- proxy


class FaultProxy:
    """A threaded HTTP/1.1 proxy on 127.0.0.1 with a fault plan and a request log.

    Use as a context manager; ``errors`` collects tracebacks of proxy bugs (should stay
    empty; the ``fault_proxy`` fixture asserts it).
    """

    def __init__(self, upstream: str, *, upstream_timeout: float = 30.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"upstream must be an http:// URL: {upstream!r}")
        self.upstream_address: tuple[str, int] = (parts.hostname, parts.port or 80)
        self.upstream_timeout = upstream_timeout
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def open_connections(self) -> int:
        """How many client connections the proxy holds open now (0 when stopped)."""
        server = self._server
        if server is None:
            return 0
        with self._lock:
            return len(server.connections)

    def start(self) -> FaultProxy:
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="faultproxy"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, cut open client connections and join every thread; idempotent."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        thread.join()
        with self._lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads

    def drop_idle_connections(self) -> int:
        """Close every client connection now, as a server closes idle keep-alive
        connections, without a ``Connection: close``; return how many. Call it between
        requests only (a connection mid-exchange would be cut)."""
        server = self._server
        if server is None:
            return 0
        with self._lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return len(connections)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- plan
    def add(self, fault: Fault) -> Fault:
        """Append a rule to the plan and return it (its ``fired`` count stays live)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _select(self, exchange: _Exchange) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault._selects(exchange) and fault._claim():
                    return fault
        return None

    # -- log
    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def requests(self, operation: str | None = None) -> list[LoggedRequest]:
        """Logged requests in the order their answers were decided, optionally by operation."""
        with self._lock:
            return [r for r in self._log if operation is None or r.operation == operation]

    def writes(self) -> list[LoggedRequest]:
        """Logged PUT, POST and DELETE requests."""
        return [r for r in self.requests() if r.is_write]

    def clear(self) -> None:
        """Forget the request log (the plan and its counts stay)."""
        with self._lock:
            self._log.clear()


def run_fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """Body of the ``fault_proxy`` pytest fixture: a running proxy, then a clean shutdown."""
    with FaultProxy(upstream=upstream) as proxy:
        yield proxy
    assert not proxy.errors, "the fault proxy hit an internal error:\n" + "\n".join(proxy.errors)
