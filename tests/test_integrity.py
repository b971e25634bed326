"""Subresource Integrity: the manifest records a sha384 digest of each published object's
bytes (as a browser checks them), and ``static_integrity`` / the Jinja global return it.

Against SeaweedFS: each digest is recomputed from the object read back from the bucket
(a rewritten stylesheet's rewritten bytes; with in-place precompression, the decoded
bytes). A manifest without digests (written before they were recorded) still reads.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask, render_template_string

from cloudcollect import static_integrity
from cloudcollect.errors import FingerprintError
from cloudcollect.fingerprint.manifest import (
    COMMIT_VARIABLES,
    commit_from_env,
    decode_manifest,
    encode_manifest,
    new_manifest,
)
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.test_fingerprint_s3 import FILES, PREFIX, fingerprint_app, run

PAGE = "{{ static_integrity('static', 'css/site.css') }}|{{ url_for('static', filename=name) }}"


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture(autouse=True)
def no_commit_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COMMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def manifest_of(app: Flask) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        Path(app.config["CLOUDCOLLECT_MANIFEST_PATH"]).read_text()
    )
    return document


def test_every_digest_is_of_the_object_as_stored_and_the_commit_is_recorded(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_COMMIT_SHA", "0123abcd")
    app = fingerprint_app(tmp_path, bucket)
    run(app)
    document = manifest_of(app)
    files, integrity = document["files"], document["integrity"]
    assert isinstance(files, dict) and isinstance(integrity, dict)
    assert document["commit"] == "0123abcd"
    assert sorted(integrity) == sorted(files)
    for path, hashed in files.items():
        assert integrity[path] == sri(bucket.read(PREFIX + hashed)), path
    site_css = bucket.read(PREFIX + files["static/css/site.css"])
    assert site_css != (tmp_path / "static/css/site.css").read_bytes()  # rewritten
    with app.test_request_context():
        page = render_template_string(PAGE, name="css/site.css")
        url = app.url_for("static", filename="css/site.css")
        assert page == f"{integrity['static/css/site.css']}|{url}"
        assert static_integrity("admin.static", "admin.css") == integrity["admin/static/admin.css"]


def test_in_place_precompression_records_the_digest_of_the_decoded_bytes(
    bucket: Bucket, tmp_path: Path
) -> None:
    app = fingerprint_app(tmp_path, bucket, precompress=["gzip"], precompress_mode="in-place")
    (tmp_path / "static/js/app.js").write_text("console.log(1);\n" * 100)  # compresses
    run(app)
    document = manifest_of(app)
    files, integrity = document["files"], document["integrity"]
    assert isinstance(files, dict) and isinstance(integrity, dict)
    key = PREFIX + files["static/js/app.js"]
    assert bucket.head(key).get("ContentEncoding") == "gzip"
    stored = bucket.read(key)
    assert stored[:2] == b"\x1f\x8b"
    assert integrity["static/js/app.js"] == sri(gzip.decompress(stored))
    assert integrity["static/js/app.js"] != sri(stored)


def test_a_manifest_without_digests_still_reads_and_a_new_release_adds_them(
    bucket: Bucket, tmp_path: Path
) -> None:
    app = fingerprint_app(tmp_path, bucket)
    run(app)
    local = Path(app.config["CLOUDCOLLECT_MANIFEST_PATH"])
    old = json.loads(local.read_text())
    del old["integrity"]
    data = json.dumps(old).encode()
    assert decode_manifest(data, "old").integrity == {}
    key = PREFIX + ".cloudcollect/manifest.json"
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=data)
    local.write_bytes(data)
    with app.test_request_context():  # no digest recorded: the local file's
        expected = sri((tmp_path / "static/js/app.js").read_bytes())
        assert static_integrity("static", "js/app.js") == expected
    run(app)  # same files: a new release all the same, to record the digests
    assert json.loads(bucket.read(key))["integrity"] == json.loads(local.read_text())["integrity"]


def test_without_fingerprinting_serving_from_the_bucket_is_a_clear_error(
    bucket: Bucket, tmp_path: Path
) -> None:
    app = fingerprint_app(tmp_path / "on", bucket, fingerprint=False)
    with app.test_request_context(), pytest.raises(FingerprintError, match="FINGERPRINT"):
        static_integrity("static", "js/app.js")
    local = make_app(tmp_path / "off", {}, FILES)  # switch off: the file Flask serves
    with local.test_request_context():
        expected = sri(FILES["static/js/app.js"].encode())  # type: ignore[union-attr]
        assert render_template_string("{{ static_integrity('static', 'js/app.js') }}") == expected


def test_commit_variables_are_read_in_order() -> None:
    assert commit_from_env({}) is None
    assert commit_from_env({"GIT_COMMIT": " abc \n", "GITHUB_SHA": ""}) == "abc"
    assert commit_from_env({"GIT_COMMIT": "b", "GITHUB_SHA": "a"}) == "a"
    manifest = new_manifest({"a.css": "a.1.css"}, __import__("datetime").datetime.now(), commit="c")
    assert decode_manifest(encode_manifest(manifest), "x").commit == "c"


def test_check_reports_a_precompressed_object_rewritten_with_its_metadata_copied(
    bucket: Bucket, tmp_path: Path
) -> None:
    """Another client rewrites an in-place gzip object, same size, and copies its
    metadata (the recorded MD5 included): the ETag no longer matches that MD5, so
    ``--check`` reports it and the next publish repairs it."""
    from cloudcollect.check import check

    app = fingerprint_app(tmp_path, bucket, precompress=["gzip"], precompress_mode="in-place")
    (tmp_path / "static/js/app.js").write_text("console.log(1);\n" * 100)
    run(app)
    files = manifest_of(app)["files"]
    assert isinstance(files, dict)
    key = PREFIX + files["static/js/app.js"]
    head = bucket.head(key)
    tampered = gzip.compress(("console.log(2);\n" * 100).encode(), mtime=0)
    assert len(tampered) == head["ContentLength"]
    bucket.client.put_object(
        Bucket=bucket.name,
        Key=key,
        Body=tampered,
        Metadata=head["Metadata"],
        ContentEncoding="gzip",
        ContentType=head["ContentType"],
        CacheControl=head["CacheControl"],
    )
    report = check(app)
    assert report.exit_code == 5
    assert [d["key"] for d in report.differences()] == [key]
    run(app)
    assert gzip.decompress(bucket.read(key)) == (tmp_path / "static/js/app.js").read_bytes()
    assert check(app).exit_code == 0
