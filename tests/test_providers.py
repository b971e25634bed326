"""Provider presets: each one's transport and endpoint, explicit settings winning,
conflicts refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudcollect import ConfigError, publish, settings_from_config
from cloudcollect.providers import PRESETS, with_no_transform
from cloudcollect.storage.awsenv import Endpoint
from cloudcollect.storage.botocoretransport import BotocoreTransport
from cloudcollect.storage.fasttransport import FastTransport
from cloudcollect.storage.s3 import S3Storage
from tests.conftest import Bucket
from tests.support.apps import make_app

ENDPOINT = "https://store.example.com"

#: provider -> (addressing style, region, list version) the README documents.
DOCUMENTED = {
    "aws": ("auto", None, 2),
    "minio": ("path", "us-east-1", 2),
    "r2": ("path", "auto", 2),
    "seaweedfs": ("path", "us-east-1", 2),
    "ceph": ("path", "us-east-1", 2),
    "gcs": ("path", "auto", 1),
    "other": ("auto", None, 2),
}


def storage_for(**config: Any) -> S3Storage:
    settings = settings_from_config(
        {"CLOUDCOLLECT_BUCKET": "assets", **{f"CLOUDCOLLECT_{k}": v for k, v in config.items()}}
    )
    return S3Storage.from_settings(settings)


def fast_endpoint(storage: S3Storage) -> Endpoint:
    """Where the fast transport sends (the storage must have chosen it)."""
    assert isinstance(storage.transport, FastTransport)
    return storage.transport.endpoint


def botocore_meta(storage: S3Storage) -> Any:
    """botocore's client's public ``meta`` (the storage must have chosen that transport)."""
    assert isinstance(storage.transport, BotocoreTransport)
    return storage.transport.client.meta


def test_every_provider_is_documented() -> None:
    assert set(PRESETS) == set(DOCUMENTED)


@pytest.mark.parametrize("provider", sorted(DOCUMENTED))
def test_preset_client_settings(provider: str) -> None:
    style, region, list_version = DOCUMENTED[provider]
    endpoint = None if provider == "aws" else ENDPOINT
    storage = storage_for(PROVIDER=provider, ENDPOINT_URL=endpoint)
    assert storage.settings.list_version == list_version
    if provider == "aws":
        # no region: botocore's client finds the bucket's region
        meta = botocore_meta(storage)
        assert meta.config.request_checksum_calculation == "when_required"
        assert meta.config.response_checksum_validation == "when_required"
        assert meta.endpoint_url.startswith("https://s3.")
        assert meta.region_name == "us-east-1"  # botocore's own default on AWS
    else:
        # "auto" with an endpoint means path style, as before presets existed
        assert storage.settings.addressing_style == style
        target = fast_endpoint(storage)
        assert (target.base, target.virtual) == (ENDPOINT, False)
        assert target.region == (region or "us-east-1")


def test_other_without_endpoint_keeps_the_aws_default_chain() -> None:
    storage = storage_for(REGION="eu-west-1")
    assert storage.settings.provider == "other"
    target = fast_endpoint(storage)
    assert target.url("k") == "https://assets.s3.eu-west-1.amazonaws.com/k"
    assert target.region == "eu-west-1"


def test_explicit_settings_win_over_the_preset() -> None:
    storage = storage_for(
        PROVIDER="r2",
        ENDPOINT_URL=ENDPOINT,
        REGION="eu",
        ADDRESSING_STYLE="virtual",
        LIST_VERSION=1,
    )
    target = fast_endpoint(storage)
    assert (target.region, target.virtual) == ("eu", True)
    assert storage.settings.list_version == 1


def test_when_supported_checksums_only_on_aws() -> None:
    storage = storage_for(PROVIDER="aws", REGION="eu-west-1", CHECKSUM_POLICY="when_supported")
    assert botocore_meta(storage).config.request_checksum_calculation == "when_supported"
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_CHECKSUM_POLICY"):
        storage_for(PROVIDER="minio", CHECKSUM_POLICY="when_supported")
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_CHECKSUM_POLICY"):
        storage_for(CHECKSUM_POLICY="sometimes")


def test_an_acl_on_r2_is_a_config_error_at_init_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_ACL") as raised:
        make_app(tmp_path, {"CLOUDCOLLECT_PROVIDER": "r2", "CLOUDCOLLECT_ACL": "public-read"})
    assert raised.value.key == "CLOUDCOLLECT_ACL"
    storage_for(PROVIDER="minio", ACL="public-read")  # stores with ACLs accept it


def test_unknown_provider_and_list_version_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_PROVIDER must be one of aws"):
        storage_for(PROVIDER="azure")
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_LIST_VERSION"):
        storage_for(LIST_VERSION=3)


def test_no_transform_is_added_once() -> None:
    assert with_no_transform(None) == "no-transform"
    assert with_no_transform("public, max-age=60") == "public, max-age=60, no-transform"
    assert with_no_transform("No-Transform, public") == "No-Transform, public"


@pytest.mark.seaweedfs
def test_list_objects_v1_against_seaweedfs(tmp_path: Path, bucket: Bucket) -> None:
    config = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_PROVIDER": "seaweedfs",
        "CLOUDCOLLECT_LIST_VERSION": 1,
        "CLOUDCOLLECT_PREFIX": "v1",
    }
    app = make_app(tmp_path, config)
    settings = settings_from_config(config)
    assert publish(app).exit_code == 0
    storage = S3Storage.from_settings(settings)
    report = publish(app, settings, storage=storage)
    assert report.counts()["unchanged"] == 7 and report.counts()["uploaded"] == 0
    assert storage.operations["ListObjects"] == 2  # the prefix and the own keys
    assert storage.operations["ListObjectsV2"] == 0
    assert {obj.key for obj in storage.list("v1/")} >= {"v1/static/css/site.css"}
