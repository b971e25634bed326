"""Fingerprinting without a network: names, rewriting order, the manifest, cleanup, url_for.

Publishing runs against MemoryStorage (whose clock ages objects without sleeping) and the
filesystem storage; tests/test_fingerprint_s3.py does the same against SeaweedFS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from flask import Flask, render_template_string, url_for

from cloudcollect.check import check
from cloudcollect.errors import FingerprintError, StorageError
from cloudcollect.fingerprint import (
    IMMUTABLE,
    Manifest,
    decode_manifest,
    encode_manifest,
    fingerprint_assets,
    hashed_name,
    kept_releases,
    new_manifest,
    removable,
)
from cloudcollect.hashing import md5_of_file
from cloudcollect.pipeline import publish
from cloudcollect.plan import LocalAsset
from cloudcollect.report import Report
from cloudcollect.storage import MemoryStorage, RemoteObject
from cloudcollect.storage.filesystem import FilesystemStorage
from tests.support.apps import make_app

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
HEX12 = re.compile(r"\.[0-9a-f]{12}\.")
SITE_FILES: dict[str, bytes | str] = {
    "static/css/site.css": '@import "base.css";\n.logo { background: url(../img/logo.png) }\n',
    "static/css/base.css": "h1 { background: url('../img/icon.png?v=1#x') }\n",
    "static/css/plain.css": "p { color: red }\n",
    "static/img/logo.png": b"\x89PNG logo v1",
    "static/img/icon.png": b"\x89PNG icon",
    "static/js/app.js": "console.log(1);\n//# sourceMappingURL=app.js.map\n",
    "static/js/app.js.map": '{"version": 3}',
    "admin_static/admin.css": ".admin { color: red }",  # the blueprints' folders
    "child_static/child.js": "child();",
}


# -- names and the manifest -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("static/css/app.css", "static/css/app.0123456789ab.css"),
        ("static/js/app.min.js", "static/js/app.min.0123456789ab.js"),
        ("static/LICENSE", "static/LICENSE.0123456789ab"),
        ("logo.PNG", "logo.0123456789ab.PNG"),
    ],
)
def test_hashed_name_puts_12_hex_of_the_md5_before_the_extension(path: str, expected: str) -> None:
    assert hashed_name(path, "0123456789abcdef0123456789abcdef") == expected


def test_manifest_round_trips_and_release_ids_sort_by_time() -> None:
    first = new_manifest({"static/a.css": "static/a.0123456789ab.css"}, T0)
    later = new_manifest({"static/a.css": "static/a.ba9876543210.css"}, T0 + timedelta(seconds=1))

    assert decode_manifest(encode_manifest(first), "x") == first
    assert first.release < later.release
    assert json.loads(encode_manifest(first))["version"] == 1
    with pytest.raises(FingerprintError, match="unreadable manifest"):
        decode_manifest(b'{"version": 99, "files": {}}', "x")


# -- rewriting --------------------------------------------------------------------------


def assets_in(root: Path, files: dict[str, bytes | str]) -> list[LocalAsset]:
    assets = []
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        info = path.stat()
        assets.append(
            LocalAsset(
                "pre/" + relative,
                path,
                info.st_size,
                info.st_mtime_ns,
                md5_of_file(path),
                {"Cache-Control": "public, max-age=60"},
            )
        )
    return assets


def fingerprint(
    tmp_path: Path, files: dict[str, bytes | str], strict: bool = True, modules: bool = False
) -> tuple[dict[str, LocalAsset], dict[str, str], list[str]]:
    warnings: list[str] = []
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    copies, mapping = fingerprint_assets(
        assets_in(tmp_path / "src", files),
        "pre/",
        work,
        strict=strict,
        modules=modules,
        warn=warnings.append,
    )
    return {copy.key: copy for copy in copies}, mapping, warnings


def test_referenced_files_are_hashed_first_and_referrers_hash_their_rewritten_bytes(
    tmp_path: Path,
) -> None:
    copies, mapping, warnings = fingerprint(tmp_path, SITE_FILES)

    site = copies["pre/" + mapping["static/css/site.css"]]
    base = mapping["static/css/base.css"].rpartition("/")[2]
    logo = mapping["static/img/logo.png"].rpartition("/")[2]
    icon = mapping["static/img/icon.png"].rpartition("/")[2]
    site_text = site.path.read_text()
    assert site_text == f'@import "{base}";\n.logo {{ background: url(../img/{logo}) }}\n'
    assert site.md5 == md5_of_file(site.path)  # of the rewritten bytes
    assert mapping["static/css/site.css"] == hashed_name("static/css/site.css", site.md5)
    base_copy = copies["pre/" + mapping["static/css/base.css"]]
    assert base_copy.path.read_text() == f"h1 {{ background: url('../img/{icon}?v=1#x') }}\n"
    app_js = copies["pre/" + mapping["static/js/app.js"]].path.read_text()
    assert app_js.endswith("sourceMappingURL=" + mapping["static/js/app.js.map"][10:] + "\n")
    # a file without references streams from its original, with its own MD5
    plain = copies["pre/" + mapping["static/css/plain.css"]]
    assert plain.path == tmp_path / "src/static/css/plain.css"
    assert all(copy.headers["Cache-Control"] == IMMUTABLE for copy in copies.values())
    assert all(HEX12.search(hashed) for hashed in mapping.values())
    assert sorted(mapping) == sorted(SITE_FILES)
    assert warnings == []


def test_changing_one_image_changes_it_and_its_referrers_only(tmp_path: Path) -> None:
    _, before, _ = fingerprint(tmp_path / "one", SITE_FILES)
    _, after, _ = fingerprint(tmp_path / "two", {**SITE_FILES, "static/img/icon.png": b"new"})

    changed = {path for path in before if before[path] != after[path]}
    assert changed == {"static/img/icon.png", "static/css/base.css", "static/css/site.css"}


def test_a_reference_cycle_is_an_error_naming_it(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        "static/a.css": "@import 'b.css';",
        "static/b.css": "@import url(c.css);",
        "static/c.css": "@import 'a.css';",
    }
    with pytest.raises(FingerprintError) as raised:
        fingerprint(tmp_path, files)
    assert "static/a.css -> static/b.css -> static/c.css -> static/a.css" in str(raised.value)


def test_a_missing_reference_is_an_error_in_strict_mode_and_a_warning_otherwise(
    tmp_path: Path,
) -> None:
    files: dict[str, bytes | str] = {"static/a.css": "x { background: url(gone.png) }"}
    with pytest.raises(FingerprintError, match=r"static/a\.css refers to 'gone\.png'"):
        fingerprint(tmp_path / "strict", files)

    copies, mapping, warnings = fingerprint(tmp_path / "lenient", files, strict=False)
    assert len(warnings) == 1 and "gone.png" in warnings[0]
    copy = copies["pre/" + mapping["static/a.css"]]
    assert copy.path.read_text() == "x { background: url(gone.png) }"  # left as written


def test_a_missing_source_map_only_warns_even_in_strict_mode(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {"static/a.js": "x();\n//# sourceMappingURL=a.js.map\n"}
    files["static/b.js"] = "y();\n//# sourceMappingURL=b.js.map\n"
    _, mapping, warnings = fingerprint(tmp_path, files, strict=True)
    assert sorted(mapping) == ["static/a.js", "static/b.js"]
    assert len(warnings) == 1  # one for all
    assert "2 files name a source map" in warnings[0] and "a.js.map" in warnings[0]


def test_es_module_imports_are_rewritten_only_when_asked(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        "static/js/main.mjs": 'import { x } from "./lib.mjs";\nx();\n',
        "static/js/lib.mjs": "export const x = () => 1;\n",
    }
    copies, mapping, _ = fingerprint(tmp_path / "off", files)
    assert (
        copies["pre/" + mapping["static/js/main.mjs"]].path.read_text()
        == files["static/js/main.mjs"]
    )

    copies, mapping, _ = fingerprint(tmp_path / "on", files, modules=True)
    lib = mapping["static/js/lib.mjs"].rpartition("/")[2]
    main = copies["pre/" + mapping["static/js/main.mjs"]].path.read_text()
    assert main == f'import {{ x }} from "./{lib}";\nx();\n'


# -- cleanup (pure) -----------------------------------------------------------------------


def test_kept_releases_are_the_current_and_the_newest_previous() -> None:
    history = ["r1", "r2", "r3", "r4"]
    assert kept_releases(history, "r4", 2) == ["r4", "r3", "r2"]
    assert kept_releases(history, "r5", 0) == ["r5"]


def test_removable_needs_both_unreferenced_and_older_than_the_grace() -> None:
    kept = [Manifest({"static/a.css": "static/a.111111111111.css"}, "r2", "")]
    old = T0 - timedelta(hours=2)
    young = T0 - timedelta(minutes=10)
    candidates = [
        RemoteObject("p/static/a.111111111111.css", 1, last_modified=old),  # referenced
        RemoteObject("p/static/a.css", 1, last_modified=old),  # referenced (plain)
        RemoteObject("p/static/a.000000000000.css", 1, last_modified=old),  # gone
        RemoteObject("p/static/a.111111111111.css.gz", 1, last_modified=old),  # sibling
        RemoteObject("p/static/a.000000000000.css.br", 1, last_modified=old),  # gone
        RemoteObject("p/static/a.222222222222.css", 1, last_modified=young),  # too young
        RemoteObject("p/static/unknown.css", 1, last_modified=None),  # age unknown
        RemoteObject("p/.cloudcollect/manifests/r2.json", 1, last_modified=old),  # kept
        RemoteObject("p/.cloudcollect/manifests/r1.json", 1, last_modified=old),  # dropped
        RemoteObject("p/.cloudcollect/manifest.json", 1, last_modified=old),  # current
    ]
    assert removable(candidates, "p/", kept, T0, timedelta(hours=1)) == [
        "p/static/a.000000000000.css",
        "p/static/a.000000000000.css.br",
        "p/.cloudcollect/manifests/r1.json",
    ]


# -- publishing -------------------------------------------------------------------------


class Clock:
    """The time publish and MemoryStorage see; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fingerprint_app(
    folder: Path, files: dict[str, bytes | str] | None = None, **config: Any
) -> Flask:
    settings = {
        "CLOUDCOLLECT_STORAGE": "memory",
        "CLOUDCOLLECT_FINGERPRINT": True,
        "CLOUDCOLLECT_PREFIX": "site/",
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        "CLOUDCOLLECT_BASE_URL": "https://cdn.example/",
        "CLOUDCOLLECT_MANIFEST_PATH": str(folder / "instance/manifest.json"),
        **{f"CLOUDCOLLECT_{key.upper()}": value for key, value in config.items()},
    }
    if settings["CLOUDCOLLECT_PREFIX"] is None:  # unset: the bucket root
        del settings["CLOUDCOLLECT_PREFIX"]
    return make_app(folder, settings, SITE_FILES if files is None else files)


def run(app: Flask, storage: Any, clock: Callable[[], datetime] | None = None) -> Report:
    report = publish(app, storage=storage, clock=clock)
    assert report.exit_code == 0, (report.fatal, report.warnings)
    return report


def manifest_of(storage: MemoryStorage) -> dict[str, str]:
    files: dict[str, str] = json.loads(storage.objects["site/.cloudcollect/manifest.json"].data)[
        "files"
    ]
    return files


def test_publish_uploads_hashed_copies_and_the_manifest_last(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path)
    storage = MemoryStorage()

    run(app, storage)

    files = manifest_of(storage)
    for path, hashed in files.items():
        assert storage.objects["site/" + path].headers["Cache-Control"] == "public, max-age=3600"
        assert storage.objects["site/" + hashed].headers["Cache-Control"] == IMMUTABLE
    puts = [key for operation, key in storage.requests if operation == "put"]
    assert puts[-3:-1] == [  # history copy, then the current manifest; the state after
        f"site/.cloudcollect/manifests/{json.loads(storage.objects[puts[-2]].data)['release']}"
        ".json",
        "site/.cloudcollect/manifest.json",
    ]
    assert puts[-1] == "site/.cloudcollect-state.json"
    assert storage.objects[puts[-2]].headers["Cache-Control"] == "no-cache"
    local = json.loads((tmp_path / "instance/manifest.json").read_text())
    assert local["files"] == files


def test_an_unchanged_rerun_writes_nothing_and_makes_no_new_release(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path)
    storage = MemoryStorage()
    run(app, storage)
    before = len(storage.requests)

    report = run(app, storage)

    assert [op for op, _ in storage.requests[before:] if op == "put"] == []
    assert report.with_status("uploaded") == []


class FailingImages(MemoryStorage):
    """Refuses every ``.png`` while ``failing`` is set."""

    failing = False

    def put(self, key: str, file: BinaryIO, size: int, md5: str, headers: Mapping[str, str]) -> str:
        if self.failing and key.endswith(".png"):
            raise StorageError("boom", key=key, code="InternalError")
        return super().put(key, file, size, md5, headers)


def test_a_failed_upload_keeps_the_previous_manifest(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path)
    storage = FailingImages()
    run(app, storage)
    live = storage.objects["site/.cloudcollect/manifest.json"]
    local = (tmp_path / "instance/manifest.json").read_bytes()
    (tmp_path / "static/img/logo.png").write_bytes(b"\x89PNG logo v2")
    storage.failing = True

    report = publish(app, storage=storage)

    assert report.exit_code == 1
    assert storage.objects["site/.cloudcollect/manifest.json"] is live
    assert (tmp_path / "instance/manifest.json").read_bytes() == local
    assert any("manifest not published" in warning for warning in report.warnings)


def test_a_fingerprint_error_stops_the_run_before_any_write(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path, {"static/a.css": "x { background: url(gone.png) }"})
    storage = MemoryStorage()

    report = publish(app, storage=storage)

    assert report.exit_code == 2
    assert isinstance(report.fatal, FingerprintError)
    assert [op for op, _ in storage.requests if op == "put"] == []


def test_dry_run_plans_hashed_copies_and_writes_no_manifest(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path)
    storage = MemoryStorage()

    report = publish(app, storage=storage, dry_run=True)

    planned = {outcome.key for outcome in report.with_status("planned")}
    assert "site/static/css/plain.css" in planned
    assert any(HEX12.search(key) for key in planned)
    assert storage.objects == {}
    assert not (tmp_path / "instance/manifest.json").exists()


def test_cleanup_after_three_releases_keeps_recent_releases_and_young_objects(
    tmp_path: Path,
) -> None:
    clock = Clock(T0)
    storage = MemoryStorage(clock=clock)
    app = fingerprint_app(tmp_path, delete=True, keep_manifests=1, grace_seconds=3600)
    logo = tmp_path / "static/img/logo.png"
    releases = []
    for version in (1, 2, 3):
        clock.now = T0 + timedelta(minutes=version)
        logo.write_bytes(b"\x89PNG logo v%d" % version)
        run(app, storage, clock)
        releases.append(manifest_of(storage))
    # release 3 keeps release 2; release 1's own files are unreferenced but young.
    only_in_1 = {
        "site/" + releases[0][path] for path in ("static/img/logo.png", "static/css/site.css")
    }
    assert only_in_1 <= set(storage.objects)

    clock.now = T0 + timedelta(hours=2)  # everything from the releases is now old
    report = run(app, storage, clock)

    deleted = {outcome.key for outcome in report.with_status("deleted")}
    history = sorted(k for k in storage.objects if "/manifests/" in k)
    assert len(history) == 2  # releases 2 and 3
    assert {k for k in deleted if "/manifests/" not in k} == only_in_1
    assert len(deleted) == 3  # and release 1's history manifest
    for release in releases[1:]:
        for path, hashed in release.items():
            assert "site/" + hashed in storage.objects
            assert "site/" + path in storage.objects


def test_fingerprint_exclude_keeps_plain_names_and_references_to_them(tmp_path: Path) -> None:
    files = SITE_FILES | {"static/css/keep.css": "p { background: url(gone.png) }"}
    app = fingerprint_app(tmp_path, files, fingerprint_exclude=["static/img/logo.*", "**/keep.css"])
    storage = MemoryStorage()

    run(app, storage)  # strict: keep.css's missing reference is not looked at

    files_of = manifest_of(storage)
    assert files_of["static/img/logo.png"] == "static/img/logo.png"
    assert files_of["static/css/keep.css"] == "static/css/keep.css"
    assert HEX12.search(files_of["static/img/icon.png"])  # the others are hashed
    logo_keys = [key for key in storage.objects if "/img/logo." in key]
    assert logo_keys == ["site/static/img/logo.png"]  # no hashed copy
    assert storage.objects["site/static/img/logo.png"].headers["Cache-Control"] != IMMUTABLE
    css = storage.objects["site/" + files_of["static/css/site.css"]].data.decode()
    assert "url(../img/logo.png)" in css  # a plain file's reference stays plain
    with app.test_request_context():
        assert url_for("static", filename="img/logo.png") == (
            "https://cdn.example/site/static/img/logo.png"
        )


def test_the_filesystem_storage_gets_hashed_copies_beside_the_originals(tmp_path: Path) -> None:
    target = tmp_path / "www"
    app = fingerprint_app(tmp_path, storage="filesystem", root=str(target), prefix=None)
    storage = FilesystemStorage(target)

    run(app, storage)

    manifest = json.loads((target / ".cloudcollect/manifest.json").read_text())
    for path, hashed in manifest["files"].items():
        assert (target / path).is_file()
        assert (target / hashed).is_file()
        assert (target / hashed).parent == (target / path).parent
    css = (target / manifest["files"]["static/css/site.css"]).read_text()
    logo = manifest["files"]["static/img/logo.png"].rpartition("/")[2]
    assert f"url(../img/{logo})" in css


# -- url_for ----------------------------------------------------------------------------


def test_url_for_returns_hashed_urls_from_the_local_manifest(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path)
    run(app, MemoryStorage())
    files = json.loads((tmp_path / "instance/manifest.json").read_text())["files"]

    with app.test_request_context():
        assert url_for("static", filename="css/site.css") == (
            "https://cdn.example/site/" + files["static/css/site.css"]
        )
        page = render_template_string("{{ url_for('static', filename='img/logo.png') }}")
        assert page == "https://cdn.example/site/" + files["static/img/logo.png"]
        assert url_for("static", filename="css/site.css", _cloudcollect=False) == (
            "/static/css/site.css"
        )


def test_strict_url_for_raises_for_a_name_not_in_the_manifest_case_included(
    tmp_path: Path,
) -> None:
    app = fingerprint_app(tmp_path)
    run(app, MemoryStorage())

    with app.test_request_context(), pytest.raises(FingerprintError, match="case-sensitive"):
        url_for("static", filename="img/Logo.PNG")


def test_strict_url_for_gives_directory_urls_and_app_urls_for_excluded_files(
    tmp_path: Path,
) -> None:
    app = fingerprint_app(tmp_path, exclude=["static/drafts/*"])
    run(app, MemoryStorage())

    with app.test_request_context():  # neither raises, though the manifest lists neither
        assert url_for("static", filename="") == "https://cdn.example/site/static/"
        assert url_for("static", filename="img/") == "https://cdn.example/site/static/img/"
        assert url_for("static", filename="drafts/x.css") == "/static/drafts/x.css"


def test_strict_url_for_without_any_manifest_says_to_publish_first(tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path)
    with app.test_request_context(), pytest.raises(FingerprintError, match="no manifest"):
        url_for("static", filename="css/site.css")


def test_lenient_url_for_falls_back_to_the_plain_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = fingerprint_app(tmp_path, manifest_strict=False)
    with app.test_request_context():
        assert url_for("static", filename="css/site.css") == (
            "https://cdn.example/site/static/css/site.css"
        )
        url_for("static", filename="css/plain.css")
    assert [r.message.startswith("no manifest at") for r in caplog.records] == [True]  # once
    run(app, MemoryStorage())  # publish reloads the app's manifest
    with app.test_request_context():
        assert HEX12.search(url_for("static", filename="css/site.css"))
        assert url_for("static", filename="img/Logo.PNG") == (
            "https://cdn.example/site/static/img/Logo.PNG"
        )


def test_url_for_can_read_the_manifest_from_the_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = MemoryStorage()
    run(fingerprint_app(tmp_path / "ci"), storage)  # published elsewhere
    monkeypatch.setattr("cloudcollect.storage.open_storage", lambda settings: storage)
    app = fingerprint_app(tmp_path / "server", manifest_source="bucket")

    with app.test_request_context():
        hashed = url_for("static", filename="css/site.css")
    assert hashed == "https://cdn.example/site/" + manifest_of(storage)["static/css/site.css"]


def test_check_counts_kept_releases_as_in_sync_and_expired_ones_as_extra(tmp_path: Path) -> None:
    clock = Clock(datetime.now(timezone.utc) - timedelta(days=2))  # objects written then
    storage = MemoryStorage(clock=clock)
    app = fingerprint_app(tmp_path, keep_manifests=0)
    run(app, storage, clock)
    first = manifest_of(storage)
    assert check(app, storage=storage).exit_code == 0
    (tmp_path / "static/img/logo.png").write_bytes(b"\x89PNG logo v2")
    clock.now += timedelta(minutes=1)
    run(app, storage, clock)
    clock.now += timedelta(hours=2)  # the storage's clock, which cleanup's grace follows

    report = check(app, storage=storage)

    first_release = min(key for key in storage.objects if "/manifests/" in key)
    assert report.differences() == [
        {"key": key, "kind": "extra", "reason": "no local source"}
        for key in sorted(
            {
                "site/" + first["static/img/logo.png"],
                "site/" + first["static/css/site.css"],
                first_release,
            }
        )
    ]


def test_precompressed_siblings_of_kept_hashed_files_survive_cleanup(tmp_path: Path) -> None:
    clock = Clock(T0)
    storage = MemoryStorage(clock=clock)
    app = fingerprint_app(tmp_path, delete=True, keep_manifests=1, precompress=["gzip"])
    (tmp_path / "static/css/plain.css").write_text("p { color: red }\n" * 100)
    run(app, storage, clock)
    first = manifest_of(storage)
    hashed_css = "site/" + first["static/css/plain.css"]
    assert storage.objects[hashed_css + ".gz"].headers["Content-Encoding"] == "gzip"
    (tmp_path / "static/css/plain.css").write_text("p { color: blue }\n" * 100)

    clock.now = T0 + timedelta(hours=2)
    report = run(app, storage, clock)  # release 2 keeps release 1: nothing of it goes

    assert report.with_status("deleted") == []
    assert {hashed_css, hashed_css + ".gz"} <= set(storage.objects)


def test_bucket_manifest_is_read_once_even_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = MemoryStorage()
    monkeypatch.setattr("cloudcollect.storage.open_storage", lambda settings: storage)
    app = fingerprint_app(tmp_path, manifest_source="bucket", manifest_strict=False)

    with app.test_request_context():
        for name in ("css/site.css", "css/plain.css", "js/app.js"):
            url_for("static", filename=name)

    assert [op for op, _ in storage.requests] == ["get"]


def test_the_command_publishes_a_release_and_stops_on_a_cycle_with_exit_2(
    tmp_path: Path,
) -> None:
    from cloudcollect.cli import cloudcollect_command

    target = tmp_path / "www"
    app = fingerprint_app(tmp_path / "app", storage="filesystem", root=str(target), prefix=None)
    result = app.test_cli_runner().invoke(cloudcollect_command, [])
    assert result.exit_code == 0, result.output
    local = json.loads((tmp_path / "app/instance/manifest.json").read_text())
    assert (target / ".cloudcollect/manifest.json").read_text() == json.dumps(
        local, indent=1
    ) + "\n"

    (tmp_path / "app/static/css/base.css").write_text("@import 'site.css';")
    result = app.test_cli_runner().invoke(cloudcollect_command, [])
    assert result.exit_code == 2
    assert "references form a cycle: static/css/base.css -> static/css/site.css" in (result.stderr)
    assert json.loads((tmp_path / "app/instance/manifest.json").read_text()) == local
