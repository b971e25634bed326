"""The progress bar's estimate of the time left (cloudcollect.eta), on simulated runs.

A run is simulated as the pipeline does it: uploads largest first, ``workers`` at a time,
each taking a request's round trip plus its bytes at one worker's share of the
bandwidth. The estimate made at each completion is compared with the time the run
really had left (up to its last tenth, where any estimate is a few seconds).
"""

from __future__ import annotations

import heapq
import random

import pytest

from cloudcollect.cliprogress import ProgressBar
from cloudcollect.eta import REQUEST_COST, Estimator, format_seconds
from cloudcollect.plan import Action, Plan, Step
from cloudcollect.report import UPLOADED, Outcome

MIB = 1024 * 1024
WORKERS = 16


def simulate(sizes: list[int], bandwidth: float, latency: float) -> list[tuple[float, int]]:
    """(time it ended, size) of each upload, in the order they end."""
    free = [0.0] * WORKERS
    ended = []
    for size in sorted(sizes, reverse=True):
        start = heapq.heappop(free)
        end = start + latency + size / (bandwidth / WORKERS)
        heapq.heappush(free, end)
        ended.append((end, size))
    return sorted(ended)


def tree(seed: int, files: int, total: int) -> list[int]:
    """File sizes as a static folder has them: many small, a few large (Pareto)."""
    rng = random.Random(seed)
    shares = [rng.paretovariate(1.1) for _ in range(files)]
    return [max(1, int(total * share / sum(shares))) for share in shares]


def ratios(sizes: list[int], bandwidth: float, latency: float) -> tuple[list[float], list[float]]:
    """est/true of this module's estimate and of a per-file rate (click's), per completion."""
    ended = simulate(sizes, bandwidth, latency)
    finish = ended[-1][0]
    estimator = Estimator(sizes, WORKERS, 0.0)
    ours: list[float] = []
    per_file: list[float] = []
    for done, (now, size) in enumerate(ended, 1):
        estimator.add(size)
        left = finish - now
        if left < 0.1 * finish:
            break
        estimate = estimator.remaining(now)
        if estimate is not None:
            ours.append(estimate / left)
            per_file.append(now / done * (len(sizes) - done) / left)
    return ours, per_file


def off_by(ratio: float) -> float:
    return max(ratio, 1 / ratio)


@pytest.mark.parametrize(
    ("bandwidth", "latency"),
    [(50e6, 0.04), (20e6, 0.08), (200e6, 0.003)],
    ids=["remote", "slow", "local"],
)
def test_a_static_tree_largest_first(bandwidth: float, latency: float) -> None:
    ours, per_file = ratios(tree(2, 3000, 240 * MIB), bandwidth, latency)
    assert off_by(per_file[0]) > 5  # the cause: the first files done are the largest
    assert off_by(ours[0]) < 2.5, ours[0]
    assert max(map(off_by, ours)) < 2.5


def test_many_small_files_are_not_just_bytes() -> None:
    rng = random.Random(3)
    ours, _ = ratios([rng.randint(1000, 8000) for _ in range(20000)], 50e6, 0.04)
    assert max(map(off_by, ours)) < 1.2


def test_no_estimate_until_the_parallel_workers_have_each_finished_one() -> None:
    estimator = Estimator([100 * MIB] * 4 + [10] * 100, workers=4, started=10.0)
    estimator.add(100 * MIB)
    estimator.add(100 * MIB)
    estimator.add(100 * MIB)
    assert estimator.remaining(20.0) is None
    estimator.add(100 * MIB)
    left = estimator.remaining(20.0)
    assert left is not None and 0 < left < 1
    assert Estimator([], workers=4, started=0.0).remaining(1.0) is None
    assert format_seconds(None) == ""
    assert format_seconds(65.4) == "eta 1:05"
    assert format_seconds(3600 + 61) == "eta 1:01:01"


def test_the_bar_advances_by_cost_and_shows_the_estimate() -> None:
    sizes = [3 * MIB, MIB]
    plan = Plan(tuple(Step(Action.UPLOAD, f"k{i}", "new", None, s) for i, s in enumerate(sizes)))
    bar = ProgressBar(True, workers=1)
    bar.start(plan)
    assert bar.bar.length == sum(sizes) + 2 * REQUEST_COST
    bar(outcome=Outcome("k0", "upload", UPLOADED, "new", 3 * MIB))
    assert bar.bar.pos == 3 * MIB + REQUEST_COST
    assert bar.bar.current_item.startswith("eta 0:")
    bar.finish()


def test_no_estimate_until_2_percent_of_the_work_is_done() -> None:
    """README, *The command*: the time left shows once every worker finished a file *and*
    2 % of the work is done."""
    estimator = Estimator([MIB] * 200, workers=2, started=0.0)  # 2 % is 4 files' cost
    for _ in range(3):
        estimator.add(MIB)
        assert estimator.remaining(5.0) is None  # workers done one each, under 2 %
    estimator.add(MIB)
    assert estimator.remaining(5.0) is not None
