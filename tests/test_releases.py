"""``flask cloudcollect releases`` and ``rollback`` against SeaweedFS.

Three releases are published (a script and an image change each time); a rollback makes
the first current again, and a page rendered by an app reading the bucket's manifest
loads every asset of that release over HTTP; ``--check`` is in sync; the next publish
makes a new release from the local files. A rollback to a release whose files are gone is
refused and changes nothing; a dry run writes nothing; a publish that listed before a
rollback took the release lease stops without writing.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string

from cloudcollect.cli import cloudcollect_command
from cloudcollect.fingerprint.manifest import COMMIT_VARIABLES
from cloudcollect.pipeline import publish
from cloudcollect.plan import Plan
from tests.conftest import Bucket
from tests.support.public import allow_public_read
from tests.test_fingerprint_s3 import PAGE, PREFIX, fingerprint_app, run

CURRENT = PREFIX + ".cloudcollect/manifest.json"


@pytest.fixture(autouse=True)
def no_commit_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COMMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def release(app: Flask, root: Path, n: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """Publish release ``n`` (its own script and logo); return its id."""
    (root / "static/js/app.js").write_text(f"console.log({n});\n")
    (root / "static/img/logo.png").write_bytes(b"\x89PNG logo %d" % n)
    monkeypatch.setenv("GITHUB_SHA", f"commit{n}")
    run(app)
    document = json.loads(Path(app.config["CLOUDCOLLECT_MANIFEST_PATH"]).read_text())
    return str(document["release"])


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(cloudcollect_command, list(args))


def stored(bucket: Bucket) -> dict[str, str]:
    """Every key with its ETag: what 'nothing changed' compares."""
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture
def three(bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    app = fingerprint_app(tmp_path, bucket)
    ids = [release(app, tmp_path, n, monkeypatch) for n in (1, 2, 3)]
    return app, ids


def test_roll_back_to_the_first_of_three_releases_and_serve_it(
    three: Any, bucket: Bucket, tmp_path: Path
) -> None:
    app, ids = three
    listed = cli(app, "releases")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [line[2:].split()[0] for line in lines] == ids[::-1]
    assert lines[0].startswith(f"* {ids[2]}") and lines[0].endswith("9 files  commit3")
    assert lines[2].startswith(f"  {ids[0]}")

    result = cli(app, "rollback", ids[0])
    assert result.exit_code == 0, result.output
    assert f"release {ids[0]}" in result.stderr and f"was {ids[2]}" in result.stderr
    assert json.loads(bucket.read(CURRENT))["release"] == ids[0]
    current = json.loads(cli(app, "releases", "--json").stdout)
    assert [row["release"] for row in current if row["current"]] == [ids[0]]

    reader = fingerprint_app(tmp_path / "reader", bucket, manifest_source="bucket")
    allow_public_read(bucket, PREFIX)
    with reader.test_request_context():
        page = render_template_string(PAGE)
    urls = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert len(urls) == 4
    bodies = {url.rsplit("/", 1)[1]: urllib.request.urlopen(url).read() for url in urls}
    assert [body for name, body in bodies.items() if name.startswith("app.")] == [
        b"console.log(1);\n"
    ]
    assert app_check(app) == 0

    (tmp_path / "static/js/app.js").write_text("console.log(4);\n")
    report = run(app)  # publishing works as before: a new release from the local files
    assert report.warnings == []  # the state object still trusted: no HEAD of every key
    fourth = json.loads(bucket.read(CURRENT))
    assert fourth["release"] not in ids and fourth["commit"] == "commit3"
    assert (
        fourth["files"]["static/js/app.js"]
        != json.loads(bucket.read(PREFIX + f".cloudcollect/manifests/{ids[0]}.json"))["files"][
            "static/js/app.js"
        ]
    )


def app_check(app: Flask) -> int:
    result = cli(app, "--check")
    return int(result.exit_code)


def test_rollback_without_a_release_takes_the_previous_one_and_dry_run_writes_nothing(
    three: Any, bucket: Bucket
) -> None:
    app, ids = three
    before = stored(bucket)
    dry = cli(app, "rollback", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would make release {ids[1]}" in dry.stderr
    assert stored(bucket) == before

    assert cli(app, "rollback").exit_code == 0
    assert json.loads(bucket.read(CURRENT))["release"] == ids[1]
    assert cli(app, "rollback").exit_code == 0  # the one before that
    assert json.loads(bucket.read(CURRENT))["release"] == ids[0]
    refused = cli(app, "rollback")
    assert refused.exit_code == 3
    assert "no kept release before the current one" in refused.stderr


def test_a_release_whose_files_are_gone_is_refused_and_nothing_changes(
    three: Any, bucket: Bucket
) -> None:
    app, ids = three
    first = json.loads(bucket.read(PREFIX + f".cloudcollect/manifests/{ids[0]}.json"))
    gone = PREFIX + first["files"]["static/js/app.js"]
    bucket.client.delete_object(Bucket=bucket.name, Key=gone)  # cleaned up (lifecycle...)
    local = Path(app.config["CLOUDCOLLECT_MANIFEST_PATH"]).read_bytes()
    before = stored(bucket)

    result = cli(app, "rollback", ids[0])
    assert result.exit_code == 3
    assert f"release {ids[0]} cannot be made current" in result.stderr
    assert f"(first: {gone}); nothing changed" in result.stderr
    assert stored(bucket) == before
    assert Path(app.config["CLOUDCOLLECT_MANIFEST_PATH"]).read_bytes() == local
    unknown = cli(app, "rollback", "20200101T000000000000Z-deadbeef")
    assert unknown.exit_code == 3 and "no kept release" in unknown.stderr
    assert stored(bucket) == before


def test_a_publish_that_listed_before_a_rollback_stops_without_writing(
    three: Any, bucket: Bucket, tmp_path: Path
) -> None:
    app, ids = three
    (tmp_path / "static/js/app.js").write_text("console.log(5);\n")

    def roll_back_meanwhile(plan: Plan) -> None:
        assert plan.uploads
        assert cli(app, "rollback", ids[0]).exit_code == 0

    report = publish(app, on_plan=roll_back_meanwhile)
    assert report.exit_code == 3, report.summary_line()
    assert "another run" in str(report.fatal)
    assert json.loads(bucket.read(CURRENT))["release"] == ids[0]


def test_without_fingerprinting_there_are_no_releases(bucket: Bucket, tmp_path: Path) -> None:
    app = fingerprint_app(tmp_path, bucket, fingerprint=False)
    for command in (["releases"], ["rollback"]):
        result = cli(app, *command)
        assert result.exit_code == 2
        assert "CLOUDCOLLECT_FINGERPRINT" in result.output
