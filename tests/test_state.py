"""The state object: header drift reaches unchanged objects; a no-op run needs no HEAD."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudcollect import MemoryStorage, publish
from cloudcollect.config import settings_from_config
from cloudcollect.errors import FatalStorageError
from cloudcollect.remote import OWN_KEYS
from cloudcollect.state import (
    STATE_NAME,
    VERSION,
    Recorded,
    decode,
    encode,
    headers_digest,
    merge,
    state_key,
)
from cloudcollect.storage.base import RemoteObject
from cloudcollect.storage.memory import StoredObject
from cloudcollect.storage.s3 import S3Storage
from tests.conftest import Bucket
from tests.support.apps import make_app

MD5 = "0cc175b9c0f1b6a831c399e269772661"
MIB = 1024 * 1024


def test_encode_decode_round_trip_and_garbage_is_ignored() -> None:
    entries = {
        "s/a.css": Recorded('"abc-2"', MD5, "d1"),
        "s/b.js": Recorded(None, MD5, "d2"),
        "s/c.js": Recorded(f'"{MD5}"', MD5, "d1"),
    }
    assert decode(encode(entries)) == entries
    assert encode(entries) == encode(dict(reversed(list(entries.items()))))
    document = json.loads(encode(entries))
    assert document["headers"] == ["d1", "d2"]
    assert document["objects"]["s/c.js"] == [f'"{MD5}"', None, 0]  # MD5 = ETag: left out
    for garbage in (
        None,
        b"",
        b"not json",
        b"[]",
        b'{"version": 99, "objects": {}}',
        b'{"version": 1, "objects": {"k": [1]}}',
        b'{"version": 2, "headers": [], "objects": {"k": [null, "x", 3]}}',
    ):
        assert decode(garbage) == {}


def test_merge_trusts_only_entries_matching_the_listing() -> None:
    remote = {
        "multi": RemoteObject("multi", 9, md5=None, etag='"ffff-2"'),
        "stale": RemoteObject("stale", 9, md5=MD5, etag=f'"{MD5}"'),
        "fs": RemoteObject("fs", 9, md5=MD5, etag=None),
        "new": RemoteObject("new", 9, md5=MD5, etag=f'"{MD5}"'),
    }
    recorded = {
        "multi": Recorded('"FFFF-2"', MD5, "h1"),
        "stale": Recorded('"0000"', MD5, "h2"),
        "fs": Recorded(None, MD5, "h3"),
    }
    merged, digests = merge(remote, recorded)
    assert merged["multi"].md5 == MD5
    assert digests == {"multi": "h1", "fs": "h3"}
    assert merged["new"] == remote["new"]


def test_headers_digest_ignores_case_order_and_unreported_headers() -> None:
    a = {"Content-Type": "text/css", "Cache-Control": "max-age=1"}
    b = {"cache-control": "max-age=1", "content-type": "text/css", "X-Amz-Storage-Class": "X"}
    assert headers_digest(a) == headers_digest(b)
    assert headers_digest(a) != headers_digest({**a, "Cache-Control": "max-age=2"})
    assert state_key("p/") == "p/" + STATE_NAME


def test_changed_header_rule_reaches_unchanged_objects(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    publish(app, storage=storage)
    rule = [("static/css/*", {"Cache-Control": "public, max-age=60"})]
    settings = settings_from_config(app.config).replace(headers=rule)
    report = publish(app, settings, storage=storage)
    assert [(o.key, o.reason) for o in report.with_status("uploaded")] == [
        ("static/css/site.css", "headers changed")
    ]
    assert storage.objects["static/css/site.css"].headers["Cache-Control"] == ("public, max-age=60")
    assert report.counts()["unchanged"] == 6


def test_noop_run_makes_no_head_and_no_write(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    publish(app, storage=storage)
    storage.requests.clear()
    report = publish(app, storage=storage)
    assert report.counts()["unchanged"] == 7
    # README: the state object and the lease; without a prefix, one listing for each of
    # the three static URL roots and one for cloudcollect's own keys
    assert sorted(op for op, _ in storage.requests) == ["get", "get"] + ["list"] * 4


class _RootWaitsForTheState(MemoryStorage):
    """Once ``holding``, lists ``root`` only after the state object was read (or 10 s)."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root
        self.holding = False
        self.state_read = threading.Event()
        self.read_before_root_listed: list[bool] = []

    def get(self, key: str) -> bytes | None:
        data = super().get(key)
        if key.endswith(STATE_NAME):
            self.state_read.set()
        return data

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        if self.holding and prefix == self.root:
            self.read_before_root_listed.append(self.state_read.wait(10))
        return super().list(prefix)


@pytest.mark.parametrize(("prefix", "root"), [("", "static/"), ("site/", "site/")])
def test_the_state_object_is_read_while_the_roots_are_listed(
    tmp_path: Path, prefix: str, root: str
) -> None:
    """The listing of the own keys shows the state object: it is read (and parsed) then,
    on its own thread, not after every root was listed; with a prefix as well."""
    app = make_app(tmp_path, {"CLOUDCOLLECT_PREFIX": prefix} if prefix else {})
    storage = _RootWaitsForTheState(root)
    publish(app, storage=storage)
    storage.state_read.clear()
    storage.requests.clear()
    storage.holding = True

    report = publish(app, storage=storage)

    assert report.counts()["unchanged"] == 7 and report.exit_code == 0
    assert storage.read_before_root_listed == [True]
    assert ("list", prefix + OWN_KEYS) in storage.requests


class _OwnKeysListingDenied(MemoryStorage):
    """A policy that allows listing ``site/`` itself but not ``site/.cloudcollect``."""

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        if prefix == "site/" + OWN_KEYS:
            raise FatalStorageError("ListObjectsV2: AccessDenied", code="AccessDenied")
        return super().list(prefix)


def test_a_denied_own_keys_listing_under_a_listable_prefix_costs_nothing(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_PREFIX": "site/", "CLOUDCOLLECT_DELETE": True})
    storage = _OwnKeysListingDenied()
    assert publish(app, storage=storage).exit_code == 0
    storage.objects["site/static/orphan.css"] = StoredObject(b"x", {}, MD5)
    storage.requests.clear()

    report = publish(app, storage=storage)

    assert report.exit_code == 0, report.to_dict()
    assert report.counts()["unchanged"] == 7 and report.counts()["deleted"] == 1
    assert not report.warnings
    assert [op for op, _ in storage.requests].count("head") == 0  # the state object was read


def test_missing_or_corrupt_state_falls_back_to_head(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    publish(app, storage=storage)
    storage.objects[STATE_NAME] = StoredObject(b"{corrupt", {}, "")
    storage.requests.clear()
    report = publish(app, storage=storage)
    assert report.counts()["unchanged"] == 7
    assert sum(op == "head" for op, _ in storage.requests) == 7
    assert json.loads(storage.objects[STATE_NAME].data)["version"] == VERSION


def test_out_of_band_header_change_is_repaired(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    storage = MemoryStorage()
    publish(app, storage=storage)
    old = storage.objects["static/js/site.js"]
    storage.objects["static/js/site.js"] = StoredObject(
        old.data, {"Content-Type": "text/plain"}, old.md5
    )
    # Same bytes and MD5: only a HEAD can tell. Make the state entry stale to force it.
    entries = decode(storage.objects[STATE_NAME].data)
    entries["static/js/site.js"] = Recorded("0" * 32, old.md5, entries["static/js/site.js"].headers)
    storage.objects[STATE_NAME] = StoredObject(encode(entries), {}, "")
    report = publish(app, storage=storage)
    assert [(o.key, o.reason) for o in report.with_status("uploaded")] == [
        ("static/js/site.js", "headers changed")
    ]
    assert (
        storage.objects["static/js/site.js"].headers["Content-Type"].startswith("text/javascript")
    )


@pytest.mark.seaweedfs
def test_seaweedfs_multipart_and_headers_without_head(tmp_path: Path, bucket: Bucket) -> None:
    config = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
        "CLOUDCOLLECT_REGION": "us-east-1",
        "CLOUDCOLLECT_MULTIPART_THRESHOLD": 6 * MIB,
        "CLOUDCOLLECT_MULTIPART_CHUNKSIZE": 5 * MIB,
    }
    files = {"static/big.bin": bytes(range(256)) * (12 * MIB // 256), "static/a.css": "a{}"}
    app = make_app(tmp_path, config, files)
    settings = settings_from_config(app.config)
    assert publish(app).counts()["uploaded"] == 2
    storage = S3Storage.from_settings(settings)
    report = publish(app, storage=storage)
    storage.close()
    assert report.counts()["unchanged"] == 2
    assert storage.operations.get("HeadObject", 0) == 0
    assert storage.operations.get("PutObject", 0) == 0
    changed = settings.replace(headers=[("**/*.css", {"Cache-Control": "no-cache"})])
    report = publish(app, changed)
    assert [(o.key, o.reason) for o in report.with_status("uploaded")] == [
        ("static/a.css", "headers changed")
    ]
    assert bucket.head("static/a.css")["CacheControl"] == "no-cache"
    assert bucket.head("static/big.bin")["CacheControl"] == "public, max-age=3600"


class _NoEtagStorage(MemoryStorage):
    """A store whose listing reports sizes and MD5s but no ETag; HEADs are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.heads = 0

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        for listed in super().list(prefix):
            yield dataclasses.replace(listed, etag=None)

    def head(self, key: str) -> RemoteObject | None:
        self.heads += 1
        return super().head(key)


def test_a_store_without_etags_is_matched_by_md5_and_needs_no_head(tmp_path: Path) -> None:
    """state.py: an entry is trusted while the listing shows its MD5 where a store reports
    no ETag, so the headers are known and a no-op run sends no HEAD."""
    app = make_app(tmp_path)
    storage = _NoEtagStorage()
    assert publish(app, storage=storage).exit_code == 0
    storage.heads = 0

    again = publish(app, storage=storage)

    assert again.exit_code == 0, again.to_dict()
    assert again.counts()["uploaded"] == 0
    assert storage.heads == 0
    (tmp_path / "static/css/site.css").write_text("a { color: red }\n")
    changed = publish(app, storage=storage)
    assert [o.key for o in changed.with_status("uploaded")] == ["static/css/site.css"]
    assert storage.heads == 0
