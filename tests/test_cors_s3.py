"""Bucket CORS on SeaweedFS (4.48 implements GetBucketCors and PutBucketCors): both
transports (storage/s3cors.py), S3Storage's optional capability, ``flask cloudcollect
cors`` and ``--check``'s *cors* differences; a store that answers 501 through the fault
proxy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from cloudcollect.cli import cloudcollect_command
from cloudcollect.cors import RULE_ID, CorsRule, CorsUnsupported
from cloudcollect.errors import ConfigError
from cloudcollect.storage import s3cors
from cloudcollect.storage.opentransport import open_transport
from cloudcollect.storage.s3 import S3Storage
from tests.conftest import Bucket, s3_settings
from tests.support.apps import make_app
from tests.support.faultproxy import Fault, FaultProxy, error, require_content_md5

APP = "http://127.0.0.1:5000"
THEIRS = {
    "ID": "theirs",
    "AllowedOrigins": ["https://other.example"],
    "AllowedMethods": ["PUT", "GET"],
    "AllowedHeaders": ["x-amz-*"],
    "ExposeHeaders": ["ETag"],
    "MaxAgeSeconds": 600,
}


def bucket_rules(bucket: Bucket) -> list[dict[str, Any]]:
    """The bucket's CORS rules as another client (boto3) reads them."""
    rules: list[dict[str, Any]] = bucket.client.get_bucket_cors(Bucket=bucket.name)["CORSRules"]
    return rules


def app_for(bucket: Bucket, root: Path, endpoint: str | None = None, **config: Any) -> Flask:
    return make_app(
        root,
        {
            "CLOUDCOLLECT_BUCKET": bucket.name,
            "CLOUDCOLLECT_ENDPOINT_URL": endpoint or bucket.server.endpoint,
            "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
            "CLOUDCOLLECT_REGION": "us-east-1",
            "CLOUDCOLLECT_CORS_ORIGINS": [APP],
            **config,
        },
    )


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cloudcollect_command, list(args))


@pytest.mark.parametrize("kind", ["fast", "botocore"])
def test_rules_round_trip_with_a_content_md5_on_both_transports(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    fault_proxy.add(Fault("PutBucketCors", None, require_content_md5(), times=None))
    transport = open_transport(s3_settings(bucket, endpoint_url=fault_proxy.url), kind)
    rules = [
        CorsRule(("https://a.example", "https://*.b.example"), ("GET", "HEAD"), (), (), 5, RULE_ID),
        CorsRule(("*",), ("GET",), ("Authorization",), ("ETag", "x-amz-meta-a&b"), 30),
    ]
    try:
        assert s3cors.read(transport, "here") == []  # NoSuchCORSConfiguration
        s3cors.write(transport, rules, "here")
        assert s3cors.read(transport, "here") == rules
    finally:
        transport.close()
    assert [r.status for r in fault_proxy.requests("PutBucketCors")] == [200]


def test_s3_storage_reads_and_writes_the_rules(bucket: Bucket) -> None:
    storage = S3Storage.from_settings(s3_settings(bucket))
    try:
        assert storage.bucket_cors() == []
        storage.put_bucket_cors([CorsRule((APP,), ("GET",), max_age_seconds=1, id="one")])
        assert bucket_rules(bucket) == [
            {"ID": "one", "AllowedOrigins": [APP], "AllowedMethods": ["GET"], "MaxAgeSeconds": 1}
        ]
        assert storage.bucket_cors() == [CorsRule((APP,), ("GET",), max_age_seconds=1, id="one")]
    finally:
        storage.close()


def test_cors_command_adds_our_rule_and_keeps_theirs_once(bucket: Bucket, tmp_path: Path) -> None:
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": [THEIRS]})
    app = app_for(bucket, tmp_path)

    first = invoke(app, "cors")

    assert first.exit_code == 0, first.stderr
    ours = {
        "ID": RULE_ID,
        "AllowedOrigins": [APP],
        "AllowedMethods": ["GET", "HEAD"],
        "MaxAgeSeconds": 3600,
    }
    assert bucket_rules(bucket) == [THEIRS, ours]
    assert json.loads(first.stdout)["CORSRules"] == [THEIRS, ours]
    assert "written; 1 other rules kept" in first.stderr
    assert "Origin" in first.stderr and "CloudFront" in first.stderr  # the CDN settings

    second = invoke(app, "cors")

    assert second.exit_code == 0, second.stderr
    assert "nothing written" in second.stderr
    assert bucket_rules(bucket) == [THEIRS, ours]


def test_cors_dry_run_prints_the_merge_and_writes_nothing(
    bucket: Bucket, tmp_path: Path, fault_proxy: FaultProxy
) -> None:
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": [THEIRS]})
    app = app_for(bucket, tmp_path, fault_proxy.url)

    result = invoke(app, "cors", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert [rule["ID"] for rule in json.loads(result.stdout)["CORSRules"]] == ["theirs", RULE_ID]
    assert "dry run" in result.stderr
    assert fault_proxy.writes() == []
    assert bucket_rules(bucket) == [THEIRS]


def test_publishing_never_touches_the_bucket_cors(
    bucket: Bucket, tmp_path: Path, fault_proxy: FaultProxy
) -> None:
    app = app_for(bucket, tmp_path, fault_proxy.url)

    assert invoke(app).exit_code == 0
    assert invoke(app, "--check").exit_code == 5  # reads it: no rule yet

    assert fault_proxy.requests("PutBucketCors") == []


def test_check_reports_the_origin_until_the_cors_command_ran(
    bucket: Bucket, tmp_path: Path
) -> None:
    app = app_for(bucket, tmp_path)
    assert invoke(app).exit_code == 0

    before = invoke(app, "--check", "--json")

    assert before.exit_code == 5, before.stderr
    differences = json.loads(before.stdout)["differences"]
    assert [(d["kind"], d["key"]) for d in differences] == [("cors", APP)]
    assert invoke(app, "cors").exit_code == 0
    after = invoke(app, "--check")
    assert after.exit_code == 0, after.stdout + after.stderr


def test_a_store_without_bucket_cors_is_exit_3_and_a_check_warning(
    bucket: Bucket, tmp_path: Path, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("GetBucketCors", None, error(501, "NotImplemented"), times=None))
    app = app_for(bucket, tmp_path, fault_proxy.url)
    assert invoke(app).exit_code == 0

    command = invoke(app, "cors")
    checked = invoke(app, "--check")

    assert command.exit_code == CorsUnsupported.exit_code == 3
    assert "does not support bucket CORS" in command.stderr
    assert checked.exit_code == 0, checked.stderr
    assert "warning: fonts and module scripts not checked" in checked.stderr
    assert "does not support bucket CORS" in checked.stderr
    assert fault_proxy.requests("PutBucketCors") == []


def test_a_configuration_over_100_rules_is_exit_2_and_nothing_is_written(
    bucket: Bucket, tmp_path: Path, fault_proxy: FaultProxy
) -> None:
    theirs = [{**THEIRS, "ID": f"theirs-{n}"} for n in range(100)]  # S3's limit: 100 rules
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": theirs})
    app = app_for(bucket, tmp_path, fault_proxy.url)

    for args in (["cors", "--dry-run"], ["cors"]):
        result = invoke(app, *args)

        assert result.exit_code == 2, result.output
        assert "CLOUDCOLLECT_CORS_ORIGINS" in result.stderr
        assert "101 rules, over S3's limit of 100 rules: nothing written" in result.stderr
    assert fault_proxy.requests("PutBucketCors") == []
    assert bucket_rules(bucket) == theirs


def test_the_storage_checks_the_limits_before_sending(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    storage = S3Storage.from_settings(s3_settings(bucket, endpoint_url=fault_proxy.url))
    rule = CorsRule((APP,), ("GET",))
    try:
        with pytest.raises(ConfigError, match="101 rules, over S3's limit of 100"):
            storage.put_bucket_cors([rule] * 101)
        with pytest.raises(ConfigError, match="over S3's limit of 65,536 bytes"):
            storage.put_bucket_cors([CorsRule((APP,) * 2000, ("GET",))])
        storage.put_bucket_cors([rule] * 100)
    finally:
        storage.close()
    assert len(fault_proxy.requests("PutBucketCors")) == 1
    assert len(bucket_rules(bucket)) == 100


@pytest.mark.parametrize("kind", ["fast", "botocore"])
def test_a_configuration_over_64_kb_is_exit_2_and_nothing_is_written(
    bucket: Bucket, tmp_path: Path, fault_proxy: FaultProxy, kind: str
) -> None:
    # 1,000 origins of 73 bytes of XML each: one rule of 73,233 bytes.
    origins = [f"https://tenant-{n:05d}.customers.example.com" for n in range(1000)]
    app = app_for(
        bucket,
        tmp_path,
        fault_proxy.url,
        CLOUDCOLLECT_CORS_ORIGINS=origins,
        CLOUDCOLLECT_TRANSPORT=kind,
    )

    result = invoke(app, "cors")

    assert result.exit_code == 2, result.output
    assert "CLOUDCOLLECT_CORS_ORIGINS" in result.stderr
    assert "over S3's limit of 65,536 bytes (64 KB): nothing written" in result.stderr
    assert fault_proxy.requests("PutBucketCors") == []
    with pytest.raises(bucket.client.exceptions.ClientError, match="NoSuchCORSConfiguration"):
        bucket.client.get_bucket_cors(Bucket=bucket.name)
    fits = origins[:890]  # 65,203 bytes: under the limit, written
    app = app_for(bucket, tmp_path / "fits", CLOUDCOLLECT_CORS_ORIGINS=fits)
    assert invoke(app, "cors").exit_code == 0
    assert bucket_rules(bucket)[0]["AllowedOrigins"] == fits


def test_cors_without_origins_is_a_usage_error(bucket: Bucket, tmp_path: Path) -> None:
    app = app_for(bucket, tmp_path, CLOUDCOLLECT_CORS_ORIGINS=[])

    result = invoke(app, "cors")

    assert result.exit_code == 2
    assert "CLOUDCOLLECT_CORS_ORIGINS is not set" in result.stderr
