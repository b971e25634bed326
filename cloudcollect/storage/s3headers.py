"""Object headers on S3's terms: which headers a PUT may carry, and what a HEAD reports.

Headers given to ``put`` are sent as they are when S3 stores them: Content-Type,
Cache-Control, Content-Encoding, Content-Disposition, Content-Language, Expires (sent as
an HTTP date), X-Amz-Website-Redirect-Location, X-Amz-Storage-Class, and
``X-Amz-Meta-<name>`` (user metadata, name lower-cased). Any other name, or a value that
is not ASCII (HTTP cannot carry it), is a ConfigError naming CLOUDCOLLECT_HEADERS: S3
would silently drop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from ..errors import ConfigError
from ..hashing import plain_md5_from_etag
from ..headers import canonical_name
from .base import MD5_METADATA, RemoteObject

#: Storable headers (Title-Case, as headers.py produces them).
STORABLE = (
    "Content-Type",
    "Cache-Control",
    "Content-Encoding",
    "Content-Disposition",
    "Content-Language",
    "Expires",
    "X-Amz-Website-Redirect-Location",
    "X-Amz-Storage-Class",
)
#: What a HEAD reports back (a storage class is not an object header).
REPORTED = STORABLE[:-1]
META_PREFIX = "x-amz-meta-"
#: Headers asked for often that S3 has no field for, and where to set them instead.
UNSTORABLE: Mapping[str, str] = {
    "Vary": (
        "S3 never sends a stored Vary. With in-place precompression every client gets the "
        "one variant, so nothing varies; where a CDN or web server picks .gz/.br siblings "
        "by Accept-Encoding, it adds 'Vary: Accept-Encoding' (a CloudFront response headers "
        "policy, a Cloudflare Transform Rule, nginx gzip_vary)"
    ),
}
_KMS = ("aws:kms", "aws:kms:dsse")


def wire_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` as a PUT sends them (lower-case names); ConfigError for a header S3
    cannot store or a value HTTP cannot carry."""
    wire: dict[str, str] = {}
    for name, value in headers.items():
        canonical = canonical_name(name)
        lower = name.lower()
        if canonical not in STORABLE and not (
            lower.startswith(META_PREFIX) and len(lower) > len(META_PREFIX)
        ):
            known = ", ".join([*STORABLE, "X-Amz-Meta-*"])
            message = f"CLOUDCOLLECT_HEADERS: S3 cannot store header {name!r} (known: {known})"
            if canonical in UNSTORABLE:
                message += f"; {UNSTORABLE[canonical]}"
            raise ConfigError(message, key="CLOUDCOLLECT_HEADERS")
        if not value.isascii() or "\n" in value or "\r" in value:
            message = f"CLOUDCOLLECT_HEADERS: the value of {name!r} is not one line of ASCII"
            raise ConfigError(message, key="CLOUDCOLLECT_HEADERS")
        wire[lower] = _http_date(value) if lower == "expires" else value
    return wire


def _http_date(value: str) -> str:
    """An Expires value as an HTTP date (an ISO 8601 date is converted, as botocore
    does); anything else is sent as given."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return format_datetime(parsed.astimezone(timezone.utc), usegmt=True)


def remote_from_head(key: str, headers: Mapping[str, str], trust_etag: bool) -> RemoteObject:
    """The object a HeadObject answer (lower-case header names) describes. ``md5``: our
    metadata, else a plain ETag when trusted and the object is not SSE-KMS or SSE-C."""
    etag = headers.get("etag")
    md5 = headers.get(META_PREFIX + MD5_METADATA)
    encrypted = headers.get("x-amz-server-side-encryption") in _KMS
    customer_key = "x-amz-server-side-encryption-customer-algorithm" in headers
    if md5 is None and trust_etag and not (encrypted or customer_key):
        md5 = plain_md5_from_etag(etag)
    reported = {name: headers[name.lower()] for name in REPORTED if name.lower() in headers}
    for name, value in headers.items():
        if name.startswith(META_PREFIX) and name != META_PREFIX + MD5_METADATA:
            reported[canonical_name(name)] = value
    size = int(headers.get("content-length", 0))
    return RemoteObject(key, size, md5=md5, etag=etag, headers=reported)
