"""Both transports (storage/fasttransport.py, storage/botocoretransport.py) against a real
SeaweedFS: every operation the storage sends, the same answers, the same failures.

Each test runs on ``fast`` and ``botocore``; SeaweedFS checks every signature, so a request
that passes was signed right.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudcollect.config import Settings
from cloudcollect.storage import transport as transport_module
from cloudcollect.storage.opentransport import open_transport
from cloudcollect.storage.s3wire import child_text
from cloudcollect.storage.transport import FileSlice, Request, Transport, TransportError
from tests.conftest import Bucket, s3_settings
from tests.support.faultproxy import (
    Fault,
    FaultProxy,
    error,
    error_200_body,
    long_answer,
    reset_mid_body,
)

TRANSPORTS = ["fast", "botocore"]
KEYS = ["static/a b+c%.css", "static/café ~!*()'.js", "static/漢字 &=?#;.css", "static/x/y.css"]
MIB = 1024 * 1024


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def opened(settings: Settings, name: str) -> Transport:
    transport = open_transport(settings, name)
    assert transport.name == name
    return transport


@pytest.fixture(params=TRANSPORTS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def transport(bucket: Bucket, kind: str) -> Iterator[Transport]:
    opened_transport = opened(s3_settings(bucket), kind)
    yield opened_transport
    opened_transport.close()


@pytest.fixture
def proxied(bucket: Bucket, fault_proxy: FaultProxy, kind: str) -> Iterator[Transport]:
    """A transport whose requests go through the fault proxy (sleeping no time between
    retries is not needed: the backoff of non-throttling errors is at most 0.05 s * 2^n)."""
    opened_transport = opened(s3_settings(bucket, endpoint_url=fault_proxy.url), kind)
    yield opened_transport
    opened_transport.close()


def put(transport: Transport, key: str, data: bytes, **headers: str) -> Any:
    wire = {"content-md5": md5_b64(data), **headers}
    return transport.send(Request("PutObject", key, headers=wire, body=data))


# -- every operation -----------------------------------------------------------------------


@pytest.mark.parametrize("https", [False, True])
def test_put_head_get_list_round_trip(bucket: Bucket, kind: str, https: bool) -> None:
    transport = opened(s3_settings(bucket, https=https), kind)
    assert transport.send(Request("HeadBucket")).status == 200
    for key in KEYS:
        answer = put(
            transport,
            key,
            key.encode(),
            **{"content-type": "text/css", "x-amz-meta-cloudcollect-md5": "abc"},
        )
        assert answer.headers["etag"].strip('"') == hashlib.md5(key.encode()).hexdigest()
    head = transport.send(Request("HeadObject", KEYS[1]))
    assert head.headers["content-type"] == "text/css"
    assert head.headers["x-amz-meta-cloudcollect-md5"] == "abc"
    assert transport.send(Request("GetObject", KEYS[2])).body == KEYS[2].encode()
    query = {"prefix": "static/", "encoding-type": "url"}
    listing = transport.send(Request("ListObjectsV2", query=query)).body
    assert child_text(listing, "KeyCount") == str(len(KEYS))
    assert bucket.keys() == set(KEYS)
    transport.close()


def test_listing_pages_follow_the_continuation_token(bucket: Bucket, transport: Transport) -> None:
    for number in range(3):
        put(transport, f"k/{number}", b"x")
    page = transport.send(Request("ListObjectsV2", query={"prefix": "k/", "max-keys": "2"}))
    token = child_text(page.body, "NextContinuationToken")
    assert token
    query = {"prefix": "k/", "continuation-token": token}
    rest = transport.send(Request("ListObjectsV2", query=query))
    assert child_text(rest.body, "KeyCount") == "1"
    v1 = transport.send(Request("ListObjects", query={"prefix": "k/", "marker": "k/0"}))
    assert b"<Key>k/1</Key>" in v1.body and b"<Key>k/0</Key>" not in v1.body


def test_streamed_file_slice_and_multipart(
    bucket: Bucket, transport: Transport, tmp_path: Any
) -> None:
    data = bytes(range(256)) * (24 * 1024)  # 6 MiB: one 5 MiB part and the rest
    path = tmp_path / "big.bin"
    path.write_bytes(b"head" + data)
    with path.open("rb") as file:
        whole = FileSlice(file, 4, len(data))
        wire = {"content-md5": md5_b64(data)}
        transport.send(Request("PutObject", "single", headers=wire, body=whole))
        created = transport.send(Request("CreateMultipartUpload", "multi", headers={}))
        upload_id = child_text(created.body, "UploadId")
        assert upload_id
        parts = []
        for number, (start, size) in enumerate([(4, 5 * MIB), (4 + 5 * MIB, len(data) - 5 * MIB)]):
            piece = data[start - 4 : start - 4 + size]
            query = {"uploadId": upload_id, "partNumber": str(number + 1)}
            headers = {"content-md5": md5_b64(piece)}
            answer = transport.send(
                Request("UploadPart", "multi", query, headers, FileSlice(file, start, size))
            )
            parts.append({"PartNumber": number + 1, "ETag": answer.headers["etag"]})
    document = {"Parts": parts}
    query = {"uploadId": upload_id}
    transport.send(Request("CompleteMultipartUpload", "multi", query, document=document))
    assert bucket.read("single") == data
    assert bucket.read("multi") == data


def test_abort_and_delete(bucket: Bucket, transport: Transport) -> None:
    created = transport.send(Request("CreateMultipartUpload", "gone"))
    upload_id = child_text(created.body, "UploadId") or ""
    transport.send(Request("AbortMultipartUpload", "gone", {"uploadId": upload_id}))
    uploads = bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    assert uploads == []
    for key in ("a", "b\r", "c&<>"):
        put(transport, key, b"x")
    document = {"Objects": [{"Key": "a"}, {"Key": "b\r"}, {"Key": "missing"}], "Quiet": True}
    answer = transport.send(Request("DeleteObjects", document=document))
    assert b"<Error>" not in answer.body
    transport.send(Request("DeleteObject", "c&<>"))
    assert bucket.keys() == set()


# -- failures ------------------------------------------------------------------------------


def test_error_answers_are_the_same_on_both(bucket: Bucket, transport: Transport) -> None:
    with pytest.raises(TransportError) as missing:
        transport.send(Request("GetObject", "nope"))
    assert (missing.value.code, missing.value.status, missing.value.retries) == (
        "NoSuchKey",
        404,
        0,
    )
    with pytest.raises(TransportError) as head:
        transport.send(Request("HeadObject", "nope"))
    assert (head.value.code, head.value.status) == ("404", 404)
    with pytest.raises(TransportError) as digest:
        put(transport, "bad", b"x", **{"content-md5": md5_b64(b"y")})
    assert digest.value.code == "BadDigest"
    assert digest.value.retries == 0


def test_missing_bucket_and_wrong_secret(
    bucket: Bucket, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = opened(s3_settings(bucket, bucket="no-such-bucket-here"), kind)
    with pytest.raises(TransportError) as missing:
        gone.send(Request("HeadBucket"))
    assert missing.value.code == "404"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-of-this-bucket")
    rejected = opened(s3_settings(bucket), kind)
    with pytest.raises(TransportError) as denied:
        rejected.send(Request("ListObjectsV2"))
    assert denied.value.code in ("SignatureDoesNotMatch", "AccessDenied")
    assert denied.value.retries == 0


@pytest.mark.parametrize(
    "action",
    [error(503, "SlowDown"), error(429, "TooManyRequests"), error(500, "InternalError")],
    ids=["503", "429", "500"],
)
def test_transient_answers_are_retried(
    fault_proxy: FaultProxy, proxied: Transport, action: Any
) -> None:
    fault_proxy.add(Fault("PutObject", "k", action, times=2))
    assert put(proxied, "k", b"data").retries == 2
    assert [r.status for r in fault_proxy.requests("PutObject")][-1] == 200


def test_429_without_an_error_document_is_retried(
    fault_proxy: FaultProxy, proxied: Transport
) -> None:
    fault_proxy.add(Fault("HeadObject", "k", error(429, "TooManyRequests"), times=1))
    put(proxied, "k", b"data")
    assert proxied.send(Request("HeadObject", "k")).retries == 1


def test_connection_resets_are_retried(fault_proxy: FaultProxy, proxied: Transport) -> None:
    fault_proxy.add(Fault("PutObject", "k", reset_mid_body(), times=1))
    assert put(proxied, "k", b"data" * 1000).retries == 1


def test_persistent_errors_end_after_max_attempts(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    settings = s3_settings(bucket, endpoint_url=fault_proxy.url, max_attempts=3)
    transport = opened(settings, kind)
    fault_proxy.add(Fault("PutObject", "k", error(503, "SlowDown", retry_after=0), times=None))
    fault_proxy.add(Fault("HeadObject", "k", error(500, "InternalError"), times=None))
    with pytest.raises(TransportError) as slow:
        put(transport, "k", b"x")
    assert (slow.value.code, slow.value.retries) == ("SlowDown", 2)
    assert slow.value.request_id
    with pytest.raises(TransportError) as internal:
        transport.send(Request("HeadObject", "k"))
    assert (internal.value.code, internal.value.retries) == ("500", 2)


@pytest.mark.parametrize(
    "aws", [{"AWS_MAX_ATTEMPTS": "1"}, {"AWS_MAX_ATTEMPTS": "9", "AWS_RETRY_MODE": "legacy"}]
)
def test_the_aws_configurations_retry_settings_are_not_read(
    bucket: Bucket,
    fault_proxy: FaultProxy,
    kind: str,
    aws: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README: CLOUDCOLLECT_MAX_ATTEMPTS alone sets the attempts, on both transports."""
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    transport = opened(s3_settings(bucket, endpoint_url=fault_proxy.url, max_attempts=3), kind)
    fault_proxy.add(Fault("HeadObject", "k", error(500, "InternalError"), times=None))
    with pytest.raises(TransportError) as internal:
        transport.send(Request("HeadObject", "k"))
    assert (internal.value.code, internal.value.retries) == ("500", 2)


def test_200_with_an_error_document_is_retried_except_an_object_body(
    bucket: Bucket, fault_proxy: FaultProxy, proxied: Transport
) -> None:
    created = proxied.send(Request("CreateMultipartUpload", "m"))
    upload_id = child_text(created.body, "UploadId") or ""
    data = b"p" * 10
    query = {"uploadId": upload_id, "partNumber": "1"}
    part = proxied.send(Request("UploadPart", "m", query, {"content-md5": md5_b64(data)}, data))
    fault_proxy.add(Fault("CompleteMultipartUpload", "m", error_200_body(), times=1))
    document = {"Parts": [{"PartNumber": 1, "ETag": part.headers["etag"]}]}
    done = proxied.send(
        Request("CompleteMultipartUpload", "m", {"uploadId": upload_id}, document=document)
    )
    assert done.retries == 1
    assert bucket.read("m") == data
    error_like = b"<Error><Code>InternalError</Code></Error>"
    put(proxied, "doc.xml", error_like)
    got = proxied.send(Request("GetObject", "doc.xml"))
    assert (got.body, got.retries) == (error_like, 0)


@pytest.mark.parametrize("code", ["PermanentRedirect", "301"])
def test_an_endpoint_answering_301_fails_at_once(
    fault_proxy: FaultProxy, proxied: Transport, code: str
) -> None:
    """No redirect is followed and nothing is retried (botocore's region redirector once
    recursed here)."""
    operation = "HeadBucket" if code == "301" else "ListObjectsV2"
    extra = error(301, "PermanentRedirect", "The bucket is elsewhere.")
    fault_proxy.add(Fault(operation, None, extra, times=None))
    with pytest.raises(TransportError) as moved:
        proxied.send(Request(operation))
    assert (moved.value.code, moved.value.status, moved.value.retries) == (code, 301, 0)


def test_stale_keep_alive_connection_costs_no_retry(
    fault_proxy: FaultProxy, proxied: Transport
) -> None:
    put(proxied, "k", b"first")
    assert fault_proxy.drop_idle_connections() >= 1
    assert put(proxied, "k", b"second").retries == 0
    assert proxied.send(Request("GetObject", "k")).body == b"second"
    assert [r.status for r in fault_proxy.requests("PutObject")] == [200, 200]


# -- TLS -----------------------------------------------------------------------------------


def test_https_trusts_the_configured_bundle_only(
    bucket: Bucket, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the test CA the certificate is refused, once, not retried: the system
    store and certifi do not know it."""
    untrusted = opened(s3_settings(bucket, https=True, ca_bundle=None), kind)
    with pytest.raises(TransportError) as refused:
        untrusted.send(Request("HeadBucket"))
    assert (refused.value.code, refused.value.retries) == ("SSLError", 0)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bucket.server.ca_file))
    trusted = opened(s3_settings(bucket, https=True, ca_bundle=None), kind)
    assert trusted.send(Request("HeadBucket")).status == 200


def test_a_missing_ca_bundle_is_an_ssl_error(bucket: Bucket, kind: str, tmp_path: Any) -> None:
    missing = str(tmp_path / "nowhere.pem")
    transport = opened(s3_settings(bucket, https=True, ca_bundle=missing), kind)
    with pytest.raises(TransportError) as failed:
        transport.send(Request("HeadBucket"))
    assert failed.value.code == "SSLError"
    assert "does not exist" in failed.value.message


# -- credentials ---------------------------------------------------------------------------


def test_credentials_from_a_shared_credentials_profile(
    bucket: Bucket, kind: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = bucket.server
    env = server.env()
    shared = tmp_path / "credentials"
    shared.write_text(
        f"[site]\naws_access_key_id = {env['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {env['AWS_SECRET_ACCESS_KEY']}\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile site]\nregion = us-east-1\ns3 =\n  addressing_style = path\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    transport = opened(s3_settings(bucket, profile="site"), kind)
    assert transport.send(Request("HeadBucket")).status == 200


def credential_process(tmp_path: Path, env: dict[str, str], then: str = "") -> Path:
    """An AWS config whose profile ``proc`` runs a credential process; its credentials
    expire within botocore's mandatory refresh window (10 minutes), so botocore asks it
    again before every signature. Every call adds an ``x`` to ``tmp_path/calls``. With
    ``then``, the calls after the first print that instead."""
    calls = tmp_path / "calls"
    script = tmp_path / "creds.py"
    script.write_text(
        "import datetime, json, pathlib\n"
        f"path = pathlib.Path({str(calls)!r})\n"
        f"if {then!r} and path.exists():\n"
        f"    print({then!r})\n"
        "    raise SystemExit\n"
        "path.write_text(path.read_text() + 'x' if path.exists() else 'x')\n"
        "soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {env['AWS_ACCESS_KEY_ID']!r},"
        f" 'SecretAccessKey': {env['AWS_SECRET_ACCESS_KEY']!r},"
        " 'Expiration': soon.isoformat()}))\n"
    )
    config = tmp_path / "config"
    config.write_text(f"[profile proc]\ncredential_process = {sys.executable} {script}\n")
    return config


def test_refreshable_credentials_are_refreshed(
    bucket: Bucket, kind: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credential_process whose credentials expire within botocore's mandatory refresh
    window (10 minutes) is asked again before every signature."""
    config = credential_process(tmp_path, bucket.server.env())
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    transport = opened(s3_settings(bucket, profile="proc"), kind)
    for _ in range(3):
        transport.send(Request("HeadBucket"))
    assert len((tmp_path / "calls").read_text()) >= 3


def test_a_refresh_failing_with_pythons_own_error_is_a_credentials_failure(
    bucket: Bucket, kind: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process prints no JSON the second time: botocore raises JSONDecodeError, not
    one of its errors, from the refresh before a signature."""
    config = credential_process(tmp_path, bucket.server.env(), then="1 2")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    transport = opened(s3_settings(bucket, profile="proc"), kind)
    with pytest.raises(TransportError) as failed:
        transport.send(Request("HeadBucket"))
    assert failed.value.code == "CredentialsError"
    assert "JSONDecodeError" in str(failed.value)
    assert (tmp_path / "calls").read_text() == "x"


def test_no_credentials_is_a_credentials_failure(
    bucket: Bucket, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    transport = opened(s3_settings(bucket), kind)
    with pytest.raises(TransportError) as failed:
        transport.send(Request("HeadBucket"))
    assert failed.value.code == "NoCredentialsError"


def test_partial_credentials_say_which_one_is_missing_and_no_value(
    bucket: Bucket, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key id without its secret: botocore's message names the variable to set."""
    key_id = bucket.server.env()["AWS_ACCESS_KEY_ID"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(TransportError) as failed:  # botocore's: as the client is made
        opened(s3_settings(bucket), kind).send(Request("HeadBucket"))
    assert failed.value.code == "CredentialsError"
    assert "missing: AWS_SECRET_ACCESS_KEY" in str(failed.value)
    assert key_id not in str(failed.value)


def test_a_file_that_shrank_fails_as_source_changed(
    bucket: Bucket, transport: Transport, tmp_path: Any
) -> None:
    for size in (10, 400_000):  # inlined and streamed bodies
        path = tmp_path / "f.bin"
        path.write_bytes(b"x" * (size - 3))
        with path.open("rb") as file:
            body = FileSlice(file, 0, size)
            wire = {"content-md5": md5_b64(b"x" * size)}  # what was hashed
            request = Request("PutObject", "f", headers=wire, body=body)
            with pytest.raises(TransportError) as changed:
                transport.send(request)
        assert (changed.value.code, changed.value.retries) == ("SourceChanged", 0)
    assert bucket.keys() == set()


# -- answers longer than any S3 store sends ---------------------------------------------------


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Body limits of 2 MiB (an object's content) and 1 MiB (anything else)."""
    monkeypatch.setattr(transport_module, "MAX_OBJECT_BODY", 2 * MIB)
    monkeypatch.setattr(transport_module, "MAX_BODY", 1 * MIB)


def sent_by(sent: list[int]) -> int:
    """The bytes the proxy wrote before the client closed (waits for it to notice)."""
    for _ in range(1000):
        if sent:
            return sent[0]
        threading.Event().wait(0.01)
    raise AssertionError("the proxy is still writing: the client read on")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_object_longer_than_its_limit_is_not_read(
    fault_proxy: FaultProxy, proxied: Transport, small_limits: None, declared: bool
) -> None:
    """Both transports stop at the limit, do not retry, and the next request works (the
    connection that held the rest of the answer is not reused)."""
    sent: list[int] = []
    endless = long_answer(64 * MIB, declared=declared, sent=sent)
    fault_proxy.add(Fault("GetObject", "state", endless))
    with pytest.raises(TransportError) as refused:
        proxied.send(Request("GetObject", "state"))
    assert (refused.value.code, refused.value.retries) == ("ResponseTooLarge", 0)
    assert "longer than 2 MiB" in refused.value.message
    assert sent_by(sent) < 64 * MIB
    put(proxied, "k", b"kept")
    assert proxied.send(Request("GetObject", "k")).body == b"kept"
    assert len(fault_proxy.requests("GetObject")) == 2


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_listing_page_longer_than_its_limit_is_not_read(
    bucket: Bucket, fault_proxy: FaultProxy, small_limits: None, declared: bool
) -> None:
    """The fast transport bounds every answer; botocore reads non-object answers itself."""
    transport = opened(s3_settings(bucket, endpoint_url=fault_proxy.url), "fast")
    sent: list[int] = []
    fault_proxy.add(
        Fault("ListObjectsV2", None, long_answer(64 * MIB, declared=declared, sent=sent))
    )
    with pytest.raises(TransportError) as refused:
        transport.send(Request("ListObjectsV2"))
    assert (refused.value.code, refused.value.retries) == ("ResponseTooLarge", 0)
    assert "longer than 1 MiB" in refused.value.message
    assert sent_by(sent) < 64 * MIB
    assert transport.send(Request("ListObjectsV2")).status == 200
    transport.close()


def test_a_stored_object_above_the_limit_heads_but_is_not_got(
    bucket: Bucket, transport: Transport, small_limits: None
) -> None:
    """HEAD declares the object's length without a body: only GetObject is refused."""
    data = b"s" * (3 * MIB)
    put(transport, "big", data)
    assert transport.send(Request("HeadObject", "big")).headers["content-length"] == str(len(data))
    with pytest.raises(TransportError) as refused:
        transport.send(Request("GetObject", "big"))
    assert refused.value.code == "ResponseTooLarge"
    put(transport, "small", b"x" * (2 * MIB))
    assert len(transport.send(Request("GetObject", "small")).body) == 2 * MIB
