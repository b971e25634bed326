"""Signals for ``flask cloudcollect``: SIGINT and SIGTERM stop scheduling new transfers
(the run then ends with exit 130/143 after in-flight ones); a second signal prints the
summary of what is known and exits at once, with the same code (``os._exit``: no thread
is joined). Only in the main thread; elsewhere signals are left alone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import NoReturn

from .errors import Interrupted
from .report import Report


class Cancel(threading.Event):
    """A cancel event that remembers which signal set it, and the Report being filled
    (summarised if a second signal ends the process)."""

    signum = signal.SIGINT.value
    report: Report | None = None
    started = 0.0


@contextmanager
def signals_cancel(cancel: Cancel) -> Iterator[None]:
    """While active, SIGINT/SIGTERM set ``cancel``; a second signal ends the process at
    once (:func:`_exit_now`)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            _exit_now(signum, cancel)
        cancel.signum = signum
        cancel.set()
        _write_stderr(f"\nstopping after in-flight transfers (signal {signum})...\n")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _exit_now(signum: int, cancel: Cancel) -> NoReturn:
    """The second signal: print the summary of what is known and leave with 128 + signum
    without waiting for in-flight transfers (``os._exit``: no thread is joined). An
    incomplete multipart upload may stay behind (see the README's lifecycle rule)."""
    lines = [f"second signal {signum}: exiting now, in-flight transfers abandoned"]
    report = cancel.report
    if report is not None:
        report.fatal = Interrupted(signum)
        report.seconds = time.perf_counter() - cancel.started
        lines.append(report.summary_line())
    _write_stderr("\n" + "\n".join(lines) + "\n")
    os._exit(128 + signum)


def _write_stderr(text: str) -> None:
    """Write to fd 2 directly: a signal handler may interrupt a buffered write to
    ``sys.stderr``, which must not be re-entered."""
    with suppress(OSError):
        os.write(2, text.encode("utf-8", "replace"))
