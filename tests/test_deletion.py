"""``--delete`` never removes what it should keep (against the real SeaweedFS).

Orphans are keys with no local file at all; filtered-out files are outside the sync; an
empty prefix given explicitly is an error; a plain run does not delete a fingerprinted
prefix; each static source is guarded; a dry run ends like the real run; one key that
breaks DeleteObjects does not block the others; grace is measured by the storage's clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cloudcollect import publish
from cloudcollect.cli import cloudcollect_command
from cloudcollect.errors import ConfigError, DeletionRefused
from cloudcollect.extension import app_settings
from tests.conftest import Bucket
from tests.support.apps import APP_FILES, make_app
from tests.support.faultproxy import Fault, FaultProxy, error
from tests.support.seaweed import REGION

pytestmark = pytest.mark.seaweedfs

P = "rel/"


def app_for(root: Path, bucket: Bucket, files: Any = None, **extra: object) -> Flask:
    config: dict[str, object] = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": REGION,
        "CLOUDCOLLECT_PREFIX": P,
        "CLOUDCOLLECT_WORKERS": 4,
        "CLOUDCOLLECT_MANIFEST_PATH": str(root / "instance/manifest.json"),
        **{f"CLOUDCOLLECT_{k}": v for k, v in extra.items()},
    }
    if config["CLOUDCOLLECT_PREFIX"] is None:
        del config["CLOUDCOLLECT_PREFIX"]
    return make_app(root, config, files)


def seed(bucket: Bucket, objects: Mapping[str, bytes]) -> None:
    for key, data in objects.items():
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=data)


def snapshot(bucket: Bucket) -> dict[str, str]:
    """Every object in the bucket: key -> ETag."""
    paginator = bucket.client.get_paginator("list_objects_v2")
    return {
        item["Key"]: item["ETag"]
        for page in paginator.paginate(Bucket=bucket.name)
        for item in page.get("Contents", [])
    }


def run_cli(app: Flask, *args: str, env: Mapping[str, str] | None = None) -> Any:
    return app.test_cli_runner().invoke(cloudcollect_command, list(args), env=env)


def deleted(report: Any) -> set[str]:
    return {outcome.key for outcome in report.with_status("deleted")}


# ---------------------------------------------------------------- 1: outside the sync


def test_excluded_files_are_outside_the_sync_only_keys_without_a_file_are_orphans(
    tmp_path: Path, bucket: Bucket
) -> None:
    assert publish(app_for(tmp_path, bucket)).exit_code == 0
    # Another client stored what the default filters leave out; their files are on disk.
    filtered = {
        P + "static/key.pem": b"k",
        P + "static/.env": b"e",
        P + "static/.git/config": b"c",
    }
    seed(bucket, {**filtered, P + "static/old.css": b"orphan"})
    narrowed = app_for(
        tmp_path,
        bucket,
        INCLUDE=["static/*", "parent/*"],  # admin/static/admin.css is not included
        EXCLUDE=["static/img/*"],  # static/img/logo.png is excluded
        DELETE=True,
    )
    report = publish(narrowed)
    assert report.exit_code == 0, report.to_dict()
    assert deleted(report) == {P + "static/old.css"}
    kept = bucket.keys()
    assert {P + "static/img/logo.png", P + "admin/static/admin.css", *filtered} <= kept
    again = publish(narrowed, dry_run=True)
    assert again.counts()["would_delete"] == 0 and again.counts()["would_upload"] == 0


def test_the_hashed_copies_and_compressed_siblings_of_excluded_files_are_kept(
    tmp_path: Path, bucket: Bucket
) -> None:
    files = {**APP_FILES, "static/media/big.css": "p { margin: 0 }\n" * 200}
    derived: dict[str, object] = {"FINGERPRINT": True, "PRECOMPRESS": ["gzip"], "KEEP_MANIFESTS": 0}
    assert publish(app_for(tmp_path, bucket, files, **derived)).exit_code == 0
    stored = bucket.keys()
    media = {key for key in stored if key.startswith(P + "static/media/")}
    assert len(media) == 4, media  # big.css, big.<hash>.css and their .gz siblings
    excluding = app_for(tmp_path, bucket, files, **derived, EXCLUDE=["static/media/*"])
    time.sleep(1.1)  # older than a zero grace by the storage's whole-second clock
    no_grace = app_settings(excluding).replace(delete=True, grace_seconds=0)
    report = publish(excluding, no_grace)
    assert report.exit_code == 0, report.to_dict()
    assert media <= bucket.keys()
    assert not {key for key in deleted(report) if "/media/" in key}


# ---------------------------------------------------------------- 2: explicit empty prefix


@pytest.mark.parametrize("value", ["", "/", " ", "//"])
@pytest.mark.parametrize("given", ["option", "environment"])
def test_an_explicit_empty_prefix_is_exit_2_and_nothing_is_written(
    tmp_path: Path, bucket: Bucket, value: str, given: str
) -> None:
    other_app = {"static/other.css": b"another app at the bucket root"}
    seed(bucket, other_app)
    app = app_for(tmp_path, bucket, DELETE=True)
    if given == "option":
        result = run_cli(app, "--prefix", value)
    else:
        result = run_cli(app, env={"CLOUDCOLLECT_PREFIX": value})
    assert result.exit_code == 2, result.output
    assert "CLOUDCOLLECT_PREFIX" in result.output
    assert bucket.keys() == set(other_app)


@pytest.mark.parametrize("value", ["", "/", " "])
def test_an_empty_prefix_setting_is_a_config_error(
    tmp_path: Path, bucket: Bucket, value: str
) -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_PREFIX") as info:
        app_for(tmp_path, bucket, PREFIX=value)
    assert info.value.key == "CLOUDCOLLECT_PREFIX" and info.value.exit_code == 2


def test_the_bucket_root_is_chosen_by_leaving_the_prefix_unset(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = app_for(tmp_path, bucket, PREFIX=None)
    result = run_cli(app)
    assert result.exit_code == 0, result.output
    stored = bucket.keys()
    assert "static/css/site.css" in stored


# ---------------------------------------------------------------- 3: mode mismatch


@pytest.mark.parametrize("prefix", [P, None], ids=["prefix", "bucket-root"])
def test_a_plain_delete_on_a_fingerprinted_prefix_is_refused(
    tmp_path: Path, bucket: Bucket, prefix: str | None
) -> None:
    """Without a prefix the manifest is at the bucket root, outside every static URL root:
    the run's listing of its own keys (``.cloudcollect*``) still finds it."""
    fingerprinted = app_for(tmp_path, bucket, FINGERPRINT=True, PREFIX=prefix)
    assert publish(fingerprinted).exit_code == 0
    before = snapshot(bucket)
    assert (prefix or "") + ".cloudcollect/manifest.json" in before
    plain = app_for(tmp_path, bucket, DELETE=True, PREFIX=prefix)
    for dry_run in (True, False):
        report = publish(plain, dry_run=dry_run)
        assert report.exit_code == 4, report.to_dict()
        assert isinstance(report.fatal, DeletionRefused)
        assert "mode mismatch" in str(report.fatal)
        assert "CLOUDCOLLECT_FINGERPRINT" in str(report.fatal)
    assert snapshot(bucket).keys() == before.keys()


def test_a_fingerprinted_delete_on_a_plain_prefix_keeps_the_plain_files(
    tmp_path: Path, bucket: Bucket
) -> None:
    """The documented switch to fingerprinting: the plain keys are published again."""
    assert publish(app_for(tmp_path, bucket)).exit_code == 0
    plain = bucket.keys()
    report = publish(app_for(tmp_path, bucket, FINGERPRINT=True, DELETE=True))
    assert report.exit_code == 0, report.to_dict()
    assert deleted(report) == set()
    assert plain <= bucket.keys()


# ---------------------------------------------------------------- 4: each source guarded


def test_an_emptied_source_blocks_deletion_under_it(tmp_path: Path, bucket: Bucket) -> None:
    assert publish(app_for(tmp_path / "full", bucket)).exit_code == 0
    before = snapshot(bucket)
    emptied = {k: v for k, v in APP_FILES.items() if not k.startswith("static/")}
    emptied["static/.gitkeep"] = ""  # the app's build step did not run
    app = app_for(tmp_path / "empty", bucket, emptied, DELETE=True)
    result = run_cli(app)
    assert result.exit_code == 4, result.output
    assert "static source app" in result.stderr and "refusing to delete" in result.stderr
    assert snapshot(bucket) == before


def test_a_source_whose_files_your_patterns_leave_out_is_not_emptied(
    tmp_path: Path, bucket: Bucket
) -> None:
    assert publish(app_for(tmp_path, bucket)).exit_code == 0
    seed(bucket, {P + "admin/static/old.css": b"orphan"})
    # admin_static/admin.css is on disk; the user's own pattern leaves it out.
    app = app_for(tmp_path, bucket, EXCLUDE=["admin/static/*"], DELETE=True)
    for _ in range(2):  # not once: every later run too
        result = run_cli(app)
        assert result.exit_code == 0, result.output
        stored = bucket.keys()
        assert P + "admin/static/old.css" not in stored
        assert P + "admin/static/admin.css" in stored  # outside the sync: kept
        seed(bucket, {P + "admin/static/old.css": b"orphan"})


def test_a_file_your_patterns_leave_out_does_not_let_an_unbuilt_folder_be_wiped(
    tmp_path: Path, bucket: Bucket
) -> None:
    # The admin folder's build did not run: only its README.md is left, which the user's
    # own pattern leaves out. What the folder published must not be deleted for that.
    assert publish(app_for(tmp_path / "full", bucket)).exit_code == 0
    files = {k: v for k, v in APP_FILES.items() if not k.startswith("admin_static/")}
    files["admin_static/README.md"] = "# built by npm run build"
    app = app_for(tmp_path / "unbuilt", bucket, files, DELETE=True, EXCLUDE=["*.md"])
    result = run_cli(app)
    assert result.exit_code == 4, result.output
    assert "static source admin" in result.stderr and "admin/static/admin.css" in result.stderr
    assert snapshot(bucket).get(P + "admin/static/admin.css")


def test_a_placeholder_left_out_by_default_still_blocks_until_your_pattern_says_so(
    tmp_path: Path, bucket: Bucket
) -> None:
    assert publish(app_for(tmp_path / "full", bucket)).exit_code == 0
    files = {k: v for k, v in APP_FILES.items() if not k.startswith("admin_static/")}
    files["admin_static/.gitkeep"] = ""  # hidden: left out by the default rules only
    files["admin_static/notes.swp"] = ""  # junk: left out by the default rules only
    app = app_for(tmp_path / "unbuilt", bucket, files, DELETE=True)
    result = run_cli(app)
    assert result.exit_code == 4, result.output
    assert "static source admin" in result.stderr
    assert snapshot(bucket).get(P + "admin/static/admin.css")
    emptied = app_for(tmp_path / "unbuilt", bucket, files, DELETE=True, EXCLUDE=["admin/*"])
    result = run_cli(emptied)
    assert result.exit_code == 0, result.output
    assert not snapshot(bucket).get(P + "admin/static/admin.css")


# ---------------------------------------------------------------- 5: dry run = real run


def _max_delete(tmp_path: Path, bucket: Bucket) -> Flask:
    seed(bucket, {P + f"static/old{n}.css": b"o" for n in range(3)})
    return app_for(tmp_path, bucket, DELETE=True, MAX_DELETE=2)


def _missing_folder(tmp_path: Path, bucket: Bucket) -> Flask:
    seed(bucket, {P + "static/old.css": b"o"})
    files = {k: v for k, v in APP_FILES.items() if not k.startswith("child_static/")}
    return app_for(tmp_path, bucket, files, DELETE=True)


def _mode_mismatch(tmp_path: Path, bucket: Bucket) -> Flask:
    assert publish(app_for(tmp_path, bucket, FINGERPRINT=True)).exit_code == 0
    return app_for(tmp_path, bucket, DELETE=True)


def _emptied_source(tmp_path: Path, bucket: Bucket) -> Flask:
    assert publish(app_for(tmp_path / "full", bucket)).exit_code == 0
    files = {k: v for k, v in APP_FILES.items() if not k.startswith("admin_static/")}
    (tmp_path / "emptied/admin_static").mkdir(parents=True)
    return app_for(tmp_path / "emptied", bucket, files, DELETE=True)


@pytest.mark.parametrize(
    "scenario", [_max_delete, _missing_folder, _mode_mismatch, _emptied_source]
)
def test_a_dry_run_applies_every_guard_and_exits_like_the_real_run(
    tmp_path: Path, bucket: Bucket, scenario: Any
) -> None:
    app = scenario(tmp_path, bucket)
    before = snapshot(bucket)
    dry = run_cli(app, "--dry-run")
    assert dry.exit_code == 4, dry.output
    assert "refusing to delete" in dry.stderr
    assert "delete " not in dry.stdout  # nothing listed as "would delete"
    assert snapshot(bucket) == before
    real = run_cli(app)
    assert real.exit_code == 4, real.output
    assert {k: v for k, v in snapshot(bucket).items() if k in before} == before


def test_check_still_lists_the_extra_objects_a_guard_keeps(tmp_path: Path, bucket: Bucket) -> None:
    app = _emptied_source(tmp_path, bucket)
    result = run_cli(app, "--check")
    assert result.exit_code == 5, result.output
    assert f"extra    {P}admin/static/admin.css  (no local source)" in result.stdout
    assert "--delete would not remove the extra objects" in result.stderr
    assert "static source admin" in result.stderr
    dry = json.loads(run_cli(app, "--dry-run", "--json").stdout)
    assert dry["exit_code"] == 4 and dry["counts"]["would_delete"] == 0
    refused = [o["key"] for o in dry["outcomes"] if o["status"] == "refused"]
    assert refused == [P + "admin/static/admin.css"]


def test_a_dry_run_within_every_guard_lists_the_deletions(tmp_path: Path, bucket: Bucket) -> None:
    seed(bucket, {P + "static/old.css": b"o"})
    result = run_cli(app_for(tmp_path, bucket, DELETE=True), "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"delete  {P}static/old.css  (no local source)" in result.stdout


# ---------------------------------------------------------------- 6: one bad key

#: A key another client stored with control characters (an ANSI escape and \x01): XML 1.0
#: cannot carry \x01, so SeaweedFS answers DeleteObjects with MalformedXML.
BAD = P + "static/bad\x1b[31m\x01.css"


def test_a_key_that_breaks_delete_objects_does_not_block_the_others(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = app_for(tmp_path, bucket, DELETE=True)
    seed(bucket, {BAD: b"another client", P + "static/old.css": b"o"})
    result = run_cli(app, "-v")
    assert result.exit_code == 0, ascii(result.output)
    assert bucket.keys().isdisjoint({BAD, P + "static/old.css"})
    assert "\x1b" not in result.output and "\x01" not in result.output
    assert f"deleted   {P}static/bad\\x1b[31m\\x01.css" in result.stderr

    seed(bucket, {BAD: b"again", P + "static/old.css": b"o"})
    result = run_cli(app, "--json")
    assert result.exit_code == 0, ascii(result.output)
    report = json.loads(result.stdout)
    assert {o["key"] for o in report["outcomes"] if o["status"] == "deleted"} == {
        BAD,
        P + "static/old.css",
    }


def test_a_bad_key_that_cannot_be_deleted_is_reported_escaped(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("DeleteObject", "*bad*", error(500, "InternalError"), times=None))
    app = app_for(tmp_path, bucket, DELETE=True, ENDPOINT_URL=fault_proxy.url, MAX_ATTEMPTS=1)
    seed(bucket, {BAD: b"another client", P + "static/old.css": b"o"})
    result = run_cli(app)
    assert result.exit_code == 1, ascii(result.output)
    stored = bucket.keys()
    assert P + "static/old.css" not in stored and BAD in stored
    assert f"failed: {P}static/bad\\x1b[31m\\x01.css: 500" in result.stderr
    assert "\x1b" not in result.output and "\x01" not in result.output
    report = json.loads(run_cli(app, "--json").stdout)
    failure = report["failures"][0]
    assert failure["key"] == BAD and "\x01" not in failure["message"]


# ---------------------------------------------------------------- 7: the storage's clock


def test_grace_is_measured_by_the_storage_clock_not_the_runner(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = app_for(tmp_path, bucket, FINGERPRINT=True, DELETE=True, KEEP_MANIFESTS=0)
    assert publish(app).exit_code == 0
    first = bucket.keys()
    old_copy = {key for key in first if key.startswith(P + "static/css/site.")} - {
        P + "static/css/site.css"
    }
    assert len(old_copy) == 1
    (tmp_path / "static/css/site.css").write_text("body { color: blue; }\n")
    ahead = datetime.now(timezone.utc) + timedelta(days=2)  # a runner's clock far ahead
    report = publish(app, clock=lambda: ahead)
    assert report.exit_code == 0, report.to_dict()
    assert deleted(report) == set()  # written seconds ago by the storage's clock
    assert first <= bucket.keys()

    time.sleep(1.1)  # LastModified and Date have whole seconds: let the storage's clock move
    no_grace = app_settings(app).replace(grace_seconds=0)
    report = publish(app, no_grace, clock=lambda: ahead + timedelta(minutes=1))
    assert report.exit_code == 0, report.to_dict()
    assert old_copy <= deleted(report)  # cleanup still removes what no release uses
