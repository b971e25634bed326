"""The run's plug-in interface: hooks come in the documented order, a new feature is a new
plug-in (here one that adds a file), and no stage edits a value another stage returned."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask

from cloudcollect import plugins
from cloudcollect.config import settings_from_config
from cloudcollect.hashing import md5_of_file, md5_of_stream
from cloudcollect.pipeline import run_stages
from cloudcollect.plan import LocalAsset, Plan
from cloudcollect.release import Release
from cloudcollect.remote import RemoteView, resolve_unknown
from cloudcollect.report import UPLOADED, Report
from cloudcollect.run import Found, Plugin, RunContext, Work
from cloudcollect.storage import MemoryStorage, RemoteObject
from tests.support.apps import make_app

CONFIG = {"CLOUDCOLLECT_STORAGE": "memory", "CLOUDCOLLECT_PREFIX": "site/"}


class Recorder(Plugin):
    """Records every hook; adds one generated file in ``derive`` (a feature as a plug-in)."""

    def __init__(self, extra: Path) -> None:
        self.calls: list[str] = []
        self.extra = extra

    def start(self, run: RunContext) -> None:
        self.calls.append("start")

    def derive(self, run: RunContext, found: Found, assets: list[LocalAsset]) -> list[LocalAsset]:
        self.calls.append("derive")
        info = self.extra.stat()
        added = LocalAsset(
            "site/generated.txt",
            self.extra,
            info.st_size,
            info.st_mtime_ns,
            md5_of_file(self.extra),
        )
        return [*assets, added]

    def remote(self, run: RunContext, remote: RemoteView) -> RemoteView:
        self.calls.append("remote")
        return remote

    def plan(self, run: RunContext, plan: Plan, remote: RemoteView) -> Plan:
        self.calls.append("plan")
        return plan

    def upload_work(self, run: RunContext, work: Work) -> Work:
        self.calls.append("upload_work")
        return work

    def before_write(self, run: RunContext, what: str) -> None:
        self.calls.append(f"before_write {what}")

    def uploaded(self, run: RunContext) -> None:
        self.calls.append("uploaded")

    def finished(self, run: RunContext, assets: list[LocalAsset], remote: RemoteView) -> None:
        self.calls.append("finished")

    def close(self, run: RunContext) -> None:
        self.calls.append("close")


def _run(app: Flask, storage: MemoryStorage, recorder: Recorder, dry_run: bool = False) -> Report:
    settings = settings_from_config(app.config)
    report = Report(dry_run=dry_run)
    active = (*plugins.active(settings), recorder)
    run = RunContext(app, settings, storage, report, dry_run=dry_run, plugins=active)
    try:
        run_stages(run)
    finally:
        run.close()
    return report


def test_hooks_run_in_the_documented_order_and_a_plugin_can_add_a_file(tmp_path: Path) -> None:
    app = make_app(tmp_path, CONFIG)
    (tmp_path / "generated.txt").write_text("made by a plug-in")
    storage = MemoryStorage()
    recorder = Recorder(tmp_path / "generated.txt")

    report = _run(app, storage, recorder)

    assert report.exit_code == 0, (report.fatal, report.warnings)
    assert storage.objects["site/generated.txt"].data == b"made by a plug-in"
    assert any(o.key == "site/generated.txt" and o.status == UPLOADED for o in report.outcomes)
    assert recorder.calls == [
        "start",
        "derive",
        "remote",
        "plan",
        "before_write the uploads",
        "upload_work",
        "uploaded",
        "before_write the state object",
        "before_write the state object",
        "finished",
        "close",
    ]


def test_a_dry_run_stops_after_the_plan_and_still_closes(tmp_path: Path) -> None:
    app = make_app(tmp_path, CONFIG)
    (tmp_path / "generated.txt").write_text("made by a plug-in")
    storage = MemoryStorage()
    recorder = Recorder(tmp_path / "generated.txt")

    report = _run(app, storage, recorder, dry_run=True)

    assert report.exit_code == 0
    assert storage.objects == {}
    assert recorder.calls == ["start", "derive", "remote", "plan", "close"]


def test_a_head_lookup_returns_a_new_view_and_leaves_the_listing_as_it_was() -> None:
    storage = MemoryStorage()
    data = b"multipart once"
    storage.put("k", io.BytesIO(data), len(data), md5_of_bytes(data), {})
    listing = {"k": RemoteObject("k", len(data), md5=None, etag="opaque-2")}
    view = RemoteView(dict(listing), {}, {})
    asset = LocalAsset("k", Path("/nonexistent"), len(data), 1, md5_of_bytes(data))
    settings = settings_from_config({"CLOUDCOLLECT_STORAGE": "memory"})

    looked_up = resolve_unknown([asset], view, storage, Report(), settings)

    assert view.objects == listing and view.live_headers == {}
    assert looked_up.objects["k"].md5 == md5_of_bytes(data)
    assert "k" in (looked_up.live_headers or {})


def test_a_release_leaves_the_listing_it_takes_its_own_objects_from(tmp_path: Path) -> None:
    storage = MemoryStorage()
    settings = settings_from_config({"CLOUDCOLLECT_STORAGE": "memory", "CLOUDCOLLECT_PREFIX": "s/"})
    release = Release(settings, storage, Report(), datetime(2026, 1, 1, tzinfo=timezone.utc))
    listing = {
        "s/a.css": RemoteObject("s/a.css", 1),
        "s/.cloudcollect/manifests/r.json": RemoteObject("s/.cloudcollect/manifests/r.json", 1),
    }
    before = dict(listing)

    others = release.take_own(listing, True)

    assert listing == before
    assert set(others) == {"s/a.css"}
    assert set(release.own) == {"s/.cloudcollect/manifests/r.json"}
    release.close()


def md5_of_bytes(data: bytes) -> str:
    return md5_of_stream(io.BytesIO(data))
