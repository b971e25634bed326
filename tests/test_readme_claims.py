"""README claims no other test pinned down (see docs/claims.md), against the real SeaweedFS
where a storage is involved."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cloudcollect import MemoryStorage, publish
from cloudcollect.cli import cloudcollect_command
from cloudcollect.config import config_keys
from cloudcollect.remote import OWN_KEYS
from cloudcollect.state import STATE_NAME
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.support.faultproxy import Action, Fault, FaultProxy, delay, error, pages_per_listing
from tests.support.seaweed import REGION
from tests.test_overlap import gate
from tests.test_reliability import (
    PREFIX,
    MiB,
    assert_stored,
    big_file,
    expected_objects,
    flask_subprocess,
    many_files,
    proxied_app,
    puts,
    wait_for,
)
from tests.test_reliability import config as reliability_config


def seaweed_config(bucket: Bucket, **extra: object) -> dict[str, object]:
    return {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": REGION,
        **{f"CLOUDCOLLECT_{k}": v for k, v in extra.items()},
    }


# -- Exit codes: "the run stopped early because the storage stopped answering" -------------


@pytest.mark.seaweedfs
@pytest.mark.parametrize(("workers", "streak"), [(1, 10), (12, 12)])
def test_a_run_stops_after_10_storage_failures_in_a_row_or_one_per_worker(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, workers: int, streak: int
) -> None:
    fault_proxy.add(Fault("PutObject", "*static/*", error(500, "InternalError"), times=None))
    app = proxied_app(
        tmp_path, bucket, fault_proxy, many_files(120), WORKERS=workers, MAX_ATTEMPTS=1
    )
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert f"stopped early: {streak} uploads in a row failed" in str(report.fatal)
    # The streak is counted as results reach the calling thread; workers run at most two
    # uploads each ahead of it (sync.run_parallel), however fast the failures come.
    assert streak <= len(puts(fault_proxy)) <= streak + 2 * workers, len(puts(fault_proxy))
    assert any("planned uploads not done" in warning for warning in report.warnings)


# -- Change detection: the state object ------------------------------------------------------


@pytest.mark.seaweedfs
def test_the_state_object_is_stored_with_cache_control_no_store(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = make_app(tmp_path, seaweed_config(bucket), {"static/a.css": "a{}"})
    assert publish(app).exit_code == 0
    assert bucket.head(STATE_NAME)["CacheControl"] == "no-store"
    assert bucket.head("static/a.css")["CacheControl"] == "public, max-age=3600"


@pytest.mark.seaweedfs
def test_a_run_with_nothing_to_do_lists_the_prefix_and_its_own_keys_and_makes_two_gets(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    app = proxied_app(tmp_path, bucket, fault_proxy)
    assert publish(app).exit_code == 0
    fault_proxy.clear()
    assert publish(app).counts()["uploaded"] == 0
    requests = sorted((r.operation, r.key or "") for r in fault_proxy.requests())
    assert requests == [
        ("GetObject", "rel/.cloudcollect-lease.json"),
        ("GetObject", "rel/" + STATE_NAME),
        ("HeadBucket", ""),
        ("ListObjectsV2", ""),
        ("ListObjectsV2", ""),
    ]
    assert pages_per_listing(fault_proxy) == {"rel/": 1, "rel/" + OWN_KEYS: 1}


# -- Configuration: CLOUDCOLLECT_CACHE_CONTROL ("None for none") ------------------------------


@pytest.mark.seaweedfs
def test_cache_control_none_stores_no_cache_control(tmp_path: Path, bucket: Bucket) -> None:
    config = seaweed_config(bucket, CACHE_CONTROL=None)
    app = make_app(tmp_path, config, {"static/a.css": "a{}"})
    assert publish(app).exit_code == 0
    assert "CacheControl" not in bucket.head("static/a.css")


# -- Quick start: "cloudcollect never takes a secret as a setting or an option" -------------

SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "ACCESS_KEY", "CREDENTIAL", "PASSWD")


def test_no_setting_or_option_takes_a_secret() -> None:
    assert [key for key in config_keys() if any(w in key for w in SECRET_WORDS)] == []
    commands = [cloudcollect_command, *cloudcollect_command.commands.values()]
    options = [opt for command in commands for param in command.params for opt in param.opts]
    assert options and not [o for o in options if any(w in o.upper() for w in SECRET_WORDS)]


# -- The command: -q, --json ------------------------------------------------------------------


def filesystem_app(tmp_path: Path) -> Flask:
    config = {"CLOUDCOLLECT_STORAGE": "filesystem", "CLOUDCOLLECT_ROOT": str(tmp_path / "out")}
    return make_app(tmp_path / "app", config)


def test_quiet_prints_only_the_summary_line_and_errors(tmp_path: Path) -> None:
    app = filesystem_app(tmp_path)
    runner = app.test_cli_runner()
    done = runner.invoke(cloudcollect_command, ["-q"])
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()]  # one line: the summary
    assert done.stderr.startswith("uploaded 7, deleted 0, unchanged 0, failed 0, excluded 3")
    (tmp_path / "app/static/bad\\name.css").write_text("a{}")  # "\\": no key, exit 1
    failed = runner.invoke(cloudcollect_command, ["-q"])
    assert failed.exit_code == 1, failed.output
    lines = failed.stderr.splitlines()
    assert len(lines) == 2 and "bad\\name.css" in lines[0], lines
    assert lines[-1].startswith("uploaded 0, deleted 0, unchanged 7, failed 1")


def test_the_json_report_has_every_documented_field(tmp_path: Path) -> None:
    result = filesystem_app(tmp_path).test_cli_runner().invoke(cloudcollect_command, ["--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    documented = {"counts", "bytes_uploaded", "bytes_planned", "seconds", "exit_code"}
    assert documented | {"failures", "outcomes"} <= set(report), sorted(report)
    assert {"action", "status", "reason"} <= set(report["outcomes"][0])
    assert "retries" in report["counts"]


def test_no_delete_overrides_the_delete_setting_for_one_run(tmp_path: Path) -> None:
    config = {
        "CLOUDCOLLECT_STORAGE": "filesystem",
        "CLOUDCOLLECT_ROOT": str(tmp_path / "out"),
        "CLOUDCOLLECT_DELETE": True,
    }
    app = make_app(tmp_path / "app", config)
    orphan = tmp_path / "out/static/old.css"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("old")
    kept = app.test_cli_runner().invoke(cloudcollect_command, ["--no-delete"])
    assert kept.exit_code == 0, kept.output
    assert orphan.exists()
    deleted = app.test_cli_runner().invoke(cloudcollect_command, [])
    assert deleted.exit_code == 0, deleted.output
    assert not orphan.exists()


def concurrency_meter(peak: list[int]) -> Action:
    """Forward each request after 0.2 s, recording in ``peak[0]`` how many were held at
    once."""
    lock, held = threading.Lock(), [0]

    def run(exchange: Any, fault: Fault) -> None:
        body = exchange.body()
        with lock:
            held[0] += 1
            peak[0] = max(peak[0], held[0])
        exchange.wait(0.2)
        with lock:
            held[0] -= 1
        exchange.relay(exchange.forward(body))

    return Action("concurrency meter", run)


@pytest.mark.seaweedfs
@pytest.mark.parametrize("workers", ["1", "3"])
def test_workers_is_the_number_of_parallel_transfers(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, workers: str
) -> None:
    peak = [0]
    fault_proxy.add(Fault("PutObject", "*static/many/*", concurrency_meter(peak), times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, many_files(12))
    result = app.test_cli_runner().invoke(cloudcollect_command, ["--workers", workers])
    assert result.exit_code == 0, result.output
    assert peak[0] == int(workers)


# -- Precompression: "never a file whose header rules already set a Content-Encoding" ------


def test_a_file_whose_rules_set_a_content_encoding_gets_no_variant(tmp_path: Path) -> None:
    rules = [("static/pre/*", {"Content-Encoding": "gzip"})]
    config = {"CLOUDCOLLECT_PRECOMPRESS": ["gzip"], "CLOUDCOLLECT_HEADERS": rules}
    files = {"static/pre/a.css": "a{}" * 400, "static/b.css": "b{}" * 400}
    storage = MemoryStorage()
    assert publish(make_app(tmp_path, config, files), storage=storage).exit_code == 0
    assert "static/b.css.gz" in storage.objects
    assert "static/pre/a.css.gz" not in storage.objects


# -- Fingerprinting: "files over 8 MiB and files that are not UTF-8 are published
#    unrewritten, with a warning" ----------------------------------------------------------


def test_a_stylesheet_over_8_mib_or_not_utf8_is_published_unrewritten_with_a_warning(
    tmp_path: Path,
) -> None:
    big = b"a { background: url(img/logo.png) }\n" + b"/*" + b"x" * (8 * 1024 * 1024) + b"*/\n"
    latin1 = "a { background: url(img/logo.png) } /* caf\u00e9 */\n".encode("latin-1")
    files = {"static/img/logo.png": b"\x89PNG", "static/big.css": big, "static/l1.css": latin1}
    app = make_app(tmp_path, {"CLOUDCOLLECT_FINGERPRINT": True}, files)
    storage = MemoryStorage()
    report = publish(app, storage=storage)
    assert report.exit_code == 0, report.to_dict()
    for name, data in (("big", big), ("l1", latin1)):
        [hashed] = [k for k in storage.objects if re.fullmatch(rf"static/{name}\.\w{{12}}\.css", k)]
        assert storage.objects[hashed].data == data  # url(img/logo.png) left as written
    assert any("big.css: over 8388608 bytes" in w for w in report.warnings), report.warnings
    assert any("l1.css: not UTF-8" in w for w in report.warnings), report.warnings


# -- Deploy order: "verify that every hashed key of the new manifest is in the storage (one
#    listing; a HEAD per key when listing is denied)"; a missing key: no manifest, exit 1 ---


def acknowledge_without_storing() -> Action:
    """Answer a PUT 200 with the body's MD5 as the ETag, and store nothing (a lying store)."""

    def run(exchange: Any, fault: Fault) -> None:
        etag = hashlib.md5(exchange.body(), usedforsecurity=False).hexdigest()
        exchange.respond(200, "OK", [("ETag", f'"{etag}"')], b"")

    return Action("acknowledge without storing", run)


@pytest.mark.seaweedfs
@pytest.mark.parametrize("listing", ["allowed", "denied"])
def test_a_hashed_copy_missing_after_upload_publishes_no_manifest(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy, listing: str
) -> None:
    hashed = "*static/css/site.????????????.css"
    fault_proxy.add(Fault("PutObject", hashed, acknowledge_without_storing(), times=None))
    if listing == "denied":
        fault_proxy.add(Fault("ListObjectsV2", None, error(403, "AccessDenied"), times=None))
    app = proxied_app(tmp_path, bucket, fault_proxy, FINGERPRINT=True)
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    assert "hashed files are not in the storage after upload" in str(report.fatal)
    stored = bucket.keys()
    assert not [key for key in stored if "/.cloudcollect/" in key]  # no manifest
    if listing == "denied":  # verified with a HEAD per hashed key
        assert any(
            fnmatch.fnmatchcase(r.key or "", hashed) for r in fault_proxy.requests("HeadObject")
        )


# -- Release pipelines: the example jobs' commands work, and their redirect captures only
#    the JSON report (the human summary goes to stderr) --------------------------------------

CI_COMMAND = re.compile(r"flask cloudcollect ([^>\n]*)> (\S+)")


@pytest.mark.seaweedfs
@pytest.mark.parametrize("job", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_example_ci_jobs_commands_publish_then_gate(
    tmp_path: Path, bucket: Bucket, job: str
) -> None:
    text = (Path(__file__).parent.parent / "examples/ci" / job).read_text(encoding="utf-8")
    commands = CI_COMMAND.findall(text)
    assert [args.split()[0] for args, _ in commands] == ["--delete", "--check"], commands
    tree = tmp_path / "tree"
    make_app(tree, None)  # writes the files; the subprocess builds its own app on them
    for args, report in commands:
        process = flask_subprocess(tmp_path, tree, args.split(), seaweed_config(bucket))
        stdout, stderr = process.communicate(timeout=120)  # a hang guard only
        assert process.returncode == 0, stderr
        document = json.loads(stdout)  # the whole of stdout is the report
        assert document["exit_code"] == 0 and report.startswith("cloudcollect-")
        assert stderr.strip().splitlines()[-1].startswith(("uploaded ", "check: in sync"))


# -- Interruption: "after kill -9 ... nothing half-written is visible either ... The next run
#    uploads exactly what is missing or different" ------------------------------------------


@pytest.mark.seaweedfs
def test_after_kill_9_nothing_half_written_is_visible_and_the_next_run_uploads_the_rest(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    tree = tmp_path / "tree"
    make_app(tree, None, many_files(20))  # writes the files
    big = big_file(11 * MiB)
    (tree / "admin_static/a-big.bin").write_bytes(big)
    big_key = PREFIX + "admin/static/a-big.bin"
    fault_proxy.add(Fault("PutObject", None, delay(0.3), times=None))
    opened, arrived = threading.Event(), threading.Event()
    fault_proxy.add(Fault("UploadPart", None, gate(opened, arrived), times=None))
    multipart = {"MULTIPART_THRESHOLD": 5 * MiB, "MULTIPART_CHUNKSIZE": 5 * MiB}
    app_config = reliability_config(bucket, fault_proxy.url, WORKERS=2, **multipart)
    process = flask_subprocess(tmp_path, tree, ["-v"], app_config)
    try:
        wait_for(arrived.is_set, "a part in flight")  # held until after the kill
        wait_for(lambda: len(puts(fault_proxy, 200)) >= 2, "two files stored")
    finally:
        process.kill()  # SIGKILL: nothing can be cleaned up
        process.communicate()
        opened.set()  # the held parts reach the store now: an upload nobody completes
    wait_for(lambda: bool(fault_proxy.requests("UploadPart")), "the held parts forwarded")
    assert process.returncode == -9
    expected = {**expected_objects(tree), big_key: big}
    keys = bucket.keys()
    stored = {k: bucket.read(k) for k in keys if k.startswith(PREFIX)}
    assert big_key not in stored  # a multipart object exists only once completed
    assert {k: v for k, v in stored.items() if k in expected} == {
        k: expected[k] for k in stored if k in expected
    }  # whatever is visible is whole
    done = set(stored) & set(expected)
    assert done and done != set(expected)
    fault_proxy.reset_faults()
    fault_proxy.clear()
    report = publish(make_app(tree, app_config))
    assert report.exit_code == 0, report.to_dict()
    sent = set(puts(fault_proxy)) | {r.key for r in fault_proxy.requests("CreateMultipartUpload")}
    assert sent - {PREFIX + STATE_NAME} == set(expected) - done  # exactly what was missing
    assert_stored(bucket, expected)


# -- Precompression: "Compression happens only for an upload, streamed through a temporary
#    file that is removed right after" (and fingerprinting's rewritten copies too) ----------


def test_no_temporary_file_outlives_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    files = {
        "static/css/a.css": "a { background: url(../img/b.png) }\n" * 50,
        "static/img/b.png": b"p",
    }
    config = {"CLOUDCOLLECT_FINGERPRINT": True, "CLOUDCOLLECT_PRECOMPRESS": ["gzip", "br"]}
    app = make_app(tmp_path / "app", config, files)
    storage = MemoryStorage()
    report = publish(app, storage=storage)
    assert report.exit_code == 0, report.to_dict()
    assert any(key.endswith(".css.br") for key in storage.objects)  # compressed, rewritten
    assert list(scratch.iterdir()) == []
