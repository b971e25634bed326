"""Bounded in time, clean on every input: hostile documents and endpoints, against a real
SeaweedFS (through the fault proxy where requests are counted)."""

from __future__ import annotations

import gc
import itertools
import logging
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for

from cloudcollect import publish
from cloudcollect.errors import FingerprintError
from cloudcollect.remote import OWN_KEYS
from tests import test_reliability as reliability
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.support.faultproxy import Action, Fault, FaultProxy, delay, pages_per_listing
from tests.support.seaweed import REGION

pytestmark = pytest.mark.seaweedfs

PREFIX = "bd/"
FILES: dict[str, bytes | str] = {"static/css/site.css": "a {}", "static/js/app.js": "1;"}
#: 400 KB of nested arrays: json.loads raises RecursionError on it.
DEEP = b"[" * 400_000


def app_for(root: Path, bucket: Bucket, endpoint: str, **extra: Any) -> Flask:
    config = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": endpoint,
        "CLOUDCOLLECT_REGION": REGION,
        "CLOUDCOLLECT_PREFIX": PREFIX,
        "CLOUDCOLLECT_MAX_ATTEMPTS": 2,
        **{f"CLOUDCOLLECT_{k}": v for k, v in extra.items()},
    }
    return make_app(root, config, FILES)


def put(bucket: Bucket, key: str, body: bytes) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=body)


def test_a_deeply_nested_state_object_is_ignored_with_a_warning(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = app_for(tmp_path, bucket, bucket.server.endpoint)
    assert publish(app).exit_code == 0
    put(bucket, PREFIX + ".cloudcollect-state.json", DEEP)

    report = publish(app)

    assert report.exit_code == 0, report.to_dict()
    assert any("state object" in w and "corrupt" in w for w in report.warnings), report.warnings
    assert report.with_status("uploaded") == []  # the keys were checked with HEAD instead
    again = publish(app)  # the state object was written anew
    assert not [w for w in again.warnings if "state object" in w], again.warnings


def serving_app(tmp_path: Path, bucket: Bucket, proxy: FaultProxy, strict: bool) -> Flask:
    return app_for(
        tmp_path,
        bucket,
        proxy.url,
        FINGERPRINT=True,
        SERVE_FROM_BUCKET=True,
        BASE_URL="https://cdn.example/",
        MANIFEST_SOURCE="bucket",
        MANIFEST_STRICT=strict,
    )


def test_a_deeply_nested_strict_manifest_is_an_error_naming_the_object(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    put(bucket, PREFIX + ".cloudcollect/manifest.json", DEEP)
    app = serving_app(tmp_path, bucket, fault_proxy, strict=True)

    with app.test_request_context(), pytest.raises(FingerprintError) as raised:
        url_for("static", filename="css/site.css")

    assert ".cloudcollect/manifest.json" in str(raised.value)
    assert "unreadable manifest" in str(raised.value)


def test_a_deeply_nested_lenient_manifest_warns_once_and_serves_plain_urls(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    put(bucket, PREFIX + ".cloudcollect/manifest.json", DEEP)
    app = serving_app(tmp_path, bucket, fault_proxy, strict=False)

    with caplog.at_level(logging.WARNING), app.test_request_context():
        urls = [url_for("static", filename=name) for name in ("css/site.css", "js/app.js") * 3]

    assert urls[:2] == [
        "https://cdn.example/bd/static/css/site.css",
        "https://cdn.example/bd/static/js/app.js",
    ]
    assert len(fault_proxy.requests("GetObject")) == 1
    warnings = [r for r in caplog.records if "manifest" in r.getMessage()]
    assert len(warnings) == 1, warnings


def looping_listing() -> Action:
    """Forward a ListObjectsV2 and answer its page as truncated, always with one token."""

    def run(exchange: Any, fault: Fault) -> None:
        response = exchange.forward()
        body = re.sub(
            rb"<IsTruncated>false</IsTruncated>",
            b"<IsTruncated>true</IsTruncated><NextContinuationToken>LOOP</NextContinuationToken>",
            response.body,
        )
        exchange.respond(200, "OK", [("Content-Type", "application/xml")], body)

    return Action("looping_listing", run)


def fresh_token_listing() -> Action:
    """Answer every ListObjectsV2 with the first page the store gave, marked truncated
    with a new token each time: the same objects again and again, never an end."""
    tokens = itertools.count()
    first: list[bytes] = []

    def run(exchange: Any, fault: Fault) -> None:
        if not first:
            first.append(exchange.forward().body)
        token = f"<NextContinuationToken>T{next(tokens)}</NextContinuationToken>".encode()
        body = first[0].replace(
            b"<IsTruncated>false</IsTruncated>", b"<IsTruncated>true</IsTruncated>" + token
        )
        exchange.respond(200, "OK", [("Content-Type", "application/xml")], body)

    return Action("fresh_token_listing", run)


def test_a_listing_that_repeats_its_continuation_token_is_fatal(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    # times=50: without the guard the run would list 50 pages, then get SeaweedFS's own answer
    fault_proxy.add(Fault("ListObjectsV2", None, looping_listing(), times=50))
    app = app_for(tmp_path, bucket, fault_proxy.url)

    report = publish(app)

    assert report.exit_code == 3, report.to_dict()
    assert getattr(report.fatal, "code", None) == "ListingLoop", report.fatal
    assert "listing never ends" in str(report.fatal)
    assert pages_per_listing(fault_proxy) == {PREFIX: 2, PREFIX + OWN_KEYS: 2}
    assert fault_proxy.writes() == []


@pytest.mark.parametrize(
    ("signum", "operation", "args", "summary"),
    [
        (signal.SIGINT, "ListObjectsV2", [], "uploaded 0, deleted 0,"),
        (signal.SIGTERM, "PutObject", [], "uploaded 0, deleted 0,"),
        (signal.SIGINT, "ListObjectsV2", ["--check"], "check: incomplete"),
    ],
)
def test_a_second_signal_exits_within_a_second_with_the_summary(
    tmp_path: Path,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    signum: signal.Signals,
    operation: str,
    args: list[str],
    summary: str,
) -> None:
    """Every ``operation`` request hangs 60 s in the proxy: the first signal waits for it,
    the second must not. Target 1 s; asserted < 5 s (a loaded machine's margin)."""
    held = fault_proxy.add(Fault(operation, None, delay(60), times=None))
    tree = tmp_path / "tree"
    make_app(tree, {}, FILES)
    app_config = reliability.config(bucket, fault_proxy.url, WORKERS=2)
    process = reliability.flask_subprocess(tmp_path, tree, args, app_config)
    try:
        reliability.wait_for(lambda: held.seen >= 1, f"the first {operation}")
        process.send_signal(signum)
        time.sleep(0.5)
        assert process.poll() is None, "the first signal must wait for the hanging request"
        started = time.monotonic()
        process.send_signal(signum)
        _stdout, stderr = process.communicate(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signum, stderr
    assert [line for line in stderr.splitlines() if line.startswith(summary)], stderr
    assert "exiting now" in stderr
    assert elapsed < 5, elapsed


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint that accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_a_black_hole_endpoint_ends_the_run_within_timeouts_times_attempts(
    tmp_path: Path, bucket: Bucket, black_hole: str, transport: str
) -> None:
    """Worst case (README): attempts x (connect + read) + backoff = 2 x (1 + 1) + 1 = 5 s;
    asserted < 15 s (a loaded machine's margin), against 5 x 70 s with the defaults."""
    app = app_for(
        tmp_path,
        bucket,
        black_hole,
        CONNECT_TIMEOUT=1,
        READ_TIMEOUT=1,
        MAX_ATTEMPTS=2,
        TRANSPORT=transport,
    )
    started = time.monotonic()

    report = publish(app)

    elapsed = time.monotonic() - started
    assert report.exit_code in (1, 3), report.to_dict()
    assert "timed out" in str(report.fatal).lower() or "timeout" in str(report.fatal).lower()
    assert 2 <= elapsed < 15, (elapsed, report.fatal)


def test_a_deeply_nested_bundler_manifest_is_a_warning(tmp_path: Path, bucket: Bucket) -> None:
    files = {**FILES, "static/dist/.vite/manifest.json": DEEP, "static/dist/manifest.json": DEEP}
    app = make_app(
        tmp_path,
        {
            "CLOUDCOLLECT_BUCKET": bucket.name,
            "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
            "CLOUDCOLLECT_REGION": REGION,
            "CLOUDCOLLECT_PREFIX": PREFIX,
        },
        files,
    )

    report = publish(app)

    assert report.exit_code == 0, report.to_dict()
    assert any("cannot read the bundler manifest" in w for w in report.warnings), report.warnings


class _NeedsStack:
    """Garbage in a reference cycle whose finalizer needs a few hundred frames."""

    def __init__(self, failures: list[BaseException]) -> None:
        self.cycle = self
        self.failures = failures

    def __del__(self) -> None:
        def down(n: int) -> int:
            return n if n == 0 else down(n - 1)

        try:
            down(400)
        except RecursionError as error:
            self.failures.append(error)


def test_no_finalizer_runs_out_of_stack_while_a_deep_document_is_parsed() -> None:
    """A collection triggered inside the parser's deepest recursion would run pending
    finalizers with no stack left; without the pause most of these fail."""
    from cloudcollect.state import read_state

    failures: list[BaseException] = []
    threshold = gc.get_threshold()
    try:
        for _ in range(5):
            gc.set_threshold(10**7)  # leave the cycles for the parser's allocations
            for _ in range(50):
                _NeedsStack(failures)
            gc.set_threshold(700)
            assert read_state(DEEP).problem is not None
    finally:
        gc.set_threshold(*threshold)
        gc.collect()
    assert failures == []


def test_a_listing_that_serves_the_same_page_under_new_tokens_is_fatal(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    app = app_for(tmp_path, bucket, bucket.server.endpoint)
    assert publish(app).exit_code == 0  # objects to list
    fault_proxy.add(Fault("ListObjectsV2", None, fresh_token_listing(), times=50))
    app = app_for(tmp_path, bucket, fault_proxy.url)

    report = publish(app)

    assert report.exit_code == 3, report.to_dict()
    assert getattr(report.fatal, "code", None) == "ListingLoop", report.fatal
    assert "twice" in str(report.fatal)
    assert pages_per_listing(fault_proxy) == {PREFIX: 2, PREFIX + OWN_KEYS: 2}
    assert fault_proxy.writes() == []
