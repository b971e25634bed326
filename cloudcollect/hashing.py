"""Streamed MD5 digests and ETag parsing. Pure: no Flask, no boto3.

Files are read in 1 MiB chunks; nothing here holds a whole file in memory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from typing import Protocol

CHUNK = 1024 * 1024
_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def md5_of_stream(stream: Readable, limit: int | None = None) -> str:
    """Hex MD5 of what ``stream`` yields from its current position (at most ``limit`` bytes)."""
    digest = hashlib.md5(usedforsecurity=False)
    remaining = limit
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not chunk:
            break
        digest.update(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return digest.hexdigest()


def md5_of_file(path: str | os.PathLike[str], size: int | None = None) -> str:
    """Hex MD5 of a file, read with raw ``os.read``: in one call when ``size`` (the
    expected size) is small, else in chunks of :data:`CHUNK` (memory stays bounded). A
    wrong ``size`` only costs a read more or less: the whole file is always hashed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        first = size + 1 if size is not None and size < CHUNK else CHUNK
        digest = hashlib.md5(os.read(fd, first), usedforsecurity=False)
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def hex_to_base64(hex_md5: str) -> str:
    """The base64 form of a hex MD5, as the Content-MD5 header wants it."""
    return base64.b64encode(bytes.fromhex(hex_md5)).decode("ascii")


def plain_md5_from_etag(etag: str | None) -> str | None:
    """Return the ETag as a hex MD5 when it is one (32 hex digits, quotes removed).

    Multipart ETags (``...-3``), weak or opaque ETags give ``None``. Note that an SSE-KMS
    object also has a 32-hex ETag that is *not* its MD5: callers decide whether to trust it.
    """
    if etag is None:
        return None
    value = etag.strip().strip('"').lower()
    return value if _PLAIN_MD5.fullmatch(value) else None


def part_size_for(size: int, chunksize: int, max_parts: int = 10_000) -> int:
    """The part size to use for ``size`` bytes: ``chunksize``, doubled until <= max_parts."""
    part = chunksize
    while part * max_parts < size:
        part *= 2
    return part
