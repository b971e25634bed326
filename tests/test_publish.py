"""publish() end to end on real apps: MemoryStorage for the logic, SeaweedFS for the real thing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cloudcollect import MemoryStorage, publish
from cloudcollect.extension import app_settings
from cloudcollect.hashstage import SERIAL_HASH_MAX
from cloudcollect.lease import LEASE_NAME
from cloudcollect.report import Report
from cloudcollect.state import STATE_NAME
from cloudcollect.storage.memory import StoredObject
from tests.conftest import Bucket
from tests.support.apps import APP_FILES, make_app, served_files

MIB = 1024 * 1024


def counts(report: Report) -> dict[str, int]:
    return {k: v for k, v in report.counts().items() if v}


def s3_config(bucket: Bucket, **extra: object) -> dict[str, object]:
    return {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": "us-east-1",
        **{f"CLOUDCOLLECT_{k}": v for k, v in extra.items()},
    }


def test_publishes_exactly_what_flask_serves(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    report = publish(app, storage=storage)
    assert report.exit_code == 0, report.to_dict()
    expected = served_files(tmp_path)
    published = {k: v.data for k, v in storage.objects.items() if k not in (STATE_NAME, LEASE_NAME)}
    assert published == expected
    assert set(storage.objects) - set(expected) == {STATE_NAME, LEASE_NAME}
    client = app.test_client()
    for key, data in expected.items():
        response = client.get("/" + key)
        assert response.status_code == 200
        assert response.data == data
        response.close()
    assert storage.objects["static/css/site.css"].headers["Content-Type"] == (
        "text/css; charset=utf-8"
    )
    assert report.excluded >= 3  # .env, .git/config, key.pem


def test_files_on_both_sides_of_the_serial_hashing_size_are_hashed(tmp_path: Path) -> None:
    sizes = [0, 1, SERIAL_HASH_MAX - 1, SERIAL_HASH_MAX, SERIAL_HASH_MAX + 1, 3 * MIB]
    files = {f"static/f{size}.bin": os.urandom(size) for size in sizes}
    app = make_app(tmp_path, files=files)
    storage = MemoryStorage()
    first = publish(app, storage=storage)
    assert counts(first) == {"uploaded": len(sizes)}
    for key, data in files.items():
        stored = storage.objects[key]
        assert stored.data == data
        assert stored.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    (tmp_path / f"static/f{SERIAL_HASH_MAX}.bin").write_bytes(b"changed")
    (tmp_path / f"static/f{3 * MIB}.bin").write_bytes(b"changed too")
    assert counts(publish(app, storage=storage)) == {
        "uploaded": 2,
        "unchanged": len(sizes) - 2,
    }


def test_second_run_and_touched_mtimes_upload_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    assert counts(publish(app, storage=storage))["uploaded"] == 7
    assert counts(publish(app, storage=storage)) == {"unchanged": 7, "excluded": 3}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    puts_before = [r for r in storage.requests if r[0] == "put"]
    assert counts(publish(app, storage=storage)) == {"unchanged": 7, "excluded": 3}
    assert [r for r in storage.requests if r[0] == "put"] == puts_before


def test_same_size_edit_with_older_mtime_uploads_exactly_that_file(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    publish(app, storage=storage)
    css = tmp_path / "static/css/site.css"
    old = css.stat()
    css.write_text(css.read_text().replace("rgb(1, 2, 3)", "rgb(9, 8, 7)"))
    os.utime(css, ns=(old.st_atime_ns, old.st_mtime_ns - 10**10))
    assert css.stat().st_size == old.st_size
    report = publish(app, storage=storage)
    assert [(o.key, o.reason) for o in report.with_status("uploaded")] == [
        ("static/css/site.css", "content changed")
    ]
    assert storage.objects["static/css/site.css"].data == css.read_bytes()


def test_dry_run_makes_no_write_request(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_DELETE": True})
    storage = MemoryStorage()
    storage.objects["static/orphan.css"] = _stored(b"x")
    report = publish(app, storage=storage, dry_run=True)
    assert {op for op, _ in storage.requests} <= {"list", "head"}
    assert counts(report) == {"would_upload": 7, "would_delete": 1, "excluded": 3}
    assert set(storage.objects) == {"static/orphan.css"}


def test_delete_removes_orphans_under_the_prefix_only(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_PREFIX": "site", "CLOUDCOLLECT_DELETE": True})
    storage = MemoryStorage()
    for key in ("site/static/old.css", "site2/x", "sitex", "other/y"):
        storage.objects[key] = _stored(b"x")
    report = publish(app, storage=storage)
    assert report.exit_code == 0
    assert [o.key for o in report.with_status("deleted")] == ["site/static/old.css"]
    assert {"site2/x", "sitex", "other/y"} <= set(storage.objects)
    assert "site/static/css/site.css" in storage.objects


def test_delete_is_refused_when_the_source_set_is_empty(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_PREFIX": "site", "CLOUDCOLLECT_DELETE": True}, {})
    (tmp_path / "static").mkdir()
    (tmp_path / "admin_static").mkdir()
    (tmp_path / "child_static").mkdir()
    storage = MemoryStorage()
    storage.objects["site/static/a.css"] = _stored(b"x")
    report = publish(app, storage=storage)
    assert report.exit_code == 4
    assert "site/static/a.css" in storage.objects


def test_delete_is_refused_over_max_delete(tmp_path: Path) -> None:
    config = {"CLOUDCOLLECT_PREFIX": "s", "CLOUDCOLLECT_DELETE": True, "CLOUDCOLLECT_MAX_DELETE": 1}
    app = make_app(tmp_path, config)
    storage = MemoryStorage()
    storage.objects["s/static/1"] = storage.objects["s/static/2"] = _stored(b"x")
    report = publish(app, storage=storage)
    assert report.exit_code == 4
    assert {"s/static/1", "s/static/2"} <= set(storage.objects)
    assert len(report.with_status("uploaded")) == 7


def _stored(data: bytes) -> StoredObject:
    return StoredObject(data, {}, hashlib.md5(data).hexdigest())


# --- against the real SeaweedFS -------------------------------------------------------------


@pytest.mark.seaweedfs
def test_seaweedfs_round_trip_and_reruns(tmp_path: Path, bucket: Bucket) -> None:
    app = make_app(tmp_path, s3_config(bucket))
    first = publish(app)
    assert first.exit_code == 0, first.to_dict()
    expected = served_files(tmp_path)
    assert bucket.keys() == set(expected) | {STATE_NAME, LEASE_NAME}
    for key, data in expected.items():
        assert bucket.read(key) == data
    assert bucket.head("static/js/site.js")["ContentType"] == "text/javascript; charset=utf-8"
    assert bucket.head("static/img/logo.png")["ContentType"] == "image/png"
    assert bucket.head("static/css/site.css")["CacheControl"] == "public, max-age=3600"
    assert counts(publish(app)) == {"unchanged": 7, "excluded": 3}


@pytest.mark.seaweedfs
def test_seaweedfs_multipart_file_is_skipped_next_time(tmp_path: Path, bucket: Bucket) -> None:
    files = {"static/big.bin": os.urandom(20 * MIB)}
    config = s3_config(bucket, MULTIPART_THRESHOLD=8 * MIB, MULTIPART_CHUNKSIZE=5 * MIB)
    app = make_app(tmp_path, config, files)
    assert counts(publish(app))["uploaded"] == 1
    assert bucket.head("static/big.bin")["ETag"].strip('"').endswith("-4")
    assert bucket.read("static/big.bin") == files["static/big.bin"]
    again = publish(app)
    assert counts(again) == {"unchanged": 1}
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


@pytest.mark.seaweedfs
def test_seaweedfs_delete_keeps_siblings_of_the_prefix(tmp_path: Path, bucket: Bucket) -> None:
    for key in ("static/static/orphan.css", "static2/x", "staticx"):
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"x")
    app = make_app(tmp_path, s3_config(bucket, PREFIX="static", DELETE=True))
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert [o.key for o in report.with_status("deleted")] == ["static/static/orphan.css"]
    keys = bucket.keys()
    assert {"static2/x", "staticx"} <= keys
    assert "static/static/orphan.css" not in keys


@pytest.mark.seaweedfs
def test_seaweedfs_missing_bucket_is_fatal_and_creates_nothing(
    tmp_path: Path, bucket: Bucket
) -> None:
    config = s3_config(bucket)
    config["CLOUDCOLLECT_BUCKET"] = "no-such-bucket-here"
    report = publish(make_app(tmp_path, config))
    assert report.exit_code == 3
    assert "no-such-bucket-here" in str(report.fatal)
    names = {b["Name"] for b in bucket.client.list_buckets()["Buckets"]}
    assert "no-such-bucket-here" not in names


@pytest.mark.seaweedfs
def test_seaweedfs_bad_credentials_are_fatal_without_the_secret(
    tmp_path: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "CANARY-secret-0123456789abcdef"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", canary)
    app = make_app(tmp_path, s3_config(bucket))
    report = publish(app)
    assert report.exit_code == 3
    assert canary not in str(report.to_dict())
    assert bucket.keys() == set()
    assert app_settings(app).bucket == bucket.name


def test_missing_static_folder_is_a_warning_and_blocks_deletion(tmp_path: Path) -> None:
    files = {k: v for k, v in APP_FILES.items() if not k.startswith("admin_static/")}
    storage = MemoryStorage()
    report = publish(make_app(tmp_path / "a", files=files), storage=storage)
    assert report.exit_code == 0
    assert any("static folder missing: admin" in w for w in report.warnings), report.warnings
    assert "static/css/site.css" in storage.objects
    config = {"CLOUDCOLLECT_PREFIX": "p", "CLOUDCOLLECT_DELETE": True}
    storage.objects["p/static/orphan.css"] = _stored(b"x")
    refused = publish(make_app(tmp_path / "b", config, files), storage=storage)
    assert refused.exit_code == 4
    assert "admin" in str(refused.fatal)
    assert "p/static/orphan.css" in storage.objects


@pytest.mark.seaweedfs
def test_seaweedfs_missing_credentials_are_fatal(
    tmp_path: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    report = publish(make_app(tmp_path, s3_config(bucket)))
    assert report.exit_code == 3
    assert "credentials" in str(report.fatal).lower()
    assert bucket.keys() == set()


@pytest.mark.seaweedfs
def test_seaweedfs_example_app_bucket_holds_exactly_what_flask_serves(bucket: Bucket) -> None:
    from examples.exampleapp import create_app

    app = create_app(s3_config(bucket))
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    keys = bucket.keys() - {STATE_NAME, LEASE_NAME}
    folders = {
        "static/": Path(app.static_folder or ""),
        "admin/static/": Path(app.blueprints["admin"].static_folder or ""),
        "admin/reports/static/": Path(app.blueprints["admin.reports"].static_folder or ""),
        "bootstrap/static/": Path(app.blueprints["bootstrap"].static_folder or ""),
    }
    on_disk = {
        url + path.relative_to(folder).as_posix()
        for url, folder in folders.items()
        for path in folder.rglob("*")
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(folder).parts)
    }
    assert keys == on_disk
    assert any(key.startswith("bootstrap/static/") for key in keys)
    client = app.test_client()
    for key in sorted(keys):
        response = client.get("/" + key)
        assert response.status_code == 200, key
        assert bucket.read(key) == response.data, key
        response.close()
    assert bucket.head("static/css/site.css")["ContentType"] == "text/css; charset=utf-8"
    assert bucket.head("static/img/logo.svg")["ContentType"] == "image/svg+xml"
