"""Provider presets: each one's client settings, explicit settings winning, conflicts refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudcollect import ConfigError, publish, settings_from_config
from cloudcollect.providers import PRESETS, with_no_transform
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


def client_config(storage: S3Storage) -> Any:
    """The botocore client's Config (its stubs do not declare the attributes)."""
    return storage.client.meta.config


def test_every_provider_is_documented() -> None:
    assert set(PRESETS) == set(DOCUMENTED)


@pytest.mark.parametrize("provider", sorted(DOCUMENTED))
def test_preset_client_settings(provider: str) -> None:
    style, region, list_version = DOCUMENTED[provider]
    endpoint = None if provider == "aws" else ENDPOINT
    storage = storage_for(PROVIDER=provider, ENDPOINT_URL=endpoint)
    meta, config = storage.client.meta, client_config(storage)
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert storage.settings.list_version == list_version
    if provider == "aws":
        assert config.s3["addressing_style"] == "auto"
        assert meta.endpoint_url.startswith("https://s3.")
    else:
        # "auto" with an endpoint means path style, as before presets existed
        assert config.s3["addressing_style"] == "path"
        assert storage.settings.addressing_style == style
        assert meta.endpoint_url == ENDPOINT
    assert meta.region_name == (region or "us-east-1")  # botocore's own default on AWS


def test_other_without_endpoint_keeps_the_aws_default_chain() -> None:
    storage = storage_for(REGION="eu-west-1")
    assert storage.settings.provider == "other"
    assert storage.client.meta.region_name == "eu-west-1"
    assert client_config(storage).s3["addressing_style"] == "auto"


def test_explicit_settings_win_over_the_preset() -> None:
    storage = storage_for(
        PROVIDER="r2",
        ENDPOINT_URL=ENDPOINT,
        REGION="eu",
        ADDRESSING_STYLE="virtual",
        LIST_VERSION=1,
    )
    assert storage.client.meta.region_name == "eu"
    assert client_config(storage).s3["addressing_style"] == "virtual"
    assert storage.settings.list_version == 1


def test_when_supported_checksums_only_on_aws() -> None:
    storage = storage_for(PROVIDER="aws", CHECKSUM_POLICY="when_supported")
    assert client_config(storage).request_checksum_calculation == "when_supported"
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
    assert storage.operations["ListObjects"] == 1
    assert storage.operations["ListObjectsV2"] == 0
    assert {obj.key for obj in storage.list("v1/")} >= {"v1/static/css/site.css"}
