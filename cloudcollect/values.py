"""What setting values must look like beyond their type; used by ``config._checked``. Pure.

Each check yields ``(FIELD, message)`` (``FIELD`` is the key without ``CLOUDCOLLECT_``);
messages never repeat a URL, so user:password@ in one is never echoed. Edge cases:

- no string anywhere in any setting (lists, rule names and values, map keys and values
  included) may hold a control character: CR/LF would split a header, NUL a path;
- header rule names are HTTP tokens; MIME types are ``type/subtype`` with optional
  parameters; MIME table keys are extensions (``.ext``, no ``/`` or space);
- endpoint and base URLs must parse (``http://[::1`` does not) and have a valid port;
  the endpoint is an ``http(s)://host`` URL without query or fragment;
- a bucket is 3-255 of ``a-z A-Z 0-9 . - _``, starting and ending with a letter or digit,
  without ``..``, not an IPv4 address (S3's rules, relaxed as botocore and GCS relax them:
  upper case and ``_`` pass), or an ARN (``arn:...``), passed as is;
- a CORS origin is ``*`` or ``scheme://host[:port]`` as a browser's Origin header has it:
  lower case, no path or trailing ``/``, no default port (a rule with any of them never
  matches); S3's one ``*`` wildcard is allowed (``https://*.example.com``);
- a region is a DNS label (botocore's own check); a CloudFront distribution id is
  upper-case letters and digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .baseurl import checked_base_url
from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Settings

Problem = tuple[str, str]

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_TOKEN = re.compile(rf"^{_TCHARS}$")
_MIME = re.compile(rf"^{_TCHARS}/{_TCHARS}(\s*;.*)?$")
_EXTENSION = re.compile(r"^\.[^/\\\s]+$")
_BUCKET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}[a-zA-Z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")
_REGION_MESSAGE = "must be a region name such as us-east-1 (letters, digits, '-')"
_DISTRIBUTION = re.compile(r"^[A-Z0-9]{1,128}$")
_ORIGIN = re.compile(
    r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<host>\[[0-9a-fA-F:.]+\]|[^/?#@:\[\]\s]+)"
    r"(:(?P<port>[0-9]{1,5}))?$"
)

#: S3's canned ACLs (x-amz-acl); anything else is refused by S3 or ignored by others.
CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)


def problems(settings: Settings, names: Iterator[str]) -> Iterator[Problem]:
    """Every problem of ``settings``; ``names`` are its field names, in table order."""
    for name in names:
        if any(CONTROL.search(text) for text in _strings(getattr(settings, name))):
            yield name.upper(), "must not contain control characters (CR, LF, NUL, ...)"
    yield from _rule_problems(settings.headers)
    yield from _mime_problems(settings.mime_types)
    if settings.endpoint_url is not None:
        yield from _url_problems("ENDPOINT_URL", settings.endpoint_url, endpoint=True)
    if settings.base_url is not None:
        yield from _url_problems("BASE_URL", settings.base_url, endpoint=False)
    if settings.bucket is not None and not _bucket_ok(settings.bucket):
        message = (
            "is not a bucket name S3 accepts: 3-255 of a-z, 0-9, '.', '-', '_', "
            "starting and ending with a letter or digit, no '..', not an IP address"
        )
        yield "BUCKET", message
    if settings.region is not None and not _REGION.match(settings.region):
        yield "REGION", _REGION_MESSAGE
    for origin in settings.cors_origins:
        yield from _origin_problems(origin)
    distribution = settings.cloudfront_distribution_id
    if distribution is not None and not _DISTRIBUTION.match(distribution):
        yield "CLOUDFRONT_DISTRIBUTION_ID", "must be upper-case letters and digits"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _rule_problems(rules: tuple[tuple[str, dict[str, str]], ...]) -> Iterator[Problem]:
    for _glob, headers in rules:
        for name in headers:
            if not _TOKEN.match(name):
                yield "HEADERS", "header names are letters, digits and !#$%&'*+-.^_`|~ only"
                return


def _mime_problems(types: Mapping[str, str]) -> Iterator[Problem]:
    for ext, mime in types.items():
        if not _EXTENSION.match(ext):
            yield "MIME_TYPES", "keys must be extensions such as '.ext' (no '/', no space)"
            return
        if not _MIME.match(mime):
            yield "MIME_TYPES", f"{ext}: MIME types look like 'type/subtype[; param=value]'"
            return


def endpoint_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an S3 endpoint URL, or None."""
    return next((message for _name, message in _url_problems("", url, endpoint=True)), None)


def region_problem(region: str) -> str | None:
    """What is wrong with ``region`` as a region name, or None."""
    return None if _REGION.match(region) else _REGION_MESSAGE


def _url_problems(name: str, url: str, *, endpoint: bool) -> Iterator[Problem]:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsing it raises ValueError for a bad port
    except ValueError as error:
        yield name, f"is not a valid URL ({error})"
        return
    if not endpoint:
        try:
            checked_base_url(url)
        except ConfigError:
            yield name, "must be an http(s) URL, a //host/ URL or a /path/, without query"
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        yield name, "must be an http:// or https:// URL with a host"
    elif parts.query or parts.fragment:
        yield name, "must not have a query or a fragment"


def _origin_problems(origin: str) -> Iterator[Problem]:
    """An origin as a browser sends it: ``*``, or ``scheme://host[:port]`` in lower case,
    no path (not even ``/``), no default port; at most one ``*`` (S3's wildcard)."""
    if origin == "*":
        return
    wanted = "origins look like https://app.example or http://127.0.0.1:5000"
    match = _ORIGIN.match(origin)
    if match is None or origin.count("*") > 1:
        yield "CORS_ORIGINS", f"{wanted} (scheme://host[:port], no path): {origin!r}"
    elif origin != origin.lower():
        yield "CORS_ORIGINS", f"must be lower case, as browsers send them: {origin!r}"
    elif match["port"] and int(match["port"]) > 65535:
        yield "CORS_ORIGINS", f"has a port above 65535: {origin!r}"
    elif (match["scheme"], match["port"]) in (("http", "80"), ("https", "443")):
        yield "CORS_ORIGINS", f"a browser never sends the default port: {origin!r}"


def _bucket_ok(bucket: str) -> bool:
    if bucket.startswith("arn:"):
        return True
    return bool(_BUCKET.match(bucket)) and ".." not in bucket and not _IPV4.match(bucket)
