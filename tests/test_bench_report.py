"""The benchmark's report: ratios never compare with the floor or the baseline, and the
before/after table calls two runs the same only when they published the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.report import MIB, Result, best_other, comparison, table
from benchmarks.run import is_own, parse_args
from benchmarks.tools import BASELINE, FLOOR


def row(tool: str, seconds: float, *, objects: int = 10, files: int = 10, code: int = 0) -> Result:
    return Result(
        "default", "cold", tool, seconds, objects, objects * MIB, 50_000, code, "env", 1.5,
        (files, files * MIB),
    )  # fmt: skip


def test_neither_the_floor_nor_the_baseline_is_a_peer() -> None:
    results = [row("cloudcollect", 2.0), row(FLOOR, 0.5), row(BASELINE, 1.0), row("s5cmd", 4.0)]
    assert best_other(results, results[0], "seconds") == 4.0
    assert best_other(results, results[3], "seconds") == 2.0


def test_the_table_shows_cpu_seconds() -> None:
    lines = table([row("cloudcollect", 2.0), row("s5cmd", 4.0)], "default")
    assert "CPU s" in lines[0]
    assert "| 2.00 | 0.50× | 1.50 | 10 |" in lines[2]


def test_same_results_ignores_cloudcollects_own_objects_only() -> None:
    now, before = row("cloudcollect", 2.0, objects=12), row(BASELINE, 3.0, objects=11)
    lines = comparison([now, before])
    assert len(lines) == 3
    assert "| 10 → 10 |" in lines[2] and "| 1 → 2 |" in lines[2] and lines[2].endswith("| yes |")


@pytest.mark.parametrize(
    "before",
    [row(BASELINE, 3.0, objects=11, files=9), row(BASELINE, 3.0, code=1)],
    ids=["other files", "other exit code"],
)
def test_other_files_or_another_exit_code_are_not_the_same_results(before: Result) -> None:
    lines = comparison([row("cloudcollect", 2.0), before])
    assert lines[2].endswith("| **no** |")


def test_without_a_baseline_there_is_no_comparison() -> None:
    assert comparison([row("cloudcollect", 2.0), row("s5cmd", 4.0)]) == []


@pytest.mark.parametrize(
    ("key", "own"),
    [
        (".cloudcollect-state.json", True),
        ("static/.cloudcollect-lease.json", True),
        ("static/.cloudcollect/manifest.json", True),
        ("static/css/app.css", False),
        ("static/cloudcollect.css", False),
    ],
)
def test_own_objects_are_told_from_published_files(key: str, own: bool) -> None:
    assert is_own(key) is own


def test_a_baseline_runs_beside_cloudcollect_and_must_hold_the_package(tmp_path: Path) -> None:
    (tmp_path / "cloudcollect").mkdir()
    (tmp_path / "cloudcollect" / "__init__.py").touch()
    args = parse_args(["--tools", "cloudcollect,s5cmd", "--baseline", str(tmp_path)])
    assert args.tools == ["cloudcollect", BASELINE, "s5cmd"]
    with pytest.raises(SystemExit):
        parse_args(["--baseline", str(tmp_path / "missing")])
    with pytest.raises(SystemExit):
        parse_args(["--tools", f"cloudcollect,{BASELINE}"])
