"""Flask-Admin, Flask-DebugToolbar, Bootstrap-Flask and a prefixed blueprint, for real.

The app of tests/support/extapp.py is published to SeaweedFS with ``flask cloudcollect``,
then its pages are rendered with the test client, plain and fingerprinted. Every asset a
page references (``<link href>``, any ``src``) must load from where its URL points: an
anonymous GET from the bucket, or the app itself for a URL that stays local, with the
bytes Flask serves for that file (a rewritten stylesheet once its hashed names are put
back).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from flask import Blueprint, Flask, Response, send_from_directory, url_for
from flask.testing import FlaskClient

from cloudcollect import CloudCollect
from cloudcollect.cli import cloudcollect_command
from cloudcollect.discovery import discover
from cloudcollect.extension import app_settings
from cloudcollect.filters import SECRET_LIKE
from cloudcollect.globs import compile_globs
from cloudcollect.pipeline import publish
from cloudcollect.storage import MemoryStorage
from tests.conftest import Bucket, write_tree
from tests.support.apps import make_app
from tests.support.extapp import LEAFLET_PLAIN, PAGES, make_extension_app
from tests.support.public import allow_public_read

PREFIX = "ext/"
STATIC_FOLDERS = ("static", "admin.static", "_debug_toolbar.static", "bootstrap.static")


class Assets(HTMLParser):
    """The asset URLs of a page: ``href`` of ``<link>``, ``src`` of any element."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "src" or (tag == "link" and name == "href")):
                self.urls.append(value)


def asset_urls(html: str) -> list[str]:
    parser = Assets()
    parser.feed(html)
    return [url for url in parser.urls if not url.startswith("data:")]


def s3_config(bucket: Bucket, tmp_path: Path, **config: Any) -> dict[str, Any]:
    base = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": "us-east-1",
        "CLOUDCOLLECT_PREFIX": PREFIX,
        "CLOUDCOLLECT_MANIFEST_PATH": str(tmp_path / "manifest.json"),
    }
    return base | {f"CLOUDCOLLECT_{k}": v for k, v in config.items()}


def published(bucket: Bucket, tmp_path: Path, *extra: str, **config: Any) -> Flask:
    """The app, published with ``flask cloudcollect`` (exit 0), the prefix readable."""
    app = make_extension_app(tmp_path / "app", s3_config(bucket, tmp_path, **config))
    result = app.test_cli_runner().invoke(cloudcollect_command, [*extra])
    assert result.exit_code == 0, result.output
    assert "warning: static" not in result.stderr
    allow_public_read(bucket, PREFIX)
    return app


def folder_files(app: Flask, endpoint: str) -> set[str]:
    """Every file that Flask serves for ``endpoint``, by URL path (no leading ``/``),
    less the default exclusions (secret-like names: Flask-Admin ships none)."""
    from cloudcollect.sources import static_folder

    folder = static_folder(app, endpoint)
    assert folder is not None, endpoint
    secret = compile_globs(SECRET_LIKE)
    found = set()
    with app.test_request_context():
        for parent, _, names in os.walk(folder):
            for name in names:
                relative = os.path.relpath(os.path.join(parent, name), folder)
                if not secret.match(name) and not name.startswith("."):
                    local = url_for(endpoint, filename=relative, _cloudcollect=False)
                    found.add(unquote(local).lstrip("/"))
    return found


@pytest.mark.seaweedfs
def test_cloudcollect_publishes_every_file_of_every_static_endpoint_and_deletes_in_debug(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = published(bucket, tmp_path, "--delete")  # --delete: a debug app exited 4

    expected = set().union(*(folder_files(app, endpoint) for endpoint in STATIC_FOLDERS))
    expected |= {"shop/assets/shop.css"}  # less the excluded drafts/
    toolbar = folder_files(app, "_debug_toolbar.static")
    assert len(toolbar) == 147  # the toolbar's own folder, served without a blueprint
    stored = bucket.keys()
    own = {key for key in stored if key.startswith(PREFIX + ".cloudcollect")}  # state, lease
    assert {key[len(PREFIX) :] for key in stored - own} == expected


@pytest.mark.seaweedfs
@pytest.mark.parametrize("fingerprint", [False, True], ids=["plain", "fingerprint"])
def test_every_asset_of_the_rendered_pages_loads_from_where_its_url_points(
    tmp_path: Path, bucket: Bucket, fingerprint: bool
) -> None:
    config: dict[str, Any] = {"FINGERPRINT": fingerprint, "SERVE_FROM_BUCKET": True}
    if fingerprint:
        config["FINGERPRINT_EXCLUDE"] = LEAFLET_PLAIN
    app = published(bucket, tmp_path, **config)
    bucket_base = f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}"
    names: dict[str, str] = {}
    if fingerprint:
        names = json.loads((tmp_path / "manifest.json").read_text())["files"]
    plain_of = {hashed: path for path, hashed in names.items()}
    client = app.test_client()
    checked: dict[str, str] = {}
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.get_data(as_text=True)
        assert 'id="flDebug"' in html  # the toolbar really is on every page
        for url in asset_urls(html):
            checked[url] = page
    for url, page in checked.items():
        if url.startswith(bucket_base):
            key = unquote(urlsplit(url).path)[len(urlsplit(bucket_base).path) :]
            path = plain_of.get(key, key)
            assert _unhashed(_get(url), names) == _served(client, "/" + path), (page, url)
        else:
            assert url.startswith("/"), (page, url)  # no third-party host
            _served(client, url)
    local_urls = [url for url in checked if url.startswith("/")]
    assert local_urls == ["/shop/assets/drafts/preview.css"]  # excluded: not published
    toolbar = [url for url in checked if "/_debug_toolbar/static/" in url]
    assert toolbar and all(url.startswith(bucket_base) for url in toolbar)
    leaflet = [url for url in checked if "/vendor/leaflet/leaflet." in url]
    assert len(leaflet) >= 2 and all(url.startswith(bucket_base) for url in leaflet)
    if fingerprint:
        css = _get(next(url for url in leaflet if ".css" in url)).decode()
        assert "url(images/marker-icon.png)" in css  # plain, as Leaflet looks for it


def _served(client: FlaskClient, url: str) -> bytes:
    """What the app serves at ``url`` (200 asserted)."""
    with client.get(url) as response:
        assert response.status_code == 200, url
        body: bytes = response.data
        return body


def _get(url: str) -> bytes:
    """An anonymous GET, as a browser makes it."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200, url
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{url}: {error.code}") from None


def _unhashed(body: bytes, names: dict[str, str]) -> bytes:
    """``body`` with hashed file names put back to the plain ones (rewritten references)."""
    if not names or not body.lstrip()[:1].isascii():
        return body
    for path, hashed in names.items():
        plain_name, hashed_name = path.rpartition("/")[2], hashed.rpartition("/")[2]
        if plain_name != hashed_name and hashed_name.encode() in body:
            body = body.replace(hashed_name.encode(), plain_name.encode())
    return body


# -- the url_for switch points only at what is published ----------------------------------


SWITCHED = {"CLOUDCOLLECT_SERVE_FROM_BUCKET": True, "CLOUDCOLLECT_BASE_URL": "https://cdn/"}
UNRESOLVED = (
    "static endpoint odd.static (/odd/static/<path:filename>): its folder is unknown, "
    "so it is not published and url_for keeps its app URL"
)


def test_an_unresolved_static_endpoint_keeps_its_app_url_and_is_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, SWITCHED)
    app.add_url_rule("/odd/static/<path:filename>", "odd.static", lambda filename: filename)
    caplog.set_level(logging.WARNING, logger="cloudcollect")

    with app.test_request_context():
        assert url_for("odd.static", filename="a.css") == "/odd/static/a.css"
        assert url_for("odd.static", filename="b.css") == "/odd/static/b.css"
        assert url_for("static", filename="css/site.css") == "https://cdn/static/css/site.css"

    assert [r.getMessage() for r in caplog.records] == [UNRESOLVED]
    report = publish(app, storage=MemoryStorage())
    assert report.warnings == [UNRESOLVED]  # and in the run's report (the CLI prints it)
    assert "odd" not in str(report.to_dict()["outcomes"])


def test_an_unresolved_endpoint_registered_first_is_named_at_init_app(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = Flask("early", root_path=str(tmp_path))
    app.add_url_rule("/odd/static/<path:filename>", "odd.static", lambda filename: filename)
    app.config.update(SWITCHED)
    caplog.set_level(logging.WARNING, logger="cloudcollect")

    CloudCollect(app)

    assert [r.getMessage() for r in caplog.records] == [UNRESOLVED]


def test_an_excluded_file_keeps_its_app_url_and_directory_urls_never_raise(
    tmp_path: Path,
) -> None:
    config = SWITCHED | {"CLOUDCOLLECT_EXCLUDE": ["static/drafts/*"]}
    app = make_app(tmp_path, config)
    with app.test_request_context():
        assert url_for("static", filename="drafts/x.css") == "/static/drafts/x.css"
        assert url_for("static", filename="key.pem") == "/static/key.pem"  # secret-like
        assert url_for("static", filename="css/site.css") == "https://cdn/static/css/site.css"
        assert url_for("static", filename="") == "https://cdn/static/"
        assert url_for("admin.static", filename="css/") == "https://cdn/admin/static/css/"


# -- how the folder of an endpoint that is not a blueprint is found -----------------------


def _closure_view(folder: str) -> Callable[[str], Response]:
    def serve(filename: str) -> Response:
        return send_from_directory(folder, filename)

    return serve


class _Extension:
    """Keeps its folder in an attribute of its own name, as Flask-DebugToolbar does."""

    def __init__(self, folder: Path) -> None:
        self.assets_dir = str(folder)

    def send_static_file(self, filename: str) -> Response:
        return send_from_directory(self.assets_dir, filename)


class _TwoFolders(_Extension):
    """Reads two directories: which one it serves cannot be told."""

    def __init__(self, folder: Path, other: Path) -> None:
        super().__init__(folder)
        self.other_dir = str(other)

    def send_static_file(self, filename: str) -> Response:
        folder = self.assets_dir if filename.endswith(".css") else self.other_dir
        return send_from_directory(folder, filename)


def test_folders_of_static_endpoints_that_are_not_blueprints(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", SWITCHED)
    files: dict[str, bytes | str] = {f"{n}/{n}.css": n for n in ("closure", "ext", "bp", "two")}
    write_tree(tmp_path / "app", files)  # relative folders are taken from app.root_path
    root = tmp_path / "app"
    rules: dict[str, Callable[[str], Response]] = {
        "closure": _closure_view("closure"),  # relative
        "ext": _Extension(root / "ext").send_static_file,
        "bp": Blueprint("never", "x", static_folder=str(root / "bp")).send_static_file,
        "two": _TwoFolders(root / "two", root / "ext").send_static_file,
    }
    for name, view in rules.items():
        app.add_url_rule(f"/{name}/static/<path:filename>", f"{name}.static", view)

    found = discover(app, app_settings(app))

    keys = {file.key for file in found.files}
    assert {f"{n}/static/{n}.css" for n in ("closure", "ext", "bp")} <= keys
    assert [source.name for source in found.unresolved] == ["two"]
    client = app.test_client()
    with app.test_request_context():
        for name in rules:
            with client.get(f"/{name}/static/{name}.css") as response:
                assert response.data == name.encode()  # Flask serves each of them
            url = url_for(f"{name}.static", filename=f"{name}.css")
            local = f"/{name}/static/{name}.css"
            assert url == (local if name == "two" else "https://cdn" + local)
