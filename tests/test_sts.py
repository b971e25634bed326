"""Publishing with temporary credentials that the store's own STS issued: key id, secret
and session token from SeaweedFS's AssumeRole (``sts_bucket``; never the static keys).

Runs go through the real command against a real SeaweedFS with STS on
(``SeaweedServer(sts=True)``), on both transports. A forged session token (its claims
altered, or signed with another key) is refused by the store with InvalidAccessKeyId:
exit 3 before any write, the bucket untouched, and no credential printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import Result

from cloudcollect.lease import LEASE_NAME
from cloudcollect.state import STATE_NAME
from tests.conftest import Bucket
from tests.support.apps import APP_FILES, make_app, served_files
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedServer
from tests.test_bad_settings import invoke
from tests.test_secrets import assert_no_secret

MIB = 1024 * 1024
TRANSPORTS = ["fast", "botocore"]
#: A file above the multipart threshold below, so parts are signed with the token too.
FILES: dict[str, bytes | str] = {**APP_FILES, "static/big.bin": os.urandom(6 * MIB)}


def config(target: Bucket, transport: str) -> dict[str, Any]:
    return {
        "CLOUDCOLLECT_BUCKET": target.name,
        "CLOUDCOLLECT_ENDPOINT_URL": target.server.endpoint,
        "CLOUDCOLLECT_REGION": "us-east-1",
        "CLOUDCOLLECT_TRANSPORT": transport,
        "CLOUDCOLLECT_MULTIPART_THRESHOLD": 5 * MIB,
        "CLOUDCOLLECT_MULTIPART_CHUNKSIZE": 5 * MIB,
    }


def session() -> tuple[str, str, str]:
    """The key id, secret and session token ``sts_bucket`` put in the environment."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    key_id, secret, token = (os.environ[name] for name in names)
    assert key_id.startswith("ASIA") and key_id != ACCESS_KEY and secret != SECRET_KEY
    return key_id, secret, token


def secrets_of(key_id: str, secret: str, token: str) -> list[str]:
    """What must never be printed: each credential, and each part of the JWT token."""
    return [key_id, secret, token, *token.split(".")[1:], SECRET_KEY]


def listing(target: Bucket) -> dict[str, str]:
    """Every key of the bucket with its ETag."""
    pages = target.client.get_paginator("list_objects_v2").paginate(Bucket=target.name)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forged(token: str, how: str) -> str:
    """``token`` with its claims changed (a later expiry): the server's signature kept
    (``altered``), or the token signed again with a key the server does not have
    (``resigned``)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 3600
    body = f"{header}.{_b64(json.dumps(claims).encode())}"
    if how == "resigned":
        signature = _b64(hmac.new(os.urandom(32), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def signed(server: SeaweedServer, env: dict[str, str], token: str) -> Any:
    """A plain S3 client with the key id and secret of ``env`` and ``token``."""
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=token,
    )


def run(app: Any, args: list[str], shown: list[str], env: dict[str, str] | None = None) -> Result:
    result = invoke(app, args, env)
    assert_no_secret(result, *shown)
    return result


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_session_credentials_publish_and_a_second_run_uploads_nothing(
    transport: str, sts_bucket: Bucket, tmp_path: Path
) -> None:
    """Upload (single PUTs and a multipart file), a no-op, then a deletion, all signed
    with the session's key id, secret and token."""
    shown = secrets_of(*session())
    app = make_app(tmp_path, config(sts_bucket, transport), FILES)
    first = run(app, ["-v"], shown)
    assert first.exit_code == 0, first.output
    expected = {**served_files(tmp_path), "static/big.bin": FILES["static/big.bin"]}
    assert sts_bucket.keys() == set(expected) | {STATE_NAME, LEASE_NAME}
    assert all(sts_bucket.read(key) == data for key, data in expected.items())
    assert sts_bucket.head("static/big.bin")["ETag"].strip('"').endswith("-2")
    second = run(app, ["--json"], shown)
    assert second.exit_code == 0, second.output
    counts = json.loads(second.stdout)["counts"]
    assert counts["uploaded"] == 0 and counts["unchanged"] == len(expected), counts
    (tmp_path / "static" / "empty.txt").unlink()
    third = run(app, ["--delete", "--json"], shown)
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout)["counts"]["deleted"] == 1
    assert "static/empty.txt" not in listing(sts_bucket)


@pytest.mark.parametrize("how", ["altered", "resigned"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_forged_session_token_is_exit_3_and_the_bucket_is_untouched(
    transport: str, how: str, sts_bucket: Bucket, tmp_path: Path
) -> None:
    """The release after a good one: a changed file, a new one and a removed one, with
    ``--delete``; the store refuses the forged token before anything is written."""
    key_id, secret, token = session()
    bad = forged(token, how)
    shown = [*secrets_of(key_id, secret, token), *secrets_of(key_id, secret, bad)]
    app = make_app(tmp_path, config(sts_bucket, transport), FILES)
    good = run(app, ["-q"], shown)
    assert good.exit_code == 0, good.output
    before = listing(sts_bucket)
    static = tmp_path / "static"
    (static / "css" / "site.css").write_text("body { color: blue; }")
    (static / "new.css").write_text("a { color: green; }")
    (static / "js" / "site.js").unlink()
    for args in (["--delete"], ["--delete", "--json"]):
        result = run(app, args, shown, {"AWS_SESSION_TOKEN": bad})
        assert result.exit_code == 3, result.output
        if "--json" not in args:
            assert "InvalidAccessKeyId" in result.output
            assert "AWS_SESSION_TOKEN" in result.output
    assert listing(sts_bucket) == before
    uploads = sts_bucket.client.list_multipart_uploads(Bucket=sts_bucket.name)
    assert uploads.get("Uploads", []) == []
    again = run(app, ["-q", "--delete"], shown)  # the real token still works
    assert again.exit_code == 0, again.output
    assert "static/new.css" in listing(sts_bucket)


def test_the_benchmarks_token_configuration_is_a_session_the_server_issued(
    sts_seaweed: SeaweedServer, tmp_path: Path
) -> None:
    """``benchmarks.run --aws-config token``: every tool's environment holds a key id,
    secret and token from the server's STS, which the server accepts; without a session
    token the configuration is refused, never filled with a made-up one."""
    from benchmarks import run, tools

    with pytest.raises(ValueError, match="AWS_SESSION_TOKEN"):
        tools.base_env(sts_seaweed.env(), tmp_path / "static", "token")
    env = tools.base_env(run.credentials(sts_seaweed, "token"), tmp_path / "token", "token")
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    token = env["AWS_SESSION_TOKEN"]
    signed(sts_seaweed, env, token).list_buckets()  # accepted: the token is the server's own
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        signed(sts_seaweed, env, forged(token, "resigned")).list_buckets()
