"""Bundler output: Vite and webpack manifests mark files hashed; immutable, never re-hashed.

Apps are real Flask apps with the files a ``vite build`` (Vite 5) writes, published to
MemoryStorage. tests/test_vite.py runs a real Vite build against SeaweedFS and chromium.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for

from cloudcollect.bundler import looks_hashed, read_bundles
from cloudcollect.check import OUT_OF_SYNC, check
from cloudcollect.config import settings_from_config
from cloudcollect.discovery import discover
from cloudcollect.fingerprint import IMMUTABLE
from cloudcollect.pipeline import publish
from cloudcollect.report import Report
from cloudcollect.storage import MemoryStorage
from tests.support.apps import make_app

# What `vite build` (5.x, build.manifest, outDir static/dist) wrote for an entry with a
# stylesheet, an image and a dynamically imported chunk.
VITE_MANIFEST = {
    "src/lazy.js": {
        "file": "assets/lazy-CLLIW8J-.js",
        "name": "lazy",
        "src": "src/lazy.js",
        "isDynamicEntry": True,
    },
    "src/logo.png": {"file": "assets/logo-DD5RCrvI.png", "src": "src/logo.png"},
    "src/main.js": {
        "file": "assets/main-DtvZySHS.js",
        "name": "main",
        "src": "src/main.js",
        "isEntry": True,
        "dynamicImports": ["src/lazy.js"],
        "css": ["assets/main-DM--mJdR.css"],
        "assets": ["assets/logo-DD5RCrvI.png"],
    },
}
DIST = "static/dist/"
VITE_OUTPUTS = [
    "assets/lazy-CLLIW8J-.js",
    "assets/logo-DD5RCrvI.png",
    "assets/main-DtvZySHS.js",
    "assets/main-DM--mJdR.css",
]
VITE_FILES: dict[str, bytes | str] = {
    DIST + ".vite/manifest.json": json.dumps(VITE_MANIFEST),
    DIST + "assets/main-DtvZySHS.js": 'import("./lazy-CLLIW8J-.js");\n',
    DIST + "assets/lazy-CLLIW8J-.js": "export const hello = 1;\n",
    DIST + "assets/main-DM--mJdR.css": "body{background:url(./logo-DD5RCrvI.png)}\n",
    DIST + "assets/logo-DD5RCrvI.png": b"\x89PNG vite logo",
    "static/css/site.css": ".x { background: url(../dist/assets/logo-DD5RCrvI.png) }\n",
    "static/js/site.js": "console.log('site');\n",
}


def bundler_app(folder: Path, files: dict[str, bytes | str] | None = None, **config: Any) -> Flask:
    settings = {
        "CLOUDCOLLECT_STORAGE": "memory",
        "CLOUDCOLLECT_PREFIX": "site/",
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        "CLOUDCOLLECT_BASE_URL": "https://cdn.example/",
        "CLOUDCOLLECT_MANIFEST_PATH": str(folder / "instance/manifest.json"),
        **{f"CLOUDCOLLECT_{key.upper()}": value for key, value in config.items()},
    }
    return make_app(folder, settings, VITE_FILES if files is None else files)


def run(app: Flask, storage: MemoryStorage) -> Report:
    report = publish(app, storage=storage)
    assert report.exit_code == 0, (report.fatal, report.warnings)
    return report


def cache_control(storage: MemoryStorage, path: str) -> str | None:
    return storage.objects["site/" + path].headers.get("Cache-Control")


# -- which names are hashed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "names", "expected"),
    [
        ("assets/main-DtvZySHS.js", ["main"], True),  # Vite (Rollup) base64url hashes
        ("assets/main-DM--mJdR.css", [], True),
        ("assets/lazy-CLLIW8J-.js", ["lazy"], True),
        ("main.3f9a1c2b.js", ["main"], True),  # webpack [contenthash:8]
        ("main.3f9a1c2b7d4e5f60a1b2.chunk.js", [], True),  # create-react-app
        ("assets/main.js", ["main"], False),  # entryFileNames: "[name].js"
        ("my-big-component.js", [], False),  # words are no hash
        ("App-MyComponent.js", ["App-MyComponent"], False),  # the bundler's own name
        ("logo-DD5RC.png", [], False),  # shorter than 8
        ("jquery.min.js", [], False),
    ],
)
def test_a_listed_name_is_hashed_when_it_carries_a_hash_token(
    path: str, names: list[str], expected: bool
) -> None:
    assert looks_hashed(path, names) is expected


def test_vite5_manifest_in_its_dot_directory_is_read_and_not_published(tmp_path: Path) -> None:
    app = bundler_app(tmp_path)
    settings = settings_from_config(app.config)

    bundles = read_bundles(discover(app, settings), settings.prefix)

    assert bundles.manifests == (DIST + ".vite/manifest.json",)
    assert {item.path for item in bundles.listed} == {DIST + out for out in VITE_OUTPUTS}
    assert all(item.hashed for item in bundles.listed)
    assert bundles.warnings == ()
    storage = MemoryStorage()
    run(app, storage)
    assert "site/" + DIST + ".vite/manifest.json" not in storage.objects


def test_files_a_bundler_hashed_are_immutable_and_others_keep_the_default(
    tmp_path: Path,
) -> None:
    storage = MemoryStorage()
    run(bundler_app(tmp_path), storage)

    for output in VITE_OUTPUTS:
        assert cache_control(storage, DIST + output) == IMMUTABLE
    assert cache_control(storage, "static/css/site.css") == "public, max-age=3600"


def test_a_user_header_rule_wins_over_the_immutable_default(tmp_path: Path) -> None:
    rule = ("static/dist/assets/lazy-*", {"Cache-Control": "no-cache"})
    storage = MemoryStorage()
    run(bundler_app(tmp_path, headers=[rule]), storage)

    assert cache_control(storage, DIST + "assets/lazy-CLLIW8J-.js") == "no-cache"
    assert cache_control(storage, DIST + "assets/main-DtvZySHS.js") == IMMUTABLE


def test_fingerprinting_never_hashes_bundler_output_again(tmp_path: Path) -> None:
    app = bundler_app(tmp_path, fingerprint=True)
    storage = MemoryStorage()
    run(app, storage)

    files = json.loads(storage.objects["site/.cloudcollect/manifest.json"].data)["files"]
    for output in VITE_OUTPUTS:
        assert files[DIST + output] == DIST + output  # referenced as it is
    assert sorted(k for k in storage.objects if k.startswith("site/" + DIST)) == sorted(
        "site/" + DIST + output for output in VITE_OUTPUTS
    )
    css = storage.objects["site/" + DIST + "assets/main-DM--mJdR.css"].data
    assert css == VITE_FILES[DIST + "assets/main-DM--mJdR.css"].encode()  # type: ignore[union-attr]
    site_css = storage.objects["site/" + files["static/css/site.css"]].data.decode()
    assert "url(../dist/assets/logo-DD5RCrvI.png)" in site_css  # a reference to it as written
    assert files["static/js/site.js"] != "static/js/site.js"  # other files still hashed
    with app.test_request_context():
        url = url_for("static", filename="dist/assets/main-DtvZySHS.js")
    assert url == "https://cdn.example/site/static/dist/assets/main-DtvZySHS.js"


def test_the_hashed_setting_marks_other_files_by_glob(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        "static/vendor/lib.abcdef12.js": "lib();",
        "static/js/site.js": "site();",
    }
    app = bundler_app(tmp_path, files, fingerprint=True, hashed=["static/vendor/*"])
    storage = MemoryStorage()
    run(app, storage)

    manifest = json.loads(storage.objects["site/.cloudcollect/manifest.json"].data)["files"]
    assert manifest["static/vendor/lib.abcdef12.js"] == "static/vendor/lib.abcdef12.js"
    assert cache_control(storage, "static/vendor/lib.abcdef12.js") == IMMUTABLE
    assert cache_control(storage, "static/js/site.js") == "public, max-age=3600"


def test_webpack_and_older_vite_manifests_are_read_and_a_pwa_manifest_is_not(
    tmp_path: Path,
) -> None:
    files: dict[str, bytes | str] = {
        "static/wp/manifest.json": json.dumps(
            {"main.js": "/static/wp/main.3f9a1c2b.js", "plain.js": "auto/plain.js"}
        ),
        "static/wp/main.3f9a1c2b.js": "main();",
        "static/wp/plain.js": "plain();",
        "static/old/manifest.json": json.dumps(
            {"src/a.js": {"file": "assets/a.1b2c3d4e.js", "isEntry": True}}
        ),
        "static/old/assets/a.1b2c3d4e.js": "a();",
        "static/manifest.json": json.dumps({"name": "My PWA", "start_url": "/"}),
        "static/app.Ab12Cd34.js": "not listed anywhere();",
    }
    storage = MemoryStorage()
    run(bundler_app(tmp_path, files), storage)

    assert cache_control(storage, "static/wp/main.3f9a1c2b.js") == IMMUTABLE
    assert cache_control(storage, "static/wp/plain.js") == "public, max-age=3600"
    assert cache_control(storage, "static/old/assets/a.1b2c3d4e.js") == IMMUTABLE
    assert cache_control(storage, "static/app.Ab12Cd34.js") == "public, max-age=3600"
    assert cache_control(storage, "static/manifest.json") == "public, max-age=3600"


def test_a_listed_file_that_is_not_published_is_a_warning(tmp_path: Path) -> None:
    app = bundler_app(tmp_path, exclude=["static/dist/assets/lazy-*"])
    storage = MemoryStorage()
    report = run(app, storage)

    assert (
        "static/dist/.vite/manifest.json lists static/dist/assets/lazy-CLLIW8J-.js, which is "
        "not published (excluded by pattern)"
    ) in report.warnings


def test_check_reports_every_listed_file_that_is_not_published(tmp_path: Path) -> None:
    app = bundler_app(tmp_path, exclude=["static/dist/assets/lazy-*"])
    (tmp_path / DIST / "assets/logo-DD5RCrvI.png").unlink()  # the build lost a file
    storage = MemoryStorage()
    run(app, storage)

    report = check(app, storage=storage)

    assert report.exit_code == OUT_OF_SYNC
    manifest = "static/dist/.vite/manifest.json"
    assert report.differences() == [
        {
            "key": "site/static/dist/assets/lazy-CLLIW8J-.js",
            "kind": "missing",
            "reason": f"not published, listed by {manifest}: excluded by pattern",
        },
        {
            "key": "site/static/dist/assets/logo-DD5RCrvI.png",
            "kind": "missing",
            "reason": f"not published, listed by {manifest}: no such file",
        },
    ]


def test_check_is_in_sync_when_every_listed_file_is_published(tmp_path: Path) -> None:
    app = bundler_app(tmp_path)
    storage = MemoryStorage()
    run(app, storage)

    assert check(app, storage=storage).exit_code == 0
