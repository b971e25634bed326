"""Precompression (``CLOUDCOLLECT_PRECOMPRESS``): gzip and brotli variants of text assets.

**Which files.** Compressible types only (text, JavaScript, CSS, JSON, source maps, web
manifests, SVG, XML, WebAssembly, TTF/OTF/EOT fonts, icons), never images, archives or
WOFF/WOFF2 fonts, which are compressed already; and never a file whose header rules
already set a ``Content-Encoding``.

**Two modes.** ``siblings`` (default) publishes ``KEY.gz`` and/or ``KEY.br`` next to
``KEY``, each with the original's Content-Type and ``Content-Encoding: gzip|br``, for a
CDN or nginx that picks the variant from ``Accept-Encoding``. ``in-place`` stores ``KEY``
itself compressed with ``Content-Encoding`` (one codec), for stores and CDNs that serve
one variant to everyone.

**A file on disk wins.** A sibling whose key is a real file's (``app.js.gz`` prebuilt
beside ``app.js``) is not planned; the file is published as it is and a warning names both.

**Deterministic bytes.** gzip at level 9 with ``mtime=0`` and no file name in the header;
brotli at quality 11. A variant that does not save at least 5 % is stored uncompressed,
without ``Content-Encoding`` (so a CDN that picks the sibling still serves correct bytes).

**Change detection by source.** A variant is planned as a LocalAsset whose ``md5`` is the
*source* file's MD5 and whose headers carry ``X-Amz-Meta-Cloudcollect-Source:
<codec>-<level>:<source md5>``. Those headers are what the state object records and what
the plan compares, so an unchanged source is never compressed again just to compare, and
a changed source (or codec or level) changes the headers and re-uploads the variant.
Compression happens only for an upload, streamed into a temporary file that is removed
right after (never a whole file in memory). Precompression needs a storage that keeps
headers (s3, memory): the filesystem storage is refused with a ConfigError.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from .config import Settings
from .errors import ConfigError
from .hashing import CHUNK
from .plan import LocalAsset, Step
from .providers import preset, with_no_transform
from .report import Outcome
from .sync import changed_since_hashed, failed_outcome

SUFFIXES = {"gzip": ".gz", "br": ".br"}
PARAMETERS = {"gzip": "gzip-9", "br": "br-11"}
SOURCE_HEADER = "X-Amz-Meta-Cloudcollect-Source"
MIN_SAVING = 0.05

COMPRESSIBLE_TYPES = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "application/xml",
        "application/yaml",
        "application/wasm",
        "application/vnd.ms-fontobject",
        "image/svg+xml",
        "image/vnd.microsoft.icon",
        "image/x-icon",
        "image/bmp",
        "font/ttf",
        "font/otf",
    }
)


def compressible(headers: dict[str, str] | Any) -> bool:
    """Whether an object with these headers is worth precompressing (by Content-Type)."""
    if any(name.lower() == "content-encoding" for name in headers):
        return False
    mime = str(headers.get("Content-Type", "")).split(";")[0].strip().lower()
    return (
        mime.startswith("text/") or mime in COMPRESSIBLE_TYPES or mime.endswith(("+json", "+xml"))
    )


def with_variants(asset: LocalAsset, settings: Settings) -> list[LocalAsset]:
    """``asset`` and its planned variants (siblings), or its in-place replacement."""
    if not settings.precompress or not compressible(asset.headers):
        return [asset]
    if settings.precompress_mode == "in-place":
        return [_variant(asset, settings.precompress[0], asset.key, settings)]
    return [asset] + [
        _variant(asset, codec, asset.key + SUFFIXES[codec], settings)
        for codec in settings.precompress
    ]


def add_variants(
    assets: list[LocalAsset],
    settings: Settings,
    warn: Callable[[str], None],
    on_disk: Iterable[str] = (),
) -> list[LocalAsset]:
    """Every asset with its variants (:func:`with_variants`), never two for one key.

    A sibling whose key is also a file's own key (``app.js.gz`` built beside ``app.js``
    and shipped on disk) is dropped: the file on disk is what the user shipped, so it is
    published as it is and ``warn`` names both, once per run. Without this, both would be
    uploaded to one key in parallel on every run. ``on_disk`` adds the keys of files that
    could not be hashed: their variant-named neighbour still wins over a variant.
    """
    files = {asset.key for asset in assets}.union(on_disk)
    result: list[LocalAsset] = []
    for asset in assets:
        for variant in with_variants(asset, settings):
            if variant.key != asset.key and variant.key in files:
                warn(
                    f"{variant.key}: the file on disk is published, not the "
                    f"{variant.encoding} variant of {asset.key} (both would have that key)"
                )
                continue
            result.append(variant)
    return result


def _variant(asset: LocalAsset, codec: str, key: str, settings: Settings) -> LocalAsset:
    headers = dict(asset.headers)
    headers["Content-Encoding"] = codec
    headers[SOURCE_HEADER] = f"{PARAMETERS[codec]}:{asset.md5}"
    if codec == "gzip" and preset(settings).no_transform_gzip:
        headers["Cache-Control"] = with_no_transform(headers.get("Cache-Control"))
    return dataclasses.replace(asset, key=key, headers=headers, encoding=codec)


def check_storage(settings: Settings, stores_headers: bool) -> None:
    """ConfigError when precompression is on for a storage that keeps no headers."""
    if settings.precompress and not stores_headers:
        raise ConfigError(
            "CLOUDCOLLECT_PRECOMPRESS needs a storage that keeps headers (s3, memory); "
            "with the filesystem storage let nginx compress (see examples/nginx)",
            key="CLOUDCOLLECT_PRECOMPRESS",
        )


def compress_to(source: Path, target: IO[bytes], codec: str) -> tuple[int, str]:
    """Compress ``source`` into ``target`` (streamed); return the output's size and MD5."""
    counter = _Counting(target)
    with source.open("rb") as stream:
        if codec == "gzip":
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=counter, compresslevel=9, mtime=0
            ) as packed:
                while chunk := stream.read(CHUNK):
                    packed.write(chunk)
        else:
            import brotli

            compressor = brotli.Compressor(quality=11)
            while chunk := stream.read(CHUNK):
                counter.write(compressor.process(chunk))
            counter.write(compressor.finish())
    return counter.size, counter.md5.hexdigest()


class _Counting:
    """A write-only file that passes bytes on and tracks their size and MD5."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.size += len(data)
        self.md5.update(data)
        return len(data)

    def flush(self) -> None:
        self.target.flush()


def compressing(upload: Callable[[Step], Outcome], settings: Settings) -> Callable[[Step], Outcome]:
    """Wrap an upload worker: a variant's step is compressed into a temporary file first.

    The source's size and mtime are checked before and after compressing (a file changed
    meanwhile fails with ``SourceChanged``, as for plain uploads). The temporary file is
    removed once the upload returns.
    """

    def run(step: Step) -> Outcome:
        asset = step.asset
        if asset is None or asset.encoding is None:
            return upload(step)
        try:
            with tempfile.NamedTemporaryFile(prefix="cloudcollect-", suffix=".tmp") as temp:
                if _changed(asset):
                    return failed_outcome(step, "SourceChanged", "file changed since it was hashed")
                size, md5 = compress_to(asset.path, temp, asset.encoding)
                temp.flush()
                if _changed(asset):
                    return failed_outcome(step, "SourceChanged", "file changed while compressed")
                if size > asset.size * (1 - MIN_SAVING):
                    return upload(_uncompressed(step, asset))
                stat = os.stat(temp.name)
                packed = dataclasses.replace(
                    asset, path=Path(temp.name), size=size, mtime_ns=stat.st_mtime_ns, md5=md5
                )
                return upload(dataclasses.replace(step, asset=packed, size=size))
        except OSError as error:
            return failed_outcome(step, "LocalReadError", f"{error.strerror or error}")

    return run


def _uncompressed(step: Step, asset: LocalAsset) -> Step:
    """The step storing the source as it is: compression would save under 5 %."""
    headers = {k: v for k, v in asset.headers.items() if k.lower() != "content-encoding"}
    plain = dataclasses.replace(asset, headers=headers)
    return dataclasses.replace(step, asset=plain)


def _changed(asset: LocalAsset) -> bool:
    return changed_since_hashed(os.stat(asset.path), asset.size, asset.mtime_ns)
