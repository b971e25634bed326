"""Subresource Integrity: ``static_integrity(endpoint, filename)``, also a Jinja global.

It returns the ``integrity`` attribute value (``sha384-<base64>``) of the file
``url_for(endpoint, filename=filename)`` points at::

    <script src="{{ url_for('static', filename='app.js') }}"
            integrity="{{ static_integrity('static', 'app.js') }}" crossorigin></script>

- Switch on (``CLOUDCOLLECT_SERVE_FROM_BUCKET``): the digest the fingerprint manifest
  records for the hashed object (read where url_for reads the manifest). This needs
  ``CLOUDCOLLECT_FINGERPRINT``: without it there is no manifest, and a plain key's bytes
  can change under a cached page, so a FingerprintError says so. Strict mode: a path the
  manifest does not list is a FingerprintError; lenient mode, and a manifest written
  before digests were recorded: the local file's digest.
- Switch off, or a file cloudcollect does not publish: the digest of the local file
  Flask serves (read on each call; for development).

The digest is of the bytes as served before content coding: SRI is computed over the
response body after the browser decoded any ``Content-Encoding``, so precompressed
objects carry the digest of their uncompressed content. No boto3.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from werkzeug.security import safe_join

from .appstate import app_settings
from .errors import CloudCollectError, FingerprintError
from .fingerprint.manifest import file_integrity
from .sources import static_folder
from .urls import _absolute_endpoint, switched_url_for


def static_integrity(endpoint: str, filename: str) -> str:
    """The SRI ``integrity`` value of ``url_for(endpoint, filename=filename)``'s file
    (see the module docstring); needs an app context."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    url_for = switched_url_for(app)
    path = url_for.published_path(endpoint, filename) if url_for is not None else None
    if url_for is not None and path is not None:
        if not app_settings(app).fingerprint or url_for.resolver is None:
            raise FingerprintError(
                "static_integrity needs CLOUDCOLLECT_FINGERPRINT when serving from the "
                "bucket: the manifest records each published file's digest",
                path=path,
            )
        recorded = url_for.resolver.integrity(path)
        if recorded is not None:
            return recorded
    return _local_integrity(app, _absolute_endpoint(endpoint), filename)


def _local_integrity(app: Flask, endpoint: str, filename: str) -> str:
    """The digest of the file Flask serves for ``endpoint`` and ``filename``."""
    folder = static_folder(app, endpoint)
    found = safe_join(folder, filename) if folder is not None else None
    if found is None or not Path(found).is_file():
        raise CloudCollectError(f"static_integrity: no file {filename!r} for {endpoint!r}")
    return file_integrity(Path(found))
