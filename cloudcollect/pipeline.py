"""One publish run: discover -> hash (while listing) -> look up -> plan -> upload -> delete
-> finish, each stage taking and returning values (``cloudcollect.stages``); features
(fingerprinting, precompression, the lease, the state object, CloudFront) are plug-ins
called at fixed points (``cloudcollect.run``, ``cloudcollect.plugins``).

``publish(app)`` is the Python API behind ``flask cloudcollect``. It never raises for
problems with individual files or the storage: they are in the returned Report, whose
``exit_code`` follows the CLI contract (0, 1, 2, 3, 4, 130/143).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from flask import Flask

from . import plugins
from .appstate import app_settings
from .config import Settings
from .errors import CloudCollectError
from .hashstage import hash_stage
from .plan import Plan
from .report import Report
from .run import Progress, RunContext
from .sources import static_sources
from .stages import (
    delete_stage,
    deletion_guard,
    discover_stage,
    dry_run_stage,
    list_stage,
    listed,
    look_up_stage,
    plan_stage,
    upload_stage,
)
from .storage.base import Storage


def publish(
    app: Flask,
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    report: Report | None = None,
    verify_headers: bool = False,
) -> Report:
    """Publish ``app``'s static files; return the Report (see the module docstring).

    ``settings`` default to the app's (``CLOUDCOLLECT_*`` config); ``storage`` to the one
    they name (closed at the end only when opened here). ``progress(outcome=...)`` is
    called for every finished key; ``on_plan(plan)`` once the plan is known (before any
    write). Setting ``cancel`` stops scheduling work; the Report then carries Interrupted.
    ``clock`` (default: now, UTC) dates a fingerprinted release, and its cleanup's grace
    when the storage does not tell its own time (see ``storage.base.storage_time``).
    ``report``: an empty Report to fill and return (the CLI keeps it, to print what is
    known if a second signal ends the process); a new one by default.
    ``verify_headers``: read every object's headers with HEAD instead of trusting the
    state object (finds headers changed by another client, which keep the ETag).
    """
    settings = settings or app_settings(app)
    report = report if report is not None else Report(dry_run=dry_run)
    started = time.perf_counter()
    owned = storage is None
    run: RunContext | None = None
    try:
        if storage is None:
            from .storage import open_storage  # imports boto3 only when s3 is used

            storage = open_storage(settings)
        run = RunContext(
            app,
            settings,
            storage,
            report,
            dry_run=dry_run,
            force=force,
            verify_headers=verify_headers,
            progress=progress,
            cancel=cancel,
            on_plan=on_plan,
            clock=clock,
            plugins=plugins.active(settings),
        )
        run_stages(run)
    except CloudCollectError as error:
        report.fatal = error
    finally:
        if run is not None:
            run.close()
        if owned and storage is not None:
            storage.close()
        report.seconds = time.perf_counter() - started
    return report


def run_stages(run: RunContext) -> None:
    """The stages in order, with the plug-ins' hooks between them (``cloudcollect.run``).
    Raises what ``publish`` records as the Report's fatal error; closes nothing."""
    run.start()  # settings checks, before any request
    sources = static_sources(run.app)  # what is listed and what is walked
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudcollect-list") as lister:
        listing = lister.submit(list_stage, run, sources)  # runs while discovering and hashing
        found = discover_stage(run, sources)
        hashed = hash_stage(run, found, listing)
        remote = listed(run, listing)
    assets = run.derive(found, hashed)
    remote = run.remote(look_up_stage(run, assets, remote))
    plan = plan_stage(run, found, assets, remote)
    guard = deletion_guard(run, plan, found, remote)
    if run.dry_run:
        dry_run_stage(run, plan, guard)
        return
    upload_stage(run, plan)
    run.uploaded()
    delete_stage(run, guard)
    run.finished(assets, remote)
