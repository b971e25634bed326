"""Streamed MD5, Content-MD5 form, ETag parsing and the multipart part size."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

from cloudcollect.hashing import (
    hex_to_base64,
    md5_of_file,
    md5_of_stream,
    part_size_for,
    plain_md5_from_etag,
)

MIB = 1024 * 1024


def test_md5_of_file_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * MIB // 256 + 7)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert md5_of_file(path) == hashlib.md5(data).hexdigest()


def test_md5_of_stream_limit() -> None:
    assert md5_of_stream(io.BytesIO(b"abcdef"), limit=3) == hashlib.md5(b"abc").hexdigest()
    assert md5_of_stream(io.BytesIO(b"")) == "d41d8cd98f00b204e9800998ecf8427e"


def test_content_md5_is_base64_of_digest() -> None:
    digest = hashlib.md5(b"x")
    assert hex_to_base64(digest.hexdigest()) == base64.b64encode(digest.digest()).decode()
    assert hex_to_base64("d41d8cd98f00b204e9800998ecf8427e") == "1B2M2Y8AsgTpgAmY7PhCfg=="


def test_only_plain_etags_are_md5s() -> None:
    assert plain_md5_from_etag('"9DD4E461268C8034F5C8564E155C67A6"') == (
        "9dd4e461268c8034f5c8564e155c67a6"
    )
    assert plain_md5_from_etag('"9dd4e461268c8034f5c8564e155c67a6-2"') is None
    assert plain_md5_from_etag('W/"abc"') is None
    assert plain_md5_from_etag(None) is None


def test_part_size_doubles_to_stay_within_10000_parts() -> None:
    assert part_size_for(20 * MIB, 8 * MIB) == 8 * MIB
    size = 100_000 * MIB
    part = part_size_for(size, 8 * MIB)
    assert part == 16 * MIB
    assert -(-size // part) <= 10_000
