"""One contract suite, run against every backend: memory, filesystem, s3 over HTTP and HTTPS.

Each test writes real bytes and reads them back the way the backend stores them (the
dict, the file on disk, a GET with a separate admin client), so a backend that lies in
``head``/``list`` fails here.
"""

from __future__ import annotations

import hashlib
import io
import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cloudcollect.errors import StorageError
from cloudcollect.storage import MemoryStorage, RemoteObject, Storage
from cloudcollect.storage.filesystem import FilesystemStorage
from tests.conftest import s3_settings

MIB = 1024 * 1024
HEADERS = {"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=60"}
ODD_KEYS = [
    "static/a b.txt",
    "static/a+b.txt",
    "static/100%.txt",
    "static/100%25.txt",
    "static/x#y.txt",
    "static/q?.txt",
    "static/" + unicodedata.normalize("NFC", "café.txt"),
    "static/" + unicodedata.normalize("NFD", "café.txt"),
    "static/日本語/ファイル.css",
]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class Backend:
    """A storage under test plus a way to see what it really stored."""

    name: str
    storage: Storage
    stored: Callable[[str], bytes | None]  # the bytes at key as stored, None if absent
    pending_uploads: Callable[[], list[Any]] = lambda: []

    @property
    def is_s3(self) -> bool:
        return self.name.startswith("s3")

    def put(self, key: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.storage.put(key, io.BytesIO(data), len(data), md5(data), headers or HEADERS)

    def listing(self, prefix: str) -> dict[str, RemoteObject]:
        objects = list(self.storage.list(prefix))
        by_key = {obj.key: obj for obj in objects}
        assert len(by_key) == len(objects), "a key was listed twice"
        return by_key


BACKENDS = [
    "memory",
    "filesystem",
    pytest.param("s3-http", marks=pytest.mark.seaweedfs),
    pytest.param("s3-https", marks=pytest.mark.seaweedfs),
    pytest.param("s3-http-botocore", marks=pytest.mark.seaweedfs),
    pytest.param("s3-https-botocore", marks=pytest.mark.seaweedfs),
]


@pytest.fixture(params=BACKENDS)
def make_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Backend]]:
    """Build the parametrised backend; keyword arguments override s3 Settings fields."""
    opened: list[Storage] = []

    def make(**overrides: Any) -> Backend:
        backend = _build(request, tmp_path, overrides)
        opened.append(backend.storage)
        return backend

    yield make
    for storage in opened:
        storage.close()


def _build(request: pytest.FixtureRequest, tmp_path: Path, overrides: dict[str, Any]) -> Backend:
    name: str = request.param
    if name == "memory":
        memory = MemoryStorage()

        def in_memory(key: str) -> bytes | None:
            stored = memory.objects.get(key)
            return None if stored is None else stored.data

        return Backend(name, memory, in_memory)
    if name == "filesystem":
        root = tmp_path / "collected"

        def on_disk(key: str) -> bytes | None:
            path = root / key
            return path.read_bytes() if path.is_file() else None

        return Backend(name, FilesystemStorage(root), on_disk)
    from cloudcollect.storage.s3 import S3Storage

    bucket = request.getfixturevalue("bucket")
    transport = "botocore" if name.endswith("-botocore") else "fast"
    https = name.startswith("s3-https")
    settings = s3_settings(bucket, https=https, transport=transport, **overrides)
    storage = S3Storage.from_settings(settings)

    def in_bucket(key: str) -> bytes | None:
        try:
            data: bytes = bucket.read(key)
        except ClientError as error:
            assert error.response["Error"]["Code"] in ("NoSuchKey", "404")
            return None
        return data

    def uploads() -> list[Any]:
        listed: list[Any] = bucket.client.list_multipart_uploads(Bucket=bucket.name).get(
            "Uploads", []
        )
        return listed

    return Backend(name, storage, in_bucket, uploads)


@pytest.fixture
def backend(make_backend: Callable[..., Backend]) -> Backend:
    return make_backend()


def test_check_passes_on_a_ready_target(backend: Backend) -> None:
    backend.storage.check()


def test_put_head_list_round_trip(backend: Backend) -> None:
    files = {"static/css/site.css": b"body { color: red }\n", "static/js/app.js": payload(3000)}
    for key, data in files.items():
        backend.put(key, data)

    for key, data in files.items():
        assert backend.stored(key) == data
        head = backend.storage.head(key)
        assert head is not None
        assert (head.key, head.size, head.md5) == (key, len(data), md5(data))
        if backend.is_s3 or backend.name == "memory":
            assert head.headers["Content-Type"] == HEADERS["Content-Type"]
            assert head.headers["Cache-Control"] == HEADERS["Cache-Control"]
    listing = backend.listing("static/")
    assert sorted(listing) == sorted(files)
    for key, data in files.items():
        assert (listing[key].size, listing[key].md5) == (len(data), md5(data))


def test_listing_reports_when_each_object_was_written(backend: Backend) -> None:
    backend.put("static/first.css", b"a")
    first = backend.listing("static/")["static/first.css"].last_modified
    backend.put("static/second.css", b"b")
    listing = backend.listing("static/")

    second = listing["static/second.css"].last_modified
    assert first is not None and second is not None
    assert first.utcoffset() is not None and second.utcoffset() is not None  # aware
    assert listing["static/first.css"].last_modified == first
    assert second >= first


def test_get_reads_small_objects_and_put_returns_the_listed_etag(backend: Backend) -> None:
    data = b'{"version": 1}'
    etag = backend.storage.put("p/state.json", io.BytesIO(data), len(data), md5(data), HEADERS)
    assert backend.storage.get("p/state.json") == data
    assert backend.storage.get("p/absent.json") is None
    listed = backend.listing("p/")["p/state.json"]
    assert etag == listed.etag
    if backend.is_s3 or backend.name == "memory":
        assert backend.storage.stores_headers
        assert etag is not None
    else:
        assert not backend.storage.stores_headers


def test_missing_key_heads_to_none(backend: Backend) -> None:
    backend.put("static/here.css", b"x")
    assert backend.storage.head("static/absent.css") is None
    assert backend.storage.head("static/here.css/deeper") is None


def test_empty_target_lists_nothing(backend: Backend) -> None:
    assert backend.listing("") == {}
    assert backend.listing("static/") == {}


def test_prefix_is_a_plain_string_match(backend: Backend) -> None:
    for key in ("static/a.css", "static2/b.css", "staticx.css", "other/static/c.css"):
        backend.put(key, key.encode())

    assert sorted(backend.listing("static/")) == ["static/a.css"]
    assert sorted(backend.listing("static")) == ["static/a.css", "static2/b.css", "staticx.css"]
    assert len(backend.listing("")) == 4


def test_zero_byte_object(backend: Backend) -> None:
    backend.put("static/empty.txt", b"")

    assert backend.stored("static/empty.txt") == b""
    head = backend.storage.head("static/empty.txt")
    assert head is not None
    assert (head.size, head.md5) == (0, "d41d8cd98f00b204e9800998ecf8427e")
    assert backend.listing("static/")["static/empty.txt"].size == 0


def test_overwrite_replaces_content(backend: Backend) -> None:
    backend.put("static/a.css", b"old content that is longer")
    backend.put("static/a.css", b"new")

    assert backend.stored("static/a.css") == b"new"
    head = backend.storage.head("static/a.css")
    assert head is not None
    assert (head.size, head.md5) == (3, md5(b"new"))
    assert list(backend.listing("static/")) == ["static/a.css"]


def test_delete_removes_and_missing_keys_are_no_ops(backend: Backend) -> None:
    backend.put("static/a.css", b"a")
    backend.put("static/b.css", b"b")

    failures = backend.storage.delete(["static/a.css", "static/never-existed.css"])

    assert failures == []
    assert backend.stored("static/a.css") is None
    assert backend.storage.head("static/a.css") is None
    assert list(backend.listing("")) == ["static/b.css"]
    assert backend.storage.delete(["static/a.css"]) == []
    assert backend.storage.delete([]) == []


def test_odd_keys_round_trip_as_distinct_keys(backend: Backend) -> None:
    contents = {key: f"content of {key!r}".encode() for key in ODD_KEYS}
    for key, data in contents.items():
        backend.put(key, data)

    listing = backend.listing("static/")
    assert sorted(listing) == sorted(contents)
    for key, data in contents.items():
        assert backend.stored(key) == data, key
        assert listing[key].md5 == md5(data), key
        head = backend.storage.head(key)
        assert head is not None and head.md5 == md5(data), key

    assert backend.storage.delete(ODD_KEYS) == []
    assert backend.listing("") == {}


def test_public_url_encodes_the_key(backend: Backend) -> None:
    url = backend.storage.public_url("static/a b+c#d?.css")
    assert url.endswith("/static/a%20b%2Bc%23d%3F.css")


def test_wrong_md5_is_rejected_and_leaves_nothing(backend: Backend) -> None:
    data = b"the real content"
    with pytest.raises(StorageError) as raised:
        backend.storage.put("static/new.css", io.BytesIO(data), len(data), md5(b"other"), HEADERS)

    assert raised.value.code == "BadDigest"
    assert raised.value.key == "static/new.css"
    assert backend.stored("static/new.css") is None
    assert backend.storage.head("static/new.css") is None
    assert backend.listing("") == {}


def test_wrong_md5_keeps_the_previous_version(backend: Backend) -> None:
    backend.put("static/a.css", b"version 1")
    with pytest.raises(StorageError):
        backend.storage.put("static/a.css", io.BytesIO(b"version 2"), 9, md5(b"nope"), HEADERS)

    assert backend.stored("static/a.css") == b"version 1"
    head = backend.storage.head("static/a.css")
    assert head is not None and head.md5 == md5(b"version 1")


def test_multipart_with_lowered_threshold(make_backend: Callable[..., Backend]) -> None:
    backend = make_backend(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    data = payload(2 * 5 * MIB + 12345, seed=2)
    backend.put("static/big.bin", data, {"Content-Type": "application/octet-stream"})

    assert backend.stored("static/big.bin") == data
    head = backend.storage.head("static/big.bin")
    assert head is not None
    assert (head.size, head.md5) == (len(data), md5(data))
    listed = backend.listing("static/")["static/big.bin"]
    assert listed.size == len(data)
    assert listed.md5 in (None, md5(data))  # a multipart ETag is not an MD5
    if backend.is_s3:
        assert head.etag is not None and head.etag.strip('"').endswith("-3")
        assert head.headers["Content-Type"] == "application/octet-stream"
    assert backend.pending_uploads() == []


def test_multipart_with_wrong_md5_leaves_nothing(make_backend: Callable[..., Backend]) -> None:
    backend = make_backend(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    data = payload(5 * MIB + 1, seed=3)
    with pytest.raises(StorageError) as raised:
        backend.storage.put("static/big.bin", io.BytesIO(data), len(data), md5(b"x"), HEADERS)

    assert raised.value.code == "BadDigest"
    assert backend.stored("static/big.bin") is None
    assert backend.storage.head("static/big.bin") is None
    assert backend.pending_uploads() == []


def test_20_mb_file_from_disk(make_backend: Callable[..., Backend], tmp_path: Path) -> None:
    backend = make_backend(multipart_threshold=8 * MIB, multipart_chunksize=5 * MIB)
    data = payload(20 * 1000 * 1000, seed=4)
    source = tmp_path / "big.bin"
    source.write_bytes(data)

    with source.open("rb") as stream:
        backend.storage.put("static/video.mp4", stream, len(data), md5(data), HEADERS)

    assert backend.stored("static/video.mp4") == data
    head = backend.storage.head("static/video.mp4")
    assert head is not None
    assert (head.size, head.md5) == (len(data), md5(data))
    if backend.is_s3:
        assert head.etag is not None and head.etag.strip('"').endswith("-4")
    assert backend.pending_uploads() == []


def test_put_if_absent_creates_once_and_never_replaces(
    make_backend: Callable[..., Backend],
) -> None:
    """The optional ``put_if_absent`` (base.CreatesIfAbsent), as the release lease uses it:
    the store decides (SeaweedFS answers 412 to ``If-None-Match: *`` on an existing key)."""
    backend = make_backend()
    storage: Any = backend.storage
    key = "static/.cloudcollect-lease.json"

    assert storage.put_if_absent(key, b'{"run": "a"}', HEADERS) is True
    assert storage.put_if_absent(key, b'{"run": "b"}', HEADERS) is False

    assert backend.stored(key) == b'{"run": "a"}'
    head = backend.storage.head(key)
    assert head is not None and head.md5 == md5(b'{"run": "a"}')
    backend.put(key, b"replaced")  # a plain put still replaces it
    assert storage.put_if_absent(key, b"again", HEADERS) is False
    assert backend.stored(key) == b"replaced"
