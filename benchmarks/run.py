"""``make bench``: cloudcollect against aws s3 sync, s5cmd, rclone and a raw boto3 floor.

One run starts a fresh SeaweedFS on loopback (``tests.support.seaweed``), generates each
profile's seeded tree (``benchmarks.tree``), and for every scenario runs every tool as a
subprocess against its own bucket:

1. ``cold``: empty bucket, everything is uploaded (the boto3 floor runs here only);
2. ``no-op``: the same tree again (``flask-startup``, ``flask --app benchmarks.app routes``,
   runs here only: the start-up every ``flask`` command of the app pays);
3. ``1% changed``: the content of 1 % of the files changes (same sizes, same set);
4. ``touched``: every mtime is set to now, no content change (a fresh CI checkout).

Measured per run: wall time (spawn to exit), CPU time (user + system) and peak RSS of the
tool process (``os.wait4``), and the objects and bytes uploaded, counted independently of the
tool and of SeaweedFS internals by diffing the bucket listing (key, ETag, LastModified)
before and after the run. LastModified has a one-second resolution, so each run starts
at least 1.1 s after the newest object in its bucket was written. Every scenario,
the big file's included, runs in ``--repeat`` rounds (default 3), the tools taking turns:
a round prepares the tree once (cold: each tool publishes into a fresh bucket of its own,
with a fresh hash cache; 1% changed: another 1 % of the files, chosen with the seed plus
the round; touched: every mtime set to now again), then runs every tool in every
configuration. A tool's time is the median of its rounds, its peak RSS and upload counts
the highest; the later scenarios go on in the first cold round's buckets. Ratios compare
each tool with the best *other* tool of the same scenario (the floor and
``flask-startup`` excluded).

Every profile runs in each AWS configuration of ``--aws-config`` (``benchmarks.tools``:
keys in the environment; a config file with an ``s3`` section plus a shared-credentials
profile; temporary keys with a session token, issued by the bench's SeaweedFS through its
own STS, which the server is started with only when ``token`` is chosen), every tool with
the same files and credentials, each configuration into its own buckets. After each cold
run the size of cloudcollect's state object is recorded.

A separate measurement uploads one big file (2 GiB by default, generated once under
``--big-dir`` and reused) with cloudcollect and the peers, cold, in the first AWS
configuration, in rounds as above, and reports peak RSS;
then cloudcollect touched (the file is hashed again, then found unchanged).

``--baseline DIR`` (a checkout of another commit, e.g. ``git worktree add DIR <commit>``)
adds ``cloudcollect-baseline``: that checkout's cloudcollect, run the same way in the same
run, and a before/after table (same objects and bytes uploaded = same results). It is not
a peer: ratios never compare against it.

Writes ``docs/benchmarks.md`` and ``docs/benchmarks.png`` unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import tools, tree
from benchmarks.report import (
    MIB,
    SCENARIOS,
    Result,
    chart,
    commit,
    comparison,
    growth,
    markdown,
    table,
    targets,
)
from benchmarks.tools import BASELINE, ONLY_IN, REPO, Target

if TYPE_CHECKING:
    from tests.support.seaweed import SeaweedServer

PROFILE_CHOICES = ("default", "small-files", "100k", "both", "all")
SHORT = {"default": "dflt", "small-files": "small", "100k": "100k", "big": "big"}
CONFIG_SHORT = {"env": "e", "profile": "p", "token": "t"}
STATE_KEY = ".cloudcollect-state.json"


def bucket_name(profile: str, tool: str, config: str = "env", destination: int = 0) -> str:
    """The tool's bucket; ``destination`` n > 0: the fresh one of the n-th cold round after
    the first (the other scenarios use the first's)."""
    suffix = f"-r{destination}" if destination else ""
    return f"bench-{SHORT[profile]}-{CONFIG_SHORT[config]}-{tool}{suffix}"


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


def uploaded(before: Listing, after: Listing, *, files_only: bool = False) -> tuple[int, int]:
    """Objects (and their bytes) that are new or were rewritten between two listings;
    ``files_only``: not counting cloudcollect's own objects (state object, lease, manifest)."""
    changed = [
        entry
        for key, entry in after.items()
        if (key not in before or before[key][:2] != entry[:2]) and not (files_only and is_own(key))
    ]
    return len(changed), sum(size for _, _, size in changed)


def is_own(key: str) -> bool:
    """Whether ``key`` is one of cloudcollect's own objects rather than a published file."""
    return any(part.startswith(".cloudcollect") for part in key.split("/"))


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
cpu = usage.ru_utime + usage.ru_stime
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu}")
"""


def timed(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, int, int, float]:
    """Run ``argv``; return wall seconds, peak RSS (KiB) of the process, exit code and CPU
    seconds (user + system, its reaped children included).

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
    seconds, rss, code, cpu = measured.read_text().split()
    return float(seconds), int(rss), int(code), float(cpu)


def credentials(server: SeaweedServer, config: str) -> dict[str, str]:
    """The server's static test keys, or for ``token`` a session its STS issues (one for
    every tool, valid for 12 hours so that no run outlives it)."""
    from tests.support.sts import MAX_SECONDS

    return server.session_env(MAX_SECONDS) if config == "token" else server.env()


class Bench:
    def __init__(self, args: argparse.Namespace, server: Any, client: Any) -> None:
        self.args = args
        self.server = server
        self.client = client
        self.workdir: Path = args.workdir
        scratch = self.workdir / "scratch"
        self.envs = {
            config: tools.base_env(credentials(server, config), scratch / config, config)
            for config in args.aws_configs
        }
        self.results: list[Result] = []
        #: (profile, config) -> bytes of cloudcollect's state object after the cold run
        self.state_sizes: dict[tuple[str, str], int] = {}

    def target(
        self, profile: str, tool: str, root: Path, config: str, destination: int = 0
    ) -> Target:
        """Where ``tool`` publishes ``root``: a cold round after the first (``destination``
        > 0) gets a bucket and a scratch space (config files, hash cache) of its own."""
        bucket = bucket_name(profile, tool, config, destination)
        scratch = self.workdir / "scratch" / profile / config / tool
        if destination:
            scratch = scratch.with_name(f"{tool}-r{destination}")
        return Target(root, bucket, self.server.endpoint, scratch, self.args.baseline)

    def run_one(
        self,
        profile: str,
        scenario: str,
        tool: str,
        root: Path,
        config: str = "env",
        destination: int = 0,
    ) -> Result:
        target = self.target(profile, tool, root, config, destination)
        bucket = target.bucket
        argv, env = tools.command(tool, target, self.envs[config])
        before = snapshot(self.client, bucket)
        wait_past(before)
        name = f"{profile}-{config}-{scenario.replace('%', 'pc')}-{tool}.log"
        seconds, rss, code, cpu = timed(argv, env, self.workdir / "logs" / name)
        after = snapshot(self.client, bucket)
        objects, size = uploaded(before, after)
        files = uploaded(before, after, files_only=True)
        result = Result(
            profile, scenario, tool, seconds, objects, size, rss, code, config, cpu, files
        )
        if tool == "cloudcollect" and scenario == "cold" and STATE_KEY in after:
            self.state_sizes[(profile, config)] = after[STATE_KEY][2]
        status = "" if code == 0 else f"  EXIT {code} (see logs/{name})"
        print(
            f"  {config:<7} {scenario:<11} {tool:<21} {seconds:7.2f} s  {objects:6d} obj "
            f"{size / MIB:8.1f} MiB  {rss / 1024:6.1f} MiB RSS  {cpu:6.2f} s CPU{status}",
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
            self.medians_of(self.args.repeat, profile, scenario, root)

    def medians_of(
        self,
        count: int,
        profile: str,
        scenario: str,
        root: Path,
        configs: list[str] | None = None,
        names: list[str] | None = None,
    ) -> None:
        """Run ``scenario`` in ``count`` rounds: each prepares the tree (:meth:`prepare`),
        then runs every tool of the scenario (``names``) once in every configuration
        (``configs``; default: all of them), so that a machine whose speed drifts over the
        minutes weighs on every tool alike. A cold round after the first publishes into
        fresh buckets (:meth:`target`). Keep for each tool and configuration the median
        time, the highest peak RSS and the most objects uploaded of its runs."""
        if names is None:
            names = [tool for tool in self.args.tools if tools.runs_in(tool, scenario)]
        runs: dict[tuple[str, str], list[Result]] = {}
        for number in range(max(1, count)):
            self.prepare(scenario, root, number)
            destination = number if scenario == "cold" else 0
            for config in configs or self.args.aws_configs:
                for tool in names:
                    result = self.run_one(profile, scenario, tool, root, config, destination)
                    runs.setdefault((config, tool), []).append(result)
        for mine in runs.values():
            for run in mine:
                self.results.remove(run)
            median = sorted(mine, key=lambda run: run.seconds)[len(mine) // 2]
            self.results.append(
                dataclasses.replace(
                    median,
                    rss_kib=max(run.rss_kib for run in mine),
                    objects=max(run.objects for run in mine),
                    bytes=max(run.bytes for run in mine),
                    files=max(run.files for run in mine),
                    exit_code=max(mine, key=lambda run: abs(run.exit_code)).exit_code,
                )
            )

    def prepare(self, scenario: str, root: Path, number: int) -> None:
        """Make round ``number`` of ``scenario`` start from what it measures: a 1 % of the
        files not changed by an earlier round's seed (the same seed would write the same
        bytes again, a no-op), or every mtime new again."""
        if scenario == "1% changed":
            tree.change_some(root, 0.01, seed=self.args.seed + number)
        elif scenario == "touched":
            tree.touch_all(root)

    def big_file(self) -> None:
        size = self.args.big_mib * MIB
        root = self.args.big_dir / "static"
        path = tree.big_file(root / f"big-{self.args.big_mib}MiB.bin", size, seed=self.args.seed)
        for other in root.iterdir():
            if other != path:
                other.unlink()
        print(f"big file: {path} ({self.args.big_mib} MiB)", flush=True)
        # The file is reused, so a hash cache left by an earlier run would know its MD5.
        shutil.rmtree(self.workdir / "scratch" / "big", ignore_errors=True)
        config = self.args.aws_configs[0]
        names = [tool for tool in self.args.tools if tool not in ONLY_IN]
        self.medians_of(self.args.repeat, "big", "cold", root, [config], names)
        tree.touch_all(root)  # a miss in the hash cache: the whole file is hashed again
        self.run_one("big", "touched", "cloudcollect", root, config)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--profile", choices=PROFILE_CHOICES, default="both")
    parser.add_argument(
        "--aws-config",
        default="env,profile",
        help=f"comma-separated, from {', '.join(tools.AWS_CONFIGS)}, or all (token: a "
        "session token from the server's own STS)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply file counts")
    parser.add_argument(
        "--tools",
        default=",".join(tools.TOOLS),
        help=f"comma-separated, from {', '.join(tools.TOOLS + tools.OPTIONAL)}",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of every scenario (median kept)"
    )
    parser.add_argument("--big-mib", type=int, default=2048, help="big file size; 0: skip")
    parser.add_argument("--big-dir", type=Path, default=Path("/tmp/cloudcollect-bench-big"))
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another commit (e.g. a git worktree): its cloudcollect runs as "
        f"the tool {BASELINE!r} beside this one, for a before/after table",
    )
    args = parser.parse_args(argv)
    args.argv = argv
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "cloudcollect" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no cloudcollect package there")
        if BASELINE not in args.tools:
            index = args.tools.index("cloudcollect") + 1 if "cloudcollect" in args.tools else 0
            args.tools.insert(index, BASELINE)
    elif BASELINE in args.tools:
        parser.error(f"the tool {BASELINE!r} needs --baseline DIR")
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


def package_only(checkout: Path, folder: Path) -> Path:
    """``folder`` holding only a link to ``checkout``'s cloudcollect package, for PYTHONPATH
    (the checkout's own ``benchmarks`` and ``tests`` must not shadow this one's)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "cloudcollect").symlink_to(checkout / "cloudcollect", target_is_directory=True)
    return folder


def selected_profiles(choice: str) -> list[str]:
    if choice == "all":
        return ["default", "small-files", "100k"]
    return ["default", "small-files"] if choice == "both" else [choice]


def all_buckets(
    profiles: Iterable[str],
    names: Iterable[str],
    configs: Iterable[str],
    big: bool,
    rounds: int = 1,
) -> tuple[str, ...]:
    """Every bucket a run uses: each tool's per profile and configuration, and one more
    for each cold round after the first; the same for the big file (first config)."""
    configs, names = list(configs), list(names)
    places = [(p, t, c) for p in profiles for t in names for c in configs]
    if big:
        places += [("big", t, configs[0]) for t in names if t not in ONLY_IN]
    buckets = [bucket_name(*place) for place in places]
    for destination in range(1, rounds):
        buckets += [
            bucket_name(profile, tool, config, destination)
            for profile, tool, config in places
            if tools.runs_in(tool, "cold")
        ]
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
    args.baseline_commit = None
    if args.baseline is not None:
        compileall.compile_dir(args.baseline / "cloudcollect", quiet=1)
        args.baseline_commit = commit(args.baseline)
        args.baseline = package_only(args.baseline, args.workdir / "baseline-path")
    shutil.rmtree(args.workdir / "seaweedfs", ignore_errors=True)
    buckets = all_buckets(
        profiles, args.tools, args.aws_configs, args.big_mib > 0, max(1, args.repeat)
    )
    sts = "token" in args.aws_configs
    server = SeaweedServer(args.workdir / "seaweedfs", buckets=buckets, https=False, sts=sts)
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
    print("\n".join(comparison(results)))
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
