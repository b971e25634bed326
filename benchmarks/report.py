"""The benchmark's report: the tables, the targets, the before/after comparison with a
baseline checkout, and ``docs/benchmarks.md`` with its chart. Pure formatting of
:class:`Result` rows, apart from reading the machine's description and versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import tools, tree
from benchmarks.tools import BASELINE, FLOOR, REPO, STARTUP

SCENARIOS = ("cold", "no-op", "1% changed", "touched")
MIB = 1024 * 1024
#: Rows that are not peers: the raw boto3 floor, an older cloudcollect (``--baseline``) and
#: the start-up of a ``flask`` command that does nothing.
NOT_PEERS = frozenset({FLOOR, BASELINE, STARTUP})


@dataclass(frozen=True)
class Result:
    profile: str
    scenario: str
    tool: str
    seconds: float
    objects: int
    bytes: int
    rss_kib: int
    exit_code: int
    config: str = "env"
    #: CPU seconds (user + system) of the tool process and its children.
    cpu: float = 0.0
    #: (objects, bytes) uploaded that are published files, not cloudcollect's own objects.
    files: tuple[int, int] = (0, 0)


def best_other(results: Sequence[Result], result: Result, field: str) -> float | None:
    """The best (lowest) ``field`` among the other peers of the same profile and scenario
    (never the floor or the baseline: they are not peers)."""
    values = [
        float(getattr(other, field))
        for other in results
        if other.profile == result.profile
        and other.scenario == result.scenario
        and other.config == result.config
        and other.tool != result.tool
        and other.tool not in NOT_PEERS
        and other.exit_code == 0
    ]
    return min(values) if values else None


def ratio(value: float, best: float | None) -> str:
    if best is None:
        return "–"
    if best == 0:
        return "–" if value == 0 else "∞"
    return f"{value / best:.2f}×"


def table(results: Sequence[Result], profile: str) -> list[str]:
    """A Markdown table of one profile: every scenario, every tool, with ratios."""
    lines = [
        "| AWS config | scenario | tool | wall s | × best other | CPU s | objects up | MiB up "
        "| peak RSS MiB | × best other |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        if result.profile != profile:
            continue
        name = f"**{result.tool}**" if result.tool.startswith("cloudcollect") else result.tool
        failed = "" if result.exit_code == 0 else f" (exit {result.exit_code})"
        lines.append(
            f"| {result.config} | {result.scenario} | {name}{failed} | {result.seconds:.2f} "
            f"| {ratio(result.seconds, best_other(results, result, 'seconds'))} "
            f"| {result.cpu:.2f} | {result.objects} | {result.bytes / MIB:.1f} "
            f"| {result.rss_kib / 1024:.0f} "
            f"| {ratio(result.rss_kib, best_other(results, result, 'rss_kib'))} |"
        )
    return lines


#: Issue 14's targets: cloudcollect's time at most this many times the best peer's.
LIMITS = {"cold": 0.9, "no-op": 1.1, "1% changed": 1.1, "touched": 1.1}


def targets(results: Sequence[Result]) -> list[str]:
    """The issue's targets for cloudcollect, checked against this run."""
    lines: list[str] = []
    for result in results:
        if result.tool != "cloudcollect":
            continue
        best = best_other(results, result, "seconds")
        if best is None:
            continue
        limit = 1.0 if result.profile == "big" else LIMITS[result.scenario]
        verdict = "met" if result.seconds <= limit * best and result.exit_code == 0 else "MISSED"
        detail = f"{result.seconds / best:.2f}× best peer (target ≤ {limit}×)"
        if result.scenario == "touched":
            detail += f", {result.bytes} bytes uploaded (target 0)"
            verdict = "MISSED" if result.bytes else verdict
        where = f"{result.profile} ({result.config})"
        startup = _startup(results, result, best)
        lines.append(f"- {where}, {result.scenario}: {detail}: **{verdict}**{startup}")
    for result in results:
        if result.tool == "cloudcollect" and result.profile == "big":
            rss = result.rss_kib / 1024
            verdict = "met" if rss <= 150 else "MISSED"
            lines.append(
                f"- peak RSS, big {result.scenario}: {rss:.0f} MiB (target ≤ 150 MiB): "
                f"**{verdict}**"
            )
    return lines


def _startup(results: Sequence[Result], result: Result, best: float) -> str:
    """For a no-op: the share of the best peer's time that starting ``flask`` alone takes
    in the same profile and configuration (empty when it was not measured)."""
    if result.scenario != "no-op":
        return ""
    for other in results:
        if (other.tool, other.profile, other.config, other.scenario) == (
            STARTUP,
            result.profile,
            result.config,
            result.scenario,
        ) and other.exit_code == 0:
            beyond = result.seconds - other.seconds
            return (
                f" (`flask routes` alone: {other.seconds:.2f} s, {other.seconds / best:.2f}× "
                f"best peer; cloudcollect beyond it: {beyond:.2f} s, {beyond / best:.2f}×)"
            )
    return ""


def growth(results: Sequence[Result], state_sizes: dict[tuple[str, str], int]) -> list[str]:
    """cloudcollect's times by tree size (keys in the environment), with the state object."""
    lines = [
        "| profile | files | cold s | no-op s | 1% changed s | touched s | state object KiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for profile in ("default", "small-files", "100k"):
        mine = {
            r.scenario: r.seconds
            for r in results
            if r.profile == profile and r.tool == "cloudcollect" and r.config == "env"
        }
        if not mine:
            continue
        files = sum(group.count for group in tree.PROFILES[profile])
        cells = " | ".join(f"{mine.get(s, float('nan')):.2f}" for s in SCENARIOS)
        state = state_sizes.get((profile, "env"))
        size = f"{state / 1024:.0f}" if state is not None else "–"
        lines.append(f"| {profile} | {files} | {cells} | {size} |")
    return lines


def comparison(results: Sequence[Result]) -> list[str]:
    """cloudcollect against the ``--baseline`` checkout, row by row: the same published
    files uploaded (count and bytes, cloudcollect's own objects aside) and the same exit
    code is "same results"; times are this run's, side by side."""
    lines = [
        "| profile | AWS config | scenario | files up (baseline → now) | MiB up "
        "| own objects up | wall s (baseline → now) | CPU s (baseline → now) | same results |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = {(r.profile, r.config, r.scenario, r.tool): r for r in results}
    for result in results:
        if result.tool != "cloudcollect":
            continue
        old = rows.get((result.profile, result.config, result.scenario, BASELINE))
        if old is None:
            continue
        same = (old.files, old.exit_code) == (result.files, result.exit_code)
        own = (old.objects - old.files[0], result.objects - result.files[0])
        lines.append(
            f"| {result.profile} | {result.config} | {result.scenario} "
            f"| {old.files[0]} → {result.files[0]} "
            f"| {old.files[1] / MIB:.1f} → {result.files[1] / MIB:.1f} | {own[0]} → {own[1]} "
            f"| {old.seconds:.2f} → {result.seconds:.2f} | {old.cpu:.2f} → {result.cpu:.2f} "
            f"| {'yes' if same else '**no**'} |"
        )
    return lines if len(lines) > 2 else []


def commit(checkout: Path = REPO) -> str:
    """The checked-out commit of ``checkout`` (``unknown`` outside git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=checkout,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or os.environ.get("BENCH_COMMIT", "unknown")


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f"{int(first.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs (shared with SeaweedFS)",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
    }


def markdown(
    args: argparse.Namespace,
    results: Sequence[Result],
    seconds: float,
    state_sizes: dict[tuple[str, str], int],
) -> str:
    present = {r.profile for r in results}
    profiles = [p for p in ("default", "small-files", "100k", "big") if p in present]
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m benchmarks.run {' '.join(args.argv)}`) on "
        f"{today}, in {seconds:.0f} s. All tools ran in one run against one fresh local "
        "SeaweedFS (loopback, HTTP), each into its own bucket; see `benchmarks/run.py` for "
        "the method and `benchmarks/tools.py` for the exact command lines. cloudcollect "
        f"commit: `{commit()}`.",
        "",
        "Ratios compare each tool with the best *other* tool of the same scenario (the raw "
        "boto3 floor and `flask-startup`, `flask --app benchmarks.app routes` timed in the "
        "no-op scenario as what starting any `flask` command of the app costs, are not sync "
        "tools and are left out of the comparison): below 1.00× "
        "means faster or smaller than every other tool. Objects and bytes uploaded are "
        "counted by diffing the bucket listing (key, ETag, LastModified) before and after "
        "each run, not from the tools' own output. Peak RSS is `ru_maxrss` of the tool "
        "process; CPU s is its user plus system time (with its children), which a busy "
        "machine disturbs less than wall time. Every scenario, the big file's included, runs "
        "in `--repeat` rounds, the tools taking turns (a cold round into fresh buckets), and "
        "keeps each tool's median (RSS: the highest): "
        "expect ±10-20 % noise, more on a shared machine (the two CPUs also run SeaweedFS, "
        "and this is a shared development VM where other work may run at the same time).",
        "",
        "Scenarios: **cold** (empty bucket); **no-op** (same tree again); **1% changed** "
        "(content of 1 % of the files changed, same sizes); **touched** (every mtime set to "
        "now, content unchanged: what a CI checkout looks like to an mtime-based tool).",
        "",
        "## Machine and versions",
        "",
    ]
    out += [f"- {name}: {value}" for name, value in machine().items()]
    out += [f"- {name}: {value}" for name, value in tools.versions().items()]
    out += [f"- seed {args.seed}, scale {args.scale}", ""]
    for profile in profiles:
        subset = [r for r in results if r.profile == profile]
        if profile == "big":
            out += [f"## One {args.big_mib} MiB file", ""]
        else:
            files = len(tree.all_files(args.workdir / "trees" / profile))
            out += [f"## Profile `{profile}` ({files} files)", ""]
        out += [*table(subset, profile), ""]
    out += ["## Growth with the number of files (cloudcollect, keys in the environment)", ""]
    out += [*growth(results, state_sizes), ""]
    out += ["## Targets (issue 14)", "", *targets(results), ""]
    before_after = comparison(results)
    if before_after:
        out += [f"## Before and after (baseline: `{args.baseline_commit}`)", "", *before_after, ""]
    out += ["![wall time per scenario](benchmarks.png)", ""]
    return "\n".join(out)


def chart(results: Sequence[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = [p for p in ("default", "small-files") if any(r.profile == p for r in results)]
    if not profiles:
        return
    figure, axes = plt.subplots(1, len(profiles), figsize=(7 * len(profiles), 4.5), squeeze=False)
    for axis, profile in zip(axes[0], profiles, strict=True):
        subset = [r for r in results if r.profile == profile]
        names = list(dict.fromkeys(r.tool for r in subset))
        width = 0.8 / len(names)
        for index, name in enumerate(names):
            xs, ys = [], []
            for position, scenario in enumerate(SCENARIOS):
                for result in subset:
                    if result.tool == name and result.scenario == scenario:
                        xs.append(position + (index - (len(names) - 1) / 2) * width)
                        ys.append(result.seconds)
            axis.bar(xs, ys, width, label=name)
        axis.set_xticks(range(len(SCENARIOS)), SCENARIOS)
        axis.set_yscale("log")
        axis.set_ylabel("wall time, s (log)")
        axis.set_title(profile)
        axis.grid(axis="y", which="both", alpha=0.3)
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
