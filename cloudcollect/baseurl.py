"""Public base URLs: where a key is served from, derived from the settings when not given.

Pure: no Flask, no boto3. ``object_url(base, key)`` is the one place that turns a key
into a URL, for ``url_for`` and for every storage's ``public_url``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import ConfigError
from .keys import quote_key

if TYPE_CHECKING:  # annotations only: config checks base URLs with this module
    from .config import Settings


def derive_base_url(settings: Settings) -> str:
    """Return the base URL (ending in ``/``) at which keys are served.

    ``CLOUDCOLLECT_BASE_URL`` wins: an absolute ``http(s)://`` URL, possibly with a path
    (``https://cdn.example.com/assets/``), a protocol-relative ``//cdn.example.com/`` or an
    absolute path ``/collected/`` on the app's own host; never a query or fragment.
    Otherwise, for s3:

    - with a custom endpoint, path style ``ENDPOINT/BUCKET/`` in the endpoint's scheme;
      virtual-hosted ``SCHEME://BUCKET.HOST/`` only when ``addressing_style`` is
      ``virtual`` and the bucket name has no dot on https (a wildcard certificate covers
      one DNS label, so ``my.bucket.host`` fails TLS);
    - on AWS, virtual-hosted ``https://BUCKET.s3.REGION.amazonaws.com/``, or the global
      ``https://BUCKET.s3.amazonaws.com/`` without a region; path style
      ``https://s3.REGION.amazonaws.com/BUCKET/`` when configured or when the bucket name
      has a dot.

    The filesystem and memory storages default to ``/`` (files served by the app's own
    host); set ``BASE_URL`` to where their root is really served.
    """
    if settings.base_url:
        return checked_base_url(settings.base_url)
    if settings.storage != "s3":
        return "/"
    bucket = settings.bucket
    if not bucket:
        raise ConfigError("CLOUDCOLLECT_BUCKET is required", key="CLOUDCOLLECT_BUCKET")
    if settings.endpoint_url:
        return _endpoint_base_url(settings.endpoint_url, bucket, settings.addressing_style)
    return _aws_base_url(bucket, settings.region, settings.addressing_style)


def checked_base_url(base_url: str) -> str:
    """Return ``base_url`` ending in ``/``; ConfigError unless it is usable as a base."""
    parts = urlsplit(base_url.strip())
    absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
    protocol_relative = not parts.scheme and bool(parts.netloc)
    host_path = not parts.scheme and not parts.netloc and parts.path.startswith("/")
    if not (absolute or protocol_relative or host_path) or parts.query or parts.fragment:
        raise ConfigError(
            "CLOUDCOLLECT_BASE_URL must be an http(s) URL, a //host/ URL or a /path/, "
            f"without query or fragment; got {base_url!r}",
            key="CLOUDCOLLECT_BASE_URL",
        )
    return base_url.strip().rstrip("/") + "/"


def _endpoint_base_url(endpoint_url: str, bucket: str, addressing_style: str) -> str:
    """The bucket's URL on ``endpoint_url``, without its userinfo (``user:pass@``): a
    public URL, rendered into pages, never carries the endpoint's credentials."""
    parts = urlsplit(endpoint_url)
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/")
    dotted_on_https = "." in bucket and parts.scheme == "https"
    if addressing_style == "virtual" and not dotted_on_https:
        return f"{parts.scheme}://{bucket}.{host}{path}/"
    return f"{parts.scheme}://{host}{path}/{bucket}/"


def _aws_base_url(bucket: str, region: str | None, addressing_style: str) -> str:
    host = f"s3.{region}.amazonaws.com" if region else "s3.amazonaws.com"
    if addressing_style == "path" or "." in bucket:
        return f"https://{host}/{bucket}/"
    return f"https://{bucket}.{host}/"


def object_url(base_url: str, key: str) -> str:
    """Join a base URL ending in ``/`` and a key, percent-encoding the key per segment."""
    return base_url + quote_key(key)
