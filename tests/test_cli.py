"""`flask cloudcollect`: in-process with the test CLI runner, and as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from cloudcollect.cli import cloudcollect_command
from cloudcollect.lease import LEASE_NAME
from cloudcollect.state import STATE_NAME
from tests.conftest import Bucket
from tests.support.apps import make_app, served_files
from tests.support.flaskcli import run_flask


def s3_args(bucket: Bucket) -> list[str]:
    return ["--bucket", bucket.name, "--endpoint-url", bucket.server.endpoint]


def s3_app(tmp_path: Path, **config: object) -> Flask:
    base = {"CLOUDCOLLECT_ADDRESSING_STYLE": "path", "CLOUDCOLLECT_REGION": "us-east-1"}
    return make_app(tmp_path, base | {f"CLOUDCOLLECT_{k}": v for k, v in config.items()})


@pytest.mark.seaweedfs
def test_json_report_then_nothing_to_do(tmp_path: Path, bucket: Bucket) -> None:
    app = s3_app(tmp_path)
    runner = app.test_cli_runner()
    first = runner.invoke(cloudcollect_command, [*s3_args(bucket), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["counts"]["uploaded"] == len(served_files(tmp_path))
    assert report["exit_code"] == 0
    assert bucket.keys() == set(served_files(tmp_path)) | {STATE_NAME, LEASE_NAME}
    second = runner.invoke(cloudcollect_command, [*s3_args(bucket), "--json"])
    assert json.loads(second.stdout)["counts"]["uploaded"] == 0
    assert "uploaded 0, deleted 0, unchanged 7" in second.stderr


@pytest.mark.seaweedfs
def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, bucket: Bucket) -> None:
    app = s3_app(tmp_path)
    result = app.test_cli_runner().invoke(cloudcollect_command, [*s3_args(bucket), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "upload  static/css/site.css  (new)" in result.stdout
    assert "dry run: would upload 7" in result.stderr
    assert bucket.keys() == set()


@pytest.mark.seaweedfs
def test_prefix_and_verbose_overrides(tmp_path: Path, bucket: Bucket) -> None:
    app = s3_app(tmp_path)
    args = [*s3_args(bucket), "--prefix", "release", "-v"]
    result = app.test_cli_runner().invoke(cloudcollect_command, args)
    assert result.exit_code == 0, result.output
    assert "uploaded  release/static/css/site.css  (new)" in result.stderr
    expected = {f"release/{key}" for key in served_files(tmp_path)}
    assert bucket.keys() == expected | {f"release/{STATE_NAME}", f"release/{LEASE_NAME}"}


def test_dry_run_summary_counts_the_planned_bytes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    args = ["--storage", "filesystem", "--root", str(tmp_path / "out"), "--dry-run"]
    result = app.test_cli_runner().invoke(cloudcollect_command, args)
    assert result.exit_code == 0, result.output
    planned = sum(len(data) for data in served_files(tmp_path).values())
    assert planned > 1024  # shown as KiB, one decimal
    summary = result.stderr.strip().splitlines()[-1]
    assert f"excluded 3, {planned / 1024:.1f} KiB, " in summary, summary
    report = app.test_cli_runner().invoke(cloudcollect_command, [*args, "--json"])
    assert json.loads(report.stdout)["bytes_planned"] == planned
    assert json.loads(report.stdout)["bytes_uploaded"] == 0
    assert not (tmp_path / "out").exists()


def test_bad_override_is_a_usage_error(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    result = app.test_cli_runner().invoke(cloudcollect_command, ["--prefix", "a/../b"])
    assert result.exit_code == 2
    assert "CLOUDCOLLECT_PREFIX" in result.output


def test_missing_bucket_setting_is_a_config_error(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    result = app.test_cli_runner().invoke(cloudcollect_command, [])
    assert result.exit_code == 2
    assert "CLOUDCOLLECT_BUCKET" in result.stderr


def test_subprocess_unknown_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = run_flask(tmp_path, [], {"CLOUDCOLLECT_BUKET": "x"})
    assert result.returncode == 2, result.stderr
    assert "CLOUDCOLLECT_BUKET" in result.stderr
    assert "CLOUDCOLLECT_BUCKET" in result.stderr  # the suggestion


def test_subprocess_wrong_type_exits_2(tmp_path: Path) -> None:
    result = run_flask(tmp_path, [], {"CLOUDCOLLECT_WORKERS": "many"})
    assert result.returncode == 2, result.stderr
    assert "CLOUDCOLLECT_WORKERS must be an int" in result.stderr


@pytest.mark.seaweedfs
def test_subprocess_missing_bucket_exits_3(tmp_path: Path, bucket: Bucket) -> None:
    config = {"CLOUDCOLLECT_ADDRESSING_STYLE": "path", "CLOUDCOLLECT_REGION": "us-east-1"}
    args = ["--bucket", "not-there-bucket", "--endpoint-url", bucket.server.endpoint]
    result = run_flask(tmp_path, args, config)
    assert result.returncode == 3, result.stderr
    assert "not-there-bucket" in result.stderr
    names = {b["Name"] for b in bucket.client.list_buckets()["Buckets"]}
    assert "not-there-bucket" not in names


@pytest.mark.seaweedfs
def test_subprocess_success_exits_0_and_prints_one_summary(tmp_path: Path, bucket: Bucket) -> None:
    config = {"CLOUDCOLLECT_ADDRESSING_STYLE": "path", "CLOUDCOLLECT_REGION": "us-east-1"}
    result = run_flask(tmp_path, s3_args(bucket), config)
    assert result.returncode == 0, result.stderr
    summary = [line for line in result.stderr.splitlines() if line.startswith("uploaded ")]
    assert len(summary) == 1
    assert summary[0].startswith("uploaded 7, deleted 0, unchanged 0, failed 0, excluded 3")
