"""The fixed MIME table and the ordered header rules."""

from __future__ import annotations

import pytest

from cloudcollect.config import settings_from_config
from cloudcollect.globs import matches
from cloudcollect.headers import content_type, headers_for


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.mjs", "text/javascript; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.map", "application/json"),
        ("a.svg", "image/svg+xml"),
        ("a.PNG", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.avif", "image/avif"),
        ("a.ico", "image/vnd.microsoft.icon"),
        ("a.woff", "font/woff"),
        ("a.woff2", "font/woff2"),
        ("a.ttf", "font/ttf"),
        ("a.otf", "font/otf"),
        ("a.eot", "application/vnd.ms-fontobject"),
        ("a.wasm", "application/wasm"),
        ("a.webmanifest", "application/manifest+json"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.html", "text/html; charset=utf-8"),
        ("a.xml", "application/xml"),
        ("a.pdf", "application/pdf"),
        ("a.mp4", "video/mp4"),
        ("a.webm", "video/webm"),
        ("a.cjs", "text/javascript; charset=utf-8"),
        ("a.md", "text/markdown; charset=utf-8"),
        ("a.avif", "image/avif"),
        ("a.apng", "image/apng"),
        ("a.scss", "text/plain; charset=utf-8"),
        ("a.less", "text/plain; charset=utf-8"),
        ("a.ts", "text/plain; charset=utf-8"),
        ("a.tsx", "text/plain; charset=utf-8"),
        ("a.mts", "text/plain; charset=utf-8"),
        ("a.yml", "application/yaml"),
        ("a.yaml", "application/yaml"),
        ("LICENSE", "text/plain; charset=utf-8"),
        ("vendor/licence", "text/plain; charset=utf-8"),
        ("COPYING", "text/plain; charset=utf-8"),
        ("NOTICE", "text/plain; charset=utf-8"),
        ("LICENSE-MIT", "text/plain; charset=utf-8"),
        ("Makefile", "application/octet-stream"),
        ("LICENSE.APACHE2", "application/octet-stream"),
    ],
)
def test_fixed_mime_table(name: str, expected: str) -> None:
    assert content_type(f"static/{name}") == expected


def test_user_mime_override_wins() -> None:
    assert content_type("x.js", {".js": "application/javascript"}) == "application/javascript"


def test_rules_apply_in_order_and_empty_value_removes() -> None:
    settings = settings_from_config(
        {
            "CLOUDCOLLECT_HEADERS": [
                ("static/**/*.css", {"cache-control": "public, max-age=60"}),
                ("static/vendor/*", {"Cache-Control": "public, max-age=31536000, immutable"}),
                ("*.txt", {"Cache-Control": ""}),
            ]
        }
    )
    assert headers_for("static/site.css", settings)["Cache-Control"] == "public, max-age=60"
    vendor = headers_for("static/vendor/x.css", settings)
    assert vendor == {
        "Content-Type": "text/css; charset=utf-8",
        "Cache-Control": "public, max-age=31536000, immutable",
    }
    assert "Cache-Control" not in headers_for("static/robots.txt", settings)
    assert headers_for("static/a.png", settings)["Cache-Control"] == "public, max-age=3600"


def test_glob_semantics() -> None:
    assert matches("static/*.css", "static/css/deep/a.css")
    assert matches("**/*.map", "a.map")
    assert not matches("static/*.css", "admin/static/a.css")
    assert matches("static/**/**/x.js", "static/x.js")
    assert not matches("static/*.CSS", "static/a.css")


def test_a_vary_rule_reaches_storages_that_keep_headers() -> None:
    settings = settings_from_config(
        {"CLOUDCOLLECT_HEADERS": [("static/**/*.css", {"vary": "Accept-Encoding"})]}
    )
    assert headers_for("static/css/a.css", settings)["Vary"] == "Accept-Encoding"
