"""A real Vite build, published to SeaweedFS and loaded from the bucket in chromium.

``examples/viteapp`` is copied to a temporary folder and built by Vite 5 (installed once
per session from the npm registry) with ``--base "$(flask cloudcollect url static
dist/)"``: an entry with a stylesheet and an image, and a dynamically imported chunk with
its own stylesheet, which Vite's runtime loads relative to that base. Then ``publish``,
once with plain keys and once with ``CLOUDCOLLECT_FINGERPRINT`` (which must leave Vite's
names alone). Chromium loads the page from the app and must see the lazy chunk and its
stylesheet come from the bucket, with no failed request and no console error.

Skipped, with the reason, when node or npm is missing, or when npm cannot install Vite
within NPM_TIMEOUT seconds (a slow or unreachable registry must not fail CI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cloudcollect.check import check
from cloudcollect.cli import cloudcollect_command
from cloudcollect.fingerprint import IMMUTABLE
from cloudcollect.pipeline import publish
from examples.viteapp import create_app
from tests.conftest import Bucket
from tests.support.browser import NEEDS_CHROMIUM, chromium
from tests.support.bucketconfig import bucket_config
from tests.support.public import allow_public_read
from tests.support.serving import serving_logged

VITE = "vite@5.4.21"  # the major version is pinned: Vite 5 writes .vite/manifest.json
NPM_TIMEOUT = 240
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "viteapp"
PREFIX = "vite/v1/"

pytestmark = pytest.mark.seaweedfs


@pytest.fixture(scope="session")
def vite(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that runs Vite, installed with npm into a session folder."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("needs node and npm to build with Vite (apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    if int(version.stdout.strip().lstrip("v").split(".")[0] or 0) < 18:
        pytest.skip(f"Vite 5 needs node 18 or later, found {version.stdout.strip()}")
    folder = tmp_path_factory.mktemp("vite-npm")
    command = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(folder)]
    try:
        result = subprocess.run(
            [*command, VITE], capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {VITE} took over {NPM_TIMEOUT} s (registry slow or unreachable)")
    script = folder / "node_modules" / "vite" / "bin" / "vite.js"
    if result.returncode != 0 or not script.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"npm install {VITE} failed (registry unreachable?): {last}")
    return [node, str(script)]


@dataclass(frozen=True)
class Site:
    app: Flask
    root: Path  # the built copy of examples/viteapp
    manifest: dict[str, Any]  # Vite's
    base: str  # what `flask cloudcollect url static dist/` printed
    bucket: Bucket

    def key(self, output: str) -> str:
        return PREFIX + "static/dist/" + output


@pytest.fixture(params=[False, True], ids=["plain", "fingerprint"])
def site(request: pytest.FixtureRequest, vite: list[str], bucket: Bucket, tmp_path: Path) -> Site:
    root = tmp_path / "viteapp"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("node_modules", "static"))
    config = bucket_config(
        bucket,
        PREFIX,
        serve_from_bucket=True,
        fingerprint=request.param,
        manifest_path=str(tmp_path / "cloudcollect-manifest.json"),
    )
    app = create_app(config, root=root)
    url = app.test_cli_runner().invoke(cloudcollect_command, ["url", "static", "dist/"])
    assert url.exit_code == 0, url.output
    base = url.output.strip()
    build = [*vite, "build", "--config", str(root / "vite.config.mjs"), "--base", base]
    built = subprocess.run(build, cwd=root, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    report = publish(app)
    assert report.exit_code == 0, (report.summary_line(), report.warnings)
    vite_manifest = json.loads((root / "static/dist/.vite/manifest.json").read_text())
    return Site(app, root, vite_manifest, base, bucket)


def outputs(manifest: dict[str, Any]) -> set[str]:
    """Every file Vite's manifest names."""
    found: set[str] = set()
    for chunk in manifest.values():
        found.add(chunk["file"])
        found.update(chunk.get("css", []), chunk.get("assets", []))
    return found


def test_the_build_is_published_as_vite_named_it(site: Site) -> None:
    bucket = site.bucket
    files = outputs(site.manifest)
    assert {Path(f).suffix for f in files} >= {".js", ".css", ".svg"}
    assert len([f for f in files if f.endswith(".css")]) == 2  # the entry's and the chunk's
    assert site.base == f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}static/dist/"

    stored = bucket.keys()
    dist_keys = {key for key in stored if key.startswith(PREFIX + "static/dist/")}
    assert dist_keys == {site.key(f) for f in files}  # no re-hashed copy, no .vite/
    for output in files:
        assert bucket.head(site.key(output))["CacheControl"] == IMMUTABLE
    assert check(site.app).exit_code == 0


@pytest.mark.browser
@NEEDS_CHROMIUM
def test_chromium_loads_the_lazy_chunk_from_the_bucket(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager go online
    bucket = site.bucket
    allow_public_read(bucket, PREFIX)
    bucket.client.put_bucket_cors(  # module scripts are fetched with CORS
        Bucket=bucket.name,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]}]
        },
    )
    lazy = site.manifest["src/lazy.js"]
    lazy_urls = {site.base + lazy["file"], *(site.base + css for css in lazy["css"])}

    logs = {"performance": "ALL", "browser": "ALL"}
    with serving_logged(site.app) as (app_url, log), chromium(tmp_path, logs) as driver:
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(app_url + "/")
        WebDriverWait(driver, 20).until(
            lambda d: d.execute_script("return document.body.dataset.lazy") == "loaded"
        )
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);"
        )
        color = driver.execute_script("return getComputedStyle(out).color;")
        events = [
            json.loads(entry["message"])["message"] for entry in driver.get_log("performance")
        ]
        console = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]

    assert lazy_urls <= set(fetched), fetched  # loaded by Vite's runtime from the bucket
    assert all(url.startswith(site.base) for url in fetched), fetched
    assert color == "rgb(10, 20, 30)"  # the lazy chunk's stylesheet applies
    assert failed_requests(events) == []
    assert console == []
    assert log.paths == ["/"]  # the app served the page, no static file


def failed_requests(events: list[dict[str, Any]]) -> list[str]:
    """The page's requests that failed (CORS, network) or got an HTTP error; a failure
    chromium logs with no request of the page behind it (its own lookups) is not one."""
    urls = {
        e["params"]["requestId"]: e["params"]["request"]["url"]
        for e in events
        if e["method"] == "Network.requestWillBeSent"
    }
    failed = [
        f"{urls.get(e['params']['requestId'])}: {e['params'].get('errorText')}"
        for e in events
        if e["method"] == "Network.loadingFailed" and e["params"]["requestId"] in urls
    ]
    failed += [
        f"{e['params']['response']['url']}: {e['params']['response']['status']}"
        for e in events
        if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400
    ]
    return failed
