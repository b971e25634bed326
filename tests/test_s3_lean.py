"""The lean path (cloudcollect/storage/s3lean.py): the same request, signature, retries
and errors as botocore's, against SigV4 itself and a real SeaweedFS. PUT tests run with
both ways the path starts: learnt from botocore's first PutObject, and resolved from the
settings and environment (``s3direct``) with no botocore client at all."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
from datetime import datetime, timezone
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.stub import Stubber

from cloudcollect.config import Settings
from cloudcollect.errors import FatalStorageError, StorageError
from cloudcollect.storage.base import MD5_METADATA
from cloudcollect.storage.s3 import S3Storage, _make_client
from cloudcollect.storage.s3lean import Credentials, Target, sign
from tests.conftest import Bucket, s3_settings
from tests.support.faultproxy import Fault, FaultProxy, error, error_200_body, reset_mid_body
from tests.support.seaweed import SECRET_KEY

HEADERS = {"Content-Type": "text/css; charset=utf-8", "Cache-Control": "max-age=60"}
KEYS = ["static/a b+c%.css", "static/café ~!*()'.js", "static/漢字 &=?#;.css", "static/x/y.css"]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def put(storage: S3Storage, key: str, data: bytes, headers: dict[str, str] = HEADERS) -> Any:
    return storage.put(key, io.BytesIO(data), len(data), md5(data), headers)


def warmed(storage: S3Storage) -> S3Storage:
    """The storage after one PutObject: the one botocore sends, which teaches the lean
    path, or (direct setup) already a lean one."""
    put(storage, "static/.warm-up", b"w")
    assert storage.lean_put_active
    return storage


def opened(settings: Settings, start: str) -> S3Storage:
    """A warmed storage whose lean path is ``learnt`` or ``direct``."""
    if start == "learnt":
        return warmed(S3Storage(settings, _make_client(settings)))
    storage = S3Storage.from_settings(settings)
    assert storage._client is None  # no botocore client was built
    return warmed(storage)


def lean_puts(proxy: FaultProxy) -> list[Any]:
    """The PUTs the lean path sent, the warm-up left out."""
    return [
        r
        for r in proxy.requests("PutObject")
        if r.headers["user-agent"] == "cloudcollect" and r.key != "static/.warm-up"
    ]


STARTS = pytest.mark.parametrize("start", ["learnt", "direct"])


# -- signing and the URL template (no server) --------------------------------------------


@pytest.mark.parametrize("token", [None, "session-token/with+chars="])
@pytest.mark.parametrize("key", KEYS)
def test_signature_equals_botocores(
    monkeypatch: pytest.MonkeyPatch, key: str, token: str | None
) -> None:
    now = datetime(2026, 11, 25, 21, 30, 5, tzinfo=timezone.utc)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    target = Target("http", "127.0.0.1:9000", "/bucket/", "eu-west-3")
    headers = {
        "host": "127.0.0.1:9000",
        "content-type": "text/css",
        "content-md5": "XrY7u+Ae7tCTyyK7j1rNww==",
        "cache-control": "max-age=60,  public",
        f"x-amz-meta-{MD5_METADATA}": "5eb63bbbe01eeed093cb22bb8f5acdc3",
    }
    ours = dict(headers)
    sign("PUT", target.path(key), ours, Credentials("AKID", "secret", token), "eu-west-3", now)

    request = AWSRequest(method="PUT", url=target.url(key), headers=dict(headers), data=b"")
    request.context["client_config"] = type("C", (), {"s3": {"payload_signing_enabled": False}})
    botocore.auth.S3SigV4Auth(BotoCredentials("AKID", "secret", token), "s3", "eu-west-3").add_auth(
        request
    )
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert ours.get("x-amz-security-token") == token


def test_target_is_read_from_a_sigv4_request_only() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-west-3/s3/aws4_request, Sign..."
    url = "https://b.s3.eu-west-3.amazonaws.com/base/static/a%20b.css"
    target = Target.from_request(url, auth, "static/a b.css")
    assert target == Target("https", "b.s3.eu-west-3.amazonaws.com", "/base/", "eu-west-3")
    assert target.url("x y/z~.css") == "https://b.s3.eu-west-3.amazonaws.com/base/x%20y/z~.css"

    assert Target.from_request(url, "AWS AKID:signature", "static/a b.css") is None  # SigV2
    assert Target.from_request(url, None, "static/a b.css") is None  # anonymous
    assert Target.from_request(url + "?x-id=PutObject", auth, "static/a b.css") is None
    assert Target.from_request(url, auth, "static/other.css") is None
    sigv4a = auth.replace("/s3/", "/s3-express/")
    assert Target.from_request(url, sigv4a, "static/a b.css") is None


# -- against SeaweedFS --------------------------------------------------------------------


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True])
def test_lean_puts_store_the_same_objects_as_botocore(bucket: Bucket, https: bool) -> None:
    storage = warmed(S3Storage.from_settings(s3_settings(bucket, https=https, acl="private")))
    headers = {**HEADERS, "Content-Disposition": "inline", "X-Amz-Meta-Origin": "test"}
    bodies = {key: key.encode() * (n * 40_000 + 1) for n, key in enumerate(KEYS)}  # to 4.8 MB
    etags = {key: put(storage, key, body, headers) for key, body in bodies.items()}
    storage.close()

    assert storage.operations["PutObject"] == len(KEYS) + 1
    for key, body in bodies.items():
        assert bucket.read(key) == body
        head = bucket.head(key)
        assert head["ETag"] == etags[key] == f'"{md5(body)}"'
        assert head["ContentType"] == headers["Content-Type"]
        assert head["CacheControl"] == headers["Cache-Control"]
        assert head["ContentDisposition"] == "inline"
        assert head["Metadata"] == {MD5_METADATA: md5(body), "origin": "test"}


@pytest.mark.seaweedfs
@STARTS
def test_lean_request_shape(bucket: Bucket, fault_proxy: FaultProxy, start: str) -> None:
    settings = s3_settings(bucket, endpoint_url=fault_proxy.url, acl="private")
    storage = opened(settings, start)
    put(storage, "static/a.css", b"a{}")
    storage.close()

    (request,) = lean_puts(fault_proxy)
    headers = request.headers
    assert headers["content-md5"] == base64.b64encode(hashlib.md5(b"a{}").digest()).decode()
    assert headers[f"x-amz-meta-{MD5_METADATA}"] == md5(b"a{}")
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert headers["x-amz-acl"] == "private"
    assert headers["content-length"] == "3"
    assert "expect" not in headers and "transfer-encoding" not in headers
    assert not [name for name in headers if name.startswith("x-amz-checksum-")]


@pytest.mark.seaweedfs
@STARTS
def test_lean_retries_slow_down_and_resets_then_reports_them(
    bucket: Bucket, fault_proxy: FaultProxy, start: str
) -> None:
    storage = opened(s3_settings(bucket, endpoint_url=fault_proxy.url), start)
    fault_proxy.add(Fault("PutObject", "static/a.css", error(503, "SlowDown"), times=1))
    fault_proxy.add(Fault("PutObject", "static/a.css", reset_mid_body(), times=1))
    body = b"a" * 300_000  # streamed in blocks, not inlined with the headers
    put(storage, "static/a.css", body)
    storage.close()

    assert [r.status for r in lean_puts(fault_proxy)][-1] == 200
    assert len(lean_puts(fault_proxy)) == 3
    assert storage.last_put_retries() == 2
    assert bucket.read("static/a.css") == body


@pytest.mark.seaweedfs
def test_lean_put_answered_200_with_an_error_body_is_retried_but_a_download_is_not(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    storage = opened(s3_settings(bucket, endpoint_url=fault_proxy.url), "direct")
    fault_proxy.add(Fault("PutObject", "static/a.css", error_200_body("InternalError")))
    put(storage, "static/a.css", b"a{}")
    retries = storage.last_put_retries()
    error_document = b"<?xml version='1.0'?>\n<Error><Code>InternalError</Code></Error>"
    put(storage, "static/error.xml", error_document)
    downloaded = storage.get("static/error.xml")
    storage.close()

    assert retries == 1
    assert [r.status for r in lean_puts(fault_proxy)][:2] == [200, 200]
    assert bucket.read("static/a.css") == b"a{}"
    assert downloaded == error_document
    assert len(fault_proxy.requests("GetObject")) == 1


@pytest.mark.seaweedfs
@STARTS
def test_lean_persistent_error_keeps_code_retries_and_request_id(
    bucket: Bucket, fault_proxy: FaultProxy, start: str
) -> None:
    settings = s3_settings(bucket, endpoint_url=fault_proxy.url, max_attempts=3)
    storage = opened(settings, start)
    fault_proxy.add(Fault("PutObject", "static/a.css", error(503, "SlowDown"), times=None))
    with pytest.raises(StorageError) as raised:
        put(storage, "static/a.css", b"a")
    storage.close()

    assert type(raised.value) is StorageError
    assert (raised.value.code, raised.value.retries, raised.value.key) == (
        "SlowDown",
        2,
        "static/a.css",
    )
    assert raised.value.request_id
    assert str(raised.value).startswith("PutObject 'static/a.css': SlowDown")
    assert len(lean_puts(fault_proxy)) == 3
    assert bucket.keys() == {"static/.warm-up"}


@pytest.mark.seaweedfs
@pytest.mark.parametrize("code", ["ExpiredToken", "AccessDenied"])
def test_lean_fatal_codes_are_not_retried(
    bucket: Bucket, fault_proxy: FaultProxy, code: str
) -> None:
    storage = opened(s3_settings(bucket, endpoint_url=fault_proxy.url), "direct")
    fault_proxy.add(Fault("PutObject", None, error(403, code), times=None))
    with pytest.raises(FatalStorageError) as raised:
        put(storage, "static/a.css", b"a")
    storage.close()
    assert raised.value.code == code
    assert len(lean_puts(fault_proxy)) == 1


@pytest.mark.seaweedfs
def test_lean_bad_digest_is_refused_and_stores_nothing(bucket: Bucket) -> None:
    storage = warmed(S3Storage.from_settings(s3_settings(bucket)))
    with pytest.raises(StorageError) as raised:
        storage.put("static/a.css", io.BytesIO(b"abc"), 3, md5(b"abd"), HEADERS)
    storage.close()
    assert raised.value.code in ("BadDigest", "InvalidDigest")
    assert bucket.keys() == {"static/.warm-up"}


@pytest.mark.seaweedfs
@STARTS
@pytest.mark.parametrize("size", [10, 400_000])  # inlined and streamed bodies
def test_lean_short_file_fails_as_source_changed(bucket: Bucket, size: int, start: str) -> None:
    storage = opened(s3_settings(bucket), start)
    data = b"x" * (size - 1)
    with pytest.raises(StorageError) as raised:
        storage.put("static/a.css", io.BytesIO(data), size, md5(data), HEADERS)
    put(storage, "static/b.css", b"next")  # the connection is usable again
    storage.close()
    assert raised.value.code == "SourceChanged"
    assert bucket.keys() == {"static/.warm-up", "static/b.css"}


@pytest.mark.seaweedfs
def test_unreachable_endpoint_after_warm_up_is_a_transient_connection_error(
    bucket: Bucket,
) -> None:
    storage = opened(s3_settings(bucket, max_attempts=2), "learnt")
    assert storage._lean is not None
    storage._lean.target = dataclasses.replace(storage._lean.target, netloc="127.0.0.1:9")
    with pytest.raises(StorageError) as raised:
        put(storage, "static/a.css", b"a")
    storage.close()
    assert not isinstance(raised.value, FatalStorageError)
    assert (raised.value.code, raised.value.retries) == ("ConnectionError", 1)
    assert SECRET_KEY not in str(raised.value) and "Signature=" not in str(raised.value)


@pytest.mark.seaweedfs
def test_unreachable_endpoint_on_the_direct_path_is_a_transient_connection_error(
    bucket: Bucket,
) -> None:
    settings = s3_settings(bucket, endpoint_url="http://127.0.0.1:9", max_attempts=2)
    storage = S3Storage.from_settings(settings)
    with pytest.raises(StorageError) as raised:
        storage.check()
    with pytest.raises(StorageError) as put_raised:
        put(storage, "static/a.css", b"a")
    storage.close()
    for failure in (raised.value, put_raised.value):
        assert not isinstance(failure, FatalStorageError)
        assert (failure.code, failure.retries) == ("ConnectionError", 1)
        assert SECRET_KEY not in str(failure) and "Signature=" not in str(failure)
    assert str(raised.value).startswith("HeadBucket: ConnectionError (127.0.0.1:9: ")
    assert storage._client is None


@pytest.mark.seaweedfs
def test_hooked_clients_and_expires_go_through_botocore(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    settings = s3_settings(bucket, endpoint_url=fault_proxy.url)
    storage = opened(settings, "learnt")
    put(
        storage, "static/expires.css", b"e", {**HEADERS, "Expires": "Thu, 01 Jan 2037 00:00:00 GMT"}
    )
    seen: list[str] = []
    storage.client.meta.events.register("before-send.s3", lambda request, **_: seen.append("x"))
    put(storage, "static/recorded.css", b"r")
    with Stubber(storage.client) as stub:
        stub.add_response("put_object", {"ETag": '"stubbed"'})
        assert put(storage, "static/stubbed.css", b"s") == '"stubbed"'
    storage.close()

    assert lean_puts(fault_proxy) == []
    assert seen == ["x"]
    assert bucket.head("static/expires.css")["ExpiresString"].startswith("Thu, 01 Jan 2037")
    assert bucket.keys() == {
        "static/.warm-up",
        "static/expires.css",
        "static/recorded.css",
    }


@pytest.mark.seaweedfs
@STARTS
def test_hooking_a_direct_storage_sends_through_botocore(
    bucket: Bucket, fault_proxy: FaultProxy, start: str
) -> None:
    storage = opened(s3_settings(bucket, endpoint_url=fault_proxy.url), start)
    with Stubber(storage.client) as stub:
        stub.add_response("put_object", {"ETag": '"stubbed"'})
        stub.add_response("get_object", {"Body": io.BytesIO(b"stubbed body")})
        assert put(storage, "static/stubbed.css", b"s") == '"stubbed"'
        assert storage.get("static/.warm-up") == b"stubbed body"
    storage.close()
    assert lean_puts(fault_proxy) == []
    assert fault_proxy.requests("GetObject") == []


@pytest.mark.seaweedfs
def test_a_storage_started_with_neither_client_nor_setup_learns_the_lean_path(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    storage = S3Storage(s3_settings(bucket, endpoint_url=fault_proxy.url))
    assert storage._client is None and not storage.lean_put_active
    warmed(storage)  # botocore's client is built and sends the first PutObject
    put(storage, "static/a.css", b"a{}")
    storage.close()
    assert [r.key for r in lean_puts(fault_proxy)] == ["static/a.css"]
    assert bucket.read("static/a.css") == b"a{}"


@pytest.mark.seaweedfs
def test_no_lean_path_when_checksums_are_asked_for(bucket: Bucket) -> None:
    settings = s3_settings(bucket, checksum_policy="when_supported")
    storage = S3Storage.from_settings(settings)
    put(storage, "static/a.css", b"a")
    put(storage, "static/b.css", b"b")
    storage.close()
    assert not storage.lean_put_active
    assert bucket.read("static/b.css") == b"b"
