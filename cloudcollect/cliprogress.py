"""The progress bar of ``flask cloudcollect`` over the planned uploads (a terminal only)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from .eta import Estimator, cost, format_seconds
from .plan import Plan
from .report import Outcome


class ProgressBar:
    """A click progress bar over the planned uploads, shown only on a terminal.

    It advances by each upload's cost (bytes plus a request's worth, ``cloudcollect.eta``)
    and shows that module's estimate instead of click's files-per-second one.
    """

    def __init__(self, enabled: bool, workers: int = 1) -> None:
        self.enabled = enabled
        self.workers = workers
        self.bar: Any = None
        self.eta: Estimator | None = None

    def start(self, plan: Plan) -> None:
        if self.enabled and plan.uploads:
            sizes = [step.size for step in plan.uploads]
            self.eta = Estimator(sizes, self.workers, time.monotonic())
            self.bar = click.progressbar(
                length=self.eta.total,
                label="uploading",
                file=sys.stderr,
                show_eta=False,
                item_show_func=lambda text: text,
            )
            self.bar.__enter__()

    def __call__(self, outcome: Outcome, **_: Any) -> None:
        if self.bar is not None and self.eta is not None and outcome.action == "upload":
            self.eta.add(outcome.size)
            text = format_seconds(self.eta.remaining(time.monotonic()))
            self.bar.update(cost(outcome.size), text or None)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
