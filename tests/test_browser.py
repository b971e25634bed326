"""A real browser loads the example app with its assets served from the SeaweedFS bucket.

``publish`` puts the example's static files into a bucket, a prefix-scoped policy makes
them publicly readable, and the example app runs on loopback with the switch on. Headless
Debian chromium then loads the pages. Proof that the assets came from the bucket, not the
app: the app's own request log shows no static request at all, every stylesheet and
script URL in the page and every resource the browser fetched is a bucket URL, and styles
that only the example's stylesheets set (and Bootstrap's own) are applied, and the scripts
ran. A screenshot goes to tests/artifacts/browser.png.

Every example test runs twice: with plain keys, and with ``CLOUDCOLLECT_FINGERPRINT`` on,
where every URL must be the hashed one from the manifest and the stylesheet's rewritten
``url()`` must load the logo's hashed copy.

The extension app of tests/support/extapp.py (Flask-Admin, Flask-DebugToolbar,
Bootstrap-Flask), fingerprinted: a Flask-Admin list and form page load every asset with
no failed request, and a map drawn with the Leaflet that Flask-Admin ships shows its
default marker icon (``CLOUDCOLLECT_FINGERPRINT_EXCLUDE`` keeps Leaflet's images plain;
a screenshot goes to tests/artifacts/browser-leaflet.png).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudcollect.pipeline import publish
from examples.exampleapp import create_app
from tests.conftest import Bucket
from tests.support.browser import BROWSER_MARKS
from tests.support.browser import browser as browser  # noqa: PLC0414 - the fixture
from tests.support.bucketconfig import bucket_config
from tests.support.extapp import LEAFLET_PLAIN, make_extension_app
from tests.support.public import allow_public_read
from tests.support.serving import RequestLog, serving, serving_logged

ARTIFACTS = Path(__file__).parent / "artifacts"
PREFIX = "example/v1/"
HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")

pytestmark = BROWSER_MARKS

ASSET_URLS_JS = """
return [
  ...[...document.querySelectorAll('link[rel=stylesheet], link[rel=icon]')].map(e => e.href),
  ...[...document.querySelectorAll('script[src]')].map(e => e.src),
  ...[...document.querySelectorAll('img[src]')].map(e => e.src),
];
"""
STYLE_JS = "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]];"
FETCHED_JS = "return performance.getEntriesByType('resource').map(e => e.name);"


Site = tuple[str, Callable[[str], str], RequestLog]


@pytest.fixture(params=[False, True], ids=["plain", "fingerprint"])
def published_site(
    request: pytest.FixtureRequest, bucket: Bucket, tmp_path: Path
) -> Iterator[Site]:
    """The example published to ``bucket`` and served on loopback with the switch on;
    yields (app URL, the bucket URL of a path such as ``static/css/site.css``, the app's
    request log). With fingerprinting on, that URL is the hashed copy's."""
    fingerprint: bool = request.param
    manifest = tmp_path / "cloudcollect-manifest.json"
    app = create_app(switched_on(bucket, manifest, CLOUDCOLLECT_FINGERPRINT=fingerprint))
    report = publish(app)
    assert report.exit_code == 0, report.summary_line()
    bucket_base = f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}"
    names: dict[str, str] = json.loads(manifest.read_text())["files"] if fingerprint else {}

    def url_of(path: str) -> str:
        return bucket_base + names.get(path, path)

    if fingerprint:
        assert url_of("static/css/site.css") != bucket_base + "static/css/site.css"
    allow_public_read(bucket, PREFIX)
    with serving_logged(app) as (app_url, log):
        yield app_url, url_of, log


def switched_on(bucket: Bucket, manifest: Path, **config: Any) -> dict[str, Any]:
    """The config of an app that serves from ``bucket`` under PREFIX."""
    switch = bucket_config(bucket, PREFIX, serve_from_bucket=True, manifest_path=str(manifest))
    return {**switch, **config}


def load(driver: Any, url: str) -> None:
    """Open ``url`` and wait until the example's own script has run."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.body.dataset.js") == "loaded"
    )


def style(driver: Any, selector: str, prop: str) -> str:
    return str(driver.execute_script(STYLE_JS, selector, prop))


def test_the_example_page_loads_its_assets_from_the_bucket(
    published_site: Site, browser: Any
) -> None:
    app_url, url_of, log = published_site
    bucket_base = url_of("")

    load(browser, app_url + "/")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "browser.png"))

    assets = browser.execute_script(ASSET_URLS_JS)
    expected = {
        url_of("static/css/site.css"),
        url_of("static/js/site.js"),
        url_of("static/img/logo.svg"),
        url_of("bootstrap/static/css/bootstrap.min.css"),
        url_of("bootstrap/static/js/bootstrap.min.js"),
    }
    assert expected <= set(assets)
    assert all(url.startswith(bucket_base) for url in assets), assets
    fetched = browser.execute_script(FETCHED_JS)
    assert expected <= set(fetched)  # the logo also as site.css's background image
    assert all(url.startswith(bucket_base) for url in fetched), fetched
    logo = url_of("static/img/logo.svg")
    assert style(browser, "#bucket-marker", "backgroundImage") == f'url("{logo}")'
    # site.css alone sets these; Bootstrap's css sets the button colour; both scripts ran.
    assert style(browser, "#bucket-marker", "outlineColor") == "rgb(1, 2, 3)"
    assert style(browser, "body", "backgroundColor") == "rgb(239, 246, 255)"
    assert style(browser, ".btn-primary", "backgroundColor") == "rgb(13, 110, 253)"
    assert browser.execute_script("return document.body.dataset.bootstrap") == "loaded"
    assert log.paths == ["/"]  # the app served the page and no static file


def test_blueprint_assets_come_from_the_bucket(published_site: Site, browser: Any) -> None:
    app_url, url_of, log = published_site
    bucket_base = url_of("")

    load(browser, app_url + "/admin/")

    assets = browser.execute_script(ASSET_URLS_JS)
    assert url_of("admin/static/admin.css") in assets  # relative '.static'
    assert url_of("admin/reports/static/reports.css") in assets  # nested blueprint
    assert all(url.startswith(bucket_base) for url in assets), assets
    assert style(browser, ".admin-panel", "borderLeftColor") == "rgb(4, 5, 6)"
    assert style(browser, ".report", "color") == "rgb(7, 8, 9)"
    assert log.paths == ["/admin/"]


# -- Flask-Admin, Flask-DebugToolbar and Leaflet, fingerprinted ----------------------------

MARKER_JS = """
const icon = document.querySelector('img.leaflet-marker-icon');
return icon && icon.complete ? [icon.src, icon.naturalWidth] : null;
"""
FONTS_READY_JS = "return document.fonts.status === 'loaded';"
FAILED_JS = """
return performance.getEntriesByType('resource')
  .filter(e => e.responseStatus !== undefined && e.responseStatus >= 400)
  .map(e => e.name + ' ' + e.responseStatus);
"""


@pytest.fixture
def extension_site(bucket: Bucket, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """tests/support/extapp.py published fingerprinted, Leaflet's images kept plain as the
    README says, served on loopback with the switch on; yields (app URL, bucket base)."""
    config = switched_on(
        bucket,
        tmp_path / "manifest.json",
        CLOUDCOLLECT_FINGERPRINT=True,
        CLOUDCOLLECT_FINGERPRINT_EXCLUDE=LEAFLET_PLAIN,
    )
    app = make_extension_app(tmp_path / "app", config)
    report = publish(app)
    assert report.exit_code == 0, report.summary_line()
    allow_public_read(bucket, PREFIX)

    with serving(app) as app_url:  # SeaweedFS answers CORS for any origin: fonts load
        yield app_url, f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}"


def problems(driver: Any) -> list[str]:
    """Failed requests (console errors, as Chromium logs a 404 or a blocked load; and
    resource timings with an error status) and script errors of the page so far; the
    browser's own ``/favicon.ico`` request, which no page references, aside."""
    logged = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    found = logged + list(driver.execute_script(FAILED_JS))
    return [problem for problem in found if "/favicon.ico " not in problem]


def test_a_flask_admin_page_loads_every_asset_fingerprinted(
    extension_site: tuple[str, str], browser: Any
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    app_url, bucket_base = extension_site
    assets = []
    for page in ("/admin/item/", "/admin/item/new/"):  # its list (icons) and its form
        browser.get(app_url + page)
        WebDriverWait(browser, 15).until(lambda d: d.find_element("id", "flDebug"))
        WebDriverWait(browser, 15).until(lambda d: d.execute_script(FONTS_READY_JS))
        assets += browser.execute_script(ASSET_URLS_JS)
        assert problems(browser) == [], page

    assert any("/admin/static/vendor/leaflet/leaflet." in url for url in assets)
    assert any("/_debug_toolbar/static/" in url for url in assets)  # the toolbar's own
    assert all(url.startswith(bucket_base) for url in assets), assets


def test_leaflets_default_marker_icon_loads_fingerprinted(
    extension_site: tuple[str, str], browser: Any
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    app_url, bucket_base = extension_site
    browser.get(app_url + "/map")
    WebDriverWait(browser, 15).until(
        lambda d: d.execute_script("return document.body.dataset.map") == "loaded"
    )
    src, width = WebDriverWait(browser, 15).until(lambda d: d.execute_script(MARKER_JS))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "browser-leaflet.png"))

    assert src == bucket_base + "admin/static/vendor/leaflet/images/marker-icon.png"
    assert width > 0
    leaflet = [u for u in browser.execute_script(ASSET_URLS_JS) if "/leaflet/leaflet." in u]
    assert len(leaflet) == 2 and all(HASHED.search(url) for url in leaflet)  # hashed copies
    assert problems(browser) == []
