"""HTTP headers for each object: a fixed MIME table and ordered per-glob rules. Pure.

The table does not depend on the OS or the Python version (``mimetypes`` reads
``/etc/mime.types`` and the Windows registry, which map ``.js`` to ``text/plain`` on some
machines). Text types get ``charset=utf-8``. Unknown extensions are
``application/octet-stream``.

Sources that ship beside built files and have no registered type (``.scss``, ``.less``,
TypeScript ``.ts``/``.tsx``/``.mts``/``.cts``) are ``text/plain; charset=utf-8``: every
browser shows them as text and never runs them. ``.ts`` and ``.mts`` are also MPEG
transport streams (``video/mp2t``): map them with ``CLOUDCOLLECT_MIME_TYPES`` for HLS
segments. Files without an extension named like ``LICENSE``, ``COPYING``, ``NOTICE``,
``README`` (also ``LICENSE-MIT``) are plain text too.

``headers_digest`` is how stored and wanted headers are compared (the plan, the state
object): a digest of the headers a store gives back on HEAD, names case-insensitive.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from collections.abc import Mapping

from .config import Settings
from .globs import matches

MIME_TYPES: Mapping[str, str] = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".cjs": "text/javascript; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",
    ".tsx": "text/plain; charset=utf-8",
    ".mts": "text/plain; charset=utf-8",
    ".cts": "text/plain; charset=utf-8",
    ".scss": "text/plain; charset=utf-8",
    ".sass": "text/plain; charset=utf-8",
    ".less": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".apng": "image/apng",
    ".ico": "image/vnd.microsoft.icon",
    ".bmp": "image/bmp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}

DEFAULT_TYPE = "application/octet-stream"
PLAIN_TEXT = "text/plain; charset=utf-8"
#: Extensionless names (case-insensitive, optionally ``-suffix``: ``LICENSE-MIT``) of text.
TEXT_NAMES = frozenset(
    {"LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS", "CONTRIBUTORS", "PATENTS"}
    | {"README", "CHANGELOG", "CHANGES", "HISTORY", "VERSION"}
)
#: Cache-Control of content-hashed names: hashed copies and files a bundler already hashed.
IMMUTABLE = "public, max-age=31536000, immutable"


def content_type(key: str, overrides: Mapping[str, str] | None = None) -> str:
    """Content-Type for ``key`` by its extension (case-insensitive); overrides win. A
    name without extension is plain text when it is one of TEXT_NAMES."""
    name = posixpath.basename(key)
    extension = posixpath.splitext(name)[1].lower()
    if overrides and extension in overrides:
        return overrides[extension]
    if not extension and name.upper().split("-")[0] in TEXT_NAMES:
        return PLAIN_TEXT
    return MIME_TYPES.get(extension, DEFAULT_TYPE)


def canonical_name(name: str) -> str:
    """An HTTP header name in ``Title-Case`` (``cache-control`` -> ``Cache-Control``,
    ``x-amz-meta-a`` -> ``X-Amz-Meta-A``): how headers are kept and sent."""
    return "-".join(part.capitalize() for part in name.split("-"))


def headers_for(path: str, settings: Settings, *, hashed: bool = False) -> dict[str, str]:
    """The headers to store with the object at ``path`` (the key without the prefix).

    Start from Content-Type and the default Cache-Control (:data:`IMMUTABLE` when the name
    is ``hashed`` already, see ``cloudcollect.bundler``), then apply every rule whose glob
    matches, in order (a later rule overrides an earlier one, and any rule the immutable
    default). A rule value of ``""`` removes that header. Header names are matched
    case-insensitively and kept in the canonical ``Title-Case`` form.
    """
    headers = {"Content-Type": content_type(path, settings.mime_types)}
    if hashed:
        headers["Cache-Control"] = IMMUTABLE
    elif settings.cache_control:
        headers["Cache-Control"] = settings.cache_control
    for pattern, values in settings.headers:
        if matches(pattern, path):
            for name, value in values.items():
                canonical = canonical_name(name)
                if value:
                    headers[canonical] = value
                else:
                    headers.pop(canonical, None)
    return headers


# Headers a store gives back on HEAD; only these take part in drift detection.
_COMPARED = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-type",
    "expires",
    "x-amz-website-redirect-location",
)


def headers_digest(headers: Mapping[str, str]) -> str:
    """A short digest of the compared headers (names case-insensitive, order-free)."""
    return _digest(tuple(headers.items()))


@functools.lru_cache(maxsize=4096)
def _digest(items: tuple[tuple[str, str], ...]) -> str:
    # A run has a handful of distinct header sets for thousands of files: cache them.
    lines = sorted(
        f"{name.lower()}:{value.strip()}"
        for name, value in items
        if name.lower() in _COMPARED or name.lower().startswith("x-amz-meta-")
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:20]
