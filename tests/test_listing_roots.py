"""Without a prefix a run lists its static URL roots and its own keys, never the rest of a
shared bucket (README, *State object*); the deletion scope is the same set of roots."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask

from cloudcollect import MemoryStorage, publish
from cloudcollect.cli import cloudcollect_command
from cloudcollect.config import settings_from_config
from cloudcollect.deletion import delete_scope
from cloudcollect.discovery import discover
from cloudcollect.errors import DeletionRefused
from cloudcollect.fingerprint.names import OWN_FOLDER
from cloudcollect.hashing import md5_of_stream
from cloudcollect.lease import LEASE_NAME
from cloudcollect.remote import OWN_KEYS, listing_roots, read_remote
from cloudcollect.sources import StaticSource, static_sources
from cloudcollect.state import STATE_NAME
from cloudcollect.storage.memory import StoredObject
from cloudcollect.storage.s3 import S3Storage
from tests.conftest import Bucket, s3_settings
from tests.support.apps import make_app

#: Objects of a shared bucket that are not the app's; the last three look like its roots.
FOREIGN = ("uploads/photo.jpg", "backup/db.sql", "static2/x.css", "staticx", "adminstatic/a")
#: make_app's static URL roots, and the listing of cloudcollect's own keys.
LISTED = ["admin/static/", "parent/child/static/", "static/", OWN_KEYS]


def sources(*url_prefixes: str) -> list[StaticSource]:
    return [StaticSource("app", p, "/srv/static", f"/{p}<path:filename>") for p in url_prefixes]


def test_with_a_prefix_the_prefix_is_the_only_root() -> None:
    assert listing_roots(sources("static/", "admin/static/"), "site/") == ["site/"]


def test_without_a_prefix_each_static_url_root_counts_once() -> None:
    roots = ["static/", "admin/static/", "static/", "static/admin/", "static2/"]
    # static/admin/ lies inside static/; static2/ does not (no bare-prefix match)
    assert listing_roots(sources(*roots), "") == ["admin/static/", "static/", "static2/"]


@pytest.mark.parametrize("roots", [["static/", ""], []], ids=["url-root", "no-source"])
def test_a_static_folder_at_the_url_root_makes_the_whole_bucket_the_root(
    roots: list[str],
) -> None:
    assert listing_roots(sources(*roots), "") == [""]


def test_the_own_keys_listing_covers_every_object_of_cloudcollect() -> None:
    assert all(name.startswith(OWN_KEYS) for name in (STATE_NAME, LEASE_NAME, OWN_FOLDER))


def test_the_deletion_scope_is_the_listing_roots(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    settings = settings_from_config(app.config)
    assert delete_scope(discover(app, settings), settings) == LISTED[:-1]
    (tmp_path / "root" / "public").mkdir(parents=True)
    (tmp_path / "root" / "public" / "a.css").write_text("a{}")
    served_at_root = Flask(
        "rootapp", root_path=str(tmp_path / "root"), static_folder="public", static_url_path=""
    )
    with pytest.raises(DeletionRefused, match="served at the URL root"):
        delete_scope(discover(served_at_root, settings), settings)


def _shared_bucket(storage: MemoryStorage) -> None:
    for key in FOREIGN:
        data = key.encode()
        storage.objects[key] = StoredObject(data, {}, md5_of_stream(io.BytesIO(data)))


def test_a_run_without_prefix_lists_its_roots_and_own_keys_only(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_DELETE": True})
    storage = MemoryStorage()
    _shared_bucket(storage)
    publish(app, storage=storage)
    storage.requests.clear()

    report = publish(app, storage=storage)

    assert sorted(key for op, key in storage.requests if op == "list") == sorted(LISTED)
    assert report.exit_code == 0 and report.counts()["unchanged"] == 7
    assert report.counts()["deleted"] == 0
    assert all(key in storage.objects for key in FOREIGN)


@pytest.mark.seaweedfs
@pytest.mark.parametrize("kind", ["fast", "botocore"])
def test_the_listing_of_a_shared_bucket_holds_no_foreign_key(
    bucket: Bucket, tmp_path: Path, kind: str
) -> None:
    for key in FOREIGN:
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"not the app's")
    app = make_app(tmp_path)
    settings = s3_settings(bucket, transport=kind)
    publish(app, settings)  # writes the state object and takes the lease at the root
    storage = S3Storage.from_settings(settings)
    roots = listing_roots(static_sources(app), settings.prefix)

    remote = read_remote(settings, storage, True, roots)
    storage.close()

    published = bucket.keys() - set(FOREIGN) - {STATE_NAME, LEASE_NAME}
    assert set(remote.objects) == published and len(published) == 7
    assert len(remote.recorded) == 7  # the state object at the bucket root was read
    assert storage.operations["ListObjectsV2"] == len(LISTED)


def test_a_fingerprinted_release_and_its_rollback_never_list_the_whole_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hashed keys a release verifies, and the keys a rollback checks, are found by
    listing the static URL roots, not the bucket (README, *Fingerprinting*)."""
    manifest = str(tmp_path / "instance" / "manifest.json")
    config = {"CLOUDCOLLECT_FINGERPRINT": True, "CLOUDCOLLECT_MANIFEST_PATH": manifest}
    app = make_app(tmp_path, {"CLOUDCOLLECT_BUCKET": "shared", **config})
    storage = MemoryStorage()
    _shared_bucket(storage)
    for n in (1, 2):  # two releases: the second has another script
        (tmp_path / "static" / "js" / "site.js").write_text(f"console.log({n});\n")
        assert publish(app, storage=storage).exit_code == 0
    assert ("list", "") not in storage.requests
    assert any(op == "list" and key == "static/" for op, key in storage.requests)

    storage.requests.clear()
    monkeypatch.setattr("cloudcollect.storage.open_storage", lambda settings: storage)
    result = app.test_cli_runner().invoke(cloudcollect_command, ["rollback"])

    assert result.exit_code == 0, result.output
    assert "rolled back" in result.output
    assert ("list", "") not in storage.requests
    assert all(key in storage.objects for key in FOREIGN)
