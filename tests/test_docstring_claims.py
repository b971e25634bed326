"""Edge cases stated by module docstrings that no other test pinned down (see
docs/claims.md), against the real SeaweedFS where a storage is involved."""

from __future__ import annotations

import gc
import itertools
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask

from cloudcollect import CloudCollect, MemoryStorage, publish
from cloudcollect.cli import cloudcollect_command
from cloudcollect.config import Settings
from cloudcollect.discovery import discover
from cloudcollect.errors import ConfigError
from cloudcollect.globs import compile_globs
from cloudcollect.jsondoc import load_json
from cloudcollect.keys import normalize_prefix
from cloudcollect.plugins import active
from cloudcollect.remote import OWN_KEYS
from tests.conftest import Bucket
from tests.support.apps import APP_FILES, make_app
from tests.support.faultproxy import Action, Fault, FaultProxy, error, pages_per_listing
from tests.test_bad_settings import bare_app
from tests.test_readme_claims import filesystem_app, seaweed_config
from tests.test_reliability import (
    PREFIX,
    proxied_app,
)


@pytest.mark.seaweedfs
def test_failures_that_say_nothing_about_the_storage_do_not_stop_the_run(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    """stages.py: local failures (here ``ReferenceNotUploaded``) are not in the streak."""
    fault_proxy.add(Fault("PutObject", "*static/img/logo.png", error(500, "InternalError")))
    sheets = {
        f"static/css/s{n:02d}.css": f".s{n} {{ background: url(../img/logo.png) }}"
        for n in range(12)
    }
    app = proxied_app(
        tmp_path, bucket, fault_proxy, {**APP_FILES, **sheets}, WORKERS=1, MAX_ATTEMPTS=1
    )
    report = publish(app)
    assert report.exit_code == 1, report.to_dict()
    codes = sorted(o.error_code or "" for o in report.with_status("failed"))
    assert codes == ["InternalError"] + ["ReferenceNotUploaded"] * 12
    assert "stopped early" not in str(report.fatal)
    assert report.counts()["uploaded"] == 6  # the app's 7 files but the logo


def test_the_command_runs_outside_the_main_thread(tmp_path: Path) -> None:
    """clisignals.py: signal handlers only in the main thread; elsewhere they are left
    alone (installing one there would raise ValueError)."""
    results: list[Any] = []
    app = filesystem_app(tmp_path)
    thread = threading.Thread(
        target=lambda: results.append(app.test_cli_runner().invoke(cloudcollect_command, []))
    )
    thread.start()
    thread.join()
    assert results[0].exit_code == 0, (results[0].output, results[0].exception)


@pytest.mark.parametrize("key", ["CLOUDCOLLECT_ENDPOINT_URL", "CLOUDCOLLECT_BASE_URL"])
@pytest.mark.parametrize(
    "url", ["http://deployer:pw-0123456789@[::1", "http://deployer:pw-0123456789@h:99999/"]
)
def test_a_bad_url_setting_never_echoes_its_password(tmp_path: Path, key: str, url: str) -> None:
    """values.py: messages never repeat a URL, so user:password@ in one is never echoed."""
    app = bare_app(tmp_path, {"CLOUDCOLLECT_STORAGE": "memory", key: url})  # no init_app
    result = app.test_cli_runner().invoke(cloudcollect_command, [])
    assert result.exit_code == 2, result.output
    assert key in result.output
    assert "pw-0123456789" not in result.output and "deployer" not in result.output


# -- Module docstrings ------------------------------------------------------------------------
# lease.py: "a reader trusts [the state object] only when the lease names the same run (or
# when there is no lease: a prefix last written before leases existed)".


@pytest.mark.seaweedfs
def test_a_state_object_without_any_lease_is_trusted(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    app = proxied_app(tmp_path, bucket, fault_proxy)
    assert publish(app).exit_code == 0
    bucket.client.delete_object(Bucket=bucket.name, Key=PREFIX + ".cloudcollect-lease.json")
    fault_proxy.clear()
    report = publish(app)
    assert report.counts()["uploaded"] == 0, report.to_dict()
    assert fault_proxy.requests("HeadObject") == []  # the state object answered for every key
    assert not any("state object" in warning for warning in report.warnings)
    # a lease naming another run: the same state object is no longer trusted
    other = b'{"version": 1, "run": "0123456789abcdef", "started": "2026-01-01T00:00:00+00:00"}'
    bucket.client.put_object(
        Bucket=bucket.name, Key=PREFIX + ".cloudcollect-lease.json", Body=other
    )
    fault_proxy.clear()
    assert publish(app).counts()["uploaded"] == 0
    assert fault_proxy.requests("HeadObject")


# deletion.py: "The guards run in the same order for a dry run and a real run": a failed key
# (1) before a missing folder (3), the mode check (4) before an emptied source (5) before
# MAX_DELETE (6).


def guarded_app(root: Path, files: Mapping[str, bytes | str], **extra: object) -> Flask:
    config = {"CLOUDCOLLECT_PREFIX": "p", "CLOUDCOLLECT_DELETE": True}
    config |= {f"CLOUDCOLLECT_{k}": v for k, v in extra.items()}
    return make_app(root, config, files)


def test_the_deletion_guards_run_in_their_documented_order(tmp_path: Path) -> None:
    from cloudcollect.storage.memory import StoredObject

    def store(*keys: str) -> MemoryStorage:
        storage = MemoryStorage()
        for key in keys:
            storage.objects[key] = StoredObject(b"x", {}, "")
        return storage

    files = {"static/a.css": "a{}", "admin_static/b.css": "b{}", "static/bad\\name.css": "x"}
    no_child = guarded_app(tmp_path / "1", files)  # child_static/ missing, one bad name
    report = publish(no_child, storage=store("p/static/old.css"))
    assert report.exit_code == 1 and report.deletion_skipped, report.to_dict()  # 1 before 3

    files = {"static/a.css": "a{}", "child_static/c.js": "c"}  # admin_static/ emptied
    (tmp_path / "2/admin_static").mkdir(parents=True)
    storage = store("p/.cloudcollect/manifest.json", "p/admin/static/old.css")
    report = publish(guarded_app(tmp_path / "2", files, MAX_DELETE=0), storage=storage)
    assert report.exit_code == 4 and "mode mismatch" in str(report.fatal)  # 4 before 5, 6
    del storage.objects["p/.cloudcollect/manifest.json"]
    report = publish(guarded_app(tmp_path / "2", files, MAX_DELETE=0), storage=storage)
    assert "static source admin" in str(report.fatal)  # 5 before 6


# deletion.py ``delete_scope`` and README *Exit codes* 4, "no prefix to confine deletion": a
# static folder served at the URL root with no prefix refuses --delete; the bucket's other
# objects are never candidates.


@pytest.mark.seaweedfs
def test_a_static_folder_at_the_url_root_without_a_prefix_refuses_to_delete(
    tmp_path: Path, bucket: Bucket
) -> None:
    (tmp_path / "public").mkdir()
    (tmp_path / "public/a.css").write_text("a{}")
    bucket.client.put_object(Bucket=bucket.name, Key="another-app/keep.js", Body=b"x")
    app = Flask("rootapp", root_path=str(tmp_path), static_folder="public", static_url_path="")
    app.config.update(seaweed_config(bucket, DELETE=True))
    CloudCollect(app)
    for args in (["--dry-run"], []):
        result = app.test_cli_runner().invoke(cloudcollect_command, args)
        assert result.exit_code == 4, result.output
        assert "served at the URL root: set CLOUDCOLLECT_PREFIX to delete" in result.stderr
    stored = bucket.keys()
    assert "another-app/keep.js" in stored


# storage/s3listing.py: "a truncated V1 page without NextMarker resumes after its last key;
# a truncated V2 page without a token ends the listing", and "EMPTY_PAGES_MAX truncated
# pages in a row without one object" end a listing (ListingLoop, exit 3).


def listing_page(truncated: bool, token: str = "", *keys: str) -> bytes:
    contents = "".join(f"<Contents><Key>{k}</Key><Size>1</Size></Contents>" for k in keys)
    flag = "true" if truncated else "false"
    page = f"<ListBucketResult><IsTruncated>{flag}</IsTruncated>{token}{contents}"
    return (page + "</ListBucketResult>").encode()


def test_a_truncated_page_without_a_token_or_marker() -> None:
    from cloudcollect.storage.s3listing import parse_page

    assert parse_page(listing_page(True, "", "a", "b"), True, version=2).resume is None
    assert parse_page(listing_page(True, "", "a", "b"), True, version=1).resume == "b"
    marker = "<NextMarker>c</NextMarker>"
    assert parse_page(listing_page(True, marker, "a", "b"), True, version=1).resume == "c"


def empty_truncated_pages() -> Action:
    """Answer every ListObjectsV2 with an empty page, truncated, under a new token."""
    tokens = itertools.count()

    def run(exchange: Any, fault: Fault) -> None:
        exchange.body()
        token = f"<NextContinuationToken>E{next(tokens)}</NextContinuationToken>"
        headers = [("Content-Type", "application/xml")]
        exchange.respond(200, "OK", headers, listing_page(True, token))

    return Action("empty truncated pages", run)


@pytest.mark.seaweedfs
def test_100_empty_truncated_pages_in_a_row_end_the_listing(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("ListObjectsV2", None, empty_truncated_pages(), times=None))
    report = publish(proxied_app(tmp_path, bucket, fault_proxy))
    assert report.exit_code == 3, report.to_dict()
    assert getattr(report.fatal, "code", None) == "ListingLoop"
    assert "100 empty truncated pages in a row" in str(report.fatal)
    # each listing (the prefix and the own keys) ends on its own after 100 pages
    assert pages_per_listing(fault_proxy) == {"rel/": 100, "rel/" + OWN_KEYS: 100}
    assert fault_proxy.writes() == []


# -- discovery.py, filters.py, globs.py, keys.py ----------------------------------------------


def test_a_folder_is_walked_in_code_point_order_its_files_before_its_subfolders(
    tmp_path: Path,
) -> None:
    """discovery.py: "names in code-point order, a folder's files before its subfolders"
    (the order decides which of two colliding names is walked first)."""
    files = {"A/x.swp": "s", "B.swp": "s", "Thumbs.db": "t", "a.swp": "s", "a.css": "a{}"}
    app = make_app(tmp_path, {}, {f"static/{name}": body for name, body in files.items()})
    skipped = discover(app, Settings()).skipped
    walked = [entry.path for entry in skipped if entry.source == "app"]
    assert walked == ["B.swp", "Thumbs.db", "a.swp", "A/x.swp"]


def test_a_socket_is_not_a_regular_file(tmp_path: Path) -> None:
    """discovery.py: "FIFOs, sockets and devices are ``not a regular file``"."""
    app = make_app(tmp_path, {}, {"static/a.css": "a{}"})
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "static/s.css"))
        discovery = discover(app, Settings())
    assert [f.key for f in discovery.files if f.source == "app"] == ["static/a.css"]
    assert [(s.path, s.reason) for s in discovery.skipped] == [("s.css", "not a regular file")]


def test_include_and_exclude_patterns_are_case_sensitive(tmp_path: Path) -> None:
    """discovery.py and globs.py: patterns match "case-sensitively"; no pattern matches
    nothing (an empty include admits everything, an empty exclude excludes nothing)."""
    app = make_app(tmp_path, {}, {"static/a.css": "a{}", "static/B.CSS": "b{}"})

    def published(**patterns: tuple[str, ...]) -> list[str]:
        return [f.key for f in discover(app, Settings().replace(**patterns)).files]

    assert published(exclude=("static/*.CSS",)) == ["static/a.css"]
    assert published(include=("static/*.css",)) == ["static/a.css"]
    assert published(include=(), exclude=()) == ["static/B.CSS", "static/a.css"]
    assert compile_globs(()).match("") is None
    assert compile_globs(("*.CSS",), re.IGNORECASE).match("a.css") is not None


@pytest.mark.parametrize("prefix", ["a//b", "a\\b", "a/./b", "a/\x07b"])
def test_a_prefix_with_an_unsafe_segment_is_a_config_error_naming_it(prefix: str) -> None:
    """keys.py ``normalize_prefix``: "reject ``..``, ``\\`` and empty segments"."""
    with pytest.raises(ConfigError) as info:
        normalize_prefix(prefix)
    assert info.value.key == "CLOUDCOLLECT_PREFIX"
    assert normalize_prefix("  /a/b//  ") == "a/b/"  # only the ends are trimmed


# -- jsondoc.py -------------------------------------------------------------------------------


def test_load_json_pauses_the_collector_only_while_it_parses() -> None:
    """jsondoc.py: deep nesting is a ValueError; ``gc`` is back on after the last parse,
    and stays off if it was off."""
    assert gc.isenabled()
    with pytest.raises(ValueError, match="nested too deeply"):
        load_json("[" * 200_000)
    assert gc.isenabled()
    assert load_json(b'{"a": [1]}') == {"a": [1]}
    assert gc.isenabled()
    gc.disable()
    try:
        assert load_json("[]") == []
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- plugins/__init__.py, cliprogress.py ------------------------------------------------------


def test_the_plugins_run_in_their_documented_order() -> None:
    """plugins/__init__.py: the lease, fingerprinting, SRI, precompression, the upload
    order, the state object, CloudFront last; only what the settings turn on."""
    every = Settings().replace(fingerprint=True, cloudfront_distribution_id="E2QWRUHAPOMQZL")
    assert [type(p).__name__ for p in active(every)] == [
        "Leasing",
        "Fingerprinting",
        "SubresourceIntegrity",
        "Precompression",
        "UploadOrdering",
        "StateObject",
        "CloudFrontInvalidation",
    ]
    plain = [type(p).__name__ for p in active(Settings())]
    assert plain == ["Leasing", "Precompression", "UploadOrdering", "StateObject"]


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    """cliprogress.py: the bar is shown "on a terminal only" (a CI log gets none)."""
    result = filesystem_app(tmp_path).test_cli_runner().invoke(cloudcollect_command, [])
    assert result.exit_code == 0, result.output
    assert "uploaded 7" in result.stderr
    assert "uploading" not in result.output and "uploading" not in result.stderr


# -- pipeline.py: "storage ... closed at the end only when opened here"; ``progress`` is
# called for every finished key.


class ClosingStorage(MemoryStorage):
    """A custom storage class (``CLOUDCOLLECT_STORAGE = "module:Class"``): the memory
    storage, remembering whether it was closed."""

    made: ClassVar[list[ClosingStorage]] = []

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.closed = False
        ClosingStorage.made.append(self)

    def close(self) -> None:
        self.closed = True


def test_publish_closes_only_the_storage_it_opened(tmp_path: Path) -> None:
    ClosingStorage.made.clear()
    storage_path = f"{__name__}:ClosingStorage"
    app = make_app(tmp_path, {"CLOUDCOLLECT_STORAGE": storage_path})
    assert publish(app).exit_code == 0
    [opened] = ClosingStorage.made
    assert opened.closed and opened.objects
    given, finished = ClosingStorage(), []
    report = publish(app, storage=given, progress=lambda outcome: finished.append(outcome.key))
    assert report.exit_code == 0 and not given.closed
    uploaded = [o.key for o in report.outcomes if o.action == "upload"]
    assert sorted(finished) == sorted(uploaded) and len(finished) == 7  # the 3 excluded: no


# -- plugins/sri.py: "A digest the current manifest records for the same hashed name
# (content-addressed) is taken from it; the others are read from the local bytes. A path
# whose hashed name is its own (kept plain) is always read."


def test_a_recorded_digest_is_reused_only_for_the_same_hashed_name(tmp_path: Path) -> None:
    from cloudcollect.fingerprint.manifest import file_integrity, new_manifest
    from cloudcollect.plugins.sri import digests

    sources = {name: tmp_path / name for name in ("a.css", "b.css", "p.js", "n.css")}
    for name, path in sources.items():
        path.write_text(f"/* {name} as it is now */")
    recorded = {"a.css": "a.1.css", "b.css": "b.1.css", "p.js": "p.js"}
    old = {name: f"sha384-recorded-{name}" for name in recorded}
    current = new_manifest(recorded, datetime.now(timezone.utc), integrity=old)
    files = {"a.css": "a.1.css", "b.css": "b.2.css", "p.js": "p.js", "n.css": "n.3.css"}
    assert digests(files, sources, current) == {
        "a.css": "sha384-recorded-a.css",  # same content-addressed name: taken as recorded
        "b.css": file_integrity(sources["b.css"]),  # a new hashed name
        "p.js": file_integrity(sources["p.js"]),  # kept plain: its bytes may have changed
        "n.css": file_integrity(sources["n.css"]),  # not in the manifest
    }
    assert digests(files, sources, None)["a.css"] == file_integrity(sources["a.css"])


# -- run.py ``order`` and plugins/uploadorder.py: "one group: the plan's uploads, largest
# first"; "each level is uploaded largest first, and starts once the one before has
# finished".


def uploads_in_order(root: Path, files: Mapping[str, str]) -> list[str]:
    storage = MemoryStorage()
    app = make_app(root, {"CLOUDCOLLECT_WORKERS": 1}, files)
    assert publish(app, storage=storage).exit_code == 0
    return [key for operation, key in storage.requests if operation == "put"]


def test_each_level_is_uploaded_largest_first(tmp_path: Path) -> None:
    files = {"static/a.js": "a" * 10, "static/b.js": "b" * 3000, "static/c.js": "c" * 500}
    assert uploads_in_order(tmp_path / "1", files)[:3] == [
        "static/b.js",
        "static/c.js",
        "static/a.js",
    ]
    files |= {"static/s.css": ".s { background: url(a.js) }" + " " * 9000}
    assert uploads_in_order(tmp_path / "2", files)[:4] == [
        "static/b.js",
        "static/c.js",
        "static/a.js",
        "static/s.css",  # the largest, but it refers to a.js: the next level
    ]


# -- plugins/cdn.py: "boto3 is imported only when it runs" (once everything else finished
# with exit code 0, in a real run).

ONLY_WHEN_IT_RUNS = """
import sys
from pathlib import Path
from flask import Flask
from cloudcollect import publish
root = Path(sys.argv[1])
app = Flask("cdnapp", root_path=str(root))
app.config.update(
    CLOUDCOLLECT_STORAGE="filesystem",
    CLOUDCOLLECT_ROOT=str(root / "out"),
    CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID="E2QWRUHAPOMQZL",
)
codes = [publish(app, dry_run=True).exit_code]
(root / "static/bad\\\\name.css").write_text("b{}")  # fails the real run: exit 1
codes.append(publish(app).exit_code)
print(codes, "boto3" in sys.modules)
"""


def test_a_run_that_invalidates_nothing_never_imports_boto3(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static/a.css").write_text("a{}")
    done = subprocess.run(
        [sys.executable, "-c", ONLY_WHEN_IT_RUNS, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["[0,", "1]", "False"], done.stderr


# -- plugins/stateobject.py: the state object only "on a storage that keeps headers and
# could be listed" (the listing side: test_reliability::test_10).


def test_a_storage_that_keeps_no_headers_gets_no_state_object(tmp_path: Path) -> None:
    app = filesystem_app(tmp_path)
    assert publish(app).exit_code == 0
    stored = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "site.css" in stored and ".cloudcollect-lease.json" in stored
    assert not [name for name in stored if name.startswith(".cloudcollect-state")]


# -- csslexer.py ``unescape``.


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a\\62 c", "abc"),  # hex and one whitespace
        ("a\\000062c", "abc"),  # six digits at most
        ("a\\0000621", "ab1"),
        ("a\\62\r\nc", "abc"),  # \r\n is one whitespace
        ("\\0 x", "\ufffdx"),
        ("\\d800 x", "\ufffdx"),
        ("\\110000 x", "\ufffdx"),
        ("\\10FFFF x", "\U0010ffffx"),
        ("a\\\nb", "ab"),  # an escaped newline is a line continuation
        ("a\\)b", "a)b"),  # any other character is itself
        ("ab\\", "ab<end>"),
    ],
)
def test_unescape_decodes_as_the_docstring_says(raw: str, decoded: str) -> None:
    from cloudcollect.csslexer import unescape

    assert unescape(raw, "<end>") == decoded


# -- discovery.py: "Symlinks are followed only when their real path stays inside the real
# path of the static folder" (a static folder that is itself a symlink, as deployments
# often make it).


def test_a_link_into_a_symlinked_static_folder_is_inside_it(tmp_path: Path) -> None:
    real = tmp_path / "releases/v1/static"
    real.mkdir(parents=True)
    (real / "a.css").write_text("a{}")
    (real / "b.css").symlink_to(real / "a.css")  # absolute, through the real path
    (tmp_path / "elsewhere.css").write_text("x{}")
    (real / "c.css").symlink_to(tmp_path / "elsewhere.css")
    (tmp_path / "app").mkdir()
    (tmp_path / "app/static").symlink_to(real)
    app = Flask("linked", root_path=str(tmp_path / "app"))
    discovery = discover(app, Settings())
    assert [f.key for f in discovery.files] == ["static/a.css", "static/b.css"]
    assert [(s.path, s.reason) for s in discovery.skipped] == [
        ("c.css", "symlink leaves static folder")
    ]
