"""The lean path without botocore (cloudcollect/storage/s3direct.py): when it is taken,
that its target is botocore's own, and that its reads (HeadBucket, ListObjectsV2,
GetObject) give what botocore's give, against a real SeaweedFS."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from moto import mock_aws

from cloudcollect.config import Settings
from cloudcollect.errors import FatalStorageError
from cloudcollect.pipeline import publish
from cloudcollect.providers import effective
from cloudcollect.storage.s3 import S3Storage, _make_client
from cloudcollect.storage.s3direct import direct_setup, env_credentials
from cloudcollect.storage.s3lean import EMPTY_SHA256 as EMPTY
from cloudcollect.storage.s3lean import Credentials, Target, canonical_query, sign
from tests.conftest import Bucket, s3_settings
from tests.support.apps import make_app
from tests.support.faultproxy import FaultProxy
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY

ENV = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}
BASE = effective(
    Settings(bucket="assets", endpoint_url="http://127.0.0.1:8333", region="eu-west-3")
)


class _Sent(Exception):
    """Stops botocore right before sending, carrying the request."""

    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def botocores_target(endpoint: str, bucket: str, region: str, key: str) -> Target | None:
    """The target botocore signs a PutObject for, path style, as our storage configures it."""
    session = botocore.session.Session()
    client: Any = session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "path"}),
    )

    def capture(request: Any, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register("before-send.s3.PutObject", capture)
    with pytest.raises(_Sent) as sent:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    client.close()
    request = sent.value.request
    authorization = request.headers["Authorization"]
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    return Target.from_request(request.url, authorization, key)


@pytest.mark.parametrize(
    ("endpoint", "bucket", "region"),
    [
        ("http://127.0.0.1:8333", "assets", "us-east-1"),
        ("http://localhost:9000/", "my.assets-1", "eu-west-3"),
        ("https://s3.example.com/storage/v1", "assets", "auto"),
        ("https://s3.example.com:8443/", "assets_underscore", "us-west-2"),
        ("http://[::1]:8333", "assets", "us-east-1"),
        ("HTTPS://S3.Example.COM", "assets", "ap-south-1"),
    ],
)
@pytest.mark.parametrize("key", ["static/a b+c%.css", "static/漢字 ~.js"])
def test_path_style_target_is_botocores(endpoint: str, bucket: str, region: str, key: str) -> None:
    ours = Target.path_style(endpoint, bucket, region)
    assert ours is not None
    assert ours == botocores_target(endpoint, bucket, region, key)


def test_path_style_refuses_urls_botocore_would_not_take_as_they_are() -> None:
    for endpoint in ("ftp://host", "http://", "http://host/?x=1", "http://u:p@host", "host:80"):
        assert Target.path_style(endpoint, "assets", "us-east-1") is None


@pytest.mark.parametrize("token", [None, "token/+="])
def test_query_signature_equals_botocores(
    monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    now = datetime(2026, 11, 26, 2, 0, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    query = {
        "list-type": "2",
        "prefix": "static/a b+c~/é",
        "encoding-type": "url",
        "continuation-token": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
    }
    headers = {"host": "127.0.0.1:8333"}
    ours = dict(headers)
    credentials = Credentials("AKID", "secret", token)
    canonical = canonical_query(query)
    sign("GET", "/assets", ours, credentials, "eu-west-3", now, query=canonical, payload=EMPTY)

    url = f"http://127.0.0.1:8333/assets?{canonical}"
    request = AWSRequest(method="GET", url=url, headers=dict(headers))
    request.context["client_config"] = type("C", (), {"s3": {}})
    boto = botocore.auth.S3SigV4Auth(BotoCredentials("AKID", "secret", token), "s3", "eu-west-3")
    boto.add_auth(request)  # a GET without a body: botocore signs the empty payload
    assert ours["x-amz-content-sha256"] == request.headers["X-Amz-Content-SHA256"] == EMPTY
    assert ours["authorization"] == request.headers["Authorization"]


# -- when the direct path is taken ---------------------------------------------------------


def test_direct_setup_from_settings_and_environment(tmp_path: Path) -> None:
    setup = direct_setup(BASE, {**ENV, "AWS_CONFIG_FILE": str(tmp_path / "none")})
    assert setup is not None
    assert setup.target == Target("http", "127.0.0.1:8333", "/assets/", "eu-west-3")
    assert setup.credentials == Credentials("AKID", "secret", None)
    assert setup.tls is None

    unset_region = dataclasses.replace(BASE, region=None)
    env = {**ENV, "AWS_DEFAULT_REGION": "us-west-2", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    setup = direct_setup(unset_region, env)
    assert setup is not None and setup.target.region == "us-west-2"


def test_credentials_are_read_as_botocores_env_provider() -> None:
    both = {**ENV, "AWS_SESSION_TOKEN": "session", "AWS_SECURITY_TOKEN": "security"}
    assert env_credentials(both) == Credentials("AKID", "secret", "security")
    assert env_credentials({**ENV, "AWS_SESSION_TOKEN": "s"}) == Credentials("AKID", "secret", "s")
    assert env_credentials({"AWS_ACCESS_KEY_ID": "AKID"}) is None  # partial: botocore says so
    assert env_credentials({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "s"}) is None


@pytest.mark.parametrize(
    ("changes", "env", "config"),
    [
        ({"endpoint_url": None}, {}, ""),
        ({"addressing_style": "virtual"}, {}, ""),
        ({"profile": "ci"}, {}, ""),
        ({"checksum_policy": "when_supported"}, {}, ""),
        ({"list_version": 1}, {}, ""),
        ({"bucket": "arn:aws:s3:eu-west-3:123456789012:accesspoint/assets"}, {}, ""),
        ({"region": None}, {}, ""),
        ({"region": "eu_west_3"}, {}, ""),
        ({"endpoint_url": "http://host/?x=1"}, {}, ""),
        ({}, {"AWS_ACCESS_KEY_ID": ""}, ""),
        ({}, {"AWS_PROFILE": "ci"}, ""),
        ({}, {"AWS_DEFAULT_PROFILE": "ci"}, ""),
        ({}, {"AWS_CREDENTIAL_EXPIRATION": "2026-11-26T03:00:00Z"}, ""),
        ({}, {"AWS_USE_FIPS_ENDPOINT": "true"}, ""),
        ({}, {"HTTPS_PROXY": "http://proxy:3128"}, ""),
        ({}, {"http_proxy": "http://proxy:3128"}, ""),
        ({}, {}, "[default]\nca_bundle = /etc/ssl/private-ca.pem\n"),
        ({}, {}, "[default]\ns3 =\n  addressing_style = virtual\n"),
        ({}, {}, "not an ini file"),
    ],
)
def test_botocore_resolves_everything_else(
    tmp_path: Path, changes: dict[str, Any], env: dict[str, str], config: str
) -> None:
    config_file = tmp_path / "config"
    config_file.write_text(config)
    environ = {**ENV, "AWS_CONFIG_FILE": str(config_file), **env}
    assert direct_setup(dataclasses.replace(BASE, **changes), environ) is None
    harmless = "[default]\nregion = us-west-2\noutput = json\n[profile other]\nca_bundle = x\n"
    config_file.write_text(harmless)
    assert direct_setup(BASE, {**ENV, "AWS_CONFIG_FILE": str(config_file)}) is not None


def test_inside_mock_aws_botocore_sends_everything(tmp_path: Path) -> None:
    environ = {**ENV, "AWS_CONFIG_FILE": str(tmp_path / "none")}
    assert direct_setup(BASE, environ) is not None
    with mock_aws():
        assert direct_setup(BASE, environ) is None
    assert direct_setup(BASE, environ) is not None


def test_https_uses_botocores_ca_bundle(tmp_path: Path) -> None:
    https = dataclasses.replace(BASE, endpoint_url="https://127.0.0.1:8443")
    missing = str(tmp_path / "missing.pem")
    env = {**ENV, "AWS_CONFIG_FILE": str(tmp_path / "none")}
    for variable in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        with pytest.raises(FileNotFoundError):  # the bundle named there is the one loaded
            direct_setup(https, {**env, variable: missing})
    setup = direct_setup(https, env)  # certifi's, as botocore's default
    assert setup is not None and setup.tls is not None
    assert setup.tls.verify_mode.name == "CERT_REQUIRED" and setup.tls.check_hostname


# -- reads against SeaweedFS ---------------------------------------------------------------


def both_ways(settings: Settings) -> tuple[S3Storage, S3Storage]:
    """A direct storage (no botocore client) and one that reads through botocore."""
    direct = S3Storage.from_settings(settings)
    assert direct._client is None
    return direct, S3Storage(settings, _make_client(settings))


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True])
def test_direct_reads_equal_botocores(bucket: Bucket, https: bool) -> None:
    keys = [f"static/{n:04d} a+b~é.css" for n in range(1100)] + ["other/x.js"]  # 2 pages
    for key in keys:
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=key.encode())
    direct, boto = both_ways(s3_settings(bucket, https=https))

    direct.check()
    listed = list(direct.list("static/"))
    assert listed == list(boto.list("static/"))
    assert sorted(item.key for item in listed) == sorted(keys[:-1])
    assert all(item.md5 and item.last_modified for item in listed)
    assert direct.get(keys[7]) == keys[7].encode() == boto.get(keys[7])
    assert direct.get("static/missing.css") is None
    direct.close()
    boto.close()

    assert direct.operations == {"HeadBucket": 1, "ListObjectsV2": 2, "GetObject": 2}
    assert direct._client is None


@pytest.mark.seaweedfs
def test_direct_check_reports_a_missing_bucket_and_bad_credentials(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = S3Storage.from_settings(s3_settings(bucket, bucket="no-such-bucket-here"))
    with pytest.raises(FatalStorageError) as raised:
        missing.check()
    missing.close()
    assert raised.value.code == "NoSuchBucket"
    assert "'no-such-bucket-here' not found at http://127.0.0.1" in str(raised.value)

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + SECRET_KEY)
    rejected = S3Storage.from_settings(s3_settings(bucket))
    with pytest.raises(FatalStorageError) as denied:
        rejected.check()
    with pytest.raises(FatalStorageError) as listing:
        list(rejected.list(""))
    rejected.close()
    assert denied.value.code == "SignatureDoesNotMatch"  # asked again with a ListObjectsV2
    assert "the secret key does not match the access key id" in str(denied.value)
    assert listing.value.code == "SignatureDoesNotMatch"
    for failure in (denied.value, listing.value):
        assert SECRET_KEY not in str(failure) and ACCESS_KEY not in str(failure)


@pytest.mark.seaweedfs
def test_a_no_op_publish_never_builds_a_botocore_client(
    bucket: Bucket, tmp_path: Path, fault_proxy: FaultProxy
) -> None:
    app = make_app(tmp_path)
    settings = s3_settings(bucket, endpoint_url=fault_proxy.url)
    first = S3Storage.from_settings(settings)
    assert publish(app, settings, storage=first).exit_code == 0
    first.close()
    before = len(fault_proxy.requests(None))

    again = S3Storage.from_settings(settings)
    report = publish(app, settings, storage=again)
    again.close()

    assert report.exit_code == 0
    assert {k: v for k, v in report.counts().items() if v} == {"unchanged": 7, "excluded": 3}
    assert again._client is None
    sent = fault_proxy.requests(None)[before:]
    assert {request.operation for request in sent} == {"HeadBucket", "ListObjectsV2", "GetObject"}
    assert {request.headers["user-agent"] for request in sent} == {"cloudcollect"}
    assert not [request for request in sent if request.method not in ("GET", "HEAD")]


@pytest.mark.seaweedfs
def test_a_publish_of_one_changed_file_never_builds_a_botocore_client(
    bucket: Bucket, tmp_path: Path
) -> None:
    app = make_app(tmp_path)
    settings = s3_settings(bucket)
    first = S3Storage.from_settings(settings)
    assert publish(app, settings, storage=first).exit_code == 0
    first.close()
    (tmp_path / "static/css/site.css").write_text("body { color: red; }")

    again = S3Storage.from_settings(settings)
    report = publish(app, settings, storage=again)
    again.close()

    assert {k: v for k, v in report.counts().items() if v} == {
        "uploaded": 1,
        "unchanged": 6,
        "excluded": 3,
    }
    assert again._client is None
    assert again.operations["PutObject"] == 3  # the file, the release lease, the state object
    assert bucket.read("static/css/site.css") == b"body { color: red; }"


@pytest.mark.seaweedfs
def test_direct_get_of_a_large_object_is_whole(bucket: Bucket) -> None:
    body = bytes(range(256)) * 20_000  # 5 MB, many reads
    bucket.client.put_object(Bucket=bucket.name, Key="state.json", Body=io.BytesIO(body))
    storage = S3Storage.from_settings(s3_settings(bucket))
    assert storage.get("state.json") == body
    storage.close()
