"""`flask cloudcollect url ENDPOINT [PATH]`, and the command group around publishing.

The printed URL must be what url_for returns in a request with the switch on: each case
builds it both ways on real Flask apps. No storage is asked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask, url_for

from cloudcollect.cli import cloudcollect_command
from tests.support.apps import make_app
from tests.support.flaskcli import run_flask

S3 = {
    "CLOUDCOLLECT_BUCKET": "assets",
    "CLOUDCOLLECT_ENDPOINT_URL": "http://127.0.0.1:8333",
    "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
    "CLOUDCOLLECT_PREFIX": "site/v1/",
}


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cloudcollect_command, list(args))


def switched_url(root: Path, config: dict[str, Any], endpoint: str, path: str) -> str:
    """url_for in a request of the same app with CLOUDCOLLECT_SERVE_FROM_BUCKET on."""
    app = make_app(root, {**config, "CLOUDCOLLECT_SERVE_FROM_BUCKET": True})
    with app.test_request_context():
        return url_for(endpoint, filename=path)


@pytest.mark.parametrize(
    ("endpoint", "path", "expected"),
    [
        ("static", "dist/", "http://127.0.0.1:8333/assets/site/v1/static/dist/"),
        ("static", "", "http://127.0.0.1:8333/assets/site/v1/static/"),
        ("static", "css/site.css", "http://127.0.0.1:8333/assets/site/v1/static/css/site.css"),
        ("static", "a b+c.css", "http://127.0.0.1:8333/assets/site/v1/static/a%20b%2Bc.css"),
        ("admin.static", "x/", "http://127.0.0.1:8333/assets/site/v1/admin/static/x/"),
        ("parent.child.static", "", "http://127.0.0.1:8333/assets/site/v1/parent/child/static/"),
    ],
)
def test_url_prints_what_url_for_returns_with_the_switch_on(
    tmp_path: Path, endpoint: str, path: str, expected: str
) -> None:
    app = make_app(tmp_path, S3)  # the switch itself is off in this app

    result = invoke(app, "url", endpoint, path)

    assert result.exit_code == 0, result.output
    assert result.output == expected + "\n"
    assert switched_url(tmp_path, S3, endpoint, path) == expected


@pytest.mark.parametrize(
    "base", ["https://cdn.example.com/assets/", "//cdn.example.com/", "/collected/"]
)
def test_url_keeps_the_base_url_as_url_for_does(tmp_path: Path, base: str) -> None:
    config = {**S3, "CLOUDCOLLECT_BASE_URL": base}
    app = make_app(tmp_path, config)

    result = invoke(app, "url", "static", "dist/")

    assert result.exit_code == 0, result.output
    assert result.output == base + "site/v1/static/dist/\n"
    assert switched_url(tmp_path, config, "static", "dist/") + "\n" == result.output


def test_options_before_the_command_are_its_settings(tmp_path: Path) -> None:
    app = make_app(tmp_path, S3)

    result = invoke(app, "--prefix", "v2", "--bucket", "other", "url", "static", "dist/")

    assert result.exit_code == 0, result.output
    assert result.output == "http://127.0.0.1:8333/other/v2/static/dist/\n"


def test_a_fingerprinted_file_is_its_hashed_name_and_a_directory_is_not_looked_up(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "manifest.json"
    files = {"static/css/site.css": "static/css/site.3f9a1c2b7d4e.css"}
    document = {"version": 1, "release": "r1", "created": "2026-01-01T00:00:00Z", "files": files}
    manifest.write_text(json.dumps(document))
    config = {**S3, "CLOUDCOLLECT_FINGERPRINT": True, "CLOUDCOLLECT_MANIFEST_PATH": str(manifest)}
    app = make_app(tmp_path, config)

    file_url = invoke(app, "url", "static", "css/site.css")
    folder_url = invoke(app, "url", "static", "dist/")

    assert (
        file_url.output == "http://127.0.0.1:8333/assets/site/v1/static/css/site.3f9a1c2b7d4e.css\n"
    )
    assert switched_url(tmp_path, config, "static", "css/site.css") + "\n" == file_url.output
    assert folder_url.output == "http://127.0.0.1:8333/assets/site/v1/static/dist/\n"


@pytest.mark.parametrize("endpoint", ["index", "nosuch.static", "nosuch"])
def test_url_of_an_endpoint_that_is_not_published_static_is_exit_2(
    tmp_path: Path, endpoint: str
) -> None:
    app = make_app(tmp_path, S3)
    app.add_url_rule("/", "index", lambda: "home")

    result = invoke(app, "url", endpoint, "x")

    assert result.exit_code == 2
    assert "is not a static endpoint that cloudcollect publishes" in result.output


def test_url_without_a_bucket_or_base_url_is_exit_2(tmp_path: Path) -> None:
    result = invoke(make_app(tmp_path, {}), "url", "static", "dist/")

    assert result.exit_code == 2
    assert "CLOUDCOLLECT_BUCKET" in result.output


def test_a_publishing_option_before_a_command_is_exit_2(tmp_path: Path) -> None:
    result = invoke(make_app(tmp_path, S3), "--dry-run", "url", "static")

    assert result.exit_code == 2
    assert "--dry-run is an option of publishing" in result.output


def test_the_command_lists_url_in_its_help(tmp_path: Path) -> None:
    result = invoke(make_app(tmp_path, S3), "--help")

    assert result.exit_code == 0
    assert "--dry-run" in result.output
    assert "url" in result.output.split("Commands:")[1]


def test_subprocess_url_prints_only_the_url(tmp_path: Path) -> None:
    result = run_flask(tmp_path, ["url", "static", "dist/"], S3)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://127.0.0.1:8333/assets/site/v1/static/dist/\n"


def test_subprocess_bare_dry_run_still_publishes_nothing(tmp_path: Path) -> None:
    config = {"CLOUDCOLLECT_STORAGE": "filesystem", "CLOUDCOLLECT_ROOT": str(tmp_path / "out")}
    result = run_flask(tmp_path, ["--dry-run"], config)

    assert result.returncode == 0, result.stderr
    assert "upload" in result.stdout
    assert not (tmp_path / "out").exists()
