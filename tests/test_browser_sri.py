"""In chromium: a page whose stylesheet and script carry ``integrity`` attributes from
``static_integrity`` loads both from SeaweedFS (another origin, so the bucket has a CORS
rule and the tags ``crossorigin``); after another client overwrites the hashed script in
the bucket with bytes of the same size, chromium refuses to run it, and ``--check``
reports the object as changed. The browser's HTTP cache is off, so each load asks the
bucket again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string

from cloudcollect.cli import cloudcollect_command
from cloudcollect.pipeline import publish
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.support.browser import BROWSER_MARKS, settled
from tests.support.browser import browser as browser  # noqa: PLC0414 - the fixture
from tests.support.bucketconfig import bucket_config
from tests.support.public import allow_public_read
from tests.support.serving import serving_late

pytestmark = BROWSER_MARKS
PREFIX = "site/"
SCRIPT = 'document.body.dataset.js = "ran";\n'
FILES = {
    "static/css/site.css": "body { color: rgb(1, 2, 3) }\n",
    "static/js/app.js": SCRIPT,
}
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{{ url_for('static', filename='css/site.css') }}"
      integrity="{{ static_integrity('static', 'css/site.css') }}" crossorigin="anonymous">
</head><body>sri
<script src="{{ url_for('static', filename='js/app.js') }}"
        integrity="{{ static_integrity('static', 'js/app.js') }}" crossorigin="anonymous"
        onerror="document.body.dataset.js = 'refused'"></script>
</body></html>
"""
OUTCOME_JS = "return [document.body.dataset.js || '', getComputedStyle(document.body).color];"


@pytest.fixture
def site(bucket: Bucket, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    with serving_late() as (origin, late):
        config = bucket_config(
            bucket,
            PREFIX,
            serve_from_bucket=True,
            fingerprint=True,
            manifest_path=str(tmp_path / "manifest.json"),
        )
        app = make_app(tmp_path, config, FILES)
        app.add_url_rule("/", "page", lambda: render_template_string(PAGE))
        assert publish(app).exit_code == 0
        allow_public_read(bucket, PREFIX)
        rule = {"AllowedOrigins": [origin], "AllowedMethods": ["GET", "HEAD"]}
        rules = {"CORSRules": [rule]}
        bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration=rules)
        late.app = app.wsgi_app
        yield origin, app


def outcome(browser: Any, url: str) -> list[str]:
    """(script: ran/refused, the body's color) once the script ran or was refused."""
    return settled(browser, url, OUTCOME_JS, lambda found: bool(found[0]))


def test_the_browser_refuses_an_object_tampered_with_in_the_bucket(
    site: tuple[str, Flask], bucket: Bucket, browser: Any
) -> None:
    origin, app = site
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    with app.test_request_context():
        script_url = app.url_for("static", filename="js/app.js")
    assert script_url.startswith(f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}static/js/app.")

    assert outcome(browser, origin + "/") == ["ran", "rgb(1, 2, 3)"]
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert [m for m in severe if "/favicon.ico " not in m] == []
    requested = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert script_url in requested

    key = script_url.split(f"/{bucket.name}/", 1)[1]
    tampered = SCRIPT.replace("ran", "bad").encode()
    assert len(tampered) == len(SCRIPT)
    bucket.client.put_object(
        Bucket=bucket.name, Key=key, Body=tampered, ContentType="text/javascript"
    )

    assert outcome(browser, origin + "/") == ["refused", "rgb(1, 2, 3)"]
    logged = " ".join(e["message"] for e in browser.get_log("browser"))
    assert "integrity" in logged
    result = app.test_cli_runner().invoke(cloudcollect_command, ["--check"])
    assert result.exit_code == 5, result.output
    assert f"changed  {key}" in result.stdout
