"""``make bench``: cloudcollect against aws s3 sync, s5cmd, rclone and a raw boto3 floor.

One run starts a fresh SeaweedFS on loopback (``tests.support.seaweed``), generates each
profile's seeded tree (``benchmarks.tree``), and for every scenario runs every tool as a
subprocess against its own bucket:

1. ``cold``: empty bucket, everything is uploaded (the boto3 floor runs here only);
2. ``no-op``: the same tree again;
3. ``1% changed``: the content of 1 % of the files changes (same sizes, same set);
4. ``touched``: every mtime is set to now, no content change (a fresh CI checkout).

Measured per run: wall time (spawn to exit), peak RSS of the tool process (``ru_maxrss``
from ``os.wait4``), and the objects and bytes uploaded, counted independently of the
tool and of SeaweedFS internals by diffing the bucket listing (key, ETag, LastModified)
before and after the run. LastModified has a one-second resolution, so each run starts
at least 1.1 s after the newest object in its bucket was written. The no-op scenario,
being idempotent, runs ``--repeat`` times (default 3): its time is the median, its peak
RSS and upload counts the highest of those runs. Ratios
compare each tool with the best *other* tool of the same scenario (the floor excluded).

Every profile runs in each AWS configuration of ``--aws-config`` (``benchmarks.tools``:
keys in the environment; a config file with an ``s3`` section plus a shared-credentials
profile; keys with a session token, which needs a store that accepts that token: SeaweedFS
4.48 answers InvalidAccessKeyId to any session token it did not issue), every tool with the
same files, each configuration into its own buckets. After each cold run the size of
cloudcollect's state object is recorded.

A separate measurement uploads one big file (2 GiB by default, generated once under
``--big-dir`` and reused) with cloudcollect and the peers, cold, and reports peak RSS;
then cloudcollect touched (the file is hashed again, then found unchanged).

Writes ``docs/benchmarks.md`` and ``docs/benchmarks.png`` unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import tools, tree
from benchmarks.tools import FLOOR, REPO, Target

SCENARIOS = ("cold", "no-op", "1% changed", "touched")
PROFILE_CHOICES = ("default", "small-files", "100k", "both", "all")
SHORT = {"default": "dflt", "small-files": "small", "100k": "100k", "big": "big"}
CONFIG_SHORT = {"env": "e", "profile": "p", "token": "t"}
STATE_KEY = ".cloudcollect-state.json"
MIB = 1024 * 1024


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


def bucket_name(profile: str, tool: str, config: str = "env") -> str:
    return f"bench-{SHORT[profile]}-{CONFIG_SHORT[config]}-{tool}"


# -- measuring ----------------------------------------------------------------------------

Listing = dict[str, tuple[str, float, int]]  # key -> (etag, last modified epoch, size)


def snapshot(client: Any, bucket: str) -> Listing:
    """The bucket listing: every key with its ETag, LastModified and size."""
    found: Listing = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            modified = item["LastModified"].timestamp()
            found[item["Key"]] = (item["ETag"], modified, int(item["Size"]))
    return found


def uploaded(before: Listing, after: Listing) -> tuple[int, int]:
    """Objects (and their bytes) that are new or were rewritten between two listings."""
    changed = [
        entry for key, entry in after.items() if key not in before or before[key][:2] != entry[:2]
    ]
    return len(changed), sum(size for _, _, size in changed)


def wait_past(listing: Listing) -> None:
    """Sleep until a new write would get a later LastModified than any in ``listing``."""
    if listing:
        newest = max(modified for _, modified, _ in listing.values())
        delay = newest + 1.1 - time.time()
        if delay > 0:
            time.sleep(delay)


# Runs the tool from a small interpreter: Linux gives an exec'ed child the peak RSS of the
# process it was forked from, so a tool spawned by this (big) process would report ours.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def timed(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, int, int]:
    """Run ``argv``; return wall seconds, peak RSS (KiB) of the process, exit code.

    A small launcher interpreter spawns the tool and measures it (spawn to exit, and
    ``ru_maxrss`` from ``os.wait4``), so neither our RSS nor its own start-up counts.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    measured = log.with_suffix(".measured")
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(measured), *argv]
    with log.open("wb") as output:
        subprocess.run(
            launcher, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    seconds, rss, code = measured.read_text().split()
    return float(seconds), int(rss), int(code)


class Bench:
    def __init__(self, args: argparse.Namespace, server: Any, client: Any) -> None:
        self.args = args
        self.server = server
        self.client = client
        self.workdir: Path = args.workdir
        scratch = self.workdir / "scratch"
        self.envs = {
            config: tools.base_env(server.env(), scratch / config, config)
            for config in args.aws_configs
        }
        self.results: list[Result] = []
        #: (profile, config) -> bytes of cloudcollect's state object after the cold run
        self.state_sizes: dict[tuple[str, str], int] = {}

    def run_one(
        self, profile: str, scenario: str, tool: str, root: Path, config: str = "env"
    ) -> Result:
        bucket = bucket_name(profile, tool, config)
        scratch = self.workdir / "scratch" / profile / config
        target = Target(root, bucket, self.server.endpoint, scratch)
        argv, env = tools.command(tool, target, self.envs[config])
        before = snapshot(self.client, bucket)
        wait_past(before)
        name = f"{profile}-{config}-{scenario.replace('%', 'pc')}-{tool}.log"
        seconds, rss, code = timed(argv, env, self.workdir / "logs" / name)
        after = snapshot(self.client, bucket)
        objects, size = uploaded(before, after)
        result = Result(profile, scenario, tool, seconds, objects, size, rss, code, config)
        if tool == "cloudcollect" and scenario == "cold" and STATE_KEY in after:
            self.state_sizes[(profile, config)] = after[STATE_KEY][2]
        status = "" if code == 0 else f"  EXIT {code} (see logs/{name})"
        print(
            f"  {config:<7} {scenario:<11} {tool:<21} {seconds:7.2f} s  {objects:6d} obj "
            f"{size / MIB:8.1f} MiB  {rss / 1024:6.1f} MiB RSS{status}",
            flush=True,
        )
        self.results.append(result)
        return result

    def profile(self, profile: str) -> None:
        root = self.workdir / "trees" / profile
        info = tree.generate(root, profile, seed=self.args.seed, scale=self.args.scale)
        print(f"{profile}: {info.files} files, {info.bytes / MIB:.1f} MiB in {root}", flush=True)
        shutil.rmtree(self.workdir / "scratch" / profile, ignore_errors=True)
        for scenario in SCENARIOS:
            if scenario == "1% changed":
                tree.change_some(root, 0.01, seed=self.args.seed)
            elif scenario == "touched":
                tree.touch_all(root)
            for config in self.args.aws_configs:
                for tool in self.args.tools:
                    if tool == FLOOR and scenario != "cold":
                        continue
                    if scenario == "no-op":
                        self.median_of(self.args.repeat, profile, scenario, tool, root, config)
                    else:
                        self.run_one(profile, scenario, tool, root, config)

    def median_of(
        self, count: int, profile: str, scenario: str, tool: str, root: Path, config: str
    ) -> None:
        """Run an idempotent scenario ``count`` times; keep the median time, the highest
        peak RSS and the most objects uploaded of all the runs."""
        runs = [self.run_one(profile, scenario, tool, root, config) for _ in range(max(1, count))]
        for run in runs:
            self.results.remove(run)
        median = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
        self.results.append(
            dataclasses.replace(
                median,
                rss_kib=max(run.rss_kib for run in runs),
                objects=max(run.objects for run in runs),
                bytes=max(run.bytes for run in runs),
                exit_code=max(runs, key=lambda run: abs(run.exit_code)).exit_code,
            )
        )

    def big_file(self) -> None:
        size = self.args.big_mib * MIB
        root = self.args.big_dir / "static"
        path = tree.big_file(root / f"big-{self.args.big_mib}MiB.bin", size, seed=self.args.seed)
        for other in root.iterdir():
            if other != path:
                other.unlink()
        print(f"big file: {path} ({self.args.big_mib} MiB)", flush=True)
        config = self.args.aws_configs[0]
        for tool in self.args.tools:
            if tool != FLOOR:
                self.run_one("big", "cold", tool, root, config)
        tree.touch_all(root)  # a miss in the hash cache: the whole file is hashed again
        self.run_one("big", "touched", "cloudcollect", root, config)


# -- reporting ----------------------------------------------------------------------------


def best_other(results: Sequence[Result], result: Result, field: str) -> float | None:
    """The best (lowest) ``field`` among the other peers of the same profile and scenario."""
    values = [
        float(getattr(other, field))
        for other in results
        if other.profile == result.profile
        and other.scenario == result.scenario
        and other.config == result.config
        and other.tool != result.tool
        and other.tool != FLOOR
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
        "| AWS config | scenario | tool | wall s | × best other | objects up | MiB up "
        "| peak RSS MiB | × best other |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        if result.profile != profile:
            continue
        name = f"**{result.tool}**" if result.tool.startswith("cloudcollect") else result.tool
        failed = "" if result.exit_code == 0 else f" (exit {result.exit_code})"
        lines.append(
            f"| {result.config} | {result.scenario} | {name}{failed} | {result.seconds:.2f} "
            f"| {ratio(result.seconds, best_other(results, result, 'seconds'))} "
            f"| {result.objects} | {result.bytes / MIB:.1f} | {result.rss_kib / 1024:.0f} "
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
        lines.append(f"- {where}, {result.scenario}: {detail}: **{verdict}**")
    for result in results:
        if result.tool == "cloudcollect" and result.profile == "big":
            rss = result.rss_kib / 1024
            verdict = "met" if rss <= 150 else "MISSED"
            lines.append(
                f"- peak RSS, big {result.scenario}: {rss:.0f} MiB (target ≤ 150 MiB): "
                f"**{verdict}**"
            )
    return lines


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


def commit() -> str:
    """The checked-out commit of the benchmarked code (``unknown`` outside git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
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
        "boto3 floor is not a sync tool and is left out of the comparison): below 1.00× "
        "means faster or smaller than every other tool. Objects and bytes uploaded are "
        "counted by diffing the bucket listing (key, ETag, LastModified) before and after "
        "each run, not from the tools' own output. Peak RSS is `ru_maxrss` of the tool "
        "process. No-op times are the median of `--repeat` runs (RSS: the highest), the "
        "other scenarios single runs: "
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


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--profile", choices=PROFILE_CHOICES, default="both")
    parser.add_argument(
        "--aws-config",
        default="env,profile",
        help=f"comma-separated, from {', '.join(tools.AWS_CONFIGS)}, or all (token needs a "
        "store that accepts the session token: SeaweedFS refuses unknown ones)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply file counts")
    parser.add_argument(
        "--tools",
        default=",".join(tools.TOOLS),
        help=f"comma-separated, from {', '.join(tools.TOOLS + tools.OPTIONAL)}",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="no-op runs (median kept)")
    parser.add_argument("--big-mib", type=int, default=2048, help="big file size; 0: skip")
    parser.add_argument("--big-dir", type=Path, default=Path("/tmp/cloudcollect-bench-big"))
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.argv = argv
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for tool in args.tools:
        if tool not in tools.TOOLS + tools.OPTIONAL:
            parser.error(f"unknown tool {tool!r}")
    chosen = tools.AWS_CONFIGS if args.aws_config == "all" else args.aws_config.split(",")
    args.aws_configs = [c.strip() for c in chosen if c.strip()]
    for config in args.aws_configs:
        if config not in tools.AWS_CONFIGS:
            parser.error(f"unknown AWS configuration {config!r}")
    args.workdir = args.workdir.resolve()
    return args


def selected_profiles(choice: str) -> list[str]:
    if choice == "all":
        return ["default", "small-files", "100k"]
    return ["default", "small-files"] if choice == "both" else [choice]


def all_buckets(
    profiles: Iterable[str], names: Iterable[str], configs: Iterable[str], big: bool
) -> tuple[str, ...]:
    configs = list(configs)
    buckets = [bucket_name(p, t, c) for p in profiles for t in names for c in configs]
    if big:
        first = next(iter(configs))
        buckets += [bucket_name("big", t, first) for t in names if t != FLOOR]
    return tuple(buckets)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    import boto3
    from botocore.config import Config

    from tests.support.seaweed import SeaweedServer

    profiles = selected_profiles(args.profile)
    started = time.perf_counter()
    # An installed wheel has its bytecode compiled by pip; the editable install here does
    # not, and the tools run with PYTHONDONTWRITEBYTECODE, so compile once (about 0.1 s a run).
    compileall.compile_dir(REPO / "cloudcollect", quiet=1)
    shutil.rmtree(args.workdir / "seaweedfs", ignore_errors=True)
    buckets = all_buckets(profiles, args.tools, args.aws_configs, args.big_mib > 0)
    server = SeaweedServer(args.workdir / "seaweedfs", buckets=buckets, https=False)
    server.start()
    try:
        credentials = server.env()
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=4),
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            region_name=credentials["AWS_DEFAULT_REGION"],
        )
        bench = Bench(args, server, client)
        for profile in profiles:
            bench.profile(profile)
        if args.big_mib > 0:
            bench.big_file()
    finally:
        server.stop()
        shutil.rmtree(args.workdir / "seaweedfs", ignore_errors=True)
    seconds = time.perf_counter() - started
    results = bench.results
    print()
    for profile in [*profiles, "big"]:
        if any(r.profile == profile for r in results):
            print(f"## {profile}")
            print("\n".join(table(results, profile)))
            print()
    print("\n".join(growth(results, bench.state_sizes)))
    print("\n".join(targets(results)))
    if not args.no_docs:
        args.docs.mkdir(parents=True, exist_ok=True)
        report = markdown(args, results, seconds, bench.state_sizes)
        (args.docs / "benchmarks.md").write_text(report)
        chart(results, args.docs / "benchmarks.png")
        print(f"\nwrote {args.docs / 'benchmarks.md'} and {args.docs / 'benchmarks.png'}")
    print(f"total {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
