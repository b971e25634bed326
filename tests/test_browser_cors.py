"""In chromium: a page served by Flask on one loopback origin loads a web font and a
``type=module`` script from SeaweedFS on another, once ``flask cloudcollect cors`` has
written the bucket's CORS rule; before, with only another site's rule in the bucket,
both fail (chromium logs the CORS error).

SeaweedFS answers every origin while a bucket has no CORS configuration at all, so the
bucket starts with one rule for another origin, as a bucket shared with another site
would; the command must keep that rule. The browser's HTTP cache is off, so the second
load asks the bucket again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_bootstrap
import pytest
from flask import Flask

from cloudcollect.cli import cloudcollect_command
from cloudcollect.pipeline import publish
from tests.conftest import Bucket, write_tree
from tests.support.browser import BROWSER_MARKS, settled
from tests.support.browser import browser as browser  # noqa: PLC0414 - the fixture
from tests.support.bucketconfig import bucket_config
from tests.support.public import allow_public_read
from tests.support.serving import serving_late

pytestmark = BROWSER_MARKS
PREFIX = "site/"
FONT = Path(flask_bootstrap.__file__).parent / (
    "static/bootstrap5/css/font/fonts/bootstrap-icons.woff2"
)
THEIRS = {"ID": "theirs", "AllowedOrigins": ["https://other.example"], "AllowedMethods": ["GET"]}
PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<style>@font-face { font-family: Probe; src: url("{font}") format("woff2"); }</style>
<script type="module" src="{module}"
        onerror="document.body.dataset.module = 'failed'"></script>
</head><body style="font-family: Probe">probe
<script>
document.fonts.load("16px Probe").then(
  (faces) => { document.body.dataset.font = faces.length ? "loaded" : "failed"; },
  () => { document.body.dataset.font = "failed"; });
</script></body></html>
"""
OUTCOME_JS = "return [document.body.dataset.font, document.body.dataset.module];"


@pytest.fixture
def site(bucket: Bucket, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    """A Flask app on loopback whose page loads a font and a module from ``bucket``;
    its static files are published there, readable anonymously; yields (URL, app)."""
    with serving_late() as (origin, late):
        static = write_tree(
            tmp_path / "static",
            {"fonts/probe.woff2": FONT.read_bytes(), "js/probe.js": PROBE_MODULE},
        )
        app = Flask("corsapp", static_folder=str(static))
        app.config.update(bucket_config(bucket, PREFIX, cors_origins=[origin]))
        base = f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}static/"
        assert base.split("/")[2] != origin.split("/")[2]  # two origins: another port
        page = PAGE.replace("{font}", base + "fonts/probe.woff2").replace(
            "{module}", base + "js/probe.js"
        )
        app.add_url_rule("/", "page", lambda: page)
        assert publish(app).exit_code == 0
        allow_public_read(bucket, PREFIX)
        rules = {"CORSRules": [THEIRS]}
        bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration=rules)
        late.app = app.wsgi_app
        yield origin, app


PROBE_MODULE = 'document.body.dataset.module = "ran";\n'


def outcome(browser: Any, url: str) -> list[str]:
    """(font, module) once the page has settled: loaded/failed, ran/failed."""
    return settled(browser, url, OUTCOME_JS, all)


def test_fonts_and_module_scripts_load_cross_origin_once_the_rule_is_written(
    site: tuple[str, Flask], bucket: Bucket, browser: Any
) -> None:
    origin, app = site
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})

    assert outcome(browser, origin + "/") == ["failed", "failed"]
    logged = " ".join(e["message"] for e in browser.get_log("browser"))
    assert "blocked by CORS policy" in logged and "Access-Control-Allow-Origin" in logged

    result = app.test_cli_runner().invoke(cloudcollect_command, ["cors"])
    assert result.exit_code == 0, result.stderr

    assert outcome(browser, origin + "/") == ["loaded", "ran"]
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert [m for m in severe if "/favicon.ico " not in m] == []
    rules = bucket.client.get_bucket_cors(Bucket=bucket.name)["CORSRules"]
    assert [rule.get("ID") for rule in rules] == ["theirs", "cloudcollect"]
    assert rules[1]["AllowedOrigins"] == [origin]
