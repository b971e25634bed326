"""S3Storage behaviour beyond the contract, on both transports: preflight errors, request
shape, delete errors, listing, parallel multipart and its failures, error translation.
Request shapes are read from the fault proxy's log in front of a real SeaweedFS."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cloudcollect.config import Settings
from cloudcollect.errors import ConfigError, FatalStorageError, StorageError
from cloudcollect.storage import s3
from cloudcollect.storage.base import MD5_METADATA, DeleteFailure
from cloudcollect.storage.s3 import S3Storage
from cloudcollect.storage.s3errors import storage_error, translate_error
from cloudcollect.storage.s3headers import remote_from_head, wire_headers
from cloudcollect.storage.s3listing import list_objects, parse_listing
from cloudcollect.storage.transport import TransportError
from tests.conftest import Bucket, s3_settings
from tests.support.faultproxy import (
    Action,
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


@pytest.fixture(params=["fast", "botocore"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on both transports."""
    name: str = request.param
    return name


def via_proxy(bucket: Bucket, proxy: FaultProxy, kind: str = "fast", **changes: Any) -> S3Storage:
    settings = s3_settings(bucket, endpoint_url=proxy.url, transport=kind, **changes)
    return S3Storage.from_settings(settings)


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
    wire = wire_headers(
        {
            "Content-Type": "text/css",
            "cache-control": "max-age=1",
            "Content-Encoding": "gzip",
            "Content-Disposition": "inline",
            "Content-Language": "fr",
            "Expires": "2037-01-01T00:00:00Z",
            "X-Amz-Meta-Build-Id": "42",
        }
    )
    assert wire == {
        "content-type": "text/css",
        "cache-control": "max-age=1",
        "content-encoding": "gzip",
        "content-disposition": "inline",
        "content-language": "fr",
        "expires": "Thu, 01 Jan 2037 00:00:00 GMT",
        "x-amz-meta-build-id": "42",
    }
    with pytest.raises(ConfigError, match="one line of ASCII"):
        wire_headers({"Content-Disposition": "inline; filename=caf\u00e9"})


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
            "AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN (a temporary key id is known only with the "
            "token issued with it), CLOUDCOLLECT_PROFILE or the endpoint",
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
@pytest.mark.parametrize(
    ("status", "listing", "reason"),
    [
        (403, None, "access denied (credentials rejected or no permission)"),  # listing allowed
        (400, "AuthorizationHeaderMalformed", "bad request (wrong region or endpoint?)"),
    ],
)
def test_a_bare_status_the_listing_does_not_explain_stays_that_status(
    bucket: Bucket, fault_proxy: FaultProxy, status: int, listing: str | None, reason: str
) -> None:
    fault_proxy.add(Fault("HeadBucket", None, error(status, "AccessDenied"), times=None))
    if listing is not None:
        fault_proxy.add(Fault("ListObjectsV2", None, error(status, listing), times=None))
    storage = via_proxy(bucket, fault_proxy)
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    storage.close()
    assert raised.value.code == str(status)
    assert reason in str(raised.value)


@pytest.mark.seaweedfs
@pytest.mark.parametrize("kind", ["fast", "botocore"])
@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        ("ExpiredToken", "The provided token has expired.", "the session token has expired"),
        ("InvalidToken", "The provided token is malformed.", "the store refuses the session token"),
    ],
)
def test_a_bare_400_from_a_session_token_says_what_is_wrong_with_it(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str, code: str, message: str, reason: str
) -> None:
    """AWS answers HeadBucket with a bodiless 400 for an expired or invalid session token;
    the listing's error body names it."""
    fault_proxy.add(Fault("HeadBucket", None, error(400, code), times=None))
    fault_proxy.add(Fault("ListObjectsV2", None, error(400, code, message), times=None))
    storage = via_proxy(bucket, fault_proxy, kind)
    with pytest.raises(FatalStorageError) as raised:
        storage.check()
    storage.close()
    assert raised.value.code == code
    assert f"{reason} ({code})" in str(raised.value)
    assert "AWS_SESSION_TOKEN" in str(raised.value) or "sso login" in str(raised.value)


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
def test_request_shape_content_md5_and_no_checksum_trailers(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    storage = via_proxy(
        bucket, fault_proxy, kind, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    small, big = b"small body", bytes(range(256)) * (5 * MIB // 256 + 100)
    storage.put("static/small.txt", io.BytesIO(small), len(small), md5(small), HEADERS)
    storage.put("static/big.bin", io.BytesIO(big), len(big), md5(big), HEADERS)
    storage.close()

    puts = [r.headers for r in fault_proxy.requests() if r.method == "PUT"]
    assert len(puts) == 3  # one PutObject, two UploadPart
    assert len(fault_proxy.requests("UploadPart")) == 2
    for headers in puts:
        assert "content-md5" in headers
        assert not [name for name in headers if name.startswith("x-amz-checksum-")]
        assert "x-amz-trailer" not in headers
        assert "x-amz-acl" not in headers
        assert "aws-chunked" not in headers.get("content-encoding", "")
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    (single,) = [r.headers for r in fault_proxy.requests("PutObject")]
    assert single["content-md5"] == base64.b64encode(hashlib.md5(small).digest()).decode()
    assert bucket.read("static/small.txt") == small
    assert bucket.read("static/big.bin") == big


@pytest.mark.seaweedfs
def test_https_object_has_exactly_the_content_encoding_set(bucket: Bucket, kind: str) -> None:
    storage = S3Storage.from_settings(s3_settings(bucket, https=True, transport=kind))
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
def test_acl_header_only_when_configured(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    storage = via_proxy(bucket, fault_proxy, kind, acl="private")
    storage.put("static/a.txt", io.BytesIO(b"a"), 1, md5(b"a"), HEADERS)
    storage.close()

    (put,) = fault_proxy.requests("PutObject")
    assert put.headers["x-amz-acl"] == "private"


@pytest.mark.seaweedfs
def test_head_reports_headers_metadata_and_md5(bucket: Bucket, kind: str) -> None:
    storage = S3Storage.from_settings(s3_settings(bucket, transport=kind))
    data = b"<svg/>"
    headers = {
        "Content-Type": "image/svg+xml",
        "Cache-Control": "public, max-age=31536000, immutable",
        "Content-Disposition": "inline",
        "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
        "X-Amz-Meta-Build": "abc",
    }
    storage.put("static/logo.svg", io.BytesIO(data), len(data), md5(data), headers)

    head = storage.head("static/logo.svg")
    storage.close()
    assert head is not None
    assert head.md5 == md5(data)
    assert head.headers == headers
    assert bucket.head("static/logo.svg")["Metadata"] == {MD5_METADATA: md5(data), "build": "abc"}


def test_md5_from_etag_only_when_trustworthy() -> None:
    etag = '"0123456789abcdef0123456789abcdef"'
    base = {"etag": etag, "content-length": "3"}
    plain = remote_from_head("k", base, trust_etag=True)
    kms = remote_from_head("k", {**base, "x-amz-server-side-encryption": "aws:kms"}, True)
    sse_c = remote_from_head(
        "k", {**base, "x-amz-server-side-encryption-customer-algorithm": "AES256"}, True
    )
    recorded = remote_from_head(
        "k",
        {
            **base,
            "x-amz-server-side-encryption": "aws:kms",
            f"x-amz-meta-{MD5_METADATA}": "f" * 32,
        },
        True,
    )
    untrusted = remote_from_head("k", base, trust_etag=False)
    assert (plain.md5, plain.size) == ("0123456789abcdef0123456789abcdef", 3)
    assert (kms.md5, sse_c.md5, untrusted.md5) == (None, None, None)
    assert recorded.md5 == "f" * 32


# -- delete ------------------------------------------------------------------------------


@pytest.mark.seaweedfs
def test_delete_objects_per_key_errors_become_failures(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    _fill(bucket, ["static/a.css", "static/b.css", "static/c.css"])
    fault_proxy.add(Fault("DeleteObjects", "static/a.css", delete_errors("AccessDenied")))
    fault_proxy.add(Fault("DeleteObjects", "static/gone.css", delete_errors("NoSuchKey")))
    storage = via_proxy(bucket, fault_proxy, kind)
    failures = storage.delete(["static/a.css", "static/b.css"])
    assert failures == [DeleteFailure("static/a.css", "AccessDenied", "Access Denied")]
    assert storage.delete(["static/gone.css", "static/c.css"]) == []
    storage.close()


@pytest.mark.seaweedfs
def test_delete_batches_of_1000(bucket: Bucket, fault_proxy: FaultProxy, kind: str) -> None:
    storage = via_proxy(bucket, fault_proxy, kind)
    keys = [f"static/{n}.css" for n in range(2500)]
    assert storage.delete(keys) == []  # missing keys are no-ops
    storage.close()
    batches = [r.delete_keys for r in fault_proxy.requests("DeleteObjects")]
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [key for batch in batches for key in batch] == keys


@pytest.mark.seaweedfs
def test_a_failed_batch_fails_its_keys_and_the_next_batches_still_go(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    keys = [f"static/{n}.css" for n in range(2500)]
    _fill(bucket, ["static/2499.css"])
    fault_proxy.add(Fault("DeleteObjects", "static/1500.css", error(500, "InternalError"), None))
    storage = via_proxy(bucket, fault_proxy, kind, max_attempts=2)
    failures = storage.delete(keys)
    storage.close()
    assert [f.key for f in failures] == keys[1000:2000]
    assert {(f.code, f.retries) for f in failures} == {("InternalError", 1)}
    assert all(f.request_id for f in failures)
    assert bucket.keys().isdisjoint({"static/2499.css"})  # the batch after the failed one went


@pytest.mark.seaweedfs
@pytest.mark.parametrize("code", ["MissingContentMD5", "NotImplemented"])
def test_delete_falls_back_to_one_request_per_key(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str, code: str
) -> None:
    _fill(bucket, ["a", "c"])
    fault_proxy.add(Fault("DeleteObjects", None, error(400, code), times=None))
    fault_proxy.add(Fault("DeleteObject", "c", error(500, "InternalError"), times=None))
    storage = via_proxy(bucket, fault_proxy, kind, max_attempts=2)
    failures = storage.delete(["a", "b", "c"])
    storage.close()
    assert [(f.key, f.code) for f in failures] == [("c", "InternalError")]
    assert bucket.keys() == {"c"}


@pytest.mark.seaweedfs
def test_delete_access_denied_is_fatal(bucket: Bucket, fault_proxy: FaultProxy, kind: str) -> None:
    fault_proxy.add(Fault("DeleteObjects", None, error(403, "AccessDenied"), times=None))
    storage = via_proxy(bucket, fault_proxy, kind)
    with pytest.raises(FatalStorageError) as raised:
        storage.delete(["a"])
    storage.close()
    assert raised.value.code == "AccessDenied"


# -- listing -----------------------------------------------------------------------------


def _fill(bucket: Bucket, keys: list[str]) -> None:
    def put(key: str) -> None:
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=key.encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))


@pytest.mark.seaweedfs
@pytest.mark.parametrize("version", [2, 1])
def test_listing_equals_botocores_across_pages(bucket: Bucket, kind: str, version: int) -> None:
    odd = ["a b", "a+b", "100%", "100%25", "x#y", "q?", "caf\u00e9", "cafe\u0301", "日本"]
    keys = [f"static/{n:05d}-{odd[n % len(odd)]}.css" for n in range(1234)]
    _fill(bucket, keys + ["static2/not-me.css"])
    storage = S3Storage.from_settings(s3_settings(bucket, transport=kind, list_version=version))

    listing = sorted(storage.list("static/"), key=lambda o: o.key)
    storage.close()

    assert (
        [o.key for o in listing] == sorted(keys) == sorted(bucket.keys() - {"static2/not-me.css"})
    )
    assert all(o.md5 == md5(o.key.encode()) for o in listing)
    assert all(o.last_modified is not None for o in listing)
    operation = "ListObjectsV2" if version == 2 else "ListObjects"
    assert storage.operations[operation] == 2  # 1000 + 234: pagination was exercised


@pytest.mark.seaweedfs
def test_listing_a_missing_bucket_is_fatal(bucket: Bucket, kind: str) -> None:
    settings = s3_settings(bucket, bucket=bucket.name + "-nope", transport=kind)
    storage = S3Storage.from_settings(settings)
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


def _page(keys: list[str], token: str | None) -> bytes:
    following = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    contents = "".join(f"<Contents><Key>{key}</Key><Size>1</Size></Contents>" for key in keys)
    return (
        f"<ListBucketResult><IsTruncated>{'true' if token else 'false'}</IsTruncated>"
        f"{following}{contents}</ListBucketResult>"
    ).encode()


def test_the_next_page_is_asked_for_while_a_page_is_handed_over() -> None:
    """The listing asks for page 2 before page 1's objects are consumed (its round trip
    overlaps building them), and never past the last page."""
    pages = {None: (["a", "b"], "T1"), "T1": (["c"], "T2"), "T2": (["d"], None)}
    asked = {token: threading.Event() for token in pages}
    calls: list[str | None] = []

    def fetch(operation: str, query: dict[str, str]) -> bytes:
        token = query.get("continuation-token")
        calls.append(token)
        asked[token].set()
        return _page(*pages[token])

    seen = []
    for obj in list_objects(fetch, "p/", 2, trust_etag=True):
        seen.append(obj.key)
        following = {"a": "T1", "c": "T2"}.get(obj.key)
        if following is not None:
            assert asked[following].wait(10), f"page {following} was asked for only later"
    assert seen == ["a", "b", "c", "d"]
    assert calls == [None, "T1", "T2"]


# -- multipart -----------------------------------------------------------------------------


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
def test_failed_multipart_is_aborted(bucket: Bucket, kind: str) -> None:
    storage = S3Storage.from_settings(
        s3_settings(
            bucket, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, transport=kind
        )
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


def counting(peak: list[int]) -> Action:
    """Forwards each request after a short pause, counting how many are in flight at once
    (``peak[0]``: the most)."""
    lock = threading.Lock()
    now = [0]

    def run(exchange: Any, fault: Fault) -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        try:
            exchange.wait(0.2)
            exchange.relay(exchange.forward())
        finally:
            with lock:
                now[0] -= 1

    return Action("counting", run)


@pytest.mark.seaweedfs
@pytest.mark.parametrize(("budget_parts", "expected"), [(64, 4), (2, 2)])
def test_parts_go_in_parallel_under_the_memory_bound(
    bucket: Bucket,
    fault_proxy: FaultProxy,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    budget_parts: int,
    expected: int,
) -> None:
    """8 parts and 4 workers: 4 parts in flight at once, or as many as the part buffer
    holds (2 here)."""
    monkeypatch.setattr(s3, "PART_BUFFER", budget_parts * 5 * MIB)
    peak = [0]
    fault_proxy.add(Fault("UploadPart", None, counting(peak), times=None))
    storage = via_proxy(
        bucket,
        fault_proxy,
        kind,
        multipart_threshold=5 * MIB,
        multipart_chunksize=5 * MIB,
        workers=4,
    )
    data = bytes(range(256)) * (8 * 5 * MIB // 256)
    storage.put("big.bin", io.BytesIO(data), len(data), md5(data), {})
    storage.close()
    assert peak[0] == expected
    assert bucket.read("big.bin") == data


@pytest.mark.seaweedfs
def test_no_such_upload_with_other_content_fails_and_aborts(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    fault_proxy.add(Fault("CompleteMultipartUpload", None, error(404, "NoSuchUpload"), times=None))
    storage = via_proxy(
        bucket, fault_proxy, kind, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    data = b"m" * (5 * MIB + 10)
    with pytest.raises(StorageError) as raised:
        storage.put("big", io.BytesIO(data), len(data), md5(data), {})
    storage.close()
    assert raised.value.code == "NoSuchUpload"
    assert len(fault_proxy.requests("AbortMultipartUpload")) == 1
    assert bucket.keys() == set()


@pytest.mark.seaweedfs
def test_failed_part_aborts_and_reports_the_code(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    fault_proxy.add(Fault("UploadPart", None, error(503, "SlowDown"), times=None))
    storage = via_proxy(
        bucket,
        fault_proxy,
        kind,
        multipart_threshold=5 * MIB,
        multipart_chunksize=5 * MIB,
        max_attempts=2,
    )
    data = b"m" * (5 * MIB + 10)
    with pytest.raises(StorageError) as raised:
        storage.put("big", io.BytesIO(data), len(data), md5(data), {})
    storage.close()
    assert not isinstance(raised.value, FatalStorageError)
    assert (raised.value.code, raised.value.key, raised.value.retries) == ("SlowDown", "big", 1)
    assert len(fault_proxy.requests("AbortMultipartUpload")) == 1


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


FATAL = [
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AccessControlListNotSupported",
    "AuthorizationHeaderMalformed",
]


@pytest.mark.parametrize("code", FATAL)
def test_fatal_codes(code: str) -> None:
    answers = [
        translate_error(_client_error(code, 403), "PutObject", "static/a.css"),
        storage_error(
            TransportError(code, f"message for {code}", status=403, request_id="REQ123"),
            "PutObject",
            "static/a.css",
        ),
    ]
    for answer in answers:
        assert isinstance(answer, FatalStorageError)
        assert (answer.code, answer.key, answer.request_id) == (code, "static/a.css", "REQ123")
        assert "REQ123" in str(answer) and code in str(answer)


def test_transient_codes_keep_the_retry_count() -> None:
    error = translate_error(_client_error("SlowDown", 503, retries=4), "PutObject", "k")
    assert type(error) is StorageError
    assert (error.code, error.retries) == ("SlowDown", 4)
    failure = TransportError("SlowDown", "slow", status=503, retries=4)
    assert (storage_error(failure, "PutObject", "k").retries, failure.code) == (4, "SlowDown")


def test_botocore_exceptions_are_translated() -> None:
    connection = translate_error(
        EndpointConnectionError(endpoint_url="http://x"), "HeadBucket", attempts=5
    )
    assert type(connection) is StorageError
    assert (connection.code, connection.retries) == ("ConnectionError", 4)
    assert isinstance(translate_error(NoCredentialsError(), "HeadBucket"), FatalStorageError)


# -- through the fault proxy (real SeaweedFS behind it) ----------------------------------


@pytest.mark.seaweedfs
def test_lost_complete_answer_through_the_proxy(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    fault_proxy.add(Fault("CompleteMultipartUpload", "static/*", reset_after_forward()))
    storage = via_proxy(
        bucket, fault_proxy, kind, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    data = bytes(range(256)) * (6 * MIB // 256)

    storage.put("static/big.bin", io.BytesIO(data), len(data), md5(data), HEADERS)
    storage.close()

    assert len(fault_proxy.requests("CompleteMultipartUpload")) >= 2
    assert bucket.read("static/big.bin") == data
    assert bucket.head("static/big.bin")["Metadata"][MD5_METADATA] == md5(data)
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


@pytest.mark.seaweedfs
def test_slow_down_is_retried_then_succeeds(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    fault_proxy.add(Fault("PutObject", "static/a.css", error(503, "SlowDown"), times=2))
    fault_proxy.add(Fault("UploadPart", "static/big.bin", reset_mid_body(), times=1))
    storage = via_proxy(
        bucket, fault_proxy, kind, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    big = b"b" * (5 * MIB + 3)
    storage.put("static/a.css", io.BytesIO(b"a{}"), 3, md5(b"a{}"), HEADERS)
    assert storage.last_put_retries() == 2
    storage.put("static/big.bin", io.BytesIO(big), len(big), md5(big), HEADERS)
    assert storage.last_put_retries() == 1
    storage.close()

    assert [r.status for r in fault_proxy.requests("PutObject")] == [503, 503, 200]
    assert bucket.read("static/a.css") == b"a{}"
    assert bucket.read("static/big.bin") == big


@pytest.mark.seaweedfs
def test_persistent_errors_fail_the_key_with_code_and_retries(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    fault_proxy.add(Fault("PutObject", "static/a.css", error(503, "SlowDown"), times=None))
    storage = via_proxy(bucket, fault_proxy, kind, max_attempts=3)
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
def test_expired_token_is_fatal(bucket: Bucket, fault_proxy: FaultProxy, kind: str) -> None:
    fault_proxy.add(Fault("PutObject", None, error(400, "ExpiredToken"), times=None))
    storage = via_proxy(bucket, fault_proxy, kind)
    with pytest.raises(FatalStorageError) as raised:
        storage.put("static/a.css", io.BytesIO(b"a"), 1, md5(b"a"), HEADERS)
    storage.close()
    assert raised.value.code == "ExpiredToken"
    assert len(fault_proxy.requests("PutObject")) == 1  # not retried


@pytest.mark.seaweedfs
def test_listing_retries_a_200_with_an_error_body(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    _fill(bucket, ["static/a.css", "static/b.css"])
    fault_proxy.add(Fault("ListObjectsV2", None, error_200_body("InternalError")))
    fault_proxy.add(Fault("ListObjectsV2", None, error(503, "SlowDown")))
    storage = via_proxy(bucket, fault_proxy, kind)

    listed = sorted(o.key for o in storage.list("static/"))
    storage.close()

    assert listed == ["static/a.css", "static/b.css"]
    assert [r.status for r in fault_proxy.requests("ListObjectsV2")] == [200, 503, 200]


@pytest.mark.seaweedfs
def test_delete_objects_errors_and_required_content_md5_through_the_proxy(
    bucket: Bucket, fault_proxy: FaultProxy, kind: str
) -> None:
    _fill(bucket, ["static/a.css", "static/b.css", "static/keep/c.css"])
    fault_proxy.add(Fault("DeleteObjects", None, require_content_md5(), times=None))
    fault_proxy.add(Fault("DeleteObjects", "static/keep/*", delete_errors("AccessDenied")))
    storage = via_proxy(bucket, fault_proxy, kind)

    failures = storage.delete(["static/a.css", "static/b.css", "static/keep/c.css"])
    storage.close()

    assert [(f.key, f.code) for f in failures] == [("static/keep/c.css", "AccessDenied")]
    assert [r.status for r in fault_proxy.requests("DeleteObjects")] == [200]


@pytest.mark.seaweedfs
def test_server_time_is_the_storage_clock(bucket: Bucket, kind: str) -> None:
    opened = S3Storage.from_settings(s3_settings(bucket, transport=kind))
    try:
        bucket.client.put_object(Bucket=bucket.name, Key="clock", Body=b"x")
        written = bucket.head("clock")["LastModified"]
        now = opened.server_time()
    finally:
        opened.close()
    assert now is not None and now.tzinfo is not None
    assert abs((now - written).total_seconds()) < 60  # generous: one server, one clock
