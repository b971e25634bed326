"""The fault-injecting proxy, exercised with plain boto3 clients against real SeaweedFS."""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import struct
import threading
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff

from tests.conftest import Bucket
from tests.support.faultproxy import (
    Fault,
    FaultProxy,
    delay,
    delete_errors,
    error,
    error_200_body,
    flip_byte,
    head_403_if_missing,
    infer_operation,
    require_content_md5,
    reset_after_forward,
    reset_mid_body,
)
from tests.support.seaweed import ACCESS_KEY, REGION, SECRET_KEY, SeaweedServer
from tests.test_reliability import wait_for

pytestmark = pytest.mark.seaweedfs

MiB = 1024 * 1024
ClientFactory = Callable[..., Any]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without sleeping keep the suite quick."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def connect(fault_proxy: FaultProxy) -> Iterator[ClientFactory]:
    """Make boto3 clients whose endpoint is the proxy; all are closed afterwards."""
    clients: list[Any] = []

    def make(attempts: int = 3, read_timeout: float = 10.0, **s3_options: Any) -> Any:
        s3: Any = {"addressing_style": "path", **s3_options}
        client = boto3.client(
            "s3",
            endpoint_url=fault_proxy.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(
                s3=s3,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"mode": "standard", "total_max_attempts": attempts},
                connect_timeout=5,
                read_timeout=read_timeout,
            ),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = excinfo.value.response["Error"]["Code"]
    return code


# ------------------------------------------------------------------ operation inference


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("PUT", "/b/k", ("PutObject", "b", "k")),
        ("PUT", "/b/k?partNumber=2&uploadId=u", ("UploadPart", "b", "k")),
        ("POST", "/b/k?uploads", ("CreateMultipartUpload", "b", "k")),
        ("POST", "/b/k?uploadId=u", ("CompleteMultipartUpload", "b", "k")),
        ("DELETE", "/b/k?uploadId=u", ("AbortMultipartUpload", "b", "k")),
        ("POST", "/b?delete", ("DeleteObjects", "b", None)),
        ("DELETE", "/b/k", ("DeleteObject", "b", "k")),
        ("GET", "/b?list-type=2&prefix=s", ("ListObjectsV2", "b", None)),
        ("HEAD", "/b/k", ("HeadObject", "b", "k")),
        ("HEAD", "/b", ("HeadBucket", "b", None)),
        ("GET", "/b/k", ("GetObject", "b", "k")),
        ("GET", "/b?uploads", ("ListMultipartUploads", "b", None)),
        ("GET", "/b/k?uploadId=u", ("ListParts", "b", "k")),
        ("PUT", "/b/k?acl", ("Other", "b", "k")),
        ("GET", "/", ("ListBuckets", None, None)),
        ("PUT", "/b/a%20dir/caf%C3%A9%2B1.css", ("PutObject", "b", "a dir/café+1.css")),
    ],
)
def test_infer_operation(method: str, target: str, expected: tuple[str, str, str]) -> None:
    path, _, query = target.partition("?")
    assert infer_operation(method, path, query) == expected


def test_copy_source_header_makes_a_copy() -> None:
    headers = {"X-Amz-Copy-Source": "/b/src"}
    assert infer_operation("PUT", "/b/k", "", headers)[0] == "CopyObject"


def test_fault_needs_a_built_action() -> None:
    with pytest.raises(TypeError, match="call the factory"):
        Fault("PutObject", None, reset_mid_body)  # type: ignore[arg-type]


# ------------------------------------------------------------------ transparent forwarding


ODD_KEYS = ["plain.css", "dir with space/a+b.js", "ünïcødé/café 漢字.txt", "pct%20literal.txt"]


def test_round_trip_is_byte_identical(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    client = connect()
    payloads = {key: f"body of {key}\n".encode() * 100 + bytes(range(256)) for key in ODD_KEYS}
    for key, data in payloads.items():
        client.put_object(Bucket=bucket.name, Key=key, Body=data, ContentMD5=md5_b64(data))

    for key, data in payloads.items():
        assert client.get_object(Bucket=bucket.name, Key=key)["Body"].read() == data
        assert bucket.read(key) == data  # what the server stored, read around the proxy
    listed = client.list_objects_v2(Bucket=bucket.name)["Contents"]
    assert {item["Key"] for item in listed} == set(ODD_KEYS)

    client.delete_object(Bucket=bucket.name, Key=ODD_KEYS[1])
    assert bucket.keys() == set(ODD_KEYS) - {ODD_KEYS[1]}
    puts = fault_proxy.requests("PutObject")
    assert [r.key for r in puts] == ODD_KEYS
    assert {r.status for r in puts} == {200}
    assert {r.fault for r in fault_proxy.requests()} == {None}
    assert [r.key for r in fault_proxy.requests("DeleteObject")] == [ODD_KEYS[1]]


def test_multipart_upload_through_the_proxy(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    client = connect()
    parts_data = [b"a" * (5 * MiB), b"tail bytes"]
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="big.bin")
    parts = []
    for number, data in enumerate(parts_data, start=1):
        answer = client.upload_part(
            Bucket=bucket.name,
            Key="big.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
            ContentMD5=md5_b64(data),
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    done = client.complete_multipart_upload(
        Bucket=bucket.name,
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )

    assert done["ETag"].strip('"').endswith("-2")
    assert bucket.read("big.bin") == b"".join(parts_data)
    operations = [r.operation for r in fault_proxy.writes()]
    assert operations == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    assert [r.headers["content-length"] for r in fault_proxy.requests("UploadPart")] == [
        str(5 * MiB),
        "10",
    ]


def test_expect_100_continue_is_answered_by_the_proxy(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    source = tmp_path / "app.css"
    source.write_bytes(b"body { color: red }\n" * 1000)
    client = connect(attempts=1, read_timeout=5)

    with source.open("rb") as body:
        client.put_object(Bucket=bucket.name, Key="app.css", Body=body)

    (put,) = fault_proxy.requests("PutObject")
    assert put.headers["expect"] == "100-continue"  # botocore asked, and got its 100
    assert put.status == 200
    assert bucket.read("app.css") == source.read_bytes()


def test_chunked_request_body_is_forwarded_with_a_length(
    seaweed: SeaweedServer, bucket: Bucket
) -> None:
    with FaultProxy(upstream=seaweed.endpoint) as inner, FaultProxy(upstream=inner.url) as outer:
        port = int(outer.url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        with sock, sock.makefile("rb") as reader:
            sock.sendall(
                f"PUT /{bucket.name}/k HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
                "4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n".encode()
            )
            final = reader.readline()

    assert final.startswith(b"HTTP/1.1 403 ")  # unsigned, so the server refuses it
    (seen_by_inner,) = inner.requests()
    assert seen_by_inner.headers["content-length"] == "7"
    assert "transfer-encoding" not in seen_by_inner.headers
    assert outer.requests()[0].headers["transfer-encoding"] == "chunked"


def test_unreachable_upstream_is_a_502() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with FaultProxy(upstream=f"http://127.0.0.1:{closed_port}") as proxy:
        client = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
        )
        try:
            with pytest.raises(ClientError) as excinfo:
                client.head_bucket(Bucket="any")
        finally:
            client.close()

    assert error_code(excinfo) == "502"
    assert [(r.status, r.upstream_status) for r in proxy.requests()] == [(502, None)] * 2
    assert proxy.errors == []


def test_proxy_answers_100_continue_itself_and_strips_expect(
    seaweed: SeaweedServer, bucket: Bucket
) -> None:
    # client -> outer -> inner -> SeaweedFS: the inner log shows what the outer forwards.
    with FaultProxy(upstream=seaweed.endpoint) as inner, FaultProxy(upstream=inner.url) as outer:
        port = int(outer.url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        with sock, sock.makefile("rb") as reader:
            sock.sendall(
                f"PUT /{bucket.name}/k HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n".encode()
            )
            interim = reader.readline() + reader.readline()  # before any body byte
            sock.sendall(b"body")
            final = reader.readline()

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 403 ")  # unsigned, so the server refuses it
    (seen_by_outer,) = outer.requests()
    (seen_by_inner,) = inner.requests()
    assert seen_by_outer.headers["expect"] == "100-continue"
    assert "expect" not in seen_by_inner.headers
    assert seen_by_inner.headers["content-length"] == "4"
    assert seen_by_outer.upstream_status == seen_by_inner.status == 403


# ------------------------------------------------------------------ server errors


def test_two_slowdowns_then_success(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    rule = fault_proxy.add(Fault("PutObject", "*.css", error(503, "SlowDown"), times=2))
    client = connect(attempts=3)

    answer = client.put_object(Bucket=bucket.name, Key="a.css", Body=b"x")

    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert [r.status for r in fault_proxy.requests("PutObject")] == [503, 503, 200]
    assert [r.fault for r in fault_proxy.requests()] == ["error 503 SlowDown"] * 2 + [None]
    assert rule.fired == 2
    assert bucket.read("a.css") == b"x"


def test_permanent_slowdown_gives_up(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", None, error(503, "SlowDown"), times=None))
    client = connect(attempts=3)

    with pytest.raises(ClientError) as excinfo:
        client.put_object(Bucket=bucket.name, Key="a.css", Body=b"x")

    assert error_code(excinfo) == "SlowDown"
    assert excinfo.value.response["ResponseMetadata"]["RequestId"].startswith("FAULTPROXY")
    assert len(fault_proxy.requests("PutObject")) == 3
    assert bucket.keys() == set()


def test_rule_selects_by_key_glob_and_skips_after(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", "css/*", error(500, "InternalError"), after=1))
    client = connect(attempts=1)

    client.put_object(Bucket=bucket.name, Key="js/a.js", Body=b"1")
    client.put_object(Bucket=bucket.name, Key="css/a.css", Body=b"2")  # skipped by after=1
    with pytest.raises(ClientError) as excinfo:
        client.put_object(Bucket=bucket.name, Key="css/b.css", Body=b"3")
    client.put_object(Bucket=bucket.name, Key="css/c.css", Body=b"4")  # times=1 used up

    assert error_code(excinfo) == "InternalError"
    assert bucket.keys() == {"js/a.js", "css/a.css", "css/c.css"}


def test_error_wire_format(bucket: Bucket, fault_proxy: FaultProxy) -> None:
    fault_proxy.add(Fault(None, None, error(429, "TooManyRequests", retry_after=1.5), times=2))
    host, port = fault_proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", f"/{bucket.name}/k")
        got = connection.getresponse()
        body = got.read()
        connection.request("HEAD", f"/{bucket.name}/k")  # same connection: kept alive
        head = connection.getresponse()
        head_body = head.read()
    finally:
        connection.close()

    assert got.status == 429
    assert got.getheader("Retry-After") == "2"
    assert got.getheader("x-amz-retry-after") == "1500"
    request_id = got.getheader("x-amz-request-id")
    assert request_id is not None
    assert b"<Code>TooManyRequests</Code>" in body
    assert f"<RequestId>{request_id}</RequestId>".encode() in body
    assert f"<Resource>/{bucket.name}/k</Resource>".encode() in body
    assert (head.status, head_body) == (429, b"")


def test_expired_token_from_request_n(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault(None, None, error(403, "ExpiredToken"), times=None, after=2))
    client = connect(attempts=3)

    for name in ("one", "two"):
        client.put_object(Bucket=bucket.name, Key=name, Body=b"x")
    with pytest.raises(ClientError) as put_error:
        client.put_object(Bucket=bucket.name, Key="three", Body=b"x")
    with pytest.raises(ClientError) as head_error:
        client.head_object(Bucket=bucket.name, Key="one")

    assert error_code(put_error) == "ExpiredToken"
    assert error_code(head_error) == "403"  # HEAD errors carry no body
    assert bucket.keys() == {"one", "two"}
    assert [r.status for r in fault_proxy.requests()][:3] == [200, 200, 403]
    assert {r.status for r in fault_proxy.requests()[2:]} == {403}


def test_complete_multipart_200_with_error_body_is_retried(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("CompleteMultipartUpload", None, error_200_body()))
    client = connect(attempts=3)
    upload = client.create_multipart_upload(Bucket=bucket.name, Key="k")
    part = client.upload_part(
        Bucket=bucket.name, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"only"
    )

    done = client.complete_multipart_upload(
        Bucket=bucket.name,
        Key="k",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )

    assert done["ResponseMetadata"]["RetryAttempts"] == 1
    completes = fault_proxy.requests("CompleteMultipartUpload")
    assert [(r.status, r.fault, r.upstream_status) for r in completes] == [
        (200, "error_200_body InternalError", None),
        (200, None, 200),
    ]
    assert bucket.read("k") == b"only"


# ------------------------------------------------------------------ transport faults


def test_reset_mid_body_is_retried(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", None, reset_mid_body()))
    data = bytes(range(256)) * 4096  # 1 MiB
    client = connect(attempts=3)

    answer = client.put_object(Bucket=bucket.name, Key="k", Body=data, ContentMD5=md5_b64(data))

    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    puts = fault_proxy.requests("PutObject")
    assert [(r.status, r.upstream_status, r.fault) for r in puts] == [
        (None, None, "reset_mid_body"),
        (200, 200, None),
    ]
    assert bucket.read("k") == data


def test_reset_after_forward_loses_the_response_only(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", "k", reset_after_forward()))
    client = connect(attempts=1)

    with pytest.raises(Exception) as excinfo:  # noqa: B017 - any transport error
        client.put_object(Bucket=bucket.name, Key="k", Body=b"applied")

    assert not isinstance(excinfo.value, ClientError)
    assert bucket.read("k") == b"applied"  # the server applied it; the client never heard
    (put,) = fault_proxy.requests("PutObject")
    assert (put.status, put.upstream_status) == (None, 200)


def test_reset_is_a_tcp_rst_not_a_clean_close(bucket: Bucket, fault_proxy: FaultProxy) -> None:
    fault_proxy.add(Fault("PutObject", None, reset_after_forward()))
    port = int(fault_proxy.url.rsplit(":", 1)[1])

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"PUT /{bucket.name}/k HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Length: 4\r\n\r\nbody".encode()
        )
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)  # a FIN would read b"" instead

    (put,) = fault_proxy.requests()
    assert (put.status, put.upstream_status) == (None, 403)  # forwarded, answer dropped


def test_reset_after_forward_is_retried(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", None, reset_after_forward()))
    client = connect(attempts=3)

    answer = client.put_object(Bucket=bucket.name, Key="k", Body=b"data")

    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert [r.upstream_status for r in fault_proxy.requests("PutObject")] == [200, 200]
    assert bucket.read("k") == b"data"


def test_delay_beyond_read_timeout(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key="k", Body=b"x")
    fault_proxy.add(Fault("GetObject", "k", delay(30)))
    client = connect(attempts=1, read_timeout=0.5)

    with pytest.raises(ReadTimeoutError):
        client.get_object(Bucket=bucket.name, Key="k")
    # The proxy's shutdown cuts the 30 s wait short: the fixture ends promptly.


def test_short_delay_then_forward(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", None, delay(0.01)))
    client = connect(attempts=1)

    client.put_object(Bucket=bucket.name, Key="k", Body=b"late")

    assert bucket.read("k") == b"late"
    assert [r.fault for r in fault_proxy.requests("PutObject")] == ["delay 0.01"]


@pytest.mark.parametrize("signed_payload", [True, False])
def test_flipped_byte_is_rejected_and_nothing_stored(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy, signed_payload: bool
) -> None:
    fault_proxy.add(Fault("PutObject", None, flip_byte(), times=None))
    client = connect(attempts=3, payload_signing_enabled=signed_payload)
    data = b"0123456789" * 100

    with pytest.raises(ClientError) as excinfo:
        client.put_object(Bucket=bucket.name, Key="k", Body=data, ContentMD5=md5_b64(data))

    expected = {"BadDigest", "XAmzContentSHA256Mismatch"} if signed_payload else {"BadDigest"}
    assert error_code(excinfo) in expected
    assert bucket.keys() == set()
    assert {r.fault for r in fault_proxy.requests("PutObject")} == {"flip_byte"}


# ------------------------------------------------------------------ DeleteObjects and HEAD


def put_keys(bucket: Bucket, *keys: str) -> None:
    for key in keys:
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"x")


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_errors_are_reported_per_key(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy, quiet: bool
) -> None:
    put_keys(bucket, "keep/a.css", "gone/b.css", "gone/c.css")
    fault_proxy.add(Fault("DeleteObjects", "keep/*", delete_errors("AccessDenied")))
    client = connect()
    objects = [{"Key": key} for key in ("keep/a.css", "gone/b.css", "gone/c.css")]

    answer = client.delete_objects(Bucket=bucket.name, Delete={"Objects": objects, "Quiet": quiet})

    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("keep/a.css", "AccessDenied")]
    deleted = {entry["Key"] for entry in answer.get("Deleted", [])}
    assert deleted == (set() if quiet else {"gone/b.css", "gone/c.css"})
    (request,) = fault_proxy.requests("DeleteObjects")
    assert request.delete_keys == ("keep/a.css", "gone/b.css", "gone/c.css")
    assert request.fault == "delete_errors AccessDenied"


def test_delete_errors_rule_ignores_requests_without_matching_keys(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    put_keys(bucket, "gone/b.css")
    rule = fault_proxy.add(Fault("DeleteObjects", "keep/*", delete_errors()))
    client = connect()

    answer = client.delete_objects(Bucket=bucket.name, Delete={"Objects": [{"Key": "gone/b.css"}]})

    assert "Errors" not in answer
    assert rule.fired == 0
    assert bucket.keys() == set()


def add_content_md5(request: Any, **kwargs: Any) -> None:
    request.headers["Content-MD5"] = md5_b64(request.body)


def test_require_content_md5(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    put_keys(bucket, "a", "b")
    rule = fault_proxy.add(Fault("DeleteObjects", None, require_content_md5(), times=None))
    client = connect()
    delete = {"Objects": [{"Key": "a"}, {"Key": "b"}]}

    with pytest.raises(ClientError) as excinfo:
        client.delete_objects(Bucket=bucket.name, Delete=delete)
    assert error_code(excinfo) == "MissingContentMD5"
    assert bucket.keys() == {"a", "b"}

    client.meta.events.register("before-sign.s3.DeleteObjects", add_content_md5)
    client.delete_objects(Bucket=bucket.name, Delete=delete)

    assert bucket.keys() == set()
    first, second = fault_proxy.requests("DeleteObjects")
    assert "content-md5" not in first.headers
    assert (first.status, first.upstream_status) == (400, None)
    assert (second.status, second.fault) == (200, None)
    assert "content-md5" in second.headers
    assert rule.fired == 1


def test_head_403_if_missing(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    put_keys(bucket, "present")
    fault_proxy.add(Fault("HeadObject", None, head_403_if_missing(), times=None))
    client = connect()

    with pytest.raises(ClientError) as excinfo:
        client.head_object(Bucket=bucket.name, Key="missing")
    found = client.head_object(Bucket=bucket.name, Key="present")

    assert error_code(excinfo) == "403"
    assert found["ContentLength"] == 1
    heads = fault_proxy.requests("HeadObject")
    assert [(r.key, r.status, r.upstream_status, r.fault) for r in heads] == [
        ("missing", 403, 404, "head_403_if_missing"),
        ("present", 200, 200, None),
    ]


# ------------------------------------------------------------------ log, concurrency, shutdown


def test_log_keeps_no_credentials(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    client = connect()
    client.put_object(
        Bucket=bucket.name,
        Key="a.css",
        Body=b"x",
        ContentType="text/css",
        CacheControl="max-age=60",
        Metadata={"md5": "abc"},
    )
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket.name, "Key": "a.css"}, ExpiresIn=60
    )
    with urllib.request.urlopen(url, timeout=5) as presigned:
        assert presigned.read() == b"x"

    put, get = fault_proxy.requests()
    assert (put.operation, put.bucket, put.key, put.status) == (
        "PutObject",
        bucket.name,
        "a.css",
        200,
    )
    assert put.headers["content-type"] == "text/css"
    assert put.headers["cache-control"] == "max-age=60"
    assert put.headers["x-amz-meta-md5"] == "abc"
    assert (get.operation, get.status) == ("GetObject", 200)
    assert get.query  # the presigned URL's other parameters stay
    for entry in fault_proxy.requests():
        assert not {"authorization", "x-amz-security-token", "x-amz-date"} & set(entry.headers)
        assert "signature" not in entry.query.lower()
        assert "credential" not in entry.query.lower()
        assert "accesskeyid" not in entry.query.lower()
        assert ACCESS_KEY not in repr(entry)
    assert fault_proxy.writes() == [put]
    fault_proxy.clear()
    assert fault_proxy.requests() == []


def test_concurrent_requests_count_per_rule(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    rule = fault_proxy.add(Fault("PutObject", None, error(500, "InternalError"), times=5))
    client = connect(attempts=10)
    keys = [f"k{n:02d}" for n in range(24)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket.name, Key=key, Body=b"x"), keys))

    assert rule.fired == 5
    assert rule.seen == 5 + len(keys)  # every request counted, none twice
    assert bucket.keys() == set(keys)
    assert [r.status for r in fault_proxy.requests()].count(500) == 5


def test_reset_faults_clears_the_plan(
    connect: ClientFactory, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault(None, None, error(503, "SlowDown"), times=None))
    fault_proxy.reset_faults()
    client = connect(attempts=1)

    client.put_object(Bucket=bucket.name, Key="k", Body=b"x")

    assert [r.fault for r in fault_proxy.requests()] == [None]


def test_close_ends_every_thread_and_idle_connection(
    seaweed: SeaweedServer, bucket: Bucket
) -> None:
    before = set(threading.enumerate())
    with FaultProxy(upstream=seaweed.endpoint) as proxy:
        client = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )
        client.head_bucket(Bucket=bucket.name)  # leaves a keep-alive connection open
        assert len(set(threading.enumerate()) - before) >= 2  # server + connection handler
        url = proxy.url
    try:
        assert set(threading.enumerate()) - before == set()
        assert proxy.errors == []
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
    finally:
        client.close()


def test_a_client_reset_between_requests_is_not_a_proxy_error(
    seaweed: SeaweedServer, bucket: Bucket
) -> None:
    """A killed client resets its idle keep-alive connection: that is the client's business."""
    with FaultProxy(upstream=seaweed.endpoint) as proxy:
        host, port = urlsplit(proxy.url).netloc.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as client:
            request = f"HEAD /{bucket.name} HTTP/1.1\r\nHost: x\r\n\r\n"
            client.sendall(request.encode())
            assert client.recv(4096).startswith(b"HTTP/1.1 ")
            # SO_LINGER 0: close() sends a TCP RST, as the kernel does for a killed process.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        wait_for(lambda: proxy.open_connections == 0, "the proxy to drop the connection")
    assert proxy.errors == []
