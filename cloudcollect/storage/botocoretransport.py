"""The botocore transport: the storage's requests sent by botocore's client.

Used where the fast transport does not implement what the settings ask for (FIPS,
dual-stack or accelerate endpoints, another signature version, CRC checksums, region
discovery on AWS...; the rule is in ``awsenv``) or when ``CLOUDCOLLECT_TRANSPORT=botocore``.

A :class:`~.transport.Request` becomes the client call of its operation: wire headers and
query parameters are mapped back onto the operation's parameters through botocore's own
service model (``client.meta.service_model``; :mod:`.botocoreparams`), the body or XML
document onto its payload parameter. The answer is kept raw
(status, headers, body) from the public ``before-parse`` event, so the storage parses the
same bytes whichever transport carried them. Credentials are given to ``redact`` per
request, so a set refreshed mid-run is scrubbed too: the set the client's credentials
object holds just before signing (``before-sign``; freezing it there makes any refresh
happen then, so the signer gets the same set), and the token and access key id read from
the signed request (``request-created``, last), which are exact even when every freeze
refreshes (credentials issued with under 10 minutes left). botocore's own retries are off
(``total_max_attempts = 1``): the shared :class:`~.retry.RetryPolicy` retries here too.
Only public API: ``botocore.session``, ``botocore.config.Config``, ``botocore.xform_name``,
client methods, ``client.meta.events`` and ``client.meta.service_model``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import botocore.exceptions as bce

from .. import redact
from ..config import Settings
from . import awsenv
from .botocoreparams import api_params
from .retry import Retryable, RetryPolicy
from .s3preflight import client_value_error
from .transport import (
    Request,
    Response,
    SourceChanged,
    TransportError,
    credentials_error,
    read_within_limit,
)

if TYPE_CHECKING:
    import botocore.session
    from botocore.config import Config

_EMPTY_LISTING = b"<ListBucketResult></ListBucketResult>"
_LISTINGS = frozenset({"ListObjectsV2", "ListObjects"})


class BotocoreTransport:
    """Requests to one bucket through a botocore S3 client; thread-safe."""

    name = "botocore"

    def __init__(
        self,
        client: Any,
        bucket: str,
        policy: RetryPolicy,
        *,
        ca_bundle: str | None = None,
        credentials: Callable[[], Any] | None = None,
    ) -> None:
        """``ca_bundle``: checked to exist before each HTTPS request (as the fast
        transport does), None for plain HTTP. ``credentials``: the session's
        ``get_credentials``, which returns the object the client signs with."""
        self.client = client
        self._bucket = bucket
        self._policy = policy
        self._ca_bundle = ca_bundle
        self._credentials = credentials
        self._raw = threading.local()
        events = client.meta.events
        events.register("before-parse.s3", self._keep_raw, unique_id="cloudcollect-raw")
        events.register("before-sign.s3", self._remember_credentials, unique_id="cloudcollect-c")
        events.register_last("request-created.s3", _remember_signed, unique_id="cloudcollect-s")
        for operation in ("DeleteObjects", "PutBucketCors"):
            events.register(
                f"before-sign.s3.{operation}",
                _add_content_md5,
                unique_id=f"cloudcollect-md5-{operation}",
            )

    def send(self, request: Request) -> Response:
        return self._policy.run(request, lambda: self._attempt(request))

    def close(self) -> None:
        self.client.close()

    def _remember_credentials(self, **_: Any) -> None:
        """Give redact the credentials the signer is about to use (a refresh happens here:
        what it raises is the TransportError of ``credentials_error``)."""
        try:
            source = self._credentials() if self._credentials is not None else None
            frozen = source.get_frozen_credentials() if source is not None else None
        except Exception as error:  # anything the chain raises
            raise credentials_error(error) from None
        if frozen is not None:
            redact.remember_credentials(frozen)

    def _attempt(self, request: Request) -> Response:
        if self._ca_bundle is not None and not os.path.exists(self._ca_bundle):
            raise TransportError("SSLError", f"CA bundle {self._ca_bundle!r} does not exist")
        model = self.client.meta.service_model.operation_model(request.operation)
        params = api_params(model, request, self._bucket)
        call = getattr(self.client, _method_name(request.operation))
        self._raw.answer = None
        self._raw.operation = request.operation
        try:
            parsed = call(**params)
        except bce.ClientError as error:
            return _answer_from_error(error)
        except _Unredirectable as moved:
            return moved.answer
        except bce.SSLError as error:
            raise TransportError("SSLError", str(error)) from None
        except (bce.ReadTimeoutError, bce.ConnectTimeoutError) as error:
            raise Retryable("Timeout", str(error)) from None
        except (bce.ConnectionError, bce.HTTPClientError) as error:
            cause = getattr(error, "kwargs", {}).get("error")
            if isinstance(cause, SourceChanged):
                raise cause from None
            raise Retryable("ConnectionError", str(error)) from None
        except (
            bce.NoCredentialsError,
            bce.PartialCredentialsError,
            bce.CredentialRetrievalError,
            bce.TokenRetrievalError,
        ) as error:
            raise credentials_error(error) from None
        answer: Response = self._raw.answer
        # An object's content is read here, within its limit; botocore reads the others itself.
        if "Body" in parsed and hasattr(parsed["Body"], "read"):
            declared, where = parsed.get("ContentLength"), self.client.meta.endpoint_url
            content = read_within_limit(parsed["Body"], declared, request.operation, where)
            return Response(answer.status, answer.headers, content)
        return answer

    def _keep_raw(
        self,
        operation_model: Any,
        response_dict: dict[str, Any],
        **_: Any,
    ) -> None:
        """Keep the raw answer of a success (an error is read from botocore's exception,
        which follows region redirects); a redirect without a region ends the call (see
        :class:`_Unredirectable`); a listing page's XML is taken away from botocore's (much
        slower) parser, which then parses an empty page."""
        if operation_model.name != getattr(self._raw, "operation", None):
            return  # a request botocore makes on its own (a region probe)
        body: Any = response_dict.get("body")
        headers = {str(k).lower(): str(v) for k, v in response_dict["headers"].items()}
        status = int(response_dict["status_code"])
        raw = body if isinstance(body, bytes) else b""
        self._raw.answer = Response(status, headers, raw)
        if 300 <= status < 400 and "x-amz-bucket-region" not in headers:
            if not isinstance(body, bytes) and hasattr(body, "read"):
                raw = body.read()
            raise _Unredirectable(Response(status, headers, raw))
        if operation_model.name in _LISTINGS and status == 200 and isinstance(body, bytes):
            response_dict["body"] = _EMPTY_LISTING


class _Unredirectable(Exception):
    """A redirect that names no region: botocore's region redirector would probe the
    bucket with HeadBucket, which is redirected in turn, without end. The answer is
    taken as it is, as the fast transport takes it."""

    def __init__(self, answer: Response) -> None:
        super().__init__("redirect without a region")
        self.answer = answer


def _method_name(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


def _answer_from_error(error: bce.ClientError) -> Response:
    """The error answer, rebuilt from botocore's exception as an S3 error document."""
    details = error.response.get("Error", {})
    meta = error.response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 500)
    code, message = (
        escape(str(details.get("Code", status))),
        escape(str(details.get("Message", ""))),
    )
    request_id = escape(str(meta.get("RequestId", "")))
    body = (
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    headers = {str(k).lower(): str(v) for k, v in meta.get("HTTPHeaders", {}).items()}
    return Response(status, headers, body.encode("utf-8"))


def _remember_signed(request: Any, **_: Any) -> None:
    """Give redact the session token and access key id a request was signed with."""
    headers = request.headers
    token = headers.get("X-Amz-Security-Token")
    credential = _SIGNED_KEY.search(str(headers.get("Authorization", "")))
    redact.remember(token if isinstance(token, str) else None, credential and credential[1])


_SIGNED_KEY = re.compile(r"Credential=([^/,\s]+)/")


def _add_content_md5(request: Any, **_: Any) -> None:
    """Give DeleteObjects and PutBucketCors a Content-MD5 (botocore >= 1.36 sends only a
    CRC32, which older MinIO, PowerScale and others refuse with MissingContentMD5)."""
    body = request.body
    if isinstance(body, bytes) and "Content-MD5" not in request.headers:
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        request.headers["Content-MD5"] = base64.b64encode(digest).decode("ascii")


def make_client(settings: Settings, session: botocore.session.Session, pool_size: int) -> Any:
    """botocore's S3 client for ``settings``: one attempt per call, payloads unsigned
    unless the profile asks otherwise; ConfigError for a bad endpoint URL. botocore loads
    the credentials when it creates the client: a credential chain that fails (partial
    keys, an incomplete role profile, a failing credential process) is the TransportError
    the fast transport raises at its first request."""
    try:
        session.get_credentials()  # kept by the session for create_client
    except Exception as error:  # anything the chain raises (credentials_error)
        raise credentials_error(error) from None
    try:
        return session.create_client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            verify=settings.ca_bundle if settings.ca_bundle else None,
            config=client_config(settings, session, pool_size),
        )
    except ValueError as error:  # a bad endpoint URL or region, maybe from the environment
        raise client_value_error(error, settings, os.environ) from None


def client_config(settings: Settings, session: botocore.session.Session, pool_size: int) -> Config:
    from botocore.config import Config

    s3: dict[str, Any] = {}
    style = awsenv.addressing_style(settings, session)
    if style != "auto":
        s3["addressing_style"] = style
    profile_s3 = session.get_config_variable("s3") or {}
    if profile_s3.get("payload_signing_enabled") is None:
        s3["payload_signing_enabled"] = False
    signature = (session.get_scoped_config().get("s3") or {}).get("signature_version")
    policy = settings.checksum_policy or "when_required"
    return Config(
        request_checksum_calculation=policy,  # type: ignore[arg-type]
        response_checksum_validation=policy,  # type: ignore[arg-type]
        s3=s3,  # type: ignore[arg-type]
        signature_version=signature,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=pool_size,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )
