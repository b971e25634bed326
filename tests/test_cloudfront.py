"""CloudFront invalidation after a sync: request shape only, against moto (mock_aws)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import boto3
import pytest
from moto import mock_aws

from cloudcollect import MemoryStorage, StorageError, publish
from cloudcollect.check import check
from cloudcollect.config import settings_from_config
from cloudcollect.report import DELETED, UPLOADED, Outcome, Report
from cloudcollect.storage.cloudfront import MAX_PATHS, changed_keys, invalidation_paths
from tests.support.apps import make_app


@pytest.fixture
def cloudfront(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """A moto CloudFront with one distribution: (client, distribution id)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("cloudfront")
        origin = {"Id": "assets", "DomainName": "assets.s3.amazonaws.com"}
        distribution = client.create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Comment": "",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [{**origin, "S3OriginConfig": {"OriginAccessIdentity": ""}}],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "assets",
                    "ViewerProtocolPolicy": "allow-all",
                    "MinTTL": 0,
                    "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                    "TrustedSigners": {"Enabled": False, "Quantity": 0},
                },
            }
        )
        yield client, distribution["Distribution"]["Id"]


def invalidated_paths(client: Any, distribution: str) -> list[list[str]]:
    summaries = client.list_invalidations(DistributionId=distribution)["InvalidationList"]
    return [
        client.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"][
            "InvalidationBatch"
        ]["Paths"].get("Items", [])
        for item in summaries.get("Items", [])
    ]


def test_paths_are_url_paths_on_the_distribution() -> None:
    settings = settings_from_config({"CLOUDCOLLECT_BASE_URL": "https://cdn.example.com/assets/"})
    keys = ["v1/static/a b+c.css", "v1/static/café.js"]
    assert invalidation_paths(keys, settings) == [
        "/assets/v1/static/a%20b%2Bc.css",
        "/assets/v1/static/caf%C3%A9.js",
    ]
    assert invalidation_paths(["static/x.css"], settings_from_config({})) == ["/static/x.css"]


def test_too_many_paths_become_one_wildcard() -> None:
    settings = settings_from_config({"CLOUDCOLLECT_PREFIX": "site"})
    keys = [f"site/static/{n}.css" for n in range(MAX_PATHS + 1)]
    assert invalidation_paths(keys, settings) == ["/site/*"]
    assert len(invalidation_paths(keys[:MAX_PATHS], settings)) == MAX_PATHS


def test_only_replaced_and_deleted_keys_are_invalidated() -> None:
    report = Report()
    report.add(Outcome("new.css", "upload", UPLOADED, "new"))
    report.add(Outcome("changed.css", "upload", UPLOADED, "content changed"))
    report.add(Outcome("gone.css", "delete", DELETED, "no local source"))
    report.add(Outcome("same.css", "skip", "unchanged", "unchanged"))
    assert changed_keys(report) == ["changed.css", "gone.css"]


def test_one_invalidation_after_a_sync_with_its_id_in_the_report(
    tmp_path: Path, cloudfront: tuple[Any, str]
) -> None:
    client, distribution = cloudfront
    config = {
        "CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID": distribution,
        "CLOUDCOLLECT_PREFIX": "p",
        "CLOUDCOLLECT_DELETE": True,
    }
    app = make_app(tmp_path, config)
    storage = MemoryStorage()
    first = publish(app, storage=storage)  # everything new: nothing to invalidate
    assert first.exit_code == 0 and first.invalidations == []
    assert invalidated_paths(client, distribution) == []

    (tmp_path / "static/css/site.css").write_text("body { color: teal; }\n")
    (tmp_path / "static/a b+c.css").unlink()
    assert check(app, storage=storage).exit_code == 5  # a check never invalidates
    assert publish(app, storage=storage, dry_run=True).invalidations == []
    assert invalidated_paths(client, distribution) == []

    second = publish(app, storage=storage)
    assert second.exit_code == 0, second.to_dict()
    [invalidation] = second.invalidations
    assert invalidation["paths"] == 2
    assert invalidated_paths(client, distribution) == [
        ["/p/static/a%20b%2Bc.css", "/p/static/css/site.css"]
    ]
    assert json.loads(json.dumps(second.to_dict()))["invalidations"] == [invalidation]
    listed = client.list_invalidations(DistributionId=distribution)["InvalidationList"]
    assert [item["Id"] for item in listed["Items"]] == [invalidation["id"]]


class RefusingStorage(MemoryStorage):
    """Refuses every upload of one key, as a store would after its retries."""

    def put(self, key: str, file: BinaryIO, size: int, md5: str, headers: Any) -> str:
        if key.endswith("site.js"):
            raise StorageError(f"PutObject {key!r}: InternalError", key=key, code="InternalError")
        return super().put(key, file, size, md5, headers)


def test_no_invalidation_after_a_failed_upload(tmp_path: Path, cloudfront: tuple[Any, str]) -> None:
    client, distribution = cloudfront
    app = make_app(tmp_path, {"CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID": distribution})
    storage = RefusingStorage()
    publish(app, storage=storage)
    (tmp_path / "static/css/site.css").write_text("body { color: olive; }\n")
    report = publish(app, storage=storage)
    assert report.exit_code == 1
    assert [o.key for o in report.with_status(UPLOADED)] == ["static/css/site.css"]
    assert report.invalidations == []
    assert invalidated_paths(client, distribution) == []


def test_a_failed_invalidation_is_exit_1_and_the_uploads_stay_done(
    tmp_path: Path, cloudfront: tuple[Any, str]
) -> None:
    """README, *CDN invalidation*: reported like any storage error; the uploads stay done."""
    report = _second_release_uploads_a_change(tmp_path, "ENOSUCHDIST1")
    assert report.exit_code == 1, report.to_dict()
    assert "NoSuchDistribution" in str(report.fatal)


def test_credentials_the_cloudfront_client_cannot_load_are_exit_3_and_the_uploads_stay_done(
    tmp_path: Path, cloudfront: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore loads the credentials as it makes the client: a key id without its
    secret is a StorageError in the Report, not an exception out of ``publish``."""
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    report = _second_release_uploads_a_change(tmp_path, cloudfront[1])
    assert report.exit_code == 3, report.to_dict()
    assert "PartialCredentialsError" in str(report.fatal)
    assert invalidated_paths(*cloudfront) == []


def test_a_credential_provider_failing_with_pythons_own_error_is_exit_3_too(
    tmp_path: Path, cloudfront: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Container credentials on a host botocore refuses: a ValueError, not a botocore
    error, as the client is made."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.invalid/creds")
    report = _second_release_uploads_a_change(tmp_path, cloudfront[1])
    assert report.exit_code == 3, report.to_dict()
    assert "credentials could not be loaded (ValueError)" in str(report.fatal)
    assert invalidated_paths(*cloudfront) == []


def _second_release_uploads_a_change(tmp_path: Path, distribution: str) -> Report:
    """Publish an app with ``distribution`` set, change one file, publish again: the
    second run's Report, after checking that the changed file was uploaded and stored."""
    app = make_app(tmp_path, {"CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID": distribution})
    storage = MemoryStorage()
    publish(app, storage=storage)
    (tmp_path / "static/css/site.css").write_text("body { color: navy; }\n")
    report = publish(app, storage=storage)
    assert [o.key for o in report.with_status(UPLOADED)] == ["static/css/site.css"]
    assert storage.objects["static/css/site.css"].data == b"body { color: navy; }\n"
    return report


def test_an_invalidation_refused_with_access_denied_is_exit_3_and_the_uploads_stay_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README, *CDN invalidation*: "exit 1, or 3 when the credentials are refused". moto
    does not enforce IAM, so botocore's Stubber answers CreateInvalidation as CloudFront
    does for a user without cloudfront:CreateInvalidation."""
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    make_client: Any = boto3.session.Session.client
    stubbers: list[Stubber] = []

    def refusing_client(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        client = make_client(self, name, *args, **kwargs)
        stubber = Stubber(client)
        stubber.add_client_error(
            "create_invalidation",
            service_error_code="AccessDenied",
            service_message="User is not authorized to perform: cloudfront:CreateInvalidation",
            http_status_code=403,
        )
        stubber.activate()
        stubbers.append(stubber)
        return client

    monkeypatch.setattr(boto3.session.Session, "client", refusing_client)
    report = _second_release_uploads_a_change(tmp_path, "E2EXAMPLE")

    assert report.exit_code == 3, report.to_dict()
    assert "AccessDenied" in str(report.fatal)
    assert len(stubbers) == 1
    stubbers[0].assert_no_pending_responses()
