"""run_parallel: every result reaches the caller's thread; fatal errors and cancel stop it."""

from __future__ import annotations

import threading
import time

import pytest

from cloudcollect.errors import FatalStorageError, StorageError
from cloudcollect.sync import run_parallel


def test_every_result_reaches_the_calling_thread() -> None:
    seen: list[tuple[int, bool]] = []
    caller = threading.current_thread()

    def record(result: int) -> None:
        seen.append((result, threading.current_thread() is caller))

    run_parallel(range(500), lambda n: n * 2, record, workers=8)
    assert sorted(n for n, _ in seen) == [n * 2 for n in range(500)]
    assert all(in_caller for _, in_caller in seen)


def test_a_generator_is_consumed_lazily_and_empty_input_is_fine() -> None:
    results: list[int] = []
    run_parallel((n for n in range(10)), lambda n: n, results.append, workers=3)
    assert sorted(results) == list(range(10))
    run_parallel([], lambda n: n, results.append, workers=3)
    assert len(results) == 10


def test_fatal_error_stops_scheduling_and_is_raised() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 3:
            raise FatalStorageError("denied", code="AccessDenied")
        return n

    with pytest.raises(FatalStorageError, match="denied"):
        run_parallel(range(1000), work, lambda _: None, workers=1)
    assert started == [0, 1, 2, 3]


def test_caller_giving_up_stops_scheduling() -> None:
    done: list[int] = []
    permits = threading.Semaphore(1)  # the worker runs at most one item ahead

    def work(n: int) -> int:
        permits.acquire()
        return n

    def give_up(n: int) -> None:
        done.append(n)
        permits.release()
        if len(done) == 5:
            raise StorageError("too many failures")

    with pytest.raises(StorageError, match="too many"):
        run_parallel(range(1000), work, give_up, workers=1)
    assert 5 <= len(done) <= 6


def test_cancel_returns_without_scheduling_more() -> None:
    cancel = threading.Event()
    done: list[int] = []

    def work(n: int) -> int:
        if n == 2:
            cancel.set()
        return n

    run_parallel(range(1000), work, done.append, workers=1, cancel=cancel)
    assert done == [0, 1, 2]


def test_a_bug_in_work_propagates() -> None:
    def work(n: int) -> int:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        run_parallel(range(3), work, lambda _: None, workers=2)


def test_workers_run_at_most_their_number_ahead_of_a_slow_caller() -> None:
    """A caller that gives up (the failure streak) stops the run within a bound, even
    when work ends at once and the caller is slow: without one, the workers would take
    every item before the caller has looked at the first results."""
    started: list[int] = []
    seen: list[int] = []

    def slow_give_up(n: int) -> None:
        if not seen:  # the first result: let the workers run ahead if they can
            deadline = time.monotonic() + 0.5  # a wait, not a time limit of the test
            while len(started) < 200 and time.monotonic() < deadline:
                time.sleep(0.01)
        seen.append(n)
        if len(seen) == 5:
            raise StorageError("too many failures")

    def work(n: int) -> int:
        started.append(n)
        return n

    with pytest.raises(StorageError):
        run_parallel(range(1000), work, slow_give_up, workers=3)
    assert len(started) <= 5 + 2 * 3, len(started)
