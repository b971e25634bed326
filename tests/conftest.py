"""Shared fixtures: a scrubbed AWS environment and one real SeaweedFS server per session."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cloudcollect.config import Settings
from tests.support.faultproxy import FaultProxy, run_fault_proxy
from tests.support.seaweed import ACCESS_KEY, REGION, SECRET_KEY, SeaweedServer

_bucket_numbers = itertools.count(1)


#: Fixtures that start or use the SeaweedFS server: a test that asks for one is marked
#: ``seaweedfs``, so ``make test-fast`` (``-m "not seaweedfs and not browser"``) leaves it out.
SERVER_FIXTURES = frozenset({"seaweed", "bucket", "fault_proxy", "sts_seaweed", "sts_bucket"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.seaweedfs)


@pytest.fixture(autouse=True)
def scrubbed_aws_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No developer AWS config, profile or credentials leak into a test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CLOUDCOLLECT_")):
            monkeypatch.delenv(name)
    empty = tmp_path_factory.getbasetemp() / "aws-empty-config"
    empty.touch()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """The real S3-compatible server (HTTP and HTTPS) for the whole session."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sts_seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A second server, HTTP only, whose STS issues temporary credentials
    (``SeaweedServer(sts=True)``); started only by the tests that ask for it."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs-sts"), https=False, sts=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Bucket:
    """A fresh, empty bucket on the test server, with an admin client to inspect it."""

    name: str
    server: SeaweedServer
    client: Any  # boto3 S3 client (plain, for assertions only)

    def keys(self) -> set[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return {
            item["Key"]
            for page in paginator.paginate(Bucket=self.name)
            for item in page.get("Contents", [])
        }

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def head(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.head_object(Bucket=self.name, Key=key)
        return result


def s3_settings(target: Bucket, *, https: bool = False, **changes: Any) -> Settings:
    """Settings for the s3 storage on ``target`` over HTTP or HTTPS (the test CA)."""
    server = target.server
    settings = Settings(
        bucket=target.name,
        endpoint_url=server.https_endpoint if https else server.endpoint,
        ca_bundle=str(server.ca_file) if https else None,
        region=REGION,
    )
    return dataclasses.replace(settings, **changes)


def admin_client(server: SeaweedServer, https: bool = False) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.https_endpoint if https else server.endpoint,
        verify=str(server.ca_file) if https else None,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@pytest.fixture
def bucket(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A new bucket per test, and the test server's credentials in the environment."""
    return new_bucket(seaweed, seaweed.env(), monkeypatch, "test")


@pytest.fixture
def sts_bucket(sts_seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A new bucket on the STS server, and in the environment the key id, secret and
    session token of a new session (never the static keys); ``client`` is the admin's."""
    return new_bucket(sts_seaweed, sts_seaweed.session_env(), monkeypatch, "test-sts")


def new_bucket(
    server: SeaweedServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, stem: str
) -> Bucket:
    """A bucket named ``stem-<pid>-<n>``, created with the admin's client; ``env`` (the
    credentials the code under test uses) set in the environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = admin_client(server)
    name = f"{stem}-{os.getpid()}-{next(_bucket_numbers)}"
    client.create_bucket(Bucket=name)
    return Bucket(name=name, server=server, client=client)


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``; return ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
    return root


@pytest.fixture
def fault_proxy(seaweed: SeaweedServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the test server (see tests/support/faultproxy.py)."""
    yield from run_fault_proxy(seaweed.endpoint)
