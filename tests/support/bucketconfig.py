"""The config of an app that publishes to a bucket on the test server."""

from __future__ import annotations

from typing import Any

from tests.conftest import Bucket


def bucket_config(bucket: Bucket, prefix: str, **settings: Any) -> dict[str, Any]:
    """``CLOUDCOLLECT_BUCKET``, ``_ENDPOINT_URL`` (plain HTTP), ``_ADDRESSING_STYLE`` (path)
    and ``_PREFIX`` for ``bucket``; each of ``settings`` adds ``CLOUDCOLLECT_<NAME>``
    (``fingerprint=True`` -> ``CLOUDCOLLECT_FINGERPRINT``)."""
    return {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_PREFIX": prefix,
        **{f"CLOUDCOLLECT_{name.upper()}": value for name, value in settings.items()},
    }
