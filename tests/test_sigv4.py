"""The fast transport's SigV4 signer against botocore.auth.S3SigV4Auth, the oracle: the
same headers and Authorization for random S3 requests (keys, queries, headers, tokens,
regions, hosts), and a signature a real store accepts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cloudcollect.storage import sigv4
from cloudcollect.storage.awsenv import Endpoint
from cloudcollect.storage.sigv4 import Signer

NOW = datetime(2026, 12, 1, 8, 30, 15, tzinfo=timezone.utc)


class _Config:
    s3 = {"payload_signing_enabled": False}


@dataclass(frozen=True)
class Case:
    """One request to sign, and when."""

    method: str
    url: str
    headers: dict[str, str]
    credentials: Credentials
    region: str = "us-east-1"
    now: datetime = NOW


def botocore_signed(case: Case, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: case.now)
    request = AWSRequest(method=case.method, url=case.url, headers=dict(case.headers))
    request.context["client_config"] = _Config()
    S3SigV4Auth(case.credentials, "s3", case.region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def ours(case: Case) -> dict[str, str]:
    key, secret = case.credentials.access_key, case.credentials.secret_key
    signer = Signer(case.region)
    return signer.sign(
        case.method, case.url, case.headers, key, secret, case.credentials.token, now=case.now
    )


def folded(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


KEY_CHARS = "abcXYZ019-_.~/ +%&=?#;:@!$'()*,[]{}<>|\\^`\"" + "éü中文😀\u00a0\u200b"
HEADER_NAMES = [
    "Content-Type",
    "cache-control",
    "Content-MD5",
    "content-length",
    "x-amz-meta-cloudcollect-md5",
    "Content-Disposition",
    "Content-Encoding",
    "If-None-Match",
    "x-amz-acl",
    "User-Agent",
    "Expect",
    "range",
]
QUERIES = [
    "",
    "list-type=2&prefix=static%2F&encoding-type=url",
    "list-type=2&prefix=&encoding-type=url&continuation-token=abc%2Bdef%3D%3D",
    "uploads",
    "delete",
    "cors",
    "uploadId=2~x_y.z&partNumber=10",
    "partNumber=2&uploadId=abc",
    "prefix=a&marker=b%20c&encoding-type=url",
]
BASES = [
    "http://127.0.0.1:8333",
    "https://127.0.0.1:8443",
    "http://localhost:80",
    "https://s3.eu-west-1.amazonaws.com:443",
    "https://S3.Example.COM",
    "http://[::1]:9000",
    "https://minio.example.com/sub/path",
]


def random_request(rng: random.Random) -> Case:
    base = rng.choice(BASES)
    virtual = rng.random() < 0.3 and "[" not in base
    endpoint = Endpoint(base, rng.choice(["bucket", "my.bucket-1"]), "us-east-1", virtual)
    key = None
    if rng.random() < 0.9:
        key = "".join(rng.choice(KEY_CHARS) for _ in range(rng.randint(1, 30)))
    url = endpoint.url(key, rng.choice(QUERIES))
    headers: dict[str, str] = {}
    for name in rng.sample(HEADER_NAMES, rng.randint(0, len(HEADER_NAMES))):
        value = rng.choice(["text/css; charset=utf-8", "  public,   max-age=3600 ", "*", "12"])
        headers[name if rng.random() < 0.5 else name.upper()] = value
    token = rng.choice([None, "", "FwoGZXIvYXdzE" + "x" * rng.randint(0, 40) + "=="])
    credentials = Credentials(
        "AKID" + str(rng.randint(0, 10**6)), "secret/" + str(rng.random()), token
    )
    region = rng.choice(["us-east-1", "eu-central-1", "auto", "garage"])
    method = rng.choice(["GET", "HEAD", "PUT", "POST", "DELETE"])
    now = NOW + timedelta(seconds=rng.randint(0, 3 * 86400))
    return Case(method, url, headers, credentials, region, now)


def test_two_thousand_random_requests_sign_exactly_as_botocore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(14)
    for number in range(2000):
        case = random_request(rng)
        expected = botocore_signed(case, monkeypatch)
        assert folded(ours(case)) == folded(expected), (number, case)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "stale", "X-Amz-Date": "19990101T000000Z"},
        {"x-amz-content-sha256": "abc", "X-Amz-Security-Token": "old"},
        {"Content-Type": "a", "content-type": "b"},  # one name in two cases
        {"Host": "other.example:1234"},
        {"x-amz-meta-note": "a\tb\n c"},
    ],
)
def test_headers_a_caller_set_are_replaced_or_signed_as_botocore_does(
    headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://127.0.0.1:8333/bucket/static/a.css"
    case = Case("PUT", url, headers, Credentials("AKID", "secret", "token"))
    assert folded(ours(case)) == folded(botocore_signed(case, monkeypatch))


def test_the_signing_key_is_derived_again_for_a_new_day_or_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = Signer("us-east-1")
    url = "http://127.0.0.1:8333/bucket/k"
    for now, secret in [(NOW, "a"), (NOW, "b"), (NOW + timedelta(days=1), "b"), (NOW, "a")]:
        got = signer.sign("GET", url, {}, "AKID", secret, None, now=now)
        expected = botocore_signed(
            Case("GET", url, {}, Credentials("AKID", secret), now=now), monkeypatch
        )
        assert got["Authorization"] == expected["Authorization"]


def test_the_caller_headers_are_not_changed() -> None:
    headers = {"Content-Type": "text/css", "Authorization": "x"}
    Signer("us-east-1").sign("PUT", "http://h/b/k", headers, "AKID", "s", "t", now=NOW)
    assert headers == {"Content-Type": "text/css", "Authorization": "x"}


def test_the_excluded_headers_are_botocores() -> None:
    import botocore.auth

    assert frozenset(botocore.auth.SIGNED_HEADERS_BLACKLIST) == sigv4.SIGNED_HEADERS_EXCLUDED


def test_the_default_time_is_now_in_utc() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    got = Signer("us-east-1").sign("GET", "http://h/b", {}, "AKID", "s")
    stamp = datetime.strptime(got["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert before <= stamp <= datetime.now(timezone.utc)
    assert "X-Amz-Security-Token" not in got


@pytest.mark.seaweedfs
def test_the_store_accepts_the_signature_and_refuses_a_wrong_secret(bucket: Any) -> None:
    import urllib3

    server = bucket.server
    env = server.env()
    url = f"{server.endpoint}/{bucket.name}/static/signed.txt"
    signer = Signer("us-east-1")
    http = urllib3.PoolManager()
    body = b"signed by cloudcollect"
    import base64
    import hashlib

    put = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
    key, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    answer = http.request("PUT", url, body=body, headers=signer.sign("PUT", url, put, key, secret))
    assert answer.status == 200, answer.data
    assert bucket.read("static/signed.txt") == body
    wrong = http.request("GET", url, headers=signer.sign("GET", url, {}, key, secret + "x"))
    assert wrong.status == 403
