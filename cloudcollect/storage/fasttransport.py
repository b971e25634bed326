"""The fast transport: SigV4 (``sigv4``) over a urllib3 pool, no botocore client.

botocore's client spends about 1 ms of CPU per request (parameter validation, endpoint
rules, a dozen events, response parsing) and loading its S3 model costs a tenth of a
second per run; this transport sends the storage's :class:`~.transport.Request` as it is.
Requests are signed by ``sigv4``, which builds the canonical request
``botocore.auth.S3SigV4Auth`` builds (tests/test_sigv4.py has botocore as its oracle) in a
fifth of its time. Of botocore, only public pieces are used: credentials from the chain
(``Session.get_credentials()``; refreshable credentials are frozen per request, which
refreshes them before expiry, and each new set is given to ``redact`` before it signs
anything, so a refreshed secret key or token is scrubbed from every message),
``botocore.httpsession.ProxyConfiguration`` for a proxy's headers, and urllib3 (botocore's
own HTTP library) for connections.

Behaviour kept equal to botocore's client (``botocoretransport``):

- payloads are not signed (``UNSIGNED-PAYLOAD``; every PUT carries a Content-MD5 the store
  verifies), no checksum trailers, no ``Expect: 100-continue``;
- TLS is verified against botocore's CA bundle (``awsenv.ca_bundle``), never the system
  store; a bundle that does not exist fails the request as ``SSLError``, not retried;
- a request goes through the proxy botocore would use (``awsenv.proxy_for``);
- retries: the shared :class:`~.retry.RetryPolicy`;
- an answer is read up to ``transport.body_limit`` (256 MiB for an object's content,
  16 MiB for anything else); a longer one fails as ``ResponseTooLarge``, not retried;
- connections: a pool of ``pool_size`` keep-alive connections, 10 s to connect, 60 s per
  read; a connection the server closed while idle is noticed before reuse (urllib3 checks
  it), so it costs no retry.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import urllib3

from .. import redact
from . import s3wire
from .awsenv import Endpoint
from .retry import Retryable, RetryPolicy
from .sigv4 import Signer
from .transport import (
    FileSlice,
    Request,
    Response,
    TransportError,
    credentials_error,
    read_within_limit,
)

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
#: Bodies up to this size go out in the same ``send`` as the headers.
INLINE_BODY = 256 * 1024
BLOCK = 256 * 1024
USER_AGENT = "cloudcollect"


class FastTransport:
    """Signed requests to one bucket over a urllib3 pool; thread-safe."""

    name = "fast"

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Callable[[], Any],
        policy: RetryPolicy,
        *,
        ca_bundle: str | None = None,
        proxy: str | None = None,
        pool_size: int = 10,
        timeouts: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        """``credentials`` returns botocore credentials (``get_frozen_credentials``) or
        None; it is called once, on the first request. ``timeouts``: (connect, read)
        seconds per attempt (``CLOUDCOLLECT_CONNECT_TIMEOUT`` / ``_READ_TIMEOUT``)."""
        self.endpoint = endpoint
        self._load_credentials = credentials
        self._credentials: Any = None
        self._lock = threading.Lock()
        self._policy = policy
        self._signer = Signer(endpoint.region)
        self._ca_bundle = ca_bundle if endpoint.scheme == "https" else None
        self._pool = _pool_manager(self._ca_bundle, proxy, pool_size, timeouts)
        self._proxied = proxy is not None
        self._pools: dict[str, Any] = {}  # origin -> its connection pool (no proxy)

    def send(self, request: Request) -> Response:
        return self._policy.run(request, lambda: self._attempt(request))

    def close(self) -> None:
        self._pools.clear()
        self._pool.clear()

    def _attempt(self, request: Request) -> Response:
        if self._ca_bundle is not None and not os.path.exists(self._ca_bundle):
            raise TransportError("SSLError", f"CA bundle {self._ca_bundle!r} does not exist")
        url = self.endpoint.url(request.key, s3wire.query_string(request))
        headers = dict(request.headers)
        body = _body(request, headers)
        signed = self._sign(request.method, url, headers)
        opener, target = self._opener(url)
        try:
            answer = opener.urlopen(
                request.method,
                target,
                body=body,
                headers=signed,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
            data = _read_body(answer, request, self._where())
        except urllib3.exceptions.SSLError as error:
            raise TransportError("SSLError", f"{self._where()}: {error}") from None
        except urllib3.exceptions.NewConnectionError as error:  # a ConnectTimeoutError too
            message = f"{self._where()}: {type(error).__name__}: {error}"
            raise Retryable("ConnectionError", message) from None
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError):
            raise Retryable("Timeout", f"{self._where()}: no answer in time") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            message = f"{self._where()}: {type(error).__name__}: {error}"
            raise Retryable("ConnectionError", message) from None
        names = {name.lower(): value for name, value in answer.headers.items()}
        return Response(answer.status, names, data)

    def _opener(self, url: str) -> tuple[Any, str]:
        """Who sends ``url`` and what to give it: through a proxy, the proxy manager and
        the URL; else the origin's own connection pool, kept (a request then skips the
        pool manager's lookup, 0.08 s of CPU over 3,000 uploads), and the path."""
        if self._proxied:
            return self._pool, url
        scheme, _, rest = url.partition("://")
        netloc, slash, path = rest.partition("/")
        origin = f"{scheme}://{netloc}"
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools.setdefault(origin, self._pool.connection_from_url(origin))
        return pool, slash + path

    def _where(self) -> str:
        return self.endpoint.base

    def _sign(self, method: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with SigV4's date, token and Authorization added."""
        credentials = self._frozen_credentials()
        signed = self._signer.sign(
            method,
            url,
            headers,
            credentials.access_key,
            credentials.secret_key,
            credentials.token,
        )
        signed["User-Agent"] = USER_AGENT
        return signed

    def _frozen_credentials(self) -> Any:
        with self._lock:
            if self._credentials is None:
                try:
                    self._credentials = self._load_credentials()
                except Exception as error:  # anything the chain raises (credentials_error)
                    raise credentials_error(error) from None
                if self._credentials is None:
                    raise TransportError("NoCredentialsError", "no AWS credentials found")
        try:
            frozen = self._credentials.get_frozen_credentials()
        except Exception as error:  # a refresh failed
            raise credentials_error(error) from None
        redact.remember_credentials(frozen)  # a set refreshed since is scrubbed too
        return frozen


def _read_body(answer: Any, request: Request, where: str) -> bytes:
    """The whole body of ``answer`` (decoded, at most ``body_limit`` bytes: see
    ``read_within_limit``); its connection goes back to the pool, closed when the answer
    was too long. A HEAD answer declares the object's length but has no body."""
    length = answer.headers.get("content-length", "") if request.method != "HEAD" else ""
    declared = int(length) if length.isdigit() else None
    try:
        return read_within_limit(answer, declared, request.operation, where)
    finally:
        answer.release_conn()


def _body(request: Request, headers: dict[str, str]) -> bytes | Any | None:
    """The body to send (bytes, or a reader of a large file slice); sets Content-Length
    and, for an XML document, Content-MD5."""
    if request.document is not None:
        data = s3wire.document_xml(request.operation, request.document)
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        headers["content-md5"] = base64.b64encode(digest).decode("ascii")
        headers["content-length"] = str(len(data))
        return data
    body = request.body
    if body is None:
        return None
    if isinstance(body, FileSlice):
        headers["content-length"] = str(body.size)
        reader = body.reader()
        return reader.read() if body.size <= INLINE_BODY else reader
    headers["content-length"] = str(len(body))
    return body


def _pool_manager(
    ca_bundle: str | None, proxy: str | None, size: int, timeouts: tuple[float, float]
) -> urllib3.PoolManager:
    """Keep-alive connections (TCP_NODELAY, urllib3's default); TLS verified against
    ``ca_bundle`` (a file or a directory of CAs); through ``proxy`` when given."""
    kwargs: dict[str, Any] = {
        "num_pools": 4,
        "maxsize": size,
        "timeout": urllib3.Timeout(connect=timeouts[0], read=timeouts[1]),
        "retries": False,
        "blocksize": BLOCK,
    }
    if ca_bundle is not None:
        kwargs["cert_reqs"] = "CERT_REQUIRED"
        kwargs["ca_cert_dir" if os.path.isdir(ca_bundle) else "ca_certs"] = ca_bundle
    if proxy is None:
        return urllib3.PoolManager(**kwargs)
    from botocore.httpsession import ProxyConfiguration

    proxy_headers = ProxyConfiguration().proxy_headers_for(proxy)
    return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **kwargs)
