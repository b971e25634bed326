"""Fingerprinting against the real S3-compatible server (SeaweedFS).

A page rendered with fingerprinting on names only hashed URLs, each stored with the
immutable Cache-Control; a stylesheet's rewritten ``url()``s resolve over HTTP; a new
image changes exactly its hashed name and those of the stylesheets that use it; cleanup
after three releases removes only what no kept manifest references and what is older than
the grace period (measured by the server's clock, whatever the release clock says).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from flask import Flask, render_template_string

from cloudcollect.extension import app_settings
from cloudcollect.fingerprint import IMMUTABLE
from cloudcollect.pipeline import publish
from cloudcollect.report import Report
from cloudcollect.rewrite import references
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.support.bucketconfig import bucket_config
from tests.support.public import allow_public_read

pytestmark = pytest.mark.seaweedfs

PREFIX = "site/"
FILES: dict[str, bytes | str] = {
    "static/css/site.css": (
        '@import "base.css";\n'
        ".logo { background: url(../img/logo.png) }\n"
        ".icon { background: url('../img/icon.png?v=1#x') }\n"
        ".inline { background: url(data:image/gif;base64,R0lGODlhAQABAAAAACw=) }\n"
    ),
    "static/css/base.css": "h1 { background: url(../img/icon.png) }\n",
    "static/css/plain.css": "p { color: red }\n",
    "static/img/logo.png": b"\x89PNG logo v1",
    "static/img/icon.png": b"\x89PNG icon",
    "static/js/app.js": "console.log(1);\n",
    "admin_static/admin.css": ".admin { background: url(admin.png) }",
    "admin_static/admin.png": b"\x89PNG admin",
    "child_static/child.js": "child();",
}
PAGE = """
<link rel="stylesheet" href="{{ url_for('static', filename='css/site.css') }}">
<link rel="stylesheet" href="{{ url_for('admin.static', filename='admin.css') }}">
<img src="{{ url_for('static', filename='img/logo.png') }}">
<script src="{{ url_for('static', filename='js/app.js') }}"></script>
"""
HEX12 = re.compile(r"\.[0-9a-f]{12}\.[a-z]+$")


def fingerprint_app(root: Path, bucket: Bucket, **config: Any) -> Flask:
    manifest = str(root / "instance/manifest.json")
    switch = {"serve_from_bucket": True, "fingerprint": True, "manifest_path": manifest}
    return make_app(root, bucket_config(bucket, PREFIX, **(switch | config)), FILES)


def run(app: Flask, clock: Callable[[], datetime] | None = None) -> Report:
    report = publish(app, clock=clock)
    assert report.exit_code == 0, (report.fatal, report.warnings)
    return report


def at(moment: datetime) -> Callable[[], datetime]:
    """A release clock stopped at ``moment``."""
    return lambda: moment


def live_manifest(bucket: Bucket) -> dict[str, str]:
    files: dict[str, str] = json.loads(bucket.read(PREFIX + ".cloudcollect/manifest.json"))["files"]
    return files


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        body: bytes = response.read()
    return body


def test_a_rendered_page_names_only_hashed_immutable_objects(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = fingerprint_app(tmp_path, bucket)
    run(app)
    base = f"{bucket.server.endpoint}/{bucket.name}/"

    with app.test_request_context():
        page = render_template_string(PAGE)

    urls = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert len(urls) == 4
    for url in urls:
        assert url.startswith(base + PREFIX), url
        key = url[len(base) :]
        assert HEX12.search(key), key
        assert bucket.head(key)["CacheControl"] == IMMUTABLE
    assert bucket.head(PREFIX + ".cloudcollect/manifest.json")["CacheControl"] == "no-cache"
    assert bucket.head(PREFIX + "static/css/site.css")["CacheControl"] != IMMUTABLE


def test_the_rewritten_urls_of_a_stylesheet_resolve(tmp_path: Path, bucket: Bucket) -> None:
    app = fingerprint_app(tmp_path, bucket)
    run(app)
    allow_public_read(bucket, PREFIX)
    with app.test_request_context():
        stylesheet = render_template_string("{{ url_for('static', filename='css/site.css') }}")

    css = fetch(stylesheet).decode()
    refs = [ref.url for ref in references("site.css", css) if not ref.url.startswith("data:")]
    assert len(refs) == 3
    bodies = {ref: fetch(urljoin(stylesheet, ref)) for ref in refs}
    logo = next(ref for ref in refs if "logo" in ref)
    icon = next(ref for ref in refs if "icon" in ref)
    assert HEX12.search(logo) and bodies[logo] == FILES["static/img/logo.png"]
    assert icon.endswith("?v=1#x") and bodies[icon] == FILES["static/img/icon.png"]
    imported = next(ref for ref in refs if "base" in ref)
    assert (
        "url(../img/" + live_manifest(bucket)["static/img/icon.png"].rpartition("/")[2]
        in bodies[imported].decode()
    )


def test_a_changed_image_changes_its_name_and_its_stylesheets_only(
    tmp_path: Path, bucket: Bucket
) -> None:
    app = fingerprint_app(tmp_path, bucket)
    run(app)
    first = live_manifest(bucket)

    (tmp_path / "static/img/icon.png").write_bytes(b"\x89PNG icon v2")
    run(app)
    second = live_manifest(bucket)

    changed = {path for path in first if first[path] != second[path]}
    assert changed == {"static/img/icon.png", "static/css/base.css", "static/css/site.css"}
    assert set(first) == set(second)
    stored = bucket.keys()
    assert {PREFIX + hashed for hashed in [*first.values(), *second.values()]} <= stored


def test_cleanup_after_three_releases_removes_only_unreferenced_old_objects(
    tmp_path: Path, bucket: Bucket
) -> None:
    start = datetime.now(timezone.utc)  # the release clock; objects carry server times
    app = fingerprint_app(tmp_path, bucket, delete=True, keep_manifests=1, grace_seconds=3600)
    bucket.client.put_object(Bucket=bucket.name, Key=PREFIX + "static/stale.css", Body=b"x")
    bucket.client.put_object(Bucket=bucket.name, Key="other/keep.css", Body=b"x")
    logo = tmp_path / "static/img/logo.png"
    manifests = []
    for version in (1, 2, 3):
        logo.write_bytes(b"\x89PNG logo v%d" % version)
        report = run(app, at(start + timedelta(minutes=version)))
        assert report.with_status("deleted") == []  # all referenced or younger than 1 h
        manifests.append(live_manifest(bucket))
    only_in_first = {
        PREFIX + manifests[0][path] for path in ("static/img/logo.png", "static/css/site.css")
    }
    before = bucket.keys()
    assert only_in_first | {PREFIX + "static/stale.css"} <= before

    # Same files, and no grace left: the grace is measured by the storage's clock (the
    # release clock cannot age objects), whose LastModified and Date have whole seconds.
    time.sleep(1.1)
    report = publish(
        app, app_settings(app).replace(grace_seconds=0), clock=at(start + timedelta(minutes=4))
    )
    assert report.exit_code == 0, (report.fatal, report.warnings)

    deleted = {outcome.key for outcome in report.with_status("deleted")}
    history = {key for key in before if "/manifests/" in key}
    first_history = min(history)
    assert deleted == only_in_first | {PREFIX + "static/stale.css", first_history}
    remaining = bucket.keys()
    assert remaining == before - deleted
    assert "other/keep.css" in remaining
    for manifest in manifests[1:]:  # the current release and the one before it
        assert {PREFIX + hashed for hashed in manifest.values()} <= remaining
