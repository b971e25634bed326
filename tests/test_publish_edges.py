"""What gets published at the edges, end to end on the real SeaweedFS: symlinks to hidden or
secret files, secret-like names, a prebuilt ``.gz`` beside a precompressed file, and NFC/NFD
spellings of one name."""

from __future__ import annotations

import gzip
import json
import os
import unicodedata
from pathlib import Path

import pytest
from flask import url_for

from cloudcollect import publish
from cloudcollect.cli import cloudcollect_command
from cloudcollect.lease import LEASE_NAME
from cloudcollect.state import STATE_NAME
from tests.conftest import Bucket, s3_settings
from tests.support.apps import APP_FILES, make_app, served_files
from tests.test_urls import allow_anonymous_read, fetch

pytestmark = pytest.mark.seaweedfs

JS = "".join(f"export function f{i}(x) {{ return x * {i}; }}\n" for i in range(300))

# --- symlinks and secret-like names --------------------------------------------------------


def test_symlinks_to_hidden_files_and_directories_publish_nothing_secret(
    tmp_path: Path, bucket: Bucket
) -> None:
    """``static/public.txt -> .env`` and ``static/repo -> .git`` have harmless names, but
    their targets are excluded: publishing them would publish the secret under a new key."""
    app = make_app(tmp_path)
    static = tmp_path / "static"
    (static / "public.txt").symlink_to(".env")
    (static / "repo").symlink_to(".git", target_is_directory=True)
    (static / "css/key.txt").symlink_to("../key.pem")
    (static / "logo-link.png").symlink_to("img/logo.png")  # a harmless target: published

    report = publish(app, s3_settings(bucket))

    assert report.exit_code == 0, report.to_dict()
    expected = served_files(tmp_path) | {"static/logo-link.png": APP_FILES["static/img/logo.png"]}
    assert bucket.keys() == set(expected) | {STATE_NAME, LEASE_NAME}
    assert bucket.read("static/logo-link.png") == (static / "img/logo.png").read_bytes()


SECRET_NAMES = [
    "credentials.json",
    "client_secret_1234.apps.googleusercontent.com.json",
    "data/app.sqlite",
    "data/app.db",
    "data/app.db-journal",
    "keys/putty.ppk",
    "keys/release.jks",
    "keys/release.keystore",
    "keys/AuthKey_ABC123.p8",
    "vault/passwords.kdbx",
    "infra/terraform.tfstate",
    "secrets.json",
]


def test_secret_like_names_real_projects_leak_are_not_published(
    tmp_path: Path, bucket: Bucket
) -> None:
    files = dict(APP_FILES) | {f"static/{name}": "secret" for name in SECRET_NAMES}
    files["static/data/catalog.json"] = "[]"  # a look-alike that is a normal asset
    app = make_app(tmp_path, files=files)

    report = publish(app, s3_settings(bucket))

    assert report.exit_code == 0, report.to_dict()
    expected = set(served_files(tmp_path)) | {"static/data/catalog.json", STATE_NAME, LEASE_NAME}
    assert bucket.keys() == expected


def test_an_include_naming_a_secret_like_name_publishes_it(tmp_path: Path, bucket: Bucket) -> None:
    files = {"static/demo/sample.db": "sqlite demo", "static/app.css": "a{}"}
    app = make_app(tmp_path, files=files)

    report = publish(app, s3_settings(bucket, include=("static/*.css", "**/sample.db")))

    assert report.exit_code == 0, report.to_dict()
    assert bucket.keys() == {"static/app.css", "static/demo/sample.db", STATE_NAME, LEASE_NAME}


def test_a_symlink_to_an_included_dot_directory_is_published(
    tmp_path: Path, bucket: Bucket
) -> None:
    """The target check re-admits what an include names: the target is public anyway."""
    files = {"static/.well-known/security.txt": "Contact: x", "static/app.css": "a{}"}
    app = make_app(tmp_path, files=files)
    (tmp_path / "static/security.txt").symlink_to(".well-known/security.txt")

    include = ("static/*.css", "static/security.txt", "static/.well-known/*")
    report = publish(app, s3_settings(bucket, include=include))

    assert report.exit_code == 0, report.to_dict()
    assert bucket.keys() == {
        "static/app.css",
        "static/security.txt",
        "static/.well-known/security.txt",
        STATE_NAME,
        LEASE_NAME,
    }
    assert bucket.read("static/security.txt") == b"Contact: x"


# --- precompressed siblings beside real files ----------------------------------------------


def test_a_prebuilt_gz_beside_its_source_wins_over_the_generated_variant(
    tmp_path: Path, bucket: Bucket
) -> None:
    """``app.js`` and a prebuilt ``app.js.gz`` with gzip precompression on: one key, two
    candidates. The file on disk wins, the run warns once naming both, and a re-run and
    ``--check`` find nothing to do."""
    prebuilt = gzip.compress(JS.encode(), compresslevel=1, mtime=1_700_000_000)
    files: dict[str, bytes | str] = {"static/js/app.js": JS, "static/js/app.js.gz": prebuilt}
    config = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_PROVIDER": "seaweedfs",
        "CLOUDCOLLECT_PRECOMPRESS": ["gzip", "br"],
    }
    app = make_app(tmp_path, config, files)
    runner = app.test_cli_runner()

    first = json.loads(runner.invoke(cloudcollect_command, ["--json"]).stdout)

    assert first["exit_code"] == 0, first
    gz = "static/js/app.js.gz"
    [warning] = [w for w in first["warnings"] if gz in w]
    assert "static/js/app.js" in warning.replace(gz, "")
    assert bucket.read(gz) == prebuilt
    assert bucket.head(gz).get("ContentEncoding") is None  # published as it is on disk
    assert bucket.keys() >= {"static/js/app.js", gz, "static/js/app.js.br"}
    second = json.loads(runner.invoke(cloudcollect_command, ["--json"]).stdout)
    assert second["counts"]["uploaded"] == 0, second
    assert [w for w in second["warnings"] if gz in w] == [warning]
    checked = runner.invoke(cloudcollect_command, ["--check"])
    assert checked.exit_code == 0, checked.output
    assert bucket.read(gz) == prebuilt


# --- NFC and NFD spellings of one name ------------------------------------------------------


def test_the_object_url_for_links_holds_the_file_flask_serves_for_that_url(
    tmp_path: Path, bucket: Bucket
) -> None:
    """Both spellings of ``café.css`` in one folder: one key (NFC). Flask opens the NFC
    spelling for the URL url_for builds, so the object holds that file whatever the walk
    order (NFD sorts first in code-point order)."""
    nfc, nfd = (unicodedata.normalize(form, "café.css") for form in ("NFC", "NFD"))
    files: dict[str, bytes | str] = {f"static/{nfc}": "/* composed */", f"static/{nfd}": "/* x */"}
    config = {
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_PREFIX": "site/",
    }
    app = make_app(tmp_path, config, files)
    if len(os.listdir(tmp_path / "static")) != 2:
        pytest.skip("this filesystem normalises file names")
    allow_anonymous_read(bucket, "site/")

    report = publish(app)

    assert report.exit_code == 0, report.to_dict()
    [warning] = [w for w in report.warnings if "shadowed" in w]
    assert warning.startswith(nfd)
    with app.test_request_context("/"):
        bucket_url = url_for("static", filename=nfc)
        local_url = url_for("static", filename=nfc, _cloudcollect=False)
        assert url_for("static", filename=nfd) == bucket_url
    with app.test_client().get(local_url) as response:
        served = response.data
    assert served == b"/* composed */"
    assert fetch(bucket_url) == served
    assert publish(app).counts()["uploaded"] == 0
