"""How long the uploads left will take, for the progress bar. Pure: the clock is passed in.

Why not files per second (click's own estimate over a bar of files, which was 5 to 30
times too long at first): uploads run largest first, so the first files done are the
slowest and a per-file rate counts every small file left as if it were as big. Bytes
alone go wrong the other way on a tail of small files, where each one costs a request.

Model: an upload costs its bytes plus REQUEST_COST (64 KiB, about a request's round trip
at one worker's share of the bandwidth); the rate is the cost done over the time since
``started``. No estimate until ``workers`` uploads and WARM_UP_SHARE of the cost are done:
before that the completions are only the first files of the parallel workers ending,
while the rest of their work is still in flight. A failed upload counts as done (its
file will not be sent again in this run).
"""

from __future__ import annotations

from collections.abc import Sequence

REQUEST_COST = 64 * 1024
WARM_UP_SHARE = 0.02


def cost(size: int) -> int:
    """The work an upload of ``size`` bytes stands for, in bytes."""
    return size + REQUEST_COST


class Estimator:
    """Seconds left of the uploads of ``sizes`` run by ``workers`` in parallel."""

    def __init__(self, sizes: Sequence[int], workers: int, started: float) -> None:
        self.total = sum(cost(size) for size in sizes)
        self.warm_up_files = min(workers, len(sizes))
        self.started = started
        self.files = 0
        self.done = 0

    def add(self, size: int) -> None:
        """One upload of ``size`` bytes has ended."""
        self.files += 1
        self.done += cost(size)

    def remaining(self, now: float) -> float | None:
        """Seconds left at ``now``, or None while too little is done to tell."""
        elapsed = now - self.started
        warm = self.files >= self.warm_up_files and self.done >= WARM_UP_SHARE * self.total
        if not warm or elapsed <= 0 or self.done <= 0:
            return None
        return max(0, self.total - self.done) * elapsed / self.done


def format_seconds(seconds: float | None) -> str:
    """``eta 1:05`` (minutes:seconds, hours when needed), or ``""`` when unknown."""
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"eta {hours}:{minutes:02d}:{secs:02d}" if hours else f"eta {minutes}:{secs:02d}"
