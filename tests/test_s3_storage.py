"""S3Storage behaviour beyond the contract: preflight errors, request shape, delete errors,
the fast listing path, multipart failure handling, error translation."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from cloudcollect.config import Settings
from cloudcollect.errors import ConfigError, FatalStorageError, StorageError
from cloudcollect.storage.base import MD5_METADATA, DeleteFailure
from cloudcollect.storage.s3 import S3Storage, parse_listing, request_params, translate_error
from tests.conftest import Bucket, admin_client, s3_settings
from tests.support.faultproxy import (
    Fault,
    FaultProxy,
    delete_errors,
    error,
    error_200_body,
    require_content_md5,
    reset_after_forward,
    reset_mid_body,
)
from tests.support.seaweed import REGION, SECRET_KEY

MIB = 1024 * 1024
HEADERS = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache"}


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def storage(bucket: Bucket) -> Iterator[S3Storage]:
    opened = S3Storage.from_settings(s3_settings(bucket))
    yield opened
    opened.close()


def offline_storage(**changes: Any) -> S3Storage:
    """A storage whose client is only ever used through a Stubber (no server needed)."""
    settings = Settings(bucket="offline", endpoint_url="http://127.0.0.1:9", region=REGION)
    return S3Storage.from_settings(dataclasses.replace(settings, **changes))


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class RecordedRequests:
    """Headers of every request a client sends, recorded by a botocore before-send hook."""

    def __init__(self, storage: S3Storage) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        storage.client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, **_: Any) -> None:
        headers = {name.lower(): _text(value) for name, value in request.headers.items()}
        self.sent.append((request.method, request.url, headers))

    def by_query(self, fragment: str, method: str) -> list[dict[str, str]]:
        return [h for m, url, h in self.sent if m == method and fragment in url]


# -- configuration ----------------------------------------------------------------------


def test_bucket_is_required() -> None:
    with pytest.raises(ConfigError) as raised:
        S3Storage.from_settings(Settings())
    assert raised.value.key == "CLOUDCOLLECT_BUCKET"


def test_unknown_header_rule_is_a_config_error_before_any_request() -> None:
    settings = Settings(bucket="b", headers=(("*.css", {"X-Frame-Options": "DENY"}),))
    with pytest.raises(ConfigError) as raised:
        S3Storage.from_settings(settings)
    assert raised.value.key == "CLOUDCOLLECT_HEADERS"
    assert "X-Frame-Options" in str(raised.value)


def test_a_vary_rule_says_why_s3_cannot_and_where_to_set_it() -> None:
    settings = Settings(bucket="b", headers=(("**/*.css", {"vary": "Accept-Encoding"}),))
    with pytest.raises(ConfigError) as raised:
        S3Storage.from_settings(settings)
    assert raised.value.key == "CLOUDCOLLECT_HEADERS"
    assert "S3 never sends a stored Vary" in str(raised.value)
    assert "nothing varies" in str(raised.value)  # in-place precompression
    assert "response headers policy" in str(raised.value)


def test_header_mapping() -> None:
    params = request_params(
        {
            "Content-Type": "text/css",
            "cache-control": "max-age=1",
            "Content-Encoding": "gzip",
            "Content-Disposition": "inline",
            "Content-Language": "fr",
            "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
            "X-Amz-Meta-Build-Id": "42",
        }
    )
    assert params == {
        "ContentType": "text/css",
        "CacheControl": "max-age=1",
        "ContentEncoding": "gzip",
        "ContentDisposition": "inline",
        "ContentLanguage": "fr",
        "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
        "Metadata": {"build-id": "42"},
    }


def test_importing_cloudcollect_does_not_import_boto3() -> None:
    code = "import sys, cloudcollect, cloudcollect.storage; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- preflight ---------------------------------------------------------------------------


@pytest.mark.seaweedfs
def test_check_passes_for_an_existing_bucket(storage: S3Storage) -> None:
    storage.check()
    assert storage.operations["HeadBucket"] == 1


@pytest.mark.seaweedfs
def test_missing_bucket_is_fatal_and_never_created(bucket: Bucket) -> None:
    missing = bucket.name + "-missing"
    storage = S3Storage.from_settings(s3_settings(bucket, bucket=missing))
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    storage.close()

    assert raised.value.code == "NoSuchBucket"
    assert raised.value.exit_code == 3
    assert f"bucket {missing!r} not found at {bucket.server.endpoint}" in str(raised.value)
    names = {b["Name"] for b in bucket.client.list_buckets()["Buckets"]}
    assert missing not in names
    assert bucket.name in names


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True])
def test_bad_secret_is_fatal_and_never_printed(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch, https: bool
) -> None:
    wrong = "wrong-secret-do-not-print-Zq8x"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    storage = S3Storage.from_settings(s3_settings(bucket, https=https))
    errors: list[FatalStorageError] = []
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    errors.append(raised.value)
    with pytest.raises(FatalStorageError) as raised:
        storage.put("static/a.txt", io.BytesIO(b"a"), 1, md5(b"a"), HEADERS)
    errors.append(raised.value)
    with pytest.raises(FatalStorageError) as raised:
        list(storage.list("static/"))
    errors.append(raised.value)
    storage.close()

    assert errors[1].code in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")
    for failure in errors:
        text = f"{failure} {failure.code} {failure.request_id} {failure.args}"
        assert wrong not in text
        assert SECRET_KEY not in text
        assert "Authorization" not in text and "Signature=" not in text
    assert bucket.keys() == set()


@pytest.mark.seaweedfs
@pytest.mark.parametrize(
    ("variable", "value", "code", "reason"),
    [
        (
            "AWS_ACCESS_KEY_ID",
            "unknown-key-id",
            "InvalidAccessKeyId",
            "the store does not know the access key id (InvalidAccessKeyId): check "
            "AWS_ACCESS_KEY_ID, CLOUDCOLLECT_PROFILE or the endpoint",
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wrong-secret-do-not-print-Zq8x",
            "SignatureDoesNotMatch",
            "the secret key does not match the access key id (SignatureDoesNotMatch): check "
            "AWS_SECRET_ACCESS_KEY",
        ),
    ],
)
def test_a_refused_check_says_which_credential_is_wrong(
    bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    code: str,
    reason: str,
) -> None:
    monkeypatch.setenv(variable, value)
    storage = S3Storage.from_settings(s3_settings(bucket))
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    storage.close()
    assert raised.value.code == code
    assert str(raised.value).startswith(f"bucket {bucket.name!r} at {bucket.server.endpoint}")
    assert str(raised.value).endswith(f": {reason}")
    assert "wrong-secret" not in str(raised.value) and SECRET_KEY not in str(raised.value)


@pytest.mark.seaweedfs
def test_a_check_refused_by_a_policy_says_so(bucket: Bucket, fault_proxy: FaultProxy) -> None:
    fault_proxy.add(Fault("HeadBucket", None, error(403, "AccessDenied"), times=None))
    fault_proxy.add(Fault("ListObjectsV2", None, error(403, "AccessDenied"), times=None))
    storage = via_proxy(bucket, fault_proxy)
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    storage.close()
    assert raised.value.code == "AccessDenied"
    assert "the store knows the credentials but a policy refuses access (AccessDenied)" in str(
        raised.value
    )


@pytest.mark.seaweedfs
def test_a_bare_403_whose_listing_is_allowed_stays_access_denied(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("HeadBucket", None, error(403, "AccessDenied"), times=None))
    storage = via_proxy(bucket, fault_proxy)
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    storage.close()
    assert raised.value.code == "403"
    assert "access denied (credentials rejected or no permission)" in str(raised.value)


def test_no_credentials_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    storage = S3Storage.from_settings(
        Settings(bucket="b", endpoint_url="http://127.0.0.1:9", region=REGION)
    )
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    assert raised.value.code == "NoCredentialsError"


def test_unreachable_endpoint_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings = Settings(
        bucket="b", endpoint_url="http://127.0.0.1:9", region=REGION, max_attempts=2
    )
    storage = S3Storage.from_settings(settings)
    with pytest.raises(StorageError) as raised:
        storage.check()
    assert not isinstance(raised.value, FatalStorageError)
    assert raised.value.code == "ConnectionError"
    assert raised.value.retries == 1


# -- request shape -----------------------------------------------------------------------


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True])
def test_request_shape_content_md5_and_no_checksum_trailers(bucket: Bucket, https: bool) -> None:
    storage = S3Storage.from_settings(
        s3_settings(bucket, https=https, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    )
    recorded = RecordedRequests(storage)
    small, big = b"small body", bytes(range(256)) * (5 * MIB // 256 + 100)
    storage.put("static/small.txt", io.BytesIO(small), len(small), md5(small), HEADERS)
    storage.put("static/big.bin", io.BytesIO(big), len(big), md5(big), HEADERS)
    storage.close()

    puts = [h for m, url, h in recorded.sent if m == "PUT"]
    assert len(puts) == 3  # one PutObject, two UploadPart
    assert len(recorded.by_query("partNumber=", "PUT")) == 2
    for headers in puts:
        assert "content-md5" in headers
        assert not [name for name in headers if name.startswith("x-amz-checksum-")]
        assert "x-amz-trailer" not in headers
        assert "x-amz-acl" not in headers
        assert "aws-chunked" not in headers.get("content-encoding", "")
        assert headers.get("x-amz-content-sha256", "") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert puts[0]["content-md5"] == base64.b64encode(hashlib.md5(small).digest()).decode()
    assert bucket.read("static/small.txt") == small
    assert bucket.read("static/big.bin") == big


@pytest.mark.seaweedfs
def test_https_object_has_exactly_the_content_encoding_set(bucket: Bucket) -> None:
    storage = S3Storage.from_settings(s3_settings(bucket, https=True))
    plain, gzipped = b"plain text", b"\x1f\x8bnot really gzip"
    storage.put("static/plain.txt", io.BytesIO(plain), len(plain), md5(plain), HEADERS)
    storage.put(
        "static/app.js",
        io.BytesIO(gzipped),
        len(gzipped),
        md5(gzipped),
        {**HEADERS, "Content-Encoding": "gzip"},
    )
    storage.close()

    assert "ContentEncoding" not in bucket.head("static/plain.txt")
    assert bucket.head("static/app.js")["ContentEncoding"] == "gzip"
    assert bucket.read("static/plain.txt") == plain
    assert bucket.read("static/app.js") == gzipped


@pytest.mark.seaweedfs
def test_acl_header_only_when_configured(bucket: Bucket) -> None:
    storage = S3Storage.from_settings(s3_settings(bucket, acl="private"))
    recorded = RecordedRequests(storage)
    storage.put("static/a.txt", io.BytesIO(b"a"), 1, md5(b"a"), HEADERS)
    storage.close()

    (put,) = [h for m, _, h in recorded.sent if m == "PUT"]
    assert put["x-amz-acl"] == "private"


@pytest.mark.seaweedfs
def test_head_reports_headers_metadata_and_md5(storage: S3Storage, bucket: Bucket) -> None:
    data = b"<svg/>"
    headers = {
        "Content-Type": "image/svg+xml",
        "Cache-Control": "public, max-age=31536000, immutable",
        "Content-Disposition": "inline",
        "X-Amz-Meta-Build": "abc",
    }
    storage.put("static/logo.svg", io.BytesIO(data), len(data), md5(data), headers)

    head = storage.head("static/logo.svg")
    assert head is not None
    assert head.md5 == md5(data)
    assert head.headers == headers
    assert bucket.head("static/logo.svg")["Metadata"] == {MD5_METADATA: md5(data), "build": "abc"}


def test_md5_from_etag_only_when_trustworthy() -> None:
    storage = offline_storage()
    etag = '"0123456789abcdef0123456789abcdef"'
    plain = storage._remote_from_head("k", {"ETag": etag, "ContentLength": 3})
    kms = storage._remote_from_head(
        "k", {"ETag": etag, "ContentLength": 3, "ServerSideEncryption": "aws:kms"}
    )
    sse_c = storage._remote_from_head(
        "k", {"ETag": etag, "ContentLength": 3, "SSECustomerAlgorithm": "AES256"}
    )
    recorded = storage._remote_from_head(
        "k",
        {
            "ETag": etag,
            "ContentLength": 3,
            "ServerSideEncryption": "aws:kms",
            "Metadata": {MD5_METADATA: "f" * 32},
        },
    )
    untrusted = offline_storage(trust_etag=False)._remote_from_head(
        "k", {"ETag": etag, "ContentLength": 3}
    )
    assert plain.md5 == "0123456789abcdef0123456789abcdef"
    assert (kms.md5, sse_c.md5, untrusted.md5) == (None, None, None)
    assert recorded.md5 == "f" * 32


# -- delete ------------------------------------------------------------------------------


def test_delete_objects_per_key_errors_become_failures() -> None:
    storage = offline_storage()
    with Stubber(storage.client) as stub:
        stub.add_response(
            "delete_objects",
            {
                "Errors": [
                    {"Key": "static/a.css", "Code": "AccessDenied", "Message": "Access Denied"},
                    {"Key": "static/gone.css", "Code": "NoSuchKey", "Message": "missing"},
                    {"Key": "static/c.css", "Code": "InternalError", "Message": "try again"},
                ]
            },
            {
                "Bucket": "offline",
                "Delete": {
                    "Objects": [
                        {"Key": "static/a.css"},
                        {"Key": "static/b.css"},
                        {"Key": "static/gone.css"},
                        {"Key": "static/c.css"},
                    ],
                    "Quiet": True,
                },
            },
        )
        failures = storage.delete(
            ["static/a.css", "static/b.css", "static/gone.css", "static/c.css"]
        )
        stub.assert_no_pending_responses()
    assert failures == [
        DeleteFailure("static/a.css", "AccessDenied", "Access Denied"),
        DeleteFailure("static/c.css", "InternalError", "try again"),
    ]


def test_delete_batches_of_1000() -> None:
    storage = offline_storage()
    keys = [f"static/{n}.css" for n in range(2500)]
    with Stubber(storage.client) as stub:
        for start in (0, 1000, 2000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            expected = {"Bucket": "offline", "Delete": {"Objects": batch, "Quiet": True}}
            stub.add_response("delete_objects", {}, expected)
        assert storage.delete(keys) == []
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["MissingContentMD5", "NotImplemented"])
def test_delete_falls_back_to_one_request_per_key(code: str) -> None:
    storage = offline_storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("delete_objects", code, http_status_code=400)
        stub.add_response("delete_object", {}, {"Bucket": "offline", "Key": "a"})
        stub.add_client_error("delete_object", "NoSuchKey", http_status_code=404)
        stub.add_client_error("delete_object", "InternalError", http_status_code=500)
        failures = storage.delete(["a", "b", "c"])
        stub.assert_no_pending_responses()
    assert [(f.key, f.code) for f in failures] == [("c", "InternalError")]


def test_delete_access_denied_is_fatal() -> None:
    storage = offline_storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("delete_objects", "AccessDenied", http_status_code=403)
        with pytest.raises(FatalStorageError) as raised:
            storage.delete(["a"])
    assert raised.value.code == "AccessDenied"


@pytest.mark.seaweedfs
def test_delete_objects_sends_content_md5(storage: S3Storage, bucket: Bucket) -> None:
    for key in ("static/a.css", "static/b.css"):
        storage.put(key, io.BytesIO(b"x"), 1, md5(b"x"), HEADERS)
    recorded = RecordedRequests(storage)

    assert storage.delete(["static/a.css", "static/b.css"]) == []

    (posted,) = recorded.by_query("?delete", "POST")
    assert "content-md5" in posted
    assert bucket.keys() == set()


# -- listing -----------------------------------------------------------------------------


def _fill(bucket: Bucket, keys: list[str]) -> None:
    def put(key: str) -> None:
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=key.encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))


@pytest.mark.seaweedfs
def test_fast_listing_equals_paginator_listing_across_pages(bucket: Bucket) -> None:
    odd = ["a b", "a+b", "100%", "100%25", "x#y", "q?", "caf\u00e9", "cafe\u0301", "日本"]
    keys = [f"static/{n:05d}-{odd[n % len(odd)]}.css" for n in range(1234)]
    _fill(bucket, keys + ["static2/not-me.css"])
    fast = S3Storage.from_settings(s3_settings(bucket))
    slow = S3Storage.from_settings(s3_settings(bucket))
    slow.fast_list = False

    fast_listing = sorted(fast.list("static/"), key=lambda o: o.key)
    slow_listing = sorted(slow.list("static/"), key=lambda o: o.key)

    assert fast_listing == slow_listing
    assert [o.key for o in fast_listing] == sorted(keys)
    assert all(o.md5 == md5(o.key.encode()) for o in fast_listing)
    assert fast.operations["ListObjectsV2"] == 2  # 1000 + 234: pagination was exercised
    fast.close()
    slow.close()


@pytest.mark.seaweedfs
def test_listing_falls_back_when_raw_body_is_unavailable(bucket: Bucket) -> None:
    keys = [f"static/{n}+x.css" for n in range(1005)]
    _fill(bucket, keys)
    storage = S3Storage.from_settings(s3_settings(bucket))
    storage.client.meta.events.unregister(
        "before-parse.s3.ListObjectsV2", unique_id="cloudcollect-raw"
    )

    listed = sorted(o.key for o in storage.list("static/"))

    assert listed == sorted(keys)
    storage.close()


@pytest.mark.seaweedfs
def test_listing_a_missing_bucket_is_fatal(bucket: Bucket) -> None:
    for fast in (True, False):
        storage = S3Storage.from_settings(s3_settings(bucket, bucket=bucket.name + "-nope"))
        storage.fast_list = fast
        with pytest.raises(FatalStorageError) as raised:
            list(storage.list("static/"))
        assert raised.value.code == "NoSuchBucket"
        storage.close()


def test_parse_listing_decodes_url_encoded_keys_only_when_told() -> None:
    page = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>b</Name><Prefix>static%2F</Prefix><IsTruncated>true</IsTruncated>"
        b"<NextContinuationToken>tok/en==</NextContinuationToken>"
        b"<EncodingType>url</EncodingType>"
        b"<Contents><Key>static/a+b%2Bc%25.css</Key><Size>12</Size>"
        b"<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag>"
        b"<Owner><ID>x</ID></Owner></Contents>"
        b"<Contents><Key>static/%E6%97%A5.css</Key><Size>0</Size>"
        b"<ETag>&quot;0123456789abcdef0123456789abcdef-2&quot;</ETag></Contents>"
        b"</ListBucketResult>"
    )
    objects, token = parse_listing(page, trust_etag=True)
    assert token == "tok/en=="
    assert [(o.key, o.size, o.md5) for o in objects] == [
        ("static/a b+c%.css", 12, "0123456789abcdef0123456789abcdef"),
        ("static/日.css", 0, None),
    ]
    assert objects[0].etag == '"0123456789abcdef0123456789abcdef"'

    raw = b"<ListBucketResult><IsTruncated>false</IsTruncated>" + (
        b"<Contents><Key>static/a+b%2B.css</Key><Size>1</Size><ETag>x</ETag></Contents>"
        b"</ListBucketResult>"
    )
    objects, token = parse_listing(raw, trust_etag=False)
    assert token is None
    assert [(o.key, o.md5) for o in objects] == [("static/a+b%2B.css", None)]


def test_parse_listing_reads_last_modified_as_aware_utc() -> None:
    page = (
        b"<ListBucketResult><IsTruncated>false</IsTruncated>"
        b"<Contents><Key>a.css</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
        b"<Size>1</Size></Contents>"
        b"<Contents><Key>b.css</Key><Size>1</Size></Contents>"
        b"<Contents><Key>c.css</Key><LastModified>not a date</LastModified>"
        b"<Size>1</Size></Contents></ListBucketResult>"
    )
    objects, _ = parse_listing(page, trust_etag=True)

    stamps = [o.last_modified for o in objects]
    assert stamps == [datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), None, None]


# -- multipart failures ------------------------------------------------------------------


class FailingReader(io.BytesIO):
    """Fails on the read that starts at ``fail_at`` (a local disk error mid-upload)."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__(data)
        self.fail_at = fail_at

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= self.fail_at:
            raise OSError("disk went away")
        return super().read(size)


@pytest.mark.seaweedfs
def test_failed_multipart_is_aborted(bucket: Bucket) -> None:
    storage = S3Storage.from_settings(
        s3_settings(bucket, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    )
    data = b"z" * (11 * MIB)
    with pytest.raises(OSError):
        storage.put("static/big.bin", FailingReader(data, 5 * MIB), len(data), md5(data), {})

    assert storage.operations["CreateMultipartUpload"] == 1
    assert storage.operations["UploadPart"] == 1
    assert storage.operations["AbortMultipartUpload"] == 1
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []
    assert bucket.keys() == set()
    storage.close()


def _stub_multipart(stub: Stubber, parts: int) -> None:
    stub.add_response("create_multipart_upload", {"UploadId": "up-1"})
    for number in range(1, parts + 1):
        stub.add_response("upload_part", {"ETag": f'"etag-{number}"'})


def test_lost_complete_answer_is_accepted_when_the_object_matches() -> None:
    storage = offline_storage(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    data = b"m" * (5 * MIB + 10)
    with Stubber(storage.client) as stub:
        _stub_multipart(stub, 2)
        stub.add_client_error("complete_multipart_upload", "NoSuchUpload", http_status_code=404)
        stub.add_response(
            "head_object",
            {"ContentLength": len(data), "Metadata": {MD5_METADATA: md5(data)}},
            {"Bucket": "offline", "Key": "big"},
        )
        storage.put("big", io.BytesIO(data), len(data), md5(data), {})
        stub.assert_no_pending_responses()


def test_no_such_upload_with_other_content_fails_and_aborts() -> None:
    storage = offline_storage(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    data = b"m" * (5 * MIB + 10)
    with Stubber(storage.client) as stub:
        _stub_multipart(stub, 2)
        stub.add_client_error("complete_multipart_upload", "NoSuchUpload", http_status_code=404)
        stub.add_response(
            "head_object", {"ContentLength": 1, "Metadata": {MD5_METADATA: md5(b"older")}}
        )
        stub.add_response("abort_multipart_upload", {})
        with pytest.raises(StorageError) as raised:
            storage.put("big", io.BytesIO(data), len(data), md5(data), {})
        stub.assert_no_pending_responses()
    assert raised.value.code == "NoSuchUpload"


def test_failed_part_aborts_and_reports_the_code() -> None:
    storage = offline_storage(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    data = b"m" * (5 * MIB + 10)
    with Stubber(storage.client) as stub:
        stub.add_response("create_multipart_upload", {"UploadId": "up-1"})
        stub.add_client_error("upload_part", "SlowDown", http_status_code=503)
        stub.add_response(
            "abort_multipart_upload", {}, {"Bucket": "offline", "Key": "big", "UploadId": "up-1"}
        )
        with pytest.raises(StorageError) as raised:
            storage.put("big", io.BytesIO(data), len(data), md5(data), {})
        stub.assert_no_pending_responses()
    assert not isinstance(raised.value, FatalStorageError)
    assert (raised.value.code, raised.value.key) == ("SlowDown", "big")


# -- error translation -------------------------------------------------------------------


def _client_error(code: str, status: int, retries: int = 0) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"message for {code}"},
        "ResponseMetadata": {
            "RequestId": "REQ123",
            "HTTPStatusCode": status,
            "RetryAttempts": retries,
        },
    }
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    "code",
    [
        "NoSuchBucket",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccessControlListNotSupported",
        "AuthorizationHeaderMalformed",
    ],
)
def test_fatal_codes(code: str) -> None:
    error = translate_error(_client_error(code, 403), "PutObject", "static/a.css")
    assert isinstance(error, FatalStorageError)
    assert (error.code, error.key, error.request_id) == (code, "static/a.css", "REQ123")
    assert "REQ123" in str(error) and code in str(error)


def test_transient_codes_keep_the_retry_count() -> None:
    error = translate_error(_client_error("SlowDown", 503, retries=4), "PutObject", "k")
    assert type(error) is StorageError
    assert (error.code, error.retries) == ("SlowDown", 4)


def test_botocore_exceptions_are_translated() -> None:
    connection = translate_error(
        EndpointConnectionError(endpoint_url="http://x"), "HeadBucket", attempts=5
    )
    assert type(connection) is StorageError
    assert (connection.code, connection.retries) == ("ConnectionError", 4)
    assert isinstance(translate_error(NoCredentialsError(), "HeadBucket"), FatalStorageError)


def test_expires_header_is_accepted_by_botocore() -> None:
    storage = offline_storage()
    with Stubber(storage.client) as stub:
        stub.add_response("put_object", {"ETag": '"x"'})
        storage.put(
            "k", io.BytesIO(b"a"), 1, md5(b"a"), {"Expires": "Thu, 01 Jan 2037 00:00:00 GMT"}
        )
        stub.assert_no_pending_responses()


# -- through the fault proxy (real SeaweedFS behind it) ----------------------------------


def via_proxy(bucket: Bucket, proxy: FaultProxy, **changes: Any) -> S3Storage:
    return S3Storage.from_settings(s3_settings(bucket, endpoint_url=proxy.url, **changes))


@pytest.mark.seaweedfs
def test_lost_complete_answer_through_the_proxy(bucket: Bucket, fault_proxy: FaultProxy) -> None:
    fault_proxy.add(Fault("CompleteMultipartUpload", "static/*", reset_after_forward()))
    storage = via_proxy(
        bucket, fault_proxy, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    data = bytes(range(256)) * (6 * MIB // 256)

    storage.put("static/big.bin", io.BytesIO(data), len(data), md5(data), HEADERS)
    storage.close()

    assert len(fault_proxy.requests("CompleteMultipartUpload")) >= 2
    assert bucket.read("static/big.bin") == data
    assert bucket.head("static/big.bin")["Metadata"][MD5_METADATA] == md5(data)
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


@pytest.mark.seaweedfs
def test_slow_down_is_retried_then_succeeds(bucket: Bucket, fault_proxy: FaultProxy) -> None:
    fault_proxy.add(Fault("PutObject", "static/a.css", error(503, "SlowDown"), times=2))
    fault_proxy.add(Fault("UploadPart", "static/big.bin", reset_mid_body(), times=1))
    storage = via_proxy(
        bucket, fault_proxy, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    big = b"b" * (5 * MIB + 3)
    storage.put("static/a.css", io.BytesIO(b"a{}"), 3, md5(b"a{}"), HEADERS)
    storage.put("static/big.bin", io.BytesIO(big), len(big), md5(big), HEADERS)
    storage.close()

    assert [r.status for r in fault_proxy.requests("PutObject")] == [503, 503, 200]
    assert bucket.read("static/a.css") == b"a{}"
    assert bucket.read("static/big.bin") == big


@pytest.mark.seaweedfs
def test_persistent_errors_fail_the_key_with_code_and_retries(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", "static/a.css", error(503, "SlowDown"), times=None))
    storage = via_proxy(bucket, fault_proxy, max_attempts=3)
    with pytest.raises(StorageError) as raised:
        storage.put("static/a.css", io.BytesIO(b"a"), 1, md5(b"a"), HEADERS)
    storage.close()

    assert type(raised.value) is StorageError
    assert (raised.value.code, raised.value.retries, raised.value.key) == (
        "SlowDown",
        2,
        "static/a.css",
    )
    assert len(fault_proxy.requests("PutObject")) == 3
    assert bucket.keys() == set()


@pytest.mark.seaweedfs
def test_expired_token_is_fatal(bucket: Bucket, fault_proxy: FaultProxy) -> None:
    fault_proxy.add(Fault("PutObject", None, error(400, "ExpiredToken"), times=None))
    storage = via_proxy(bucket, fault_proxy)
    with pytest.raises(FatalStorageError) as raised:
        storage.put("static/a.css", io.BytesIO(b"a"), 1, md5(b"a"), HEADERS)
    storage.close()
    assert raised.value.code == "ExpiredToken"
    assert len(fault_proxy.requests("PutObject")) == 1  # not retried


@pytest.mark.seaweedfs
def test_fast_listing_retries_a_200_with_an_error_body(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    _fill(bucket, ["static/a.css", "static/b.css"])
    fault_proxy.add(Fault("ListObjectsV2", None, error_200_body("InternalError")))
    fault_proxy.add(Fault("ListObjectsV2", None, error(503, "SlowDown")))
    storage = via_proxy(bucket, fault_proxy)

    listed = sorted(o.key for o in storage.list("static/"))
    storage.close()

    assert listed == ["static/a.css", "static/b.css"]
    assert [r.status for r in fault_proxy.requests("ListObjectsV2")] == [200, 503, 200]


@pytest.mark.seaweedfs
def test_delete_objects_errors_and_required_content_md5_through_the_proxy(
    bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    _fill(bucket, ["static/a.css", "static/b.css", "static/keep/c.css"])
    fault_proxy.add(Fault("DeleteObjects", None, require_content_md5(), times=None))
    fault_proxy.add(Fault("DeleteObjects", "static/keep/*", delete_errors("AccessDenied")))
    storage = via_proxy(bucket, fault_proxy)

    failures = storage.delete(["static/a.css", "static/b.css", "static/keep/c.css"])
    storage.close()

    assert [(f.key, f.code) for f in failures] == [("static/keep/c.css", "AccessDenied")]
    assert [r.status for r in fault_proxy.requests("DeleteObjects")] == [200]


@pytest.mark.seaweedfs
@pytest.mark.parametrize("path", ["lean", "botocore"])
def test_server_time_is_the_storage_clock(bucket: Bucket, path: str) -> None:
    settings = s3_settings(bucket, addressing_style="path")
    if path == "lean":
        opened = S3Storage.from_settings(settings)
    else:
        opened = S3Storage(settings, admin_client(bucket.server))
    assert opened._lean_reads == (path == "lean")  # each way of sending HeadBucket
    try:
        bucket.client.put_object(Bucket=bucket.name, Key="clock", Body=b"x")
        written = bucket.head("clock")["LastModified"]
        now = opened.server_time()
    finally:
        opened.close()
    assert now is not None and now.tzinfo is not None
    assert abs((now - written).total_seconds()) < 60  # generous: one server, one clock
