"""Error translation of the S3 storage: one place turns a failed request into a
StorageError (transient, exit 1 for that key) or a FatalStorageError (nothing else can
succeed: exit 3).

Messages name the operation, key, code and request id, never credentials, signatures or
request headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import FatalStorageError, StorageError
from .transport import TransportError

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
        "SSLError",
        "NoCredentialsError",
        "CredentialsError",
        "ResponseTooLarge",
    }
)
_EXPIRED = (
    "the session token has expired (ExpiredToken): renew the temporary credentials (aws sso "
    "login, a new AssumeRole or the CI's OIDC step) or use long-lived keys"
)
#: The one-line reason for each way a store refuses credentials or access.
DENIAL_REASONS: Mapping[str, str] = {
    "InvalidAccessKeyId": (
        "the store does not know the access key id (InvalidAccessKeyId): check "
        "AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN (a temporary key id is known only with the "
        "token issued with it), CLOUDCOLLECT_PROFILE or the endpoint"
    ),
    "SignatureDoesNotMatch": (
        "the secret key does not match the access key id (SignatureDoesNotMatch): check "
        "AWS_SECRET_ACCESS_KEY"
    ),
    "AccessDenied": (
        "the store knows the credentials but a policy refuses access (AccessDenied): "
        "allow s3:ListBucket on the bucket and s3:PutObject under the prefix"
    ),
    "ExpiredToken": _EXPIRED,
    "ExpiredTokenException": _EXPIRED,
    "InvalidToken": (
        "the store refuses the session token (InvalidToken): check that AWS_SESSION_TOKEN "
        "was issued with AWS_ACCESS_KEY_ID, and unset it for long-lived keys"
    ),
}
#: What HeadBucket's bare status means when it is not a denial named above.
CHECK_REASONS: Mapping[str, str] = {
    "301": "redirected (HTTP 301): the bucket is in another region (set CLOUDCOLLECT_REGION) "
    "or the endpoint URL is not its S3 endpoint",
    "PermanentRedirect": "redirected (HTTP 301): the bucket is in another region (set "
    "CLOUDCOLLECT_REGION) or the endpoint URL is not its S3 endpoint",
    "400": "bad request (wrong region or endpoint?)",
    "403": "access denied (credentials rejected or no permission)",
}
MISSING_KEY = frozenset({"NoSuchKey", "404"})
TLS_HINT = "set CLOUDCOLLECT_CA_BUNDLE for a private CA"
_CONNECTION_CODES = frozenset({"ConnectionError", "Timeout", "SourceChanged"})


def where(operation: str, key: str | None) -> str:
    return f"{operation} {key!r}" if key is not None else operation


def storage_error(failure: TransportError, operation: str, key: str | None) -> StorageError:
    """The StorageError for a request a transport gave up on."""
    place = where(operation, key)
    code = failure.code
    if code == "SSLError":
        message = f"{place}: TLS failure ({failure.message}); {TLS_HINT}"
        return FatalStorageError(message, key=key, code=code, retries=failure.retries)
    if code in ("NoCredentialsError", "CredentialsError"):
        message = f"{place}: {failure.message}"
        return FatalStorageError(message, key=key, code=code)
    if code in _CONNECTION_CODES:
        message = f"{place}: {code} ({failure.message})"
        return StorageError(message, key=key, code=code, retries=failure.retries)
    return service_error(place, key, code, failure.message, failure.request_id, failure.retries)


def service_error(
    place: str, key: str | None, code: str, text: str, request_id: str | None, retries: int
) -> StorageError:
    """The StorageError (FatalStorageError for :data:`FATAL_CODES`) for an error answer."""
    text = text.strip()
    message = f"{place}: {code}" + (f" ({text})" if text else "")
    if request_id:
        message += f" [request id {request_id}]"
    kind = FatalStorageError if code in FATAL_CODES else StorageError
    return kind(message, key=key, code=code, request_id=request_id, retries=retries)


def translate_error(
    error: Exception, operation: str, key: str | None = None, *, attempts: int = 1
) -> StorageError:
    """Turn a botocore exception (a client the storage does not own: CloudFront) into a
    StorageError or FatalStorageError. ``attempts``: the client's total attempts, the
    retry count of connection errors (botocore retried them all before raising)."""
    import botocore.exceptions as bce

    place = where(operation, key)
    if isinstance(error, bce.ClientError):
        response: Mapping[str, Any] = error.response
        code = str(response.get("Error", {}).get("Code") or "Unknown")
        text = str(response.get("Error", {}).get("Message") or "")
        meta = response.get("ResponseMetadata", {})
        request_id = meta.get("RequestId") or meta.get("HTTPHeaders", {}).get("x-amz-request-id")
        retries = int(meta.get("RetryAttempts", 0))
        return service_error(place, key, code, text, request_id, retries)
    if isinstance(error, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        message = f"{place}: no usable AWS credentials ({type(error).__name__})"
        return FatalStorageError(message, key=key, code=type(error).__name__)
    if isinstance(error, (bce.CredentialRetrievalError, bce.TokenRetrievalError)):
        message = f"{place}: credentials could not be loaded ({type(error).__name__})"
        return FatalStorageError(message, key=key, code=type(error).__name__)
    if isinstance(error, bce.SSLError):
        message = f"{place}: TLS failure ({error}); {TLS_HINT}"
        return FatalStorageError(message, key=key, code="SSLError", retries=attempts - 1)
    if isinstance(error, (bce.ConnectionError, bce.HTTPClientError)):
        code = "Timeout" if isinstance(error, bce.ReadTimeoutError) else "ConnectionError"
        message = f"{place}: {code} ({error})"
        return StorageError(message, key=key, code=code, retries=attempts - 1)
    return StorageError(f"{place}: {type(error).__name__} ({error})", key=key, code="Error")
