"""`flask cloudcollect --check`: every kind of drift is reported, nothing is ever written."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from cloudcollect import MemoryStorage, publish
from cloudcollect.check import OUT_OF_SYNC, check
from cloudcollect.cli import cloudcollect_command
from cloudcollect.state import STATE_NAME
from cloudcollect.storage.memory import StoredObject
from tests.conftest import Bucket
from tests.support.apps import make_app

WRITES = {"put", "delete"}


def kinds(differences: list[dict[str, str]]) -> dict[str, str]:
    return {d["key"]: d["kind"] for d in differences}


def test_check_reports_each_kind_of_drift_and_writes_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_PREFIX": "site"})
    storage = MemoryStorage()
    assert publish(app, storage=storage).exit_code == 0
    assert check(app, storage=storage).exit_code == 0

    png_rule = [("**/*.png", {"Cache-Control": "no-cache"})]  # wanted headers drift
    app = make_app(tmp_path, {"CLOUDCOLLECT_PREFIX": "site", "CLOUDCOLLECT_HEADERS": png_rule})
    (tmp_path / "static/css/site.css").write_text("body { color: red; }\n")  # changed
    del storage.objects["site/static/js/site.js"]  # missing
    storage.objects["site/static/old.css"] = StoredObject(b"x", {}, hashlib.md5(b"x").hexdigest())
    storage.objects["other/untouched"] = StoredObject(b"y", {}, hashlib.md5(b"y").hexdigest())
    before = dict(storage.objects)
    storage.requests.clear()

    report = check(app, storage=storage)

    assert report.exit_code == OUT_OF_SYNC == 5
    assert kinds(report.differences()) == {
        "site/static/css/site.css": "changed",
        "site/static/js/site.js": "missing",
        "site/static/old.css": "extra",
        "site/static/img/logo.png": "headers",
    }
    assert not {op for op, _ in storage.requests} & WRITES
    assert storage.objects == before
    document = report.to_dict()
    assert document["check"] is True and document["in_sync"] is False
    assert document["exit_code"] == 5
    assert report.summary_line().startswith(
        "check: 4 differences (missing 1, changed 1, headers 1, extra 1)"
    )


def test_a_changed_header_rule_is_header_drift(tmp_path: Path) -> None:
    storage = MemoryStorage()
    publish(make_app(tmp_path), storage=storage)
    rules = [("static/css/*", {"Cache-Control": "public, max-age=31536000, immutable"})]
    app = make_app(tmp_path, {"CLOUDCOLLECT_HEADERS": rules})
    report = check(app, storage=storage)
    assert kinds(report.differences()) == {"static/css/site.css": "headers"}


def test_without_a_deletion_scope_extras_are_not_checked(tmp_path: Path) -> None:
    """A static folder at the URL root and no prefix: no scope, a warning, still a check."""
    from flask import Flask

    from cloudcollect import CloudCollect

    (tmp_path / "static").mkdir()
    (tmp_path / "static/a.css").write_text("a{}")
    app = Flask("rootapp", root_path=str(tmp_path), static_url_path="")
    CloudCollect(app)
    storage = MemoryStorage()
    storage.objects["stray"] = StoredObject(b"x", {}, hashlib.md5(b"x").hexdigest())
    report = check(app, storage=storage)
    assert kinds(report.differences()) == {"a.css": "missing"}
    assert report.exit_code == 5
    assert any("not checked" in warning for warning in report.warnings)


def test_check_conflicts_with_force_and_dry_run(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    for flag in ("--force", "--dry-run"):
        result = app.test_cli_runner().invoke(cloudcollect_command, ["--check", flag])
        assert result.exit_code == 2
        assert "--check" in result.output


# --- against the real SeaweedFS -------------------------------------------------------------


def snapshot(bucket: Bucket) -> dict[str, Any]:
    """Every object's ETag and modification time, and the state object's bytes."""
    paginator = bucket.client.get_paginator("list_objects_v2")
    objects = {
        item["Key"]: (item["ETag"], item["LastModified"], item["Size"])
        for page in paginator.paginate(Bucket=bucket.name)
        for item in page.get("Contents", [])
    }
    state = bucket.read(f"p/{STATE_NAME}") if f"p/{STATE_NAME}" in objects else None
    return {"objects": objects, "state": state}


@pytest.mark.seaweedfs
def test_cli_check_against_seaweedfs(tmp_path: Path, bucket: Bucket) -> None:
    config = {
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": "us-east-1",
        "CLOUDCOLLECT_PREFIX": "p",
    }
    args = ["--bucket", bucket.name, "--endpoint-url", bucket.server.endpoint]
    app = make_app(tmp_path, config)
    runner = app.test_cli_runner()

    empty = runner.invoke(cloudcollect_command, [*args, "--check", "--json"])
    assert empty.exit_code == 5, empty.output
    assert {d["kind"] for d in json.loads(empty.stdout)["differences"]} == {"missing"}
    assert bucket.keys() == set()

    assert runner.invoke(cloudcollect_command, args).exit_code == 0
    in_sync = runner.invoke(cloudcollect_command, [*args, "--check"])
    assert in_sync.exit_code == 0, in_sync.output
    assert "check: in sync" in in_sync.stderr

    png_rule = [("**/*.png", {"Cache-Control": "no-cache"})]
    runner = make_app(tmp_path, {**config, "CLOUDCOLLECT_HEADERS": png_rule}).test_cli_runner()
    (tmp_path / "static/css/site.css").write_text("body { color: blue; }\n")
    bucket.client.delete_object(Bucket=bucket.name, Key="p/static/js/site.js")
    bucket.client.put_object(Bucket=bucket.name, Key="p/static/stale.js", Body=b"old")
    before = snapshot(bucket)

    drift = runner.invoke(cloudcollect_command, [*args, "--check", "--json"])

    assert drift.exit_code == 5, drift.output
    assert kinds(json.loads(drift.stdout)["differences"]) == {
        "p/static/css/site.css": "changed",
        "p/static/js/site.js": "missing",
        "p/static/stale.js": "extra",
        "p/static/img/logo.png": "headers",
    }
    assert snapshot(bucket) == before
    text = runner.invoke(cloudcollect_command, [*args, "--check"])
    assert "extra    p/static/stale.js  (no local source)" in text.stdout

    assert runner.invoke(cloudcollect_command, [*args, "--delete"]).exit_code == 0
    assert runner.invoke(cloudcollect_command, [*args, "--check"]).exit_code == 0


def test_a_check_that_could_not_reach_the_storage_never_says_in_sync(tmp_path: Path) -> None:
    """A closed port on loopback: the check ends without comparing anything, so its
    summary must not claim the bucket is in sync (it did, while exiting non-zero)."""
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "CLOUDCOLLECT_BUCKET": "closed-port",
        "CLOUDCOLLECT_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "CLOUDCOLLECT_REGION": "us-east-1",
        "CLOUDCOLLECT_PREFIX": "p",
        "CLOUDCOLLECT_MAX_ATTEMPTS": 1,
        "CLOUDCOLLECT_CONNECT_TIMEOUT": 1,
    }
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret"}
    runner = make_app(tmp_path, config).test_cli_runner()

    result = runner.invoke(cloudcollect_command, ["--check"], env=env)
    as_json = runner.invoke(cloudcollect_command, ["--check", "--json"], env=env)

    assert result.exit_code not in (0, OUT_OF_SYNC), result.output
    assert "in sync" not in result.stderr
    assert "check: incomplete" in result.stderr
    document = json.loads(as_json.stdout)
    assert document["in_sync"] is False and document["exit_code"] == result.exit_code
