"""Overlapping releases to one prefix, against a real SeaweedFS (cloudcollect.lease).

Run A goes through the fault proxy, whose gate holds A's state-object PUT until run B,
talking to SeaweedFS directly with other headers, has completed: A's late state object
must never make a later run believe the objects carry A's headers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cloudcollect import CloudCollect, publish
from cloudcollect.check import check
from cloudcollect.cli import cloudcollect_command
from cloudcollect.report import Report
from cloudcollect.state import STATE_NAME
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.support.faultproxy import Action, Fault, FaultProxy
from tests.support.seaweed import REGION

pytestmark = pytest.mark.seaweedfs

PREFIX = "ov/"
FILES: dict[str, bytes | str] = {f"static/f{i}.css": f"a{i} {{}}" for i in range(6)}
OLD, NEW = "public, max-age=60", "public, max-age=120"
LEASE_NAME = ".cloudcollect-lease.json"  # spelled out: the README documents this name


def app_for(root: Path, bucket: Bucket, endpoint: str, cache_control: str, **extra: Any) -> Flask:
    config = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": endpoint,
        "CLOUDCOLLECT_REGION": REGION,
        "CLOUDCOLLECT_PREFIX": PREFIX,
        "CLOUDCOLLECT_WORKERS": 2,
        "CLOUDCOLLECT_MAX_ATTEMPTS": 2,
        "CLOUDCOLLECT_CACHE_CONTROL": cache_control,
        **{f"CLOUDCOLLECT_{k}": v for k, v in extra.items()},
    }
    return make_app(root, config, FILES)


def gate(opened: threading.Event, arrived: threading.Event) -> Action:
    """Hold a request until ``opened`` is set, then forward it."""

    def run(exchange: Any, fault: Fault) -> None:
        body = exchange.body()
        arrived.set()
        opened.wait(60)  # a hang guard only
        exchange.relay(exchange.forward(body))

    return Action("gate", run)


def cache_controls(bucket: Bucket) -> set[str]:
    return {bucket.head(PREFIX + key)["CacheControl"] for key in FILES if key.startswith("static/")}


def overlap(
    tmp_path: Path, bucket: Bucket, proxy: FaultProxy, held_key: str
) -> tuple[Report, Report]:
    """Run A (OLD headers, through the proxy) is held at its PUT of ``held_key`` while run
    B (NEW headers, direct) publishes everything; then A goes on. Returns (A, B)."""
    opened, arrived = threading.Event(), threading.Event()
    proxy.add(Fault("PutObject", held_key, gate(opened, arrived)))
    older = app_for(tmp_path / "a", bucket, proxy.url, OLD)
    newer = app_for(tmp_path / "b", bucket, bucket.server.endpoint, NEW)
    reports: list[Report] = []
    thread = threading.Thread(target=lambda: reports.append(publish(older)))
    thread.start()
    try:
        assert arrived.wait(60), f"run A never wrote {held_key}"
        second = publish(newer)
    finally:
        opened.set()
        thread.join(60)
    return reports[0], second


@pytest.fixture
def overlapped(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> Iterator[tuple[Report, Report]]:
    """A is held at its state object's PUT: its uploads landed before B's."""
    yield overlap(tmp_path, bucket, fault_proxy, PREFIX + STATE_NAME)


def test_a_late_state_object_of_the_older_run_is_never_trusted(
    tmp_path: Path, bucket: Bucket, overlapped: tuple[Report, Report]
) -> None:
    first, second = overlapped
    assert second.exit_code == 0, second.to_dict()
    assert cache_controls(bucket) == {NEW}  # B's uploads replaced A's
    assert first.exit_code == 3, first.to_dict()
    assert "newer run took over" in str(first.fatal)
    # A's job re-runs with A's settings: its late state object must not say "unchanged".
    rerun = app_for(tmp_path / "a", bucket, bucket.server.endpoint, OLD)
    checked = check(rerun)
    assert checked.exit_code == 5, checked.to_dict()
    assert {d["kind"] for d in checked.differences()} == {"headers"}
    third = publish(rerun)
    assert third.exit_code == 0, third.to_dict()
    assert cache_controls(bucket) == {OLD}
    assert any("overlapping releases" in warning for warning in third.warnings)
    assert check(rerun).exit_code == 0


def test_a_losers_late_upload_makes_the_winners_state_object_untrusted(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    """A is held at one file's PUT, which lands after B has finished: B's state object
    says NEW for a file that now has OLD headers. A revokes the lease, so B's state object
    is no longer trusted and the next run (B's settings) repairs the file."""
    late = PREFIX + "static/f3.css"
    first, second = overlap(tmp_path, bucket, fault_proxy, late)
    assert second.exit_code == 0, second.to_dict()
    assert bucket.head(late)["CacheControl"] == OLD  # A's late PUT replaced B's
    assert first.exit_code == 3, first.to_dict()
    rerun = app_for(tmp_path / "b", bucket, bucket.server.endpoint, NEW)
    assert [d["key"] for d in check(rerun).differences()] == [late]
    third = publish(rerun)
    assert [o.key for o in third.with_status("uploaded")] == [late]
    assert cache_controls(bucket) == {NEW}


def test_of_two_runs_starting_on_an_empty_prefix_the_later_lease_creator_writes_nothing(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    """A's conditional create of the first lease (``If-None-Match: *``) is held until B
    has published everything: SeaweedFS answers it 412, and A stops before any write."""
    first, second = overlap(tmp_path, bucket, fault_proxy, PREFIX + LEASE_NAME)
    assert second.exit_code == 0, second.to_dict()
    assert first.exit_code == 3, first.to_dict()
    assert "a moment before this one" in str(first.fatal)
    assert [r.key for r in fault_proxy.writes()] == [PREFIX + LEASE_NAME]  # the refused one
    assert cache_controls(bucket) == {NEW}
    assert check(app_for(tmp_path / "b", bucket, bucket.server.endpoint, NEW)).exit_code == 0


def test_the_lease_is_cloudcollects_own_never_an_orphan_nor_a_static_file(
    tmp_path: Path, bucket: Bucket
) -> None:
    """A static folder served at the URL root, whose include pattern re-admits a file
    named like the lease: it is not published, and --delete keeps the lease."""
    folder = tmp_path / "pub"
    folder.mkdir()
    for name in ("a.css", "b.css", LEASE_NAME, STATE_NAME):
        (folder / name).write_text("{}")
    app = Flask("ovroot", root_path=str(tmp_path), static_folder=str(folder), static_url_path="")
    app.config.update(
        CLOUDCOLLECT_BUCKET=bucket.name,
        CLOUDCOLLECT_ENDPOINT_URL=bucket.server.endpoint,
        CLOUDCOLLECT_REGION=REGION,
        CLOUDCOLLECT_PREFIX=PREFIX,
        CLOUDCOLLECT_DELETE=True,
        CLOUDCOLLECT_INCLUDE=["*.css", LEASE_NAME, STATE_NAME],
    )
    CloudCollect(app)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    lease = bucket.read(PREFIX + LEASE_NAME)
    assert b'"run"' in lease
    assert {o.key for o in report.outcomes} == {PREFIX + "a.css", PREFIX + "b.css"}
    assert any(LEASE_NAME in warning for warning in report.warnings)
    (folder / "a.css").write_text("changed {}")
    (folder / "b.css").unlink()
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert bucket.keys() == {PREFIX + name for name in ("a.css", LEASE_NAME, STATE_NAME)}
    assert bucket.read(PREFIX + LEASE_NAME) != lease  # the new run took the lease


def test_a_crashed_runs_lease_never_blocks_the_next_release(tmp_path: Path, bucket: Bucket) -> None:
    stale = b'{"version": 1, "run": "0123456789abcdef", "started": "2020-01-01T00:00:00+00:00"}'
    bucket.client.put_object(Bucket=bucket.name, Key=PREFIX + LEASE_NAME, Body=stale)
    app = app_for(tmp_path, bucket, bucket.server.endpoint, NEW)
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    assert bucket.read(PREFIX + LEASE_NAME) != stale
    assert publish(app).with_status("uploaded") == []


def test_check_verify_headers_finds_drift_made_by_another_client(
    tmp_path: Path, bucket: Bucket
) -> None:
    """Another client rewrites one object's Cache-Control in place (same bytes, same
    ETag): the state object still vouches for it, so only a HEAD can tell."""
    app = app_for(tmp_path, bucket, bucket.server.endpoint, NEW)
    assert publish(app).exit_code == 0
    key = PREFIX + "static/f1.css"
    etag = bucket.head(key)["ETag"]
    bucket.client.copy_object(
        Bucket=bucket.name,
        Key=key,
        CopySource={"Bucket": bucket.name, "Key": key},
        MetadataDirective="REPLACE",
        ContentType="text/css; charset=utf-8",
        CacheControl="no-cache",
    )
    assert bucket.head(key)["ETag"] == etag  # a listing sees no change
    runner = app.test_cli_runner()

    trusted = runner.invoke(cloudcollect_command, ["--check"])
    verified = runner.invoke(cloudcollect_command, ["--check", "--verify-headers", "--json"])

    assert trusted.exit_code == 0, trusted.output  # the state object's word, as documented
    assert verified.exit_code == 5, verified.output
    differences = json.loads(verified.stdout)["differences"]
    assert [(d["key"], d["kind"]) for d in differences] == [(key, "headers")]
    assert runner.invoke(cloudcollect_command, ["--verify-headers"]).exit_code == 2
