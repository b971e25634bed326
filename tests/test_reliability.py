"""Never lose a release: the reliability scenario matrix (research/reliability-security.md,
d.3) against a real SeaweedFS, through the fault-injecting proxy (plain HTTP) and, where
the transport matters, directly over HTTPS.

After every scenario the d.2 invariants are checked: what should be there has identical
bytes, nothing outside the prefix changed (full bucket snapshot before/after), no
multipart upload is left behind, and an immediate re-run makes no write request.

Server kill (#15) is simulated with the proxy answering 502 BadGateway to every request
from the N-th on -- what a client sees from a gateway in front of a dead server; the
session's SeaweedFS is shared by every test and is not stopped.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.retries.standard import ExponentialBackoff
from flask import Flask

from cloudcollect import publish
from cloudcollect.cli import cloudcollect_command
from cloudcollect.report import FAILED, UPLOADED, Report
from cloudcollect.storage.s3multipart import PART_BUFFER
from tests.conftest import Bucket, admin_client
from tests.support.apps import APP_FILES, make_app, served_files
from tests.support.faultproxy import (
    Action,
    Fault,
    FaultProxy,
    delay,
    delete_errors,
    error,
    flip_byte,
    head_403_if_missing,
    long_answer,
    require_content_md5,
    reset_after_forward,
    reset_mid_body,
)
from tests.support.flaskcli import ROOT, flask_command
from tests.support.seaweed import ACCESS_KEY, REGION, SECRET_KEY

pytestmark = pytest.mark.seaweedfs

MiB = 1024 * 1024
PREFIX = "rel/"
#: Seeded around the prefix in every test: must never change.
OUTSIDE = {
    "rel2/x.css": b"sibling prefix",
    "relx": b"bare sibling",
    "other/app/keep.js": b"another app",
}
#: Seeded inside the prefix: an orphan that --delete may remove.
ORPHAN = PREFIX + "static/old.css"
WRITE_OPERATIONS = frozenset(
    {
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "DeleteObjects",
        "DeleteObject",
        "CopyObject",
        "CreateBucket",
    }
)


#: The transport of the running test (the ``s3_transport`` fixture sets it).
CURRENT = {"transport": "fast"}


@pytest.fixture(autouse=True, params=["fast", "botocore"])
def s3_transport(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every scenario runs on both transports (``CLOUDCOLLECT_TRANSPORT``)."""
    CURRENT["transport"] = request.param
    yield request.param
    CURRENT["transport"] = "fast"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without sleeping keep the suite quick (botocore's standard mode)."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


# --------------------------------------------------------------------------- helpers


def many_files(count: int) -> dict[str, bytes | str]:
    """The standard app tree plus ``count`` small files in the app's static folder."""
    extra: dict[str, bytes | str] = {
        f"static/many/f{i:03d}.txt": f"file {i}\n".encode() * (i + 1) for i in range(count)
    }
    return {**APP_FILES, **extra}


def expected_objects(root: Path, prefix: str = PREFIX) -> dict[str, bytes]:
    """Every key the app must publish (prefix included) and its bytes, from the disk."""
    keys = served_files(root)
    for path in sorted((root / "static/many").glob("*")) if (root / "static/many").is_dir() else []:
        keys[f"static/many/{path.name}"] = path.read_bytes()
    return {prefix + key: data for key, data in keys.items()}


def config(bucket: Bucket, endpoint: str, **extra: object) -> dict[str, object]:
    """The run's settings; ``PREFIX=None`` leaves the prefix unset (the bucket root)."""
    settings = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": endpoint,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": REGION,
        "CLOUDCOLLECT_PREFIX": PREFIX,
        "CLOUDCOLLECT_WORKERS": 4,
        "CLOUDCOLLECT_MAX_ATTEMPTS": 3,
        "CLOUDCOLLECT_TRANSPORT": CURRENT["transport"],
        **{f"CLOUDCOLLECT_{k}": v for k, v in extra.items()},
    }
    return {key: value for key, value in settings.items() if value is not None}


def proxied_app(
    tmp_path: Path,
    bucket: Bucket,
    proxy: FaultProxy,
    files: Mapping[str, bytes | str] | None = None,
    **extra: object,
) -> Flask:
    return make_app(tmp_path, config(bucket, proxy.url, **extra), files)


def seed(bucket: Bucket, objects: Mapping[str, bytes]) -> None:
    for key, data in objects.items():
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=data)


def snapshot(bucket: Bucket) -> dict[str, tuple[int, str]]:
    """Every object in the bucket: key -> (size, ETag)."""
    paginator = bucket.client.get_paginator("list_objects_v2")
    return {
        item["Key"]: (item["Size"], item["ETag"])
        for page in paginator.paginate(Bucket=bucket.name)
        for item in page.get("Contents", [])
    }


def published(bucket: Bucket) -> set[str]:
    """Every key in the bucket except cloudcollect's own state objects (``.cloudcollect-*``)."""
    keys = snapshot(bucket)
    return {key for key in keys if not key.rpartition("/")[2].startswith(".cloudcollect")}


def outside(snap: Mapping[str, tuple[int, str]], prefix: str = PREFIX) -> dict[str, Any]:
    return {key: value for key, value in snap.items() if not key.startswith(prefix)}


def multipart_uploads(bucket: Bucket) -> list[Any]:
    uploads: list[Any] = bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    return uploads


def writes(proxy: FaultProxy) -> list[str]:
    """The write operations in the proxy log, as "Operation key" strings."""
    return [
        f"{r.operation} {r.key or ','.join(r.delete_keys)}"
        for r in proxy.requests()
        if r.operation in WRITE_OPERATIONS
    ]


def puts(proxy: FaultProxy, status: int | None = None) -> list[str]:
    """Keys of logged PutObject requests (optionally only those answered ``status``), but
    not the release lease's (``.cloudcollect-lease.json``, written before the uploads)."""
    return [
        r.key or ""
        for r in proxy.requests("PutObject")
        if (status is None or r.status == status)
        and not (r.key or "").endswith("/.cloudcollect-lease.json")
    ]


def assert_stored(bucket: Bucket, objects: Mapping[str, bytes]) -> None:
    for key, data in objects.items():
        assert bucket.read(key) == data, key


def assert_invariants(
    app: Flask,
    bucket: Bucket,
    proxy: FaultProxy,
    before: Mapping[str, tuple[int, str]],
    present: Mapping[str, bytes],
    *,
    finish: bool = False,
) -> Report:
    """d.2: bytes identical, nothing outside the prefix changed, no multipart upload
    left; then (``finish``: after one completing run) an immediate re-run writes nothing."""
    assert outside(snapshot(bucket)) == outside(before)
    assert multipart_uploads(bucket) == []
    proxy.reset_faults()
    if finish:
        completed = publish(app)
        assert completed.exit_code == 0, completed.to_dict()
    assert_stored(bucket, present)
    proxy.clear()
    again = publish(app)
    assert again.exit_code == 0, again.to_dict()
    assert writes(proxy) == []
    assert again.counts()["uploaded"] == 0
    assert outside(snapshot(bucket)) == outside(before)
    assert multipart_uploads(bucket) == []
    return again


def failed(report: Report) -> dict[str, Any]:
    return {o.key: o for o in report.with_status(FAILED)}


@pytest.fixture
def seeded(bucket: Bucket) -> dict[str, tuple[int, str]]:
    """The bucket with objects around the prefix (and one orphan inside); its snapshot."""
    seed(bucket, {**OUTSIDE, ORPHAN: b"old"})
    return snapshot(bucket)


# --------------------------------------------------------------------------- 1, 20


@pytest.mark.parametrize("transport", ["http-proxy", "https"])
def test_01_fresh_upload_then_rerun_is_a_noop(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    transport: str,
) -> None:
    if transport == "https":
        server = bucket.server
        extra = {"CA_BUNDLE": str(server.ca_file), "DELETE": True}
        app = make_app(tmp_path, config(bucket, server.https_endpoint, **extra))
    else:
        app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=True)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    expected = expected_objects(tmp_path)
    assert {o.key for o in report.with_status(UPLOADED)} == set(expected)
    assert report.counts()["deleted"] == 1
    assert published(bucket) == set(expected) | set(OUTSIDE)
    for key in expected:
        assert "aws-chunked" not in bucket.head(key).get("ContentEncoding", "")
    if transport == "https":
        rerun = publish(app)
        assert rerun.exit_code == 0
        assert rerun.counts()["uploaded"] == 0 and rerun.counts()["deleted"] == 0
        assert_stored(bucket, expected)
        assert outside(snapshot(bucket)) == outside(seeded)
        assert multipart_uploads(bucket) == []
    else:
        assert_invariants(app, bucket, fault_proxy, seeded, expected)


def test_20_default_boto3_stores_aws_chunked_ours_does_not(tmp_path: Path, bucket: Bucket) -> None:
    server = bucket.server
    data = gzip.compress(b"body { color: red }\n" * 50, mtime=0)
    default = boto3.client(
        "s3",
        endpoint_url=server.https_endpoint,
        verify=str(server.ca_file),
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        with open(tmp_path / "body.gz", "wb+") as body:
            body.write(data)
            body.seek(0)
            default.put_object(
                Bucket=bucket.name, Key="default/site.css", Body=body, ContentEncoding="gzip"
            )
    finally:
        default.close()
    assert "aws-chunked" in bucket.head("default/site.css").get("ContentEncoding", "")

    rules = [["static/*.css", {"Content-Encoding": "gzip"}]]
    files = {**APP_FILES, "static/css/site.css": data}
    extra = {"CA_BUNDLE": str(server.ca_file), "HEADERS": rules}
    app = make_app(tmp_path / "app", config(bucket, server.https_endpoint, **extra), files)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    head = bucket.head(PREFIX + "static/css/site.css")
    assert head["ContentEncoding"] == "gzip"
    https = admin_client(server, https=True)
    try:
        got = https.get_object(Bucket=bucket.name, Key=PREFIX + "static/css/site.css")
        assert got["ContentEncoding"] == "gzip"
        assert got["Body"].read() == data
    finally:
        https.close()
    assert_stored(bucket, expected_objects(tmp_path / "app"))


# --------------------------------------------------------------------------- 2-6


def test_02_transient_503_twice_is_retried_and_reported(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    key = PREFIX + "static/css/site.css"
    fault_proxy.add(Fault("PutObject", key, error(503, "SlowDown"), times=2))
    app = proxied_app(tmp_path, bucket, fault_proxy)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert [r.status for r in fault_proxy.requests("PutObject") if r.key == key] == [503, 503, 200]
    outcome = {o.key: o for o in report.outcomes}[key]
    assert outcome.status == UPLOADED
    assert outcome.retries == 2
    assert report.counts()["retries"] == 2
    assert report.to_dict()["counts"]["retries"] == 2
    assert_invariants(app, bucket, fault_proxy, seeded, expected_objects(tmp_path))


def test_03_permanent_503_fails_one_key_uploads_the_rest_and_deletes_nothing(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    key = PREFIX + "static/js/site.js"
    fault_proxy.add(Fault("PutObject", key, error(503, "SlowDown"), times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=True)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert list(failed(report)) == [key]
    failure = failed(report)[key]
    assert failure.error_code == "SlowDown"
    assert failure.request_id and failure.request_id.startswith("FAULTPROXY")
    assert failure.retries == 2  # MAX_ATTEMPTS 3
    assert len(puts(fault_proxy, 503)) == 3
    expected = expected_objects(tmp_path)
    others = {k: v for k, v in expected.items() if k != key}
    assert_stored(bucket, others)
    assert key not in snapshot(bucket)
    assert ORPHAN in snapshot(bucket)  # deletion skipped
    assert not [w for w in writes(fault_proxy) if w.startswith("Delete")]
    assert report.deletion_skipped
    assert report.to_dict()["failures"][0]["request_id"] == failure.request_id
    again = assert_invariants(app, bucket, fault_proxy, seeded, expected, finish=True)
    assert ORPHAN not in snapshot(bucket)
    assert again.counts()["deleted"] == 0


def test_04_reset_mid_body_is_retried_bytes_identical(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    key = PREFIX + "static/img/logo.png"
    fault_proxy.add(Fault("PutObject", key, reset_mid_body()))
    app = proxied_app(tmp_path, bucket, fault_proxy)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert [r.fault for r in fault_proxy.requests("PutObject") if r.key == key] == [
        "reset_mid_body",
        None,
    ]
    assert {o.key: o for o in report.outcomes}[key].retries == 1
    assert_invariants(app, bucket, fault_proxy, seeded, expected_objects(tmp_path))


def big_file(size: int, seed_byte: int = 7) -> bytes:
    block = hashlib.sha256(bytes([seed_byte])).digest() * 2048  # 64 KiB, not compressible
    return (block * (size // len(block) + 1))[:size]


MULTIPART = {"MULTIPART_THRESHOLD": 5 * MiB, "MULTIPART_CHUNKSIZE": 5 * MiB}


@pytest.mark.parametrize("operation", ["PutObject", "CompleteMultipartUpload", "DeleteObjects"])
def test_05_response_lost_after_the_server_applied_it(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    operation: str,
) -> None:
    files = {**APP_FILES, "static/big.bin": big_file(6 * MiB)}
    target = {
        "PutObject": PREFIX + "static/css/site.css",
        "CompleteMultipartUpload": PREFIX + "static/big.bin",
        "DeleteObjects": ORPHAN,
    }[operation]
    fault_proxy.add(Fault(operation, target, reset_after_forward()))
    app = proxied_app(tmp_path, bucket, fault_proxy, files, DELETE=True, **MULTIPART)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    logged = [r for r in fault_proxy.requests(operation) if target in (r.key, *r.delete_keys)]
    assert [r.fault for r in logged] == ["reset_after_forward", None]
    assert logged[0].upstream_status == 200  # the server applied it; the answer was lost
    assert ORPHAN not in snapshot(bucket)
    big = big_file(6 * MiB)
    expected = {**expected_objects(tmp_path), PREFIX + "static/big.bin": big}
    assert bucket.head(PREFIX + "static/big.bin")["Metadata"]["cloudcollect-md5"] == (
        hashlib.md5(big).hexdigest()
    )
    assert_invariants(app, bucket, fault_proxy, seeded, expected)


def test_06_flipped_byte_is_refused_and_nothing_stored(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    key = PREFIX + "static/img/logo.png"
    fault_proxy.add(Fault("PutObject", key, flip_byte()))
    app = proxied_app(tmp_path, bucket, fault_proxy)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert failed(report)[key].error_code == "BadDigest"
    assert [r.upstream_status for r in fault_proxy.requests("PutObject") if r.key == key] == [400]
    assert key not in snapshot(bucket)
    expected = expected_objects(tmp_path)
    assert_stored(bucket, {k: v for k, v in expected.items() if k != key})
    assert_invariants(app, bucket, fault_proxy, seeded, expected, finish=True)


# --------------------------------------------------------------------------- 7-9


def run_cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(cloudcollect_command, list(args))


def summary_counts(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if re.match(r"uploaded \d+, ", line)]
    assert len(lines) == 1, stderr
    return lines[0]


def test_07_expired_token_from_request_n_stops_early_with_exit_3(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    files = many_files(40)
    expired = error(403, "ExpiredToken")
    fault_proxy.add(Fault("PutObject", PREFIX + "static/*", expired, times=None, after=3))
    app = proxied_app(tmp_path, bucket, fault_proxy, files, WORKERS=2, DELETE=True)
    result = run_cli(app, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    done = puts(fault_proxy, 200)
    assert len(done) == 3
    assert len(puts(fault_proxy)) <= 3 + 2 * 2  # stopped at once: only in-flight requests
    assert all(r.fault for r in fault_proxy.requests("PutObject") if r.status != 200)
    assert report["counts"]["uploaded"] == 3
    assert "ExpiredToken" in report["fatal"]
    planned = len(expected_objects(tmp_path))
    assert any(f"{planned - 3} of {planned}" in warning for warning in report["warnings"])
    assert "error: " in result.stderr and "ExpiredToken" in result.stderr
    assert summary_counts(result.stderr).startswith("uploaded 3, deleted 0,")
    assert ORPHAN in snapshot(bucket)
    assert not [w for w in writes(fault_proxy) if w.startswith("Delete")]
    assert_invariants(app, bucket, fault_proxy, seeded, expected_objects(tmp_path), finish=True)


def test_08_access_denied_on_every_put_aborts_after_a_few(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    files = many_files(60)
    fault_proxy.add(Fault("PutObject", None, error(403, "AccessDenied"), times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, files, WORKERS=4, DELETE=True)
    report = publish(app)
    assert report.exit_code == 3, report.to_dict()
    assert "AccessDenied" in str(report.fatal)
    # not one request per file (the first denied PUT may be the release lease's)
    assert 1 <= len(fault_proxy.requests("PutObject")) <= 2 * 4
    assert snapshot(bucket) == seeded
    assert not [w for w in writes(fault_proxy) if not w.startswith("PutObject")]
    assert_invariants(app, bucket, fault_proxy, seeded, expected_objects(tmp_path), finish=True)


def test_09_missing_bucket_exits_3_and_is_never_created(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    app = make_app(tmp_path, {**config(bucket, fault_proxy.url), "CLOUDCOLLECT_BUCKET": "gone-b"})
    result = run_cli(app)
    assert result.exit_code == 3, result.output
    assert "gone-b" in result.stderr and "not found" in result.stderr
    assert writes(fault_proxy) == []
    assert {r.operation for r in fault_proxy.requests()} == {"HeadBucket"}
    names = {b["Name"] for b in bucket.client.list_buckets()["Buckets"]}
    assert "gone-b" not in names


def test_09_an_endpoint_answering_without_end_exits_3_and_writes_nothing(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    s3_transport: str,
) -> None:
    """A listing page longer than any S3 store sends (16 MiB): read no further, exit 3."""
    if s3_transport == "botocore":
        pytest.skip("botocore reads every answer but an object's content whole (README)")
    sent: list[int] = []
    endless = long_answer(256 * MiB, declared=False, sent=sent)
    fault_proxy.add(Fault("ListObjectsV2", None, endless, times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=True)
    result = run_cli(app)
    assert result.exit_code == 3, result.output
    assert "ResponseTooLarge" in result.stderr and "longer than 16 MiB" in result.stderr
    assert "Traceback" not in result.output
    listings = fault_proxy.requests("ListObjectsV2")  # the prefix and the own keys
    assert sorted(r.query for r in listings) == sorted({r.query for r in listings})  # no retry
    assert len(listings) == 2
    assert writes(fault_proxy) == []
    assert snapshot(bucket) == seeded


# --------------------------------------------------------------------------- 10-14


@pytest.mark.parametrize("delete", [False, True])
def test_10_no_list_permission_uploads_everything_missing_and_never_deletes(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    delete: bool,
) -> None:
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=False)
    assert publish(app).exit_code == 0
    before = snapshot(bucket)
    fault_proxy.add(Fault("ListObjectsV2", None, error(403, "AccessDenied"), times=None))
    fault_proxy.add(Fault("HeadObject", None, head_403_if_missing(), times=None))
    fault_proxy.clear()
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=delete)
    (tmp_path / "static/new.css").write_text("new {}")
    (tmp_path / "static/css/site.css").write_text("changed {}")
    report = publish(app)
    assert report.exit_code == (4 if delete else 0), report.to_dict()
    assert sorted(puts(fault_proxy)) == [PREFIX + "static/css/site.css", PREFIX + "static/new.css"]
    heads = fault_proxy.requests("HeadObject")
    assert any(r.status == 403 and r.key == PREFIX + "static/new.css" for r in heads)
    assert any("list" in warning.lower() for warning in report.warnings)
    assert not [w for w in writes(fault_proxy) if w.startswith("Delete")]
    assert ORPHAN in snapshot(bucket)
    assert outside(snapshot(bucket)) == outside(before)
    assert_stored(bucket, expected_objects(tmp_path) | {PREFIX + "static/new.css": b"new {}"})
    # Still without list permission: a re-run writes nothing (HEAD finds our MD5).
    fault_proxy.clear()
    rerun = publish(app)
    assert rerun.exit_code == (4 if delete else 0)
    assert writes(fault_proxy) == []


@pytest.mark.parametrize(
    "action",
    [require_content_md5(), error(400, "MissingContentMD5"), error(501, "NotImplemented")],
    ids=["content-md5-required", "missing-content-md5", "not-implemented"],
)
def test_11_delete_objects_refused_falls_back(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    action: Action,
) -> None:
    fault_proxy.add(Fault("DeleteObjects", None, action, times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=True)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert [o.key for o in report.with_status("deleted")] == [ORPHAN]
    assert ORPHAN not in snapshot(bucket)
    batch = fault_proxy.requests("DeleteObjects")
    assert batch and all("content-md5" in r.headers for r in batch)
    single = [r.key for r in fault_proxy.requests("DeleteObject")]
    assert single == ([] if action.name == "require_content_md5" else [ORPHAN])
    assert_invariants(app, bucket, fault_proxy, seeded, expected_objects(tmp_path))


def test_12_delete_objects_200_with_errors_counts_failures(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    seed(bucket, {PREFIX + "static/older.css": b"older"})
    before = snapshot(bucket)
    fault_proxy.add(Fault("DeleteObjects", ORPHAN, delete_errors("AccessDenied")))
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=True)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert list(failed(report)) == [ORPHAN]
    assert failed(report)[ORPHAN].error_code == "AccessDenied"
    assert failed(report)[ORPHAN].action == "delete"
    assert [o.key for o in report.with_status("deleted")] == [PREFIX + "static/older.css"]
    assert_invariants(app, bucket, fault_proxy, before, expected_objects(tmp_path), finish=True)


def test_13_empty_static_folders_with_delete_refuse_to_delete(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    published_app = proxied_app(tmp_path / "full", bucket, fault_proxy)
    assert publish(published_app).exit_code == 0
    before = snapshot(bucket)
    for folder in ("static", "admin_static", "child_static"):
        (tmp_path / "empty" / folder).mkdir(parents=True)
    fault_proxy.clear()
    app = proxied_app(tmp_path / "empty", bucket, fault_proxy, files={}, DELETE=True)
    result = run_cli(app)
    assert result.exit_code == 4, result.output
    assert "refusing to delete" in result.stderr
    assert writes(fault_proxy) == []
    assert snapshot(bucket) == before


@pytest.mark.parametrize("prefix", ["static", ""])
def test_14_deletion_never_leaves_the_normalised_prefix(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    root = "static/" if prefix else ""
    neighbours = {
        "static2/a.css": b"2",
        "staticx": b"x",
        "static": b"bare",
        "staticfoo.css": b"f",
        "admin/other.css": b"a",
        "admin/staticx/a.css": b"a",
    }
    orphans = {f"{root}static/old.css": b"o", f"{root}admin/static/old.css": b"o"}
    seed(bucket, {**neighbours, **orphans})
    before = snapshot(bucket)
    app = proxied_app(tmp_path, bucket, fault_proxy, DELETE=True, PREFIX=prefix or None)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert sorted(o.key for o in report.with_status("deleted")) == sorted(orphans)
    deleted = {key for r in fault_proxy.requests("DeleteObjects") for key in r.delete_keys}
    assert deleted == set(orphans)
    after = snapshot(bucket)
    assert {key: after.get(key) for key in neighbours} == {key: before[key] for key in neighbours}
    expected = expected_objects(tmp_path, root)
    assert published(bucket) == set(neighbours) | set(expected)
    assert_stored(bucket, expected)
    fault_proxy.clear()
    assert publish(app).exit_code == 0
    assert writes(fault_proxy) == []


# --------------------------------------------------------------------------- 15-16


def test_15_server_gone_mid_run_then_a_rerun_uploads_only_the_rest(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    """The proxy answers 502 to every request from the 12th on (HeadBucket, the listings
    of the prefix and of the own keys, the lease's GET and PUT, then 6 PUTs get through):
    the server 'dies' mid-run, and 'comes back' for the re-run."""
    files = many_files(60)
    fault_proxy.add(Fault(None, None, error(502, "BadGateway"), times=None, after=11))
    app = proxied_app(tmp_path, bucket, fault_proxy, files, WORKERS=2, DELETE=True)
    report = publish(app)
    assert report.exit_code in (1, 3), report.to_dict()
    first = set(puts(fault_proxy, 200))
    assert len(first) == 6
    attempted = {key for key in puts(fault_proxy) if key in expected_objects(tmp_path)}
    planned = expected_objects(tmp_path)
    assert len(attempted) < len(planned) // 2, "kept going against a dead server"
    assert report.with_status(UPLOADED) and {o.key for o in report.with_status(UPLOADED)} == first
    assert ORPHAN in snapshot(bucket)
    assert not [w for w in writes(fault_proxy) if w.startswith("Delete")]
    fault_proxy.reset_faults()
    fault_proxy.clear()
    second = publish(app)
    assert second.exit_code == 0, second.to_dict()
    assert {key for key in puts(fault_proxy) if key in planned} == set(planned) - first
    assert_invariants(app, bucket, fault_proxy, seeded, planned)


SUBPROCESS_APP = """
import json, os
from pathlib import Path
from tests.support.apps import make_app
app = make_app(Path(os.environ["TEST_TREE"]), json.loads(os.environ["TEST_APP_CONFIG"]))
"""


def flask_subprocess(
    tmp_path: Path, tree: Path, args: list[str], app_config: Mapping[str, object], **popen: Any
) -> subprocess.Popen[str]:
    environ = {**os.environ, **popen.pop("env", {})}
    environ |= {"TEST_APP_CONFIG": json.dumps(app_config), "TEST_TREE": str(tree)}
    command, env = flask_command(tmp_path, "relapp", SUBPROCESS_APP, args, environ)
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout  # a hang guard only
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_16_signal_mid_run_stops_aborts_multipart_deletes_nothing(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    signum: signal.Signals,
) -> None:
    tree = tmp_path / "tree"
    # Over the 64 MiB of parts held at once (PART_BUFFER), with every part delayed: the
    # upload is still reading its file seconds after the signal, whatever the machine's load.
    big = big_file(PART_BUFFER + 67 * MiB)
    (tree / "admin_static").mkdir(parents=True)
    (tree / "admin_static/a-big.bin").write_bytes(big)
    fault_proxy.add(Fault("PutObject", None, delay(0.5), times=None))
    fault_proxy.add(Fault("UploadPart", None, delay(0.5), times=None))
    app_config = config(bucket, fault_proxy.url, WORKERS=2, DELETE=True, **MULTIPART)
    process = flask_subprocess(tmp_path, tree, ["-v"], app_config)
    try:
        wait_for(lambda: bool(fault_proxy.requests("CreateMultipartUpload")), "the first upload")
        wait_for(lambda: bool(fault_proxy.requests("PutObject")), "the first PUT")
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signum, stderr
    assert summary_counts(stderr)
    assert f"signal {int(signum)}" in stderr
    assert not [w for w in writes(fault_proxy) if w.startswith("Delete")]
    assert ORPHAN in snapshot(bucket)
    assert multipart_uploads(bucket) == []
    big_key = PREFIX + "admin/static/a-big.bin"
    assert fault_proxy.requests("AbortMultipartUpload"), writes(fault_proxy)
    assert not fault_proxy.requests("CompleteMultipartUpload")
    assert big_key not in snapshot(bucket)
    uploaded = set(puts(fault_proxy, 200))
    assert len(uploaded) < len(served_files(tree))
    app = make_app(tree, app_config)
    expected = {**expected_objects(tree), big_key: big}
    assert_invariants(app, bucket, fault_proxy, seeded, expected, finish=True)


# --------------------------------------------------------------------------- 17-19


def test_17_hostile_names_round_trip_or_fail_clearly(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    nfc = unicodedata.normalize("NFC", "café.css")
    nfd = unicodedata.normalize("NFD", "café.css")
    long_dir = "/".join(["d" * 200] * 5)  # 1 000+ bytes, every segment under 255
    good: dict[str, bytes | str] = {
        "static/n/a+b.css": "plus",
        "static/n/a b.css": "space",
        "static/n/a%20b.css": "percent",
        "static/n/a#b.css": "hash",
        "static/n/a?b.css": "question",
        f"static/n/{nfc}": "nfc",
        "static/n/日本語.css": "cjk",
        "static/n/zero.txt": b"",
        "static/n/x..y.css": "dots inside a name",
    }
    bad: dict[str, bytes | str] = {
        f"static/n/{long_dir}/long.css": "too long",
        "static/n/back\\slash.css": "backslash",
    }
    files = {**APP_FILES, **good, **bad, f"static/n2/{nfd}": "nfd"}
    app = proxied_app(tmp_path, bucket, fault_proxy, files, DELETE=True)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    failures = list(failed(report).values())
    assert len(failures) == len(bad)
    assert {o.error_code for o in failures} == {"InvalidKey"}
    messages = " ".join(o.message or "" for o in failures)
    assert "1024" in messages and "backslash" in messages
    expected = {
        PREFIX + unicodedata.normalize("NFC", key): data.encode() if isinstance(data, str) else data
        for key, data in good.items()
    }
    expected[PREFIX + f"static/n2/{nfc}"] = b"nfd"  # NFD on disk, NFC key
    expected |= expected_objects(tmp_path)
    assert published(bucket) == set(expected) | set(OUTSIDE) | {ORPHAN}  # no delete: failures
    assert not [w for w in writes(fault_proxy) if w.startswith("Delete")]
    listed = {key for key in snapshot(bucket) if "/n" in key}
    assert all(unicodedata.is_normalized("NFC", key) for key in listed)
    assert not any("\\" in key or len(key.encode()) > 1024 for key in snapshot(bucket))
    assert_stored(bucket, expected)  # round-trip: GET by key
    assert multipart_uploads(bucket) == []
    assert outside(snapshot(bucket)) == outside(seeded)
    fault_proxy.clear()
    again = publish(app)
    assert again.exit_code == 1 and len(failed(again)) == len(bad)
    assert writes(fault_proxy) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")
def test_18_symlinks_fifos_and_secrets_are_excluded(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    (tmp_path / "outside-secret.txt").write_text("SECRET")
    static = tmp_path / "static"
    static.mkdir()
    (static / "leak.txt").symlink_to(tmp_path / "outside-secret.txt")
    (static / "loop").mkdir()
    (static / "loop/self").symlink_to(static / "loop", target_is_directory=True)
    os.mkfifo(static / "pipe.css")
    (static / "inside.css").write_text("inside")
    (static / "alias.css").symlink_to(static / "inside.css")
    files = {
        **APP_FILES,
        "static/sub/.env": "X=1",
        "static/.git/HEAD": "ref",
        "static/server.pem": "KEY",
    }
    app = proxied_app(tmp_path, bucket, fault_proxy, files, DELETE=True)
    report = publish(app)  # a FIFO that was opened would hang here
    keys = published(bucket)
    for name in ("leak.txt", "pipe.css", "sub/.env", ".git/HEAD", "server.pem", "key.pem"):
        assert PREFIX + "static/" + name not in keys
    assert not any("/loop/" in key for key in keys)
    assert all(b"SECRET" not in bucket.read(key) for key in keys if key.startswith(PREFIX))
    assert bucket.read(PREFIX + "static/inside.css") == b"inside"
    assert bucket.read(PREFIX + "static/alias.css") == b"inside"
    assert report.excluded >= 6
    assert report.exit_code in (0, 1), report.to_dict()
    if report.exit_code == 1:  # a symlink loop may be reported as an error: never silent
        assert {o.error_code for o in failed(report).values()} <= {"InvalidKey"}
    assert outside(snapshot(bucket)) == outside(seeded)
    assert multipart_uploads(bucket) == []
    fault_proxy.clear()
    assert publish(app).exit_code == report.exit_code
    assert writes(fault_proxy) == []


UNREADABLE_APP = """
import json, os, sys
from pathlib import Path
from flask import Flask
from cloudcollect import CloudCollect, publish
root = Path(sys.argv[1])
app = Flask("unreadable", root_path=str(root), static_folder=str(root / "static"))
app.config.update(CLOUDCOLLECT_STORAGE="filesystem", CLOUDCOLLECT_ROOT=sys.argv[2])
CloudCollect(app)
report = publish(app)
print(json.dumps(report.to_dict()))
"""


def test_18_unreadable_file_fails_that_file_and_uploads_the_rest(tmp_path: Path) -> None:
    """EACCES for real. Root reads a chmod 000 file anyway (CAP_DAC_OVERRIDE), so as root
    the run is a subprocess whose capability bounding set lacks dac_override and
    dac_read_search (``setpriv``): the kernel then applies the mode bits to uid 0 too.
    (Running as ``nobody`` is not possible here: the interpreter lives under /root, 0700.)"""
    static = tmp_path / "tree/static"
    static.mkdir(parents=True)
    (static / "ok.css").write_text("ok")
    (static / "also.js").write_text("also")
    locked = static / "locked.css"
    locked.write_text("locked")
    locked.chmod(0o000)
    target = tmp_path / "out"
    target.mkdir()
    script = tmp_path / "run.py"
    script.write_text(UNREADABLE_APP)
    command = [sys.executable, str(script), str(tmp_path / "tree"), str(target)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    else:
        with contextlib.suppress(PermissionError):
            locked.read_bytes()
            pytest.skip("chmod 000 does not prevent reading here")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["exit_code"] == 1
    [failure] = report["failures"]
    assert failure["key"] == "static/locked.css"
    assert failure["error_code"] == "LocalReadError"
    assert "ermission denied" in failure["message"]
    assert (target / "static/ok.css").read_text() == "ok"
    assert (target / "static/also.js").read_text() == "also"
    assert not (target / "static/locked.css").exists()


def part(number: int, action: Action) -> Action:
    """``action``, only for UploadPart number ``number``."""
    return Action(
        f"{action.name} part {number}",
        action.run,
        applies=lambda ex: f"partNumber={number}" in ex.query.split("&"),
    )


def test_19_multipart_part_2_fails_permanently_upload_is_aborted(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, seeded: dict[str, tuple[int, str]]
) -> None:
    data = big_file(11 * MiB)
    key = PREFIX + "static/big.bin"
    files = {**APP_FILES, "static/big.bin": data}
    fault_proxy.add(Fault("UploadPart", key, part(2, error(500, "InternalError")), times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, files, DELETE=True, **MULTIPART)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert failed(report)[key].error_code == "InternalError"
    assert failed(report)[key].retries == 2
    assert fault_proxy.requests("AbortMultipartUpload")
    assert not fault_proxy.requests("CompleteMultipartUpload")
    assert multipart_uploads(bucket) == []
    assert key not in snapshot(bucket)
    assert ORPHAN in snapshot(bucket)
    expected = {**expected_objects(tmp_path), key: data}
    assert_invariants(app, bucket, fault_proxy, seeded, expected, finish=True)
    head = bucket.head(key)
    assert head["Metadata"]["cloudcollect-md5"] == hashlib.md5(data).hexdigest()
    assert head["ETag"].strip('"').endswith("-3")


# --------------------------------------------------------------------------- changing file


def rewrite_during(path: Path, new: bytes, inner: Action) -> Action:
    """Run ``inner`` (the upload reaches the server), then rewrite ``path`` before the
    client hears the answer."""

    def run(exchange: Any, fault: Fault) -> None:
        exchange.body()
        path.write_bytes(new)
        inner.run(exchange, fault)

    return Action(f"rewrite {path.name}", run)


@pytest.mark.parametrize("multipart", [False, True], ids=["put", "multipart"])
def test_file_changed_during_upload_is_never_stored_with_a_wrong_md5(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    seeded: dict[str, tuple[int, str]],
    multipart: bool,
) -> None:
    old = big_file(11 * MiB if multipart else 4096, 1)
    new = big_file(len(old), 2)  # same size: only the content check can tell
    key = PREFIX + "static/changing.bin"
    path = tmp_path / "static/changing.bin"
    operation = "UploadPart" if multipart else "PutObject"
    forward = delay(0.0)
    action = rewrite_during(path, new, part(1, forward) if multipart else forward)
    if multipart:
        action = Action(action.name, action.run, applies=part(1, forward).applies)
    fault_proxy.add(Fault(operation, key, action))
    extra = MULTIPART if multipart else {}
    files = {**APP_FILES, "static/changing.bin": old}
    app = proxied_app(tmp_path, bucket, fault_proxy, files, **extra)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert failed(report)[key].error_code in ("SourceChanged", "BadDigest")
    assert path.read_bytes() == new
    if key in snapshot(bucket):
        stored = bucket.read(key)
        assert hashlib.md5(stored).hexdigest() == bucket.head(key)["Metadata"]["cloudcollect-md5"]
    assert multipart_uploads(bucket) == []
    expected = {**expected_objects(tmp_path), key: new}
    assert_invariants(app, bucket, fault_proxy, seeded, expected, finish=True)


# --------------------------------------------------------------------------- secrets


def test_canary_secret_never_appears_anywhere(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    canary = f"CANARY{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", canary)
    caplog.set_level(logging.DEBUG)
    app = proxied_app(tmp_path, bucket, fault_proxy)
    texts: list[str] = []
    for args in (["-v"], ["--json"], ["-v", "--json"]):
        result = run_cli(app, *args)
        assert result.exit_code == 3, result.output
        texts += [result.stdout, result.stderr, repr(result.exception)]
    report = publish(app)
    assert report.exit_code == 3
    error = report.fatal
    while error is not None:
        texts += [str(error), repr(error), repr(error.args)]
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    texts.append(json.dumps(report.to_dict()))
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts.append(caplog.text)
    assert texts and all(canary not in text for text in texts)
    assert any("SignatureDoesNotMatch" in text or "403" in text for text in texts)
