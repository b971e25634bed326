"""S3-compatible object storage through botocore: the only module that imports botocore
(with one exception: ``storage/cloudfront.py``, loaded only for CDN invalidation).

Single PutObjects, HeadBucket, ListObjectsV2 and GetObject take the lean path
(``s3lean``) where it applies; the botocore client itself is built only when first needed
if ``s3direct`` could resolve the endpoint and credentials alone (a re-run that uploads
nothing then never imports more of botocore than its exceptions).

Client defaults that make S3-compatible stores (SeaweedFS, MinIO, R2, Ceph, GCS) work:

- ``request_checksum_calculation`` and ``response_checksum_validation`` are
  ``when_required``: botocore >= 1.36 otherwise sends CRC32 trailers in ``aws-chunked``
  bodies over HTTPS, which many stores reject or store verbatim. Instead every PutObject
  and UploadPart carries our own ``Content-MD5``, which every store checks (``BadDigest``).
- ``standard`` retries with ``total_max_attempts = CLOUDCOLLECT_MAX_ATTEMPTS``, explicit
  connect/read timeouts, a connection pool sized to the workers.
- No ACL header unless ``CLOUDCOLLECT_ACL`` is set; buckets are never created and bucket
  ACL/policy APIs are never called. botocore debug logging is never turned on.

Addressing style: ``path`` and ``virtual`` are passed to botocore as they are. ``auto``
means path style when ``CLOUDCOLLECT_ENDPOINT_URL`` is set (local and self-hosted stores
rarely have wildcard DNS for ``bucket.host``) and botocore's own choice on AWS (virtual
hosted for DNS-compatible bucket names). Set ``virtual`` explicitly for an endpoint that
needs it (some R2/OSS setups).

Headers given to ``put`` map onto PutObject parameters: Content-Type, Cache-Control,
Content-Encoding, Content-Disposition, Content-Language, Expires,
X-Amz-Website-Redirect-Location, X-Amz-Storage-Class, and ``X-Amz-Meta-<name>`` (user
metadata). Any other header name is a ConfigError naming CLOUDCOLLECT_HEADERS (checked
when the storage is built from settings, before any request): S3 would silently drop it.

Every botocore error goes through :func:`translate_error`, which yields a StorageError
(retried in vain: transient) or a FatalStorageError (nothing else can succeed: bucket
missing, credentials, access denied...). Messages name the operation, key, code and
request id, never credentials or request headers.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import os
import ssl
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NoReturn, TypeVar, cast
from urllib.parse import unquote_plus

import botocore.exceptions as bce

from .. import providers, redact
from ..baseurl import derive_base_url, object_url
from ..config import Settings, require
from ..errors import ConfigError, FatalStorageError, StorageError
from ..hashing import hex_to_base64, part_size_for, plain_md5_from_etag
from . import s3cors
from .base import MD5_METADATA, DeleteFailure, RemoteObject
from .s3direct import DirectSetup, direct_setup, tls_context
from .s3lean import Credentials, LeanS3, RequestFailed, Target
from .s3preflight import (
    botocore_credentials,
    check_ca_bundle,
    check_credentials,
    check_environment,
    client_value_error,
    pin_redirect_region,
)

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, PaginatorConfigTypeDef

    from ..cors import CorsRule

DELETE_BATCH = 1000
_RAW_BODY = "CloudcollectRawBody"
AddressingStyle = Literal["auto", "virtual", "path"]

# Aliases: inside S3Storage, ``list`` is the method.
_Objects = list[RemoteObject]
_Failures = list[DeleteFailure]
_Parts = list["CompletedPartTypeDef"]

#: What botocore raises for a failed request; anything else is a bug and propagates.
BOTO_ERRORS = (bce.BotoCoreError, bce.ClientError)

#: Error codes after which no other request can succeed.
FATAL_CODES = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "TokenRefreshRequired",
        "AccessControlListNotSupported",
        "AuthorizationHeaderMalformed",
        "RequestTimeTooSkewed",
        "PermanentRedirect",
        "InvalidBucketName",
    }
)
#: The one-line reason for each way a store refuses credentials or access.
DENIAL_REASONS: Mapping[str, str] = {
    "InvalidAccessKeyId": (
        "the store does not know the access key id (InvalidAccessKeyId): check "
        "AWS_ACCESS_KEY_ID, CLOUDCOLLECT_PROFILE or the endpoint"
    ),
    "SignatureDoesNotMatch": (
        "the secret key does not match the access key id (SignatureDoesNotMatch): check "
        "AWS_SECRET_ACCESS_KEY"
    ),
    "AccessDenied": (
        "the store knows the credentials but a policy refuses access (AccessDenied): "
        "allow s3:ListBucket on the bucket and s3:PutObject under the prefix"
    ),
}
#: What a DeleteObjects answer means when the store cannot do multi-object delete.
_NO_MULTI_DELETE = frozenset({"MissingContentMD5", "NotImplemented", "InvalidRequest"})
T = TypeVar("T")
_MISSING_KEY = frozenset({"NoSuchKey", "404"})
#: DeleteObjects refused for one key in the batch (a control character, which XML 1.0
#: cannot carry): that batch is deleted key by key, so the other keys still go.
_ONE_BAD_KEY = frozenset({"MalformedXML"})
_TLS_HINT = "set CLOUDCOLLECT_CA_BUNDLE for a private CA"

#: HTTP header (Title-Case, as headers.py produces) -> PutObject/CreateMultipartUpload param.
HEADER_PARAMS: Mapping[str, str] = {
    "Content-Type": "ContentType",
    "Cache-Control": "CacheControl",
    "Content-Encoding": "ContentEncoding",
    "Content-Disposition": "ContentDisposition",
    "Content-Language": "ContentLanguage",
    "Expires": "Expires",
    "X-Amz-Website-Redirect-Location": "WebsiteRedirectLocation",
    "X-Amz-Storage-Class": "StorageClass",
}
_META_PREFIX = "x-amz-meta-"
#: Headers asked for often that S3 has no field for, and where to set them instead.
UNSTORABLE: Mapping[str, str] = {
    "Vary": (
        "S3 never sends a stored Vary. With in-place precompression every client gets the "
        "one variant, so nothing varies; where a CDN or web server picks .gz/.br siblings "
        "by Accept-Encoding, it adds 'Vary: Accept-Encoding' (a CloudFront response headers "
        "policy, a Cloudflare Transform Rule, nginx gzip_vary)"
    ),
}
#: HeadObject response field -> header name reported in RemoteObject.headers.
_HEAD_FIELDS: Mapping[str, str] = {
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ContentEncoding": "Content-Encoding",
    "ContentDisposition": "Content-Disposition",
    "ContentLanguage": "Content-Language",
    "ExpiresString": "Expires",
    "WebsiteRedirectLocation": "X-Amz-Website-Redirect-Location",
}


def request_params(headers: Mapping[str, str]) -> dict[str, Any]:
    """Map HTTP headers onto PutObject parameters; unknown names are a ConfigError."""
    params: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for name, value in headers.items():
        canonical = "-".join(part.capitalize() for part in name.split("-"))
        if canonical in HEADER_PARAMS:
            params[HEADER_PARAMS[canonical]] = value
        elif name.lower().startswith(_META_PREFIX) and len(name) > len(_META_PREFIX):
            metadata[name[len(_META_PREFIX) :].lower()] = value
        else:
            known = ", ".join([*HEADER_PARAMS, "X-Amz-Meta-*"])
            message = f"CLOUDCOLLECT_HEADERS: S3 cannot store header {name!r} (known: {known})"
            if canonical in UNSTORABLE:
                message += f"; {UNSTORABLE[canonical]}"
            raise ConfigError(message, key="CLOUDCOLLECT_HEADERS")
    if metadata:
        params["Metadata"] = metadata
    return params


def translate_error(
    error: Exception, operation: str, key: str | None = None, *, attempts: int = 1
) -> StorageError:
    """Turn a botocore exception into a StorageError or FatalStorageError.

    ``attempts`` is the client's total attempts, used as the retry count of connection
    errors (botocore retried them all before raising).
    """
    where = f"{operation} {key!r}" if key is not None else operation
    if isinstance(error, bce.ClientError):
        response: Mapping[str, Any] = error.response
        code = str(response.get("Error", {}).get("Code") or "Unknown")
        text = str(response.get("Error", {}).get("Message") or "")
        meta = response.get("ResponseMetadata", {})
        request_id = meta.get("RequestId") or meta.get("HTTPHeaders", {}).get("x-amz-request-id")
        retries = int(meta.get("RetryAttempts", 0))
        return service_error(where, key, code, text, request_id, retries)
    if isinstance(error, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        message = f"{where}: no usable AWS credentials ({type(error).__name__})"
        return FatalStorageError(message, key=key, code=type(error).__name__)
    if isinstance(error, (bce.CredentialRetrievalError, bce.TokenRetrievalError)):
        message = f"{where}: credentials could not be loaded ({type(error).__name__})"
        return FatalStorageError(message, key=key, code=type(error).__name__)
    if isinstance(error, bce.SSLError):
        message = f"{where}: TLS failure ({error}); {_TLS_HINT}"
        return FatalStorageError(message, key=key, code="SSLError", retries=attempts - 1)
    if isinstance(error, (bce.ConnectionError, bce.HTTPClientError)):
        code = "Timeout" if isinstance(error, bce.ReadTimeoutError) else "ConnectionError"
        message = f"{where}: {code} ({error})"
        return StorageError(message, key=key, code=code, retries=attempts - 1)
    return StorageError(f"{where}: {type(error).__name__} ({error})", key=key, code="Error")


def service_error(
    where: str, key: str | None, code: str, text: str, request_id: str | None, retries: int
) -> StorageError:
    """The StorageError (FatalStorageError for :data:`FATAL_CODES`) for an error answer."""
    text = text.strip()
    message = f"{where}: {code}" + (f" ({text})" if text else "")
    if request_id:
        message += f" [request id {request_id}]"
    kind = FatalStorageError if code in FATAL_CODES else StorageError
    return kind(message, key=key, code=code, request_id=request_id, retries=retries)


def _lean_factory(client: S3Client, settings: Settings) -> Callable[[Target], LeanS3 | None] | None:
    """What builds the lean PutObject path (see ``s3lean``) once its target is known, or
    None where it cannot be used: no credentials, checksums asked for, or a botocore
    without the parts it is built from (credentials, CA bundle, proxy settings)."""
    if settings.checksum_policy == "when_supported":
        return None
    try:
        source = client._request_signer._credentials  # type: ignore[attr-defined]
        http_session = client._endpoint.http_session  # type: ignore[attr-defined]
        verify = http_session._verify
        proxy_for = http_session._proxy_config.proxy_url_for
    except AttributeError:
        return None
    if source is None or verify is False:
        return None

    def credentials() -> Credentials:
        frozen = source.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    def build(target: Target) -> LeanS3 | None:
        if proxy_for(target.url("")):
            return None
        tls: ssl.SSLContext | None = None
        if target.scheme == "https":
            tls = tls_context(verify) if isinstance(verify, str) else ssl.create_default_context()
        return LeanS3(
            target,
            credentials,
            max_attempts=settings.max_attempts,
            tls=tls,
            timeouts=timeouts_of(settings),
        )

    return build


def _lean_error(operation: str, key: str | None, failed: RequestFailed) -> StorageError:
    """The StorageError botocore's path would give for the same failure."""
    where = f"{operation} {key!r}" if key is not None else operation
    if failed.code == "SSLError":
        message = f"{where}: TLS failure ({failed.message}); {_TLS_HINT}"
        return FatalStorageError(message, key=key, code="SSLError", retries=failed.retries)
    if failed.code in ("ConnectionError", "Timeout", "SourceChanged"):
        message = f"{where}: {failed.code} ({failed.message})"
        return StorageError(message, key=key, code=failed.code, retries=failed.retries)
    return service_error(where, key, failed.code, failed.message, failed.request_id, failed.retries)


#: The condition of ``put_if_absent``, and the codes a store answers it with when the
#: key exists (412) or another conditional write to it is in flight (409, AWS).
_IF_ABSENT = {"if-none-match": "*"}
_EXISTS_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


def _lean_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """PutObject headers as sent on the wire, or None when botocore must send them: an
    Expires date (botocore reformats it) or a value that is not ASCII."""
    wire: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == "expires" or not value.isascii():
            return None
        wire[lower] = value
    return wire


#: Modules whose event handlers leave a request as botocore would send it.
_PLAIN_HANDLER_MODULES = ("botocore.", "cloudcollect.")
_HOOK_EVENTS = ("before-parameter-build", "before-call", "before-send")


def _hooked(client: S3Client | None, operation: str) -> bool:
    """Whether something outside botocore hooks ``operation`` (a Stubber, moto, a test's
    recorder) on ``client``: such calls must go through botocore."""
    if client is None:
        return False
    try:
        lookup = client.meta.events._emitter._handlers.prefix_search  # type: ignore[attr-defined]
        handlers = [h for event in _HOOK_EVENTS for h in lookup(f"{event}.s3.{operation}")]
    except AttributeError:
        return True
    for handler in handlers:
        module = getattr(handler, "__module__", None) or ""
        if getattr(handler, "enabled", True) is False:
            continue  # an installed but inactive mock (moto outside mock_aws)
        if module == "botocore.stub" or not module.startswith(_PLAIN_HANDLER_MODULES):
            return True
    return False


def timeouts_of(settings: Settings) -> tuple[float, float]:
    """(connect, read) timeouts in seconds, per attempt, for both request paths."""
    return float(settings.connect_timeout), float(settings.read_timeout)


def _client_config(settings: Settings) -> Config:
    from botocore.config import Config

    style = settings.addressing_style
    if style == "auto" and settings.endpoint_url:
        style = "path"
    policy = cast(Literal["when_required", "when_supported"], settings.checksum_policy)
    return Config(
        request_checksum_calculation=policy or "when_required",
        response_checksum_validation=policy or "when_required",
        # Every PUT and part carries our Content-MD5, which the store verifies: a SHA-256
        # of the payload for the signature (botocore's default over plain HTTP) would
        # only read every file a second time.
        s3={"addressing_style": cast(AddressingStyle, style), "payload_signing_enabled": False},
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        max_pool_connections=settings.workers + 4,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )


def _make_client(settings: Settings) -> S3Client:
    """botocore's client for ``settings``; ConfigError for an unknown profile or a bad
    endpoint URL or region (named where it came from: a setting or the environment)."""
    import botocore.session

    try:
        # botocore's own session: the same credential chain as boto3's, without
        # importing s3transfer and boto3's resource layer (about 0.1 s per run).
        session = botocore.session.Session(profile=settings.profile)
        client: S3Client = session.create_client(  # type: ignore[assignment]
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            verify=settings.ca_bundle if settings.ca_bundle else None,
            config=_client_config(settings),
        )
    except bce.ProfileNotFound as error:
        raise ConfigError(f"CLOUDCOLLECT_PROFILE: {error}", key="CLOUDCOLLECT_PROFILE") from None
    except ValueError as error:  # a bad endpoint URL or region, maybe from the environment
        raise client_value_error(error, settings, os.environ) from None
    botocore_credentials(session, os.environ)
    return client


def _add_delete_content_md5(request: Any, **_: Any) -> None:
    """Give DeleteObjects a Content-MD5 (botocore >= 1.36 sends only a CRC32, which older
    MinIO, PowerScale and others refuse with MissingContentMD5)."""
    body = request.body
    if isinstance(body, bytes) and "Content-MD5" not in request.headers:
        digest = hashlib.md5(body, usedforsecurity=False).hexdigest()
        request.headers["Content-MD5"] = hex_to_base64(digest)


class S3Storage:
    """Objects in an S3 bucket. Thread-safe: one botocore client shared by every worker.

    Build it with :meth:`from_settings`. ``operations`` counts the API calls made (by
    operation name, e.g. ``operations["PutObject"]``), retries not included. ``fast_list``
    selects the listing path (see :meth:`list`). With ``direct`` (see ``s3direct``) and no
    ``client``, reads and single PUTs take the lean path from the first request and the
    botocore client is built on first use of :attr:`client`.
    """

    stores_headers = True

    def __init__(
        self,
        settings: Settings,
        client: S3Client | None = None,
        *,
        fast_list: bool = True,
        direct: DirectSetup | None = None,
    ) -> None:
        self.settings = settings
        self.bucket: str = require(settings, "bucket")
        self.fast_list = fast_list
        self.operations: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._raw_listing = threading.local()
        self._put_retries = threading.local()
        self._learning = threading.local()
        self._client: S3Client | None = None
        self._lean: LeanS3 | None = None
        self._lean_factory: Callable[[Target], LeanS3 | None] | None = None
        self._lean_reads = client is None and direct is not None
        if client is not None:
            self._adopt(client)
        elif direct is not None:
            credentials = direct.credentials
            self._lean = LeanS3(
                direct.target,
                lambda: credentials,
                max_attempts=settings.max_attempts,
                tls=direct.tls,
                timeouts=timeouts_of(settings),
            )

    @property
    def client(self) -> S3Client:
        """The botocore client, built on first use when the storage started without one."""
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = _make_client(self.settings)
                    self._adopt(client)
        return client

    def _adopt(self, client: S3Client) -> None:
        """Use ``client`` and register our event handlers on it."""
        self._client = client
        if self._lean is None:
            # Without a direct setup, the lean PutObject path starts once botocore has sent
            # one PutObject: its URL and signature scope are the template (_learn_put_target).
            self._lean_factory = _lean_factory(client, self.settings)
        events = client.meta.events
        events.register("before-call.s3", self._count, unique_id="cloudcollect-count")
        events.register(
            "before-parse.s3.ListObjectsV2", self._keep_raw_body, unique_id="cloudcollect-raw"
        )
        events.register(
            "before-sign.s3.DeleteObjects", _add_delete_content_md5, unique_id="cloudcollect-md5"
        )
        if self._lean_factory is not None:
            events.register(
                "before-send.s3.PutObject", self._learn_put_target, unique_id="cloudcollect-lean"
            )
        region = client.meta.region_name or "us-east-1"
        events.register(
            "before-parse.s3", pin_redirect_region(region), unique_id="cloudcollect-redirect"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The storage for ``settings``; ConfigError for a missing bucket, profile or bad
        header rule. The botocore client is built now unless ``s3direct`` resolves the
        endpoint and credentials without it.

        The provider preset (``cloudcollect.providers``) fills the settings left unset.
        The CA bundle and the credentials are checked before any request (``s3preflight``).
        """
        settings = providers.effective(settings)
        require(settings, "bucket")
        for _glob, rule in settings.headers:
            request_params({name: value for name, value in rule.items() if value})
        redact.remember_url(settings.endpoint_url)
        check_ca_bundle(settings, os.environ)
        check_environment(settings, os.environ)
        direct = direct_setup(settings, os.environ)
        if direct is not None:
            check_credentials(direct.credentials, "env", os.environ)
            return cls(settings, direct=direct)
        return cls(settings, _make_client(settings))

    # -- event handlers -------------------------------------------------------------------

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.operations[model.name] += 1

    def _reader(self, operation: str) -> LeanS3 | None:
        """The lean path for a read, unless reads go through botocore or it is hooked."""
        if not self._lean_reads or _hooked(self._client, operation):
            return None
        return self._lean

    def server_time(self) -> datetime | None:
        """The storage's clock: the Date header of a HeadBucket answer (None without a
        readable one). Fingerprint cleanup measures its grace period with it, so a
        runner whose clock is ahead cannot void the grace."""
        try:
            if (lean := self._reader("HeadBucket")) is not None:
                with self._lock:
                    self.operations["HeadBucket"] += 1
                answer = lean.request("HEAD", lean.target.bucket_path(), None)
                date = answer.headers.get("Date")
            else:
                response = self.client.head_bucket(Bucket=self.bucket)
                date = response["ResponseMetadata"]["HTTPHeaders"].get("date")
        except RequestFailed as failed:
            raise _lean_error("HeadBucket", None, failed) from None
        except BOTO_ERRORS as error:
            raise self._error(error, "HeadBucket") from None
        try:
            return parsedate_to_datetime(date).astimezone(timezone.utc) if date else None
        except (TypeError, ValueError):
            return None

    def _lean_request(
        self, operation: str, key: str | None, path: str, query: dict[str, str] | None = None
    ) -> bytes:
        """A lean GET (HEAD for HeadBucket), counted; errors as :func:`_lean_error`."""
        assert self._lean is not None
        with self._lock:
            self.operations[operation] += 1
        method = "HEAD" if operation == "HeadBucket" else "GET"
        object_body = operation == "GetObject"
        try:
            return self._lean.request(method, path, query, object_body=object_body).body
        except RequestFailed as failed:
            raise _lean_error(operation, key, failed) from None

    def _keep_raw_body(
        self, response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
    ) -> None:
        """On the fast listing path, hand the raw XML to us and let botocore parse nothing.

        Runs after botocore's own 200-with-<Error> check; error responses are left alone,
        so botocore's retries and error parsing work as usual.
        """
        if getattr(self._raw_listing, "active", False) and response_dict["status_code"] == 200:
            customized_response_dict[_RAW_BODY] = response_dict["body"]
            response_dict["body"] = b"<ListBucketResult></ListBucketResult>"

    @property
    def lean_put_active(self) -> bool:
        """Whether single PutObjects now take the lean path (``s3lean``): from the first
        PutObject botocore sent, unless the endpoint or settings rule it out."""
        return self._lean is not None

    def _learn_put_target(self, request: Any, **_: Any) -> None:
        """From a PutObject botocore is sending for ``self._learning.key``: the lean path's
        URL template and signing region (``None`` answer: botocore sends the request)."""
        key = getattr(self._learning, "key", None)
        if key is None:
            return
        with self._lock:  # one thread learns; the others keep using botocore meanwhile
            factory, self._lean_factory = self._lean_factory, None
        if factory is None:
            return
        authorization = request.headers.get("Authorization")
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        target = Target.from_request(request.url, authorization, key)
        self._lean = factory(target) if target is not None else None  # one try only

    # -- errors ---------------------------------------------------------------------------

    def _error(self, error: Exception, operation: str, key: str | None = None) -> StorageError:
        return translate_error(error, operation, key, attempts=self.settings.max_attempts)

    def _where(self) -> str:
        where = self.settings.endpoint_url or "AWS S3"
        return f"{where} (region {self.settings.region})" if self.settings.region else where

    # -- protocol -------------------------------------------------------------------------

    def check(self) -> None:
        """HeadBucket. FatalStorageError when the bucket is missing, the credentials are
        rejected or access is denied; StorageError when the endpoint cannot be reached."""
        try:
            if (lean := self._reader("HeadBucket")) is not None:
                self._lean_request("HeadBucket", None, lean.target.bucket_path())
            else:
                self._head_bucket()
        except StorageError as failure:
            if failure.code in ("404", "NoSuchBucket"):
                message = f"bucket {self.bucket!r} not found at {self._where()}"
                raise FatalStorageError(
                    message, code="NoSuchBucket", request_id=failure.request_id
                ) from None
            if failure.code in ("403", "301", "400"):
                code, request_id = failure.code, failure.request_id
                if code == "403":
                    code, request_id = self._why_denied(failure)
                reason = DENIAL_REASONS.get(code) or {
                    "301": "redirected (HTTP 301): the bucket is in another region (set "
                    "CLOUDCOLLECT_REGION) or the endpoint URL is not its S3 endpoint",
                    "400": "bad request (wrong region or endpoint?)",
                }.get(code, "access denied (credentials rejected or no permission)")
                message = f"bucket {self.bucket!r} at {self._where()}: {reason}"
                raise FatalStorageError(message, code=code, request_id=request_id) from None
            raise

    def _why_denied(self, failure: StorageError) -> tuple[str, str | None]:
        """The S3 code behind HeadBucket's bare 403 (a HEAD answer has no body to name
        it): the same question as a ListObjectsV2 of no keys, whose error body says
        InvalidAccessKeyId, SignatureDoesNotMatch or AccessDenied. ``failure``'s code and
        request id when that answer names nothing more."""
        try:
            if (lean := self._reader("ListObjectsV2")) is not None:
                query = {"list-type": "2", "max-keys": "0"}
                self._lean_request("ListObjectsV2", None, lean.target.bucket_path(), query)
            else:
                self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=0)
        except StorageError as denied:
            if denied.code in DENIAL_REASONS:
                return str(denied.code), denied.request_id
        except BOTO_ERRORS as error:
            answer = self._error(error, "ListObjectsV2")
            if answer.code in DENIAL_REASONS:
                return str(answer.code), answer.request_id
        return str(failure.code), failure.request_id

    def _head_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except BOTO_ERRORS as error:
            raise self._error(error, "HeadBucket") from None

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        """ListObjectsV2 under ``prefix``, paginated.

        The fast path (default) receives each page's raw XML from botocore (same signing,
        retries and error handling) and parses it with ElementTree, skipping botocore's
        much slower XML-to-dict parser. If the raw body is not handed over (a botocore
        change) or does not parse, the listing continues with the boto3 paginator from
        the same continuation token. ``md5`` is the plain ETag when trust_etag is on.
        """
        if self.settings.list_version == 1:
            yield from self._v1_objects(prefix)
            return
        token: str | None = None
        if self.fast_list:
            try:
                for page, _next in self._fast_pages(prefix):
                    yield from page
                return
            except _FastPathUnavailable as unavailable:
                token = unavailable.token
        yield from self._paginator_objects(prefix, token)

    def _fast_pages(self, prefix: str) -> Iterator[tuple[_Objects, str | None]]:
        token: str | None = None
        bound = ListingBound(f"ListObjectsV2 {prefix!r}")
        while True:
            raw = self._raw_page(prefix, token)
            if raw is None:
                raise _FastPathUnavailable(token)
            try:
                objects, next_token = parse_listing(raw, self.settings.trust_etag)
            except (ET.ParseError, ValueError):
                raise _FastPathUnavailable(token) from None
            yield objects, next_token
            if next_token is None:
                return
            bound.next_page(next_token, objects)
            token = next_token

    def _raw_page(self, prefix: str, token: str | None) -> bytes | None:
        """One ListObjectsV2 page's XML: from the lean path, else handed over by botocore
        (None if it was not)."""
        if (lean := self._reader("ListObjectsV2")) is not None:
            query = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
            if token:
                query["continuation-token"] = token
            return self._lean_request("ListObjectsV2", prefix, lean.target.bucket_path(), query)
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if token:
            params["ContinuationToken"] = token
        self._raw_listing.active = True
        try:
            response: Mapping[str, Any] = self.client.list_objects_v2(**params)
        except BOTO_ERRORS as error:
            raise self._error(error, "ListObjectsV2", prefix) from None
        finally:
            self._raw_listing.active = False
        raw = response.get(_RAW_BODY)
        return raw if isinstance(raw, bytes) else None

    def _paginator_objects(self, prefix: str, token: str | None) -> Iterator[RemoteObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        config: PaginatorConfigTypeDef = {"StartingToken": token} if token else {}
        try:
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig=config
            ):
                for item in page.get("Contents", []):
                    etag = item.get("ETag")
                    md5 = plain_md5_from_etag(etag) if self.settings.trust_etag else None
                    yield RemoteObject(
                        item["Key"],
                        int(item["Size"]),
                        md5=md5,
                        etag=etag,
                        last_modified=item.get("LastModified"),
                    )
        except BOTO_ERRORS as error:
            raise self._error(error, "ListObjectsV2", prefix) from None

    def _v1_objects(self, prefix: str) -> Iterator[RemoteObject]:
        """ListObjects (V1, marker-paginated) for stores without V2 (GCS interoperability)."""
        paginator = self.client.get_paginator("list_objects")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    etag = item.get("ETag")
                    md5 = plain_md5_from_etag(etag) if self.settings.trust_etag else None
                    yield RemoteObject(item["Key"], int(item["Size"]), md5=md5, etag=etag)
        except BOTO_ERRORS as error:
            raise self._error(error, "ListObjects", prefix) from None

    def head(self, key: str) -> RemoteObject | None:
        """HeadObject; ``None`` on 404. ``md5`` comes from our metadata, else from a plain
        ETag (trust_etag on, object not SSE-KMS/SSE-C), else ``None``."""
        response = self._head_object(key)
        return None if response is None else self._remote_from_head(key, response)

    def _head_object(self, key: str) -> Mapping[str, Any] | None:
        def head() -> Mapping[str, Any]:
            return self.client.head_object(Bucket=self.bucket, Key=key)

        return self._unless_missing("HeadObject", key, head)

    def _unless_missing(self, operation: str, key: str, call: Callable[[], T]) -> T | None:
        """``call()``, or ``None`` when ``key`` does not exist; other errors translated."""
        try:
            return call()
        except BOTO_ERRORS as error:
            failure = self._error(error, operation, key)
            if failure.code in _MISSING_KEY:
                return None
            raise failure from None

    def _remote_from_head(self, key: str, response: Mapping[str, Any]) -> RemoteObject:
        etag = response.get("ETag")
        metadata: Mapping[str, str] = response.get("Metadata", {})
        md5 = metadata.get(MD5_METADATA)
        encrypted = response.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse")
        customer_key = "SSECustomerAlgorithm" in response
        if md5 is None and self.settings.trust_etag and not (encrypted or customer_key):
            md5 = plain_md5_from_etag(etag)
        headers = {name: response[f] for f, name in _HEAD_FIELDS.items() if f in response}
        for name, value in metadata.items():
            if name != MD5_METADATA:
                headers["X-Amz-Meta-" + "-".join(p.capitalize() for p in name.split("-"))] = value
        size = int(response.get("ContentLength", 0))
        return RemoteObject(key, size, md5=md5, etag=etag, headers=headers)

    def get(self, key: str) -> bytes | None:
        """GetObject, whole body in memory (small objects only); ``None`` when missing."""

        if (lean := self._reader("GetObject")) is not None:
            try:
                return self._lean_request("GetObject", key, lean.target.path(key))
            except StorageError as failure:
                if failure.code in _MISSING_KEY:
                    return None
                raise

        def read() -> bytes:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body

        return self._unless_missing("GetObject", key, read)

    def put(
        self, key: str, file: BinaryIO, size: int, md5: str, headers: Mapping[str, str]
    ) -> str | None:
        """PutObject with Content-MD5 up to multipart_threshold, else our own multipart.

        Our MD5 goes into metadata ``cloudcollect-md5`` either way. A wrong MD5 is refused
        (BadDigest) and leaves nothing: by the server for a single PUT, by us before
        CompleteMultipartUpload for multipart (each part carries its own Content-MD5).
        """
        self._put_retries.count = 0
        params = request_params(headers)
        params["Metadata"] = {**params.get("Metadata", {}), MD5_METADATA: md5}
        if self.settings.acl:
            params["ACL"] = self.settings.acl
        if size > self.settings.multipart_threshold:
            return self._put_multipart(key, file, size, md5, params)
        if self._lean is not None and not _hooked(self._client, "PutObject"):
            wire = _lean_headers(headers)
            if wire is not None:
                return self._put_lean(self._lean, key, file, size, md5, wire)
        self._learning.key = key
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=file,
                ContentLength=size,
                ContentMD5=hex_to_base64(md5),
                **params,
            )
        except BOTO_ERRORS as error:
            raise self._error(error, "PutObject", key) from None
        finally:
            self._learning.key = None
        self._add_retries(answer)
        return answer.get("ETag")

    def put_if_absent(self, key: str, data: bytes, headers: Mapping[str, str]) -> bool:
        """PutObject with ``If-None-Match: *``: False when the store answers 412
        PreconditionFailed (or 409 ConditionalRequestConflict, a concurrent conditional
        write), i.e. an object exists. A store that ignores the header stores it (True).
        Small objects only (no multipart)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        try:
            wire = _lean_headers(headers)
            if self._lean is not None and not _hooked(self._client, "PutObject") and wire:
                self._put_lean(
                    self._lean, key, io.BytesIO(data), len(data), md5, {**wire, **_IF_ABSENT}
                )
                return True
            params = request_params(headers)
            params["Metadata"] = {**params.get("Metadata", {}), MD5_METADATA: md5}
            if self.settings.acl:
                params["ACL"] = self.settings.acl
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ContentMD5=hex_to_base64(md5),
                    IfNoneMatch="*",
                    **params,
                )
            except BOTO_ERRORS as error:
                raise self._error(error, "PutObject", key) from None
        except StorageError as error:
            if error.code in _EXISTS_CODES:
                return False
            raise
        return True

    def _put_lean(
        self, lean: LeanS3, key: str, file: BinaryIO, size: int, md5: str, wire: dict[str, str]
    ) -> str | None:
        """The same PutObject as botocore's (see ``s3lean``), sent by the lean path."""
        wire["content-md5"] = hex_to_base64(md5)
        wire[_META_PREFIX + MD5_METADATA] = md5
        if self.settings.acl:
            wire["x-amz-acl"] = self.settings.acl
        with self._lock:
            self.operations["PutObject"] += 1
        try:
            etag, retries = lean.put(key, file, size, wire)
        except RequestFailed as failed:
            raise _lean_error("PutObject", key, failed) from None
        self._put_retries.count = retries
        return etag

    def _put_multipart(
        self, key: str, file: BinaryIO, size: int, md5: str, params: dict[str, Any]
    ) -> str | None:
        try:
            created = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **params)
        except BOTO_ERRORS as error:
            raise self._error(error, "CreateMultipartUpload", key) from None
        self._add_retries(created)
        upload_id = created["UploadId"]
        try:
            parts = self._upload_parts(key, upload_id, file, size, md5)
        except BaseException:
            self._abort(key, upload_id)
            raise
        try:
            completed = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BOTO_ERRORS as error:
            failure = self._error(error, "CompleteMultipartUpload", key)
            if failure.code == "NoSuchUpload" and self._stored_md5(key) == md5:
                return None  # a retried Complete whose first answer was lost
            self._abort(key, upload_id)
            raise failure from None
        except BaseException:
            self._abort(key, upload_id)
            raise
        self._add_retries(completed)
        return completed.get("ETag")

    def last_put_retries(self) -> int:
        """Retries botocore made for the calling thread's last ``put`` (all its requests);
        a failed put reports its retries in the StorageError instead."""
        return int(getattr(self._put_retries, "count", 0))

    def _add_retries(self, response: Mapping[str, Any]) -> None:
        retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        self._put_retries.count = getattr(self._put_retries, "count", 0) + retries

    def _upload_parts(
        self, key: str, upload_id: str, file: BinaryIO, size: int, md5: str
    ) -> _Parts:
        part_size = part_size_for(size, self.settings.multipart_chunksize)
        whole = hashlib.md5(usedforsecurity=False)
        parts: _Parts = []
        remaining = size
        while remaining > 0:
            data = _read_exactly(file, min(part_size, remaining), key)
            remaining -= len(data)
            whole.update(data)
            number = len(parts) + 1
            part_md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            try:
                answer = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=io.BytesIO(data),
                    ContentLength=len(data),
                    ContentMD5=hex_to_base64(part_md5),
                )
            except BOTO_ERRORS as error:
                raise self._error(error, "UploadPart", key) from None
            self._add_retries(answer)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        if whole.hexdigest() != md5:
            message = f"UploadPart {key!r}: BadDigest (content does not match its MD5)"
            raise StorageError(message, key=key, code="BadDigest")
        return parts

    def _abort(self, key: str, upload_id: str) -> None:
        """Best effort: a failed abort is left to the bucket's lifecycle rule."""
        with contextlib.suppress(*BOTO_ERRORS):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _stored_md5(self, key: str) -> str | None:
        try:
            response = self._head_object(key)
        except StorageError:
            return None
        return None if response is None else response.get("Metadata", {}).get(MD5_METADATA)

    def delete(self, keys: Sequence[str]) -> _Failures:
        """DeleteObjects (Quiet) in batches of 1000; per-key errors become DeleteFailure.

        Stores without multi-object delete (MissingContentMD5, NotImplemented), and a
        batch refused as MalformedXML (a key with a control character), get one
        DeleteObject per key. Missing keys are not failures.
        """
        failures: _Failures = []
        for start in range(0, len(keys), DELETE_BATCH):
            failures += self._delete_batch(keys[start : start + DELETE_BATCH])
        return failures

    def _delete_batch(self, keys: Sequence[str]) -> _Failures:
        try:
            response: Mapping[str, Any] = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )
        except BOTO_ERRORS as error:
            failure = self._error(error, "DeleteObjects")
            if failure.code in _NO_MULTI_DELETE or failure.code in _ONE_BAD_KEY:
                return self._delete_one_by_one(keys)
            raise failure from None
        return [
            DeleteFailure(str(item.get("Key")), str(item.get("Code")), str(item.get("Message", "")))
            for item in response.get("Errors", [])
            if item.get("Code") not in _MISSING_KEY
        ]

    def _delete_one_by_one(self, keys: Sequence[str]) -> _Failures:
        failures: _Failures = []
        for key in keys:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            except BOTO_ERRORS as error:
                failure = self._error(error, "DeleteObject", key)
                if isinstance(failure, FatalStorageError):
                    raise failure from None
                if failure.code not in _MISSING_KEY:
                    failures.append(DeleteFailure(key, failure.code or "Error", str(failure)))
        return failures

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
        """Close the client's connections; safe to call twice."""
        if self._lean is not None:
            self._lean.close()
        if self._client is not None:
            self._client.close()


class ListingBound:
    """Ends a listing that would never end: a continuation token seen before (a loop of
    any length), a page that starts with the same key as an earlier one (the same page
    served again under a new token), or :data:`EMPTY_PAGES_MAX` truncated pages in a row
    without one object, is a FatalStorageError (code ``ListingLoop``, exit 3)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.tokens: set[str] = set()
        self.first_keys: set[str] = set()
        self.empty = 0

    def next_page(self, token: str, objects: Sequence[RemoteObject]) -> None:
        """Check a truncated page (its ``objects``) and the token of the next one."""
        self.empty = 0 if objects else self.empty + 1
        first = objects[0].key if objects else None
        if token in self.tokens:
            self._fail("repeated a continuation token")
        if first is not None and first in self.first_keys:
            self._fail(f"returned a page starting at {first!r} twice")
        if self.empty >= EMPTY_PAGES_MAX:
            self._fail(f"returned {self.empty} empty truncated pages in a row")
        self.tokens.add(token)
        if first is not None:
            self.first_keys.add(first)

    def _fail(self, problem: str) -> NoReturn:
        raise FatalStorageError(
            f"{self.where}: the listing {problem}; the store's listing never ends",
            code="ListingLoop",
        )


#: Truncated listing pages without one object, in a row, after which a listing is
#: taken for one that never ends.
EMPTY_PAGES_MAX = 100


class _FastPathUnavailable(Exception):
    """The raw listing body was not available or did not parse; ``token`` = resume point."""

    def __init__(self, token: str | None) -> None:
        super().__init__("fast listing unavailable")
        self.token = token


def parse_listing(body: bytes, trust_etag: bool) -> tuple[list[RemoteObject], str | None]:
    """Parse one ListObjectsV2 XML page: its objects and the next continuation token.

    Namespace-agnostic. Keys are URL-decoded (``unquote_plus``, as botocore does) only
    when the page says ``<EncodingType>url</EncodingType>``.
    """
    raw: list[tuple[str, str, str | None, str | None]] = []
    fields: dict[str, str] = {}
    encoded = truncated = False
    token: str | None = None
    for _event, element in ET.iterparse(io.BytesIO(body), events=("end",)):
        tag = element.tag.rpartition("}")[2]
        text = element.text or ""
        if tag in ("Key", "Size", "ETag", "LastModified"):
            fields[tag] = text
        elif tag == "Contents":
            raw.append(
                (fields["Key"], fields["Size"], fields.get("ETag"), fields.get("LastModified"))
            )
            fields = {}
            element.clear()
        elif tag == "EncodingType":
            encoded = text == "url"
        elif tag == "NextContinuationToken":
            token = text
        elif tag == "IsTruncated":
            truncated = text == "true"
    objects = [
        RemoteObject(
            unquote_plus(key) if encoded else key,
            int(size),
            md5=plain_md5_from_etag(etag) if trust_etag else None,
            etag=etag,
            last_modified=_timestamp(modified),
        )
        for key, size, etag, modified in raw
    ]
    return objects, (token if truncated and token else None)


def _timestamp(text: str | None) -> datetime | None:
    """A listing's ``LastModified`` (ISO 8601, ``Z`` for UTC) as an aware datetime."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _read_exactly(file: BinaryIO, count: int, key: str) -> bytes:
    data = file.read(count)
    if len(data) != count:
        message = f"UploadPart {key!r}: file ended early ({len(data)} of {count} bytes)"
        raise StorageError(message, key=key, code="SourceChanged")
    return data
