"""Public base URLs: where a key is served from, derived from the settings when not given.

Pure: no Flask, no boto3. ``object_url(base, key)`` is the one place that turns a key
into a URL, for ``url_for`` and for every storage's ``public_url``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .config import Settings
from .errors import ConfigError
from .keys import quote_key


def derive_base_url(settings: Settings) -> str:
    """Return the base URL (ending in ``/``) at which keys are served.

    ``CLOUDCOLLECT_BASE_URL`` wins. Otherwise, for s3: with a custom endpoint, path style
    ``ENDPOINT/BUCKET/``; on AWS, virtual-hosted ``https://BUCKET.s3.REGION.amazonaws.com/``
    unless the bucket name has a dot (the wildcard certificate does not cover it) or path
    style is configured. The filesystem and memory storages need ``BASE_URL`` to be
    servable and default to ``/`` (files served by the app's own host).
    """
    if settings.base_url:
        return settings.base_url.rstrip("/") + "/"
    if settings.storage != "s3":
        return "/"
    bucket = settings.bucket
    if not bucket:
        raise ConfigError("CLOUDCOLLECT_BUCKET is required", key="CLOUDCOLLECT_BUCKET")
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        if settings.addressing_style == "virtual":
            return f"{parts.scheme}://{bucket}.{parts.netloc}/"
        return f"{settings.endpoint_url.rstrip('/')}/{bucket}/"
    region = settings.region or "us-east-1"
    if settings.addressing_style == "path" or "." in bucket:
        return f"https://s3.{region}.amazonaws.com/{bucket}/"
    return f"https://{bucket}.s3.{region}.amazonaws.com/"


def object_url(base_url: str, key: str) -> str:
    """Join a base URL ending in ``/`` and a key, percent-encoding the key per segment."""
    return base_url + quote_key(key)
