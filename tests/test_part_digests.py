"""Part MD5s computed by the hash stage in the same read as the whole MD5, so that an
upload that is certain hashes nothing again (cloudcollect.partdigests)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cloudcollect import hashstage, partdigests, publish
from cloudcollect.discovery import LocalFile
from cloudcollect.errors import StorageError
from cloudcollect.hashing import CHUNK
from cloudcollect.hashstage import _parts_wanted
from cloudcollect.partdigests import md5_with_parts, recall, remember
from cloudcollect.plan import Plan
from cloudcollect.remote import RemoteView
from cloudcollect.storage import s3multipart
from cloudcollect.storage.base import RemoteObject
from cloudcollect.storage.s3 import S3Storage
from tests.conftest import Bucket, s3_settings
from tests.support.apps import make_app
from tests.test_publish import counts, s3_config

MIB = 1024 * 1024
BIG = "static/big.bin"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def cut(data: bytes, part_size: int) -> tuple[bytes, ...]:
    return tuple(
        hashlib.md5(data[i : i + part_size]).digest() for i in range(0, len(data), part_size)
    )


class NoHashing:
    """Stands in for ``hashlib`` where a test says nothing may be hashed."""

    def md5(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an MD5 was computed during the upload")


@pytest.mark.parametrize(
    ("size", "part_size"),
    [
        (1, 5 * MIB),
        (3 * 1_000_000, 1_000_000),  # parts end exactly at the file's end
        (4_200_000, 1_500_000),  # a part size that does not divide the read size
        (3 * CHUNK + 7, CHUNK),
        (CHUNK - 1, 7),  # many parts inside one read
    ],
)
def test_one_read_gives_the_whole_md5_and_each_part_md5(
    tmp_path: Path, size: int, part_size: int
) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)

    whole, read, parts = md5_with_parts(path, part_size)

    assert (whole, read) == (md5(data), size)
    assert parts == cut(data, part_size)


def test_an_empty_file_has_one_empty_part(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert md5_with_parts(path, 5 * MIB) == (md5(b""), 0, (hashlib.md5(b"").digest(),))


def test_a_part_size_that_is_not_positive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="part size"):
        md5_with_parts(path, 0)


def test_a_file_that_cannot_be_read_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        md5_with_parts(tmp_path / "missing", MIB)


def test_digests_are_recalled_by_content_and_the_memo_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(partdigests, "_memo", type(partdigests._memo)())
    remember("a" * 32, 10, 5, (b"1", b"2"))
    assert recall("a" * 32, 10, 5) == (b"1", b"2")
    assert recall("a" * 32, 10, 6) is None  # another part size
    assert recall("a" * 32, 11, 5) is None  # another size
    assert recall("b" * 32, 10, 5) is None  # other content
    for n in range(partdigests.MEMO_SIZE):
        remember(f"{n:032x}", 10, 5, (b"x",))
    assert recall("a" * 32, 10, 5) is None  # the oldest went first
    assert recall(f"{partdigests.MEMO_SIZE - 1:032x}", 10, 5) == (b"x",)


# -- the upload, on both transports (SeaweedFS) -------------------------------------------


def _storage(bucket: Bucket, transport: str) -> S3Storage:
    settings = s3_settings(
        bucket, transport=transport, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    return S3Storage.from_settings(settings)


def _pending(bucket: Bucket) -> list[Any]:
    uploads: list[Any] = bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    return uploads


@pytest.mark.seaweedfs
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_remembered_digests_let_the_upload_hash_nothing(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    data = os.urandom(12 * MIB + 3)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    remember(md5(data), len(data), 5 * MIB, cut(data, 5 * MIB))
    monkeypatch.setattr(s3multipart, "hashlib", NoHashing())
    storage = _storage(bucket, transport)
    try:
        with path.open("rb") as stream:
            storage.put(BIG, stream, len(data), md5(data), {"Content-Type": "x/y"})
    finally:
        storage.close()

    assert bucket.read(BIG) == data
    head = bucket.head(BIG)
    assert head["Metadata"]["cloudcollect-md5"] == md5(data)
    assert head["ETag"].strip('"').endswith("-3")
    assert _pending(bucket) == []


@pytest.mark.seaweedfs
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_remembered_digests_of_other_bytes_are_refused_and_leave_nothing(
    bucket: Bucket, tmp_path: Path, transport: str
) -> None:
    hashed = os.urandom(11 * MIB)
    sent = bytearray(hashed)
    sent[7 * MIB] ^= 0xFF  # the file changed (same size) after it was hashed
    path = tmp_path / "big.bin"
    path.write_bytes(sent)
    remember(md5(hashed), len(hashed), 5 * MIB, cut(hashed, 5 * MIB))
    storage = _storage(bucket, transport)
    try:
        with path.open("rb") as stream, pytest.raises(StorageError) as raised:
            storage.put(BIG, stream, len(hashed), md5(hashed), {})
    finally:
        storage.close()

    assert raised.value.code == "BadDigest"
    stored = bucket.keys()
    assert BIG not in stored
    assert _pending(bucket) == []


# -- the run --------------------------------------------------------------------------------


def _big_app(tmp_path: Path, bucket: Bucket, size: int = 12 * MIB) -> tuple[Any, bytes]:
    data = os.urandom(size)
    config = s3_config(bucket, MULTIPART_THRESHOLD=5 * MIB, MULTIPART_CHUNKSIZE=5 * MIB)
    return make_app(tmp_path, config, {BIG: data, "static/site.css": "a{}"}), data


@pytest.mark.seaweedfs
def test_a_certain_upload_is_hashed_once_with_its_parts(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, data = _big_app(tmp_path, bucket)
    monkeypatch.setattr(s3multipart, "hashlib", NoHashing())

    report = publish(app)

    assert report.exit_code == 0, report.to_dict()
    assert counts(report)["uploaded"] == 2
    assert bucket.read(BIG) == data
    assert bucket.head(BIG)["Metadata"]["cloudcollect-md5"] == md5(data)


@pytest.mark.seaweedfs
def test_a_stored_file_of_the_same_size_is_not_hashed_by_parts(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, data = _big_app(tmp_path, bucket)
    assert publish(app).exit_code == 0
    os.utime(tmp_path / BIG)  # a fresh checkout: the hash cache misses

    def forbidden(*args: Any) -> Any:
        raise AssertionError("part digests computed for an upload that is not certain")

    monkeypatch.setattr(partdigests, "md5_with_parts", forbidden)
    again = publish(app)
    assert counts(again) == {"unchanged": 2}
    assert publish(app, dry_run=True, force=True).exit_code == 0  # a dry run uploads nothing


@pytest.mark.seaweedfs
def test_a_file_changed_after_it_was_hashed_is_refused_and_leaves_nothing(
    bucket: Bucket, tmp_path: Path
) -> None:
    app, data = _big_app(tmp_path, bucket)
    path = tmp_path / BIG

    def rewrite_keeping_size_and_mtime(plan: Plan) -> None:
        before = path.stat()
        changed = bytearray(data)
        changed[9 * MIB] ^= 0xFF
        path.write_bytes(changed)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    report = publish(app, on_plan=rewrite_keeping_size_and_mtime)

    assert report.exit_code == 1
    [failed] = report.with_status("failed")
    assert (failed.key, failed.error_code) == (BIG, "BadDigest")
    stored = bucket.keys()
    assert BIG not in stored
    assert _pending(bucket) == []


# -- when the hash stage computes the parts ----------------------------------------------


class _PartsStorage:
    """What the hash stage asks a storage: files over 10 bytes go in parts of 4."""

    def multipart_part_size(self, size: int) -> int | None:
        return 4 if size > 10 else None


def _file(key: str, size: int) -> LocalFile:
    return LocalFile(key, Path("/nonexistent") / key, size, 0, "app")


def _run(dry_run: bool = False, force: bool = False) -> Any:
    return SimpleNamespace(storage=_PartsStorage(), dry_run=dry_run, force=force)


def _listed(*objects: RemoteObject, listed: bool = True) -> Future[RemoteView]:
    done: Future[RemoteView] = Future()
    done.set_result(RemoteView({o.key: o for o in objects}, {}, {}, listed))
    return done


def test_parts_are_computed_only_for_a_certain_upload_of_a_multipart_file() -> None:
    stored = RemoteObject("static/same.bin", 20)
    wanted = _parts_wanted(_run(), _listed(stored))
    assert wanted(_file("static/new.bin", 20)) == 4  # not stored
    assert wanted(_file("static/same.bin", 21)) == 4  # stored with another size
    assert wanted(_file("static/same.bin", 20)) is None  # maybe unchanged: the MD5 decides
    assert wanted(_file("static/small.css", 10)) is None  # one PutObject
    assert _parts_wanted(_run(force=True), _listed(stored))(_file("static/same.bin", 20)) == 4
    assert _parts_wanted(_run(dry_run=True), _listed())(_file("static/new.bin", 20)) is None
    denied = _listed(listed=False)  # no list permission: what is stored is unknown
    assert _parts_wanted(_run(), denied)(_file("static/new.bin", 20)) is None
    failed: Future[RemoteView] = Future()
    failed.set_exception(StorageError("ListObjectsV2: AccessDenied", code="AccessDenied"))
    assert _parts_wanted(_run(), failed)(_file("static/new.bin", 20)) is None
    assert _parts_wanted(_run(), None)(_file("static/new.bin", 20)) is None


def test_a_listing_slower_than_the_wait_does_not_hold_hashing_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hashstage, "LISTING_WAIT", 0.05)
    slow: Future[RemoteView] = Future()
    stored = RemoteView({"static/same.bin": RemoteObject("static/same.bin", 20)}, {}, {})
    late = threading.Timer(3, slow.set_result, [stored])  # what waiting would have seen
    late.start()
    try:
        started = time.monotonic()
        assert _parts_wanted(_run(), slow)(_file("static/same.bin", 20)) == 4
        assert time.monotonic() - started < 2.5
    finally:
        late.cancel()
