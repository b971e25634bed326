"""The benchmark's report: ratios never compare with the floor, the baseline or Flask's start-up,
a no-op's target says how much of it starting Flask takes, and the before/after table calls
two runs the same only when they published the same files."""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import tree
from benchmarks.report import MIB, SCENARIOS, Result, best_other, comparison, table, targets
from benchmarks.run import Bench, all_buckets, bucket_name, is_own, parse_args
from benchmarks.tools import BASELINE, FLOOR, REPO, STARTUP, TOOLS, Target, command, runs_in


def row(tool: str, seconds: float, *, objects: int = 10, files: int = 10, code: int = 0) -> Result:
    return Result(
        "default", "cold", tool, seconds, objects, objects * MIB, 50_000, code, "env", 1.5,
        (files, files * MIB),
    )  # fmt: skip


def test_neither_the_floor_nor_the_baseline_nor_flask_start_up_is_a_peer() -> None:
    results = [row("cloudcollect", 2.0), row(FLOOR, 0.5), row(BASELINE, 1.0), row("s5cmd", 4.0)]
    results.append(row(STARTUP, 0.3))
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


def no_op(tool: str, seconds: float, config: str = "env") -> Result:
    return Result("default", "no-op", tool, seconds, 0, 0, 50_000, 0, config, seconds)


def test_a_no_op_target_tells_what_starting_flask_alone_takes() -> None:
    results = [no_op("cloudcollect", 0.70), no_op("s5cmd", 0.50), no_op(STARTUP, 0.38)]
    assert best_other(results, results[0], "seconds") == 0.50
    [line] = targets(results)
    assert "1.40× best peer (target ≤ 1.1×): **MISSED**" in line
    assert "(`flask routes` alone: 0.38 s, 0.76× best peer; " in line
    assert "; cloudcollect beyond it: 0.32 s, 0.64×)" in line


@pytest.mark.parametrize(
    "results",
    [
        [no_op("cloudcollect", 0.70), no_op("s5cmd", 0.50)],  # not measured
        [no_op("cloudcollect", 0.70), no_op("s5cmd", 0.50), no_op(STARTUP, 0.4, "profile")],
        [row("cloudcollect", 2.0), row("s5cmd", 4.0), row(STARTUP, 0.4)],  # not a no-op
    ],
    ids=["not measured", "another AWS config", "cold"],
)
def test_flask_start_up_is_told_for_the_no_op_it_was_measured_in_only(
    results: list[Result],
) -> None:
    assert "flask routes" not in "\n".join(targets(results))


def test_the_tools_that_do_not_sync_run_in_one_scenario_each() -> None:
    ran = {tool: [s for s in SCENARIOS if runs_in(tool, s)] for tool in TOOLS}
    assert ran[FLOOR] == ["cold"]
    assert ran[STARTUP] == ["no-op"]
    assert all(ran[tool] == list(SCENARIOS) for tool in TOOLS if tool not in (FLOOR, STARTUP))


def test_the_start_up_command_starts_flask_with_the_app_and_writes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.css").write_text("a {}", encoding="utf-8")
    target = Target(tmp_path, "bucket", "http://127.0.0.1:9", tmp_path / "scratch")
    argv, env = command(STARTUP, target, dict(os.environ))
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "static" in done.stdout and "/static/<path:filename>" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.css"]


def bench_with(**args: object) -> Bench:
    """A Bench with only the arguments a test sets, and no server."""
    bench = object.__new__(Bench)
    bench.results = []
    bench.args = argparse.Namespace(**args)
    return bench


def fake_run_one(bench: Bench, seconds: Callable[[str, str], float]) -> list[tuple[str, ...]]:
    """Replace ``bench.run_one``: each call is recorded as (scenario, config, tool,
    destination) and gives a Result of ``seconds(config, tool)``."""
    calls: list[tuple[str, ...]] = []

    def run_one(
        profile: str,
        scenario: str,
        tool: str,
        root: Path,
        config: str = "env",
        destination: int = 0,
    ) -> Result:
        calls.append((scenario, config, tool, str(destination)))
        time = seconds(config, tool)
        result = Result(profile, scenario, tool, time, 0, 0, 50_000, 0, config, time)
        bench.results.append(result)
        return result

    bench.run_one = run_one  # type: ignore[method-assign]
    return calls


def fake_medians_of(bench: Bench, called: Callable[[str, int], None]) -> None:
    """Replace ``bench.medians_of`` by ``called(scenario, rounds)``."""

    def medians_of(
        count: int,
        profile: str,
        scenario: str,
        root: Path,
        configs: list[str] | None = None,
        names: list[str] | None = None,
    ) -> None:
        called(scenario, count)

    bench.medians_of = medians_of  # type: ignore[method-assign]


def test_rounds_take_turns_across_configs_and_keep_each_tools_median() -> None:
    bench = bench_with(tools=["cloudcollect", "s5cmd", STARTUP], aws_configs=["env", "token"])
    seconds = {
        ("env", "cloudcollect"): iter([0.9, 0.5, 0.6]),
        ("env", "s5cmd"): iter([0.4, 0.3, 0.8]),
        ("token", "cloudcollect"): iter([0.7, 0.7, 0.2]),
        ("token", "s5cmd"): iter([0.1, 0.5, 0.4]),
    }
    calls = fake_run_one(bench, lambda config, tool: next(seconds[(config, tool)]))
    bench.prepare = lambda scenario, root, number: calls.append(("prepare", str(number)))  # type: ignore[method-assign]
    bench.medians_of(3, "default", "touched", Path("."))
    one_round = [
        ("touched", config, tool, "0")
        for config in ("env", "token")
        for tool in ("cloudcollect", "s5cmd")
    ]
    assert calls == [step for n in range(3) for step in [("prepare", str(n)), *one_round]]
    assert [(r.config, r.tool, r.seconds) for r in bench.results] == [
        ("env", "cloudcollect", 0.6),
        ("env", "s5cmd", 0.4),
        ("token", "cloudcollect", 0.7),
        ("token", "s5cmd", 0.4),
    ]


def test_every_scenario_runs_in_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = bench_with(seed=1, scale=1.0, repeat=3)
    bench.workdir = tmp_path
    rounds: list[tuple[str, int]] = []
    monkeypatch.setattr(tree, "generate", lambda root, *a, **k: tree.TreeInfo(root, 0, 0))
    fake_medians_of(bench, lambda scenario, count: rounds.append((scenario, count)))
    bench.profile("default")
    assert rounds == [("cold", 3), ("no-op", 3), ("1% changed", 3), ("touched", 3)]


def test_a_cold_round_after_the_first_publishes_into_a_fresh_bucket_and_scratch(
    tmp_path: Path,
) -> None:
    bench = bench_with(tools=["cloudcollect", "s5cmd", STARTUP], aws_configs=["env"], baseline=None)
    bench.workdir = tmp_path
    bench.server = argparse.Namespace(endpoint="http://127.0.0.1:1")
    calls = fake_run_one(bench, lambda config, tool: 0.5)
    for scenario in ("cold", "touched"):
        bench.medians_of(3, "default", scenario, tmp_path)
    assert [(scenario, tool, int(n)) for scenario, _, tool, n in calls] == [
        *[("cold", tool, n) for n in range(3) for tool in ("cloudcollect", "s5cmd")],
        *[("touched", tool, 0) for n in range(3) for tool in ("cloudcollect", "s5cmd")],
    ]
    targets = [bench.target("default", "cloudcollect", tmp_path, "env", n) for n in range(3)]
    assert len({target.bucket for target in targets}) == 3
    assert len({target.scratch for target in targets}) == 3
    assert targets[0].bucket == bucket_name("default", "cloudcollect", "env")
    buckets = all_buckets(["default"], ["cloudcollect", STARTUP], ["env", "token"], True, 3)
    assert {target.bucket for target in targets} <= set(buckets)
    assert bucket_name("big", "cloudcollect", "env", 2) in buckets
    assert bucket_name("default", STARTUP, "env", 1) not in buckets  # it never runs cold
    assert len(buckets) == len(set(buckets))


def test_the_big_files_cold_rounds_start_without_an_earlier_runs_hash_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = bench_with(tools=["cloudcollect"], aws_configs=["env"], seed=1, repeat=1)
    bench.args.big_mib, bench.args.big_dir = 1, tmp_path / "big"
    bench.workdir = tmp_path / "work"
    left = bench.workdir / "scratch" / "big" / "env" / "cloudcollect" / "xdg-cache"
    left.mkdir(parents=True)  # a reused --workdir: an earlier run's cache
    (left / "md5-v1.log").write_text("cloudcollect-md5-cache 1\n")
    monkeypatch.setattr(tree, "big_file", lambda path, size, seed: _written(path))
    seen: list[bool] = []
    fake_medians_of(bench, lambda scenario, count: seen.append(left.exists()))
    fake_run_one(bench, lambda config, tool: 1.0)
    bench.big_file()
    assert seen == [False]


def _written(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_each_round_changes_other_files_and_touches_every_file_again(tmp_path: Path) -> None:
    for number in range(300):
        (tmp_path / f"f{number}.css").write_bytes(b"body { color: red }" * 8)
    bench = bench_with(seed=5)

    def contents() -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    before = contents()
    changed = []
    for number in range(3):
        bench.prepare("1% changed", tmp_path, number)
        after = contents()
        changed.append({name for name in after if after[name] != before[name]})
        before = after
    assert all(len(names) == 3 for names in changed)  # 1 % of 300, in every round

    for path in tmp_path.iterdir():
        os.utime(path, ns=(0, 0))
    bench.prepare("touched", tmp_path, 1)
    assert all(path.stat().st_mtime_ns > 0 for path in tmp_path.iterdir())
    assert contents() == before  # touched changes no byte
