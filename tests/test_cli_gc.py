"""The command raises the collector's first threshold for its run (a quarter of a
100,000-file no-op's CPU went to collections walking the run's objects); ``publish()``,
which runs in its caller's process, leaves the collector as it is."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudcollect import publish
from cloudcollect.cli import GC_FIRST_THRESHOLD, _collect_less_often
from cloudcollect.config import Settings
from tests.support.apps import make_app
from tests.support.flaskcli import run_flask

PROBE = {"CLOUDCOLLECT_STORAGE": "tests.support.gcprobe:GcProbeStorage"}


@pytest.fixture(autouse=True)
def host_thresholds() -> Iterator[None]:
    """Put this process's thresholds back, whatever a test set."""
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_the_command_runs_with_the_raised_threshold(tmp_path: Path) -> None:
    probe = tmp_path / "probe.json"
    result = run_flask(tmp_path, ["-q"], PROBE, {"GC_PROBE_FILE": str(probe)})
    assert result.returncode == 0, result.stderr
    assert json.loads(probe.read_text()) == [GC_FIRST_THRESHOLD, 10, 10]


def test_publish_leaves_its_callers_collector_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = tmp_path / "probe.json"
    monkeypatch.setenv("GC_PROBE_FILE", str(probe))
    gc.set_threshold(700, 10, 10)
    app = make_app(tmp_path / "tree")
    report = publish(app, Settings(storage=PROBE["CLOUDCOLLECT_STORAGE"]))
    assert report.exit_code == 0
    assert json.loads(probe.read_text()) == [700, 10, 10]
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize(
    ("host", "run"),
    [
        ((700, 10, 10), (GC_FIRST_THRESHOLD, 10, 10)),  # Python's default: raised
        ((50_000, 20, 30), (50_000, 20, 30)),  # already higher: kept
        ((0, 10, 10), (0, 10, 10)),  # automatic collection off: stays off
    ],
)
def test_only_a_lower_first_threshold_is_raised(
    host: tuple[int, int, int], run: tuple[int, int, int]
) -> None:
    gc.set_threshold(*host)
    _collect_less_often()
    assert gc.get_threshold() == run
