"""Run the steps of a Plan through a storage with a thread pool.

Results reach the caller in its own thread (for progress bars and the report). A
FatalStorageError stops scheduling at once (pending work is cancelled) and is raised once
in-flight work has finished; a set ``cancel`` event stops scheduling the same way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

from .errors import FatalStorageError, StorageError
from .plan import Step
from .report import DELETED, FAILED, UPLOADED, Outcome, Report
from .storage.base import Storage

Progress = Callable[..., None]
T = TypeVar("T")
R = TypeVar("R")
DELETE_BATCH = 1000


def run_parallel(
    items: Iterable[T],
    work: Callable[[T], R],
    on_result: Callable[[R], None],
    *,
    workers: int,
    cancel: threading.Event | None = None,
) -> None:
    """Run ``work`` on every item with ``workers`` threads; pass each result to
    ``on_result`` in the calling thread, in completion order.

    Stops scheduling on a FatalStorageError (re-raised once in-flight items finished) or
    when ``cancel`` is set (then returns early: the caller decides what that means).
    """
    stop = cancel or threading.Event()
    fatal: FatalStorageError | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudcollect") as pool:
        futures = [pool.submit(_unless_stopped, stop, work, item) for item in items]
        for future in as_completed(futures):
            if future.cancelled():
                continue
            try:
                result = future.result()
            except FatalStorageError as error:
                fatal = fatal or error
                stop.set()
            else:
                if result is not _STOPPED:
                    on_result(result)
            if stop.is_set():
                for pending in futures:
                    pending.cancel()
    if fatal is not None:
        raise fatal


_STOPPED: Any = object()


def _unless_stopped(stop: threading.Event, work: Callable[[T], R], item: T) -> Any:
    return _STOPPED if stop.is_set() else work(item)


def upload_step(storage: Storage) -> Callable[[Step], Outcome]:
    """A worker that uploads one step's file and returns its Outcome (never raises,
    except FatalStorageError).

    The file is opened once; if its size or mtime differ from what was hashed, before or
    after the transfer, the key fails ("changed during upload") instead of being reported
    as published: the stored bytes may not match the MD5 the plan relied on.
    """

    def upload(step: Step) -> Outcome:
        asset = step.asset
        assert asset is not None
        try:
            with asset.path.open("rb") as stream:
                if _changed(os.fstat(stream.fileno()), asset.size, asset.mtime_ns):
                    return _failed(step, "SourceChanged", "file changed since it was hashed")
                etag = storage.put(asset.key, stream, asset.size, asset.md5, asset.headers)
            if _changed(os.stat(asset.path), asset.size, asset.mtime_ns):
                return _failed(step, "SourceChanged", "file changed during upload")
        except FatalStorageError:
            raise
        except StorageError as error:
            return _failed(step, error.code or "Error", str(error), error)
        except OSError as error:
            return _failed(step, "LocalReadError", f"{error.strerror or error}")
        return Outcome(step.key, "upload", UPLOADED, step.reason, step.size, etag=etag)

    return upload


def delete_keys(steps: list[Step], storage: Storage, report: Report) -> None:
    """Delete the steps' keys in batches; record each key as deleted or failed."""
    for start in range(0, len(steps), DELETE_BATCH):
        batch = steps[start : start + DELETE_BATCH]
        try:
            failures = {f.key: f for f in storage.delete([step.key for step in batch])}
        except FatalStorageError:
            raise
        except StorageError as error:
            for step in batch:
                report.add(_failed(step, error.code or "Error", str(error), error, "delete"))
            continue
        for step in batch:
            failure = failures.get(step.key)
            if failure is None:
                report.add(Outcome(step.key, "delete", DELETED, step.reason, step.size))
            else:
                report.add(_failed(step, failure.code, failure.message, action="delete"))


def _changed(stat: os.stat_result, size: int, mtime_ns: int) -> bool:
    return stat.st_size != size or stat.st_mtime_ns != mtime_ns


def _failed(
    step: Step,
    code: str,
    message: str,
    error: StorageError | None = None,
    action: str = "upload",
) -> Outcome:
    return Outcome(
        step.key,
        action,
        FAILED,
        step.reason,
        step.size,
        error_code=code,
        request_id=error.request_id if error else None,
        message=message,
        retries=error.retries if error else 0,
    )
