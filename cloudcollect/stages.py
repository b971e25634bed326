"""The stages of a run, in order: discover, (hash: ``cloudcollect.hashstage``), list, look
up, plan, upload, delete. Each takes values and returns new ones; plug-ins are called
through the RunContext at the points ``cloudcollect.run`` names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from .bundler import hashed_paths
from .deletion import OutsideSync, allowed_deletes, delete_scope, record_dry_run
from .discovery import Discovery, discover
from .errors import StorageError
from .lease import lease_key
from .plan import LocalAsset, Plan, Step, make_plan
from .remote import RemoteView, listing_roots, read_remote, resolve_unknown
from .report import FAILED, UNCHANGED, UPLOADED, Outcome, Report
from .run import UPLOADS, Found, Progress, RunContext, UploadOrder
from .sources import StaticSource
from .state import state_key
from .sync import delete_keys, run_parallel, upload_step

#: Stop uploading after this many (at least ``workers``) storage failures in a row: the
#: storage is down or refusing everything, and each further key would only add retries.
FAILURE_STREAK = 10
#: Failure codes that say nothing about the storage.
#: The code of an upload left out because a file it refers to was not uploaded.
NOT_UPLOADED = "ReferenceNotUploaded"
_LOCAL_FAILURES = frozenset(
    {"SourceChanged", "LocalReadError", "InvalidKey", "Interrupted", NOT_UPLOADED}
)


def discover_stage(run: RunContext, sources: list[StaticSource]) -> Found:
    """The files of the app's static ``sources``, without cloudcollect's own keys (a file
    with the state object's or the lease's key is never published: a warning); what
    discovery skipped is recorded in the report."""
    discovery = discover(run.app, run.settings, sources)
    prefix = run.settings.prefix
    own = {state_key(prefix), lease_key(prefix)}
    for file in discovery.files:
        if file.key in own:
            run.report.warn(
                f"{file.path} is not published: {file.key} is cloudcollect's own object"
            )
    files = [file for file in discovery.files if file.key not in own]
    discovery = dataclasses.replace(discovery, files=files)
    _record_discovery(discovery, run.report)
    return Found(discovery, hashed_paths(discovery, run.settings, run.report.warn))


def list_stage(run: RunContext, sources: list[StaticSource]) -> RemoteView:
    """The preflight (bucket, credentials), then the listing of the run's roots (the
    prefix; without one, the URL roots of the static ``sources``: ``remote.listing_roots``)
    and the state object (not trusted with ``verify_headers``: every key's headers are
    then read with HEAD)."""
    run.storage.check()
    roots = listing_roots(sources, run.settings.prefix)
    return read_remote(run.settings, run.storage, not run.verify_headers, roots)


def listed(run: RunContext, listing: Future[RemoteView]) -> RemoteView:
    """The listing's result; why the state object was ignored becomes a warning."""
    remote = listing.result()
    for problem in remote.problems:
        run.report.warn(problem)
    return remote


def look_up_stage(run: RunContext, assets: list[LocalAsset], remote: RemoteView) -> RemoteView:
    """The remote view with a HEAD's answer for every key the listing cannot decide."""
    return resolve_unknown(assets, remote, run.storage, run.report, run.settings)


def plan_stage(run: RunContext, found: Found, assets: list[LocalAsset], remote: RemoteView) -> Plan:
    """The plan (as plug-ins change it); told to ``on_plan``; its skips are recorded."""
    run.check_cancel()
    settings = run.settings
    scope = delete_scope(found.discovery, settings) if settings.delete else None
    plan = make_plan(
        assets,
        remote.objects,
        force=run.force,
        delete_within=scope,
        live_headers=remote.live_headers,
        outside_sync=OutsideSync(found.discovery),
    )
    plan = run.plan(plan, remote)
    if run.on_plan is not None:
        run.on_plan(plan)
    for step in plan.skips:
        run.report.add(Outcome(step.key, "skip", UNCHANGED, step.reason, step.size))
    return plan


def deletion_guard(
    run: RunContext, plan: Plan, found: Found, remote: RemoteView
) -> Callable[[], list[Step] | None]:
    """The deletions every guard allows (``cloudcollect.deletion``), when called."""
    return partial(allowed_deletes, plan, found.discovery, run.settings, run.report, remote)


def dry_run_stage(run: RunContext, plan: Plan, guard: Callable[[], list[Step] | None]) -> None:
    """Record what a real run would do (and refuse, with its exit code)."""
    record_dry_run(plan, guard, run.report)


def upload_stage(run: RunContext, plan: Plan) -> None:
    """Upload the plan's steps in the plug-ins' groups (``RunContext.order``; by default
    one group, the largest first: no big file at the tail). A step that needs a key which
    was not uploaded fails without a request (code ``ReferenceNotUploaded``)."""
    if plan.uploads:
        run.before_write(UPLOADS)
    settings = run.settings
    order = run.order(plan.uploads)
    work = run.upload_work(upload_step(run.storage, run.cancel))
    collect = _collect(
        run.report, run.progress, give_up_after=max(FAILURE_STREAK, settings.workers)
    )
    uploaded: set[str] = set()

    def record(outcome: Outcome) -> None:
        if outcome.status == UPLOADED:
            uploaded.add(outcome.key)
        collect(outcome)

    try:
        for group in order.groups:
            run.check_cancel()
            ready = [step for step in group if _may_upload(step, order, uploaded, record)]
            run_parallel(ready, work, record, workers=settings.workers, cancel=run.cancel)
    finally:
        _note_not_done(plan, run.report)
    run.check_cancel()


def _may_upload(
    step: Step, order: UploadOrder, uploaded: set[str], record: Callable[[Outcome], None]
) -> bool:
    """True when ``step`` may be uploaded; else its failure is recorded (False)."""
    missing = sorted(order.needs.get(step.key, frozenset()) - uploaded)
    if not missing:
        return True
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    record(
        Outcome(
            step.key,
            "upload",
            FAILED,
            step.reason,
            step.size,
            error_code=NOT_UPLOADED,
            message=f"not uploaded: it refers to {missing[0]}{more}, which was not uploaded",
        )
    )
    return False


def delete_stage(run: RunContext, guard: Callable[[], list[Step] | None]) -> None:
    """Delete what every guard allows."""
    deletes = guard()
    if deletes:
        run.before_write("the deletions")
        delete_keys(deletes, run.storage, run.report)


def _collect(
    report: Report, progress: Progress | None, *, give_up_after: int | None = None
) -> Callable[[Outcome], None]:
    """Record each Outcome; raise StorageError (stops the run, exit 1) after
    ``give_up_after`` storage failures in a row."""
    streak: list[Outcome] = []

    def collect(outcome: Outcome) -> None:
        report.add(outcome)
        if progress is not None:
            progress(outcome=outcome)
        if outcome.status != FAILED or outcome.error_code in _LOCAL_FAILURES:
            streak.clear()
            return
        streak.append(outcome)
        if give_up_after is not None and len(streak) >= give_up_after:
            raise StorageError(
                f"stopped early: {len(streak)} uploads in a row failed (last: "
                f"{outcome.error_code}); is the storage reachable? A re-run uploads only "
                "what is missing",
                code=outcome.error_code,
            )

    return collect


def _note_not_done(plan: Plan, report: Report) -> None:
    """Warn when a run stopped before every planned upload had an outcome."""
    done = {outcome.key for outcome in report.outcomes if outcome.action == "upload"}
    missing = [step for step in plan.uploads if step.key not in done]
    if missing:
        report.warn(
            f"stopped early: {len(missing)} of {len(plan.uploads)} planned uploads not done"
        )


def _record_discovery(discovery: Discovery, report: Report) -> None:
    report.excluded = len(discovery.skipped)
    for collision in discovery.collisions:
        report.warn(f"{collision.path} from {collision.source}: {collision.reason}")
    for folder in discovery.missing_folders:
        report.warn(f"static folder missing: {folder}")
    for source in discovery.unresolved:
        report.warn(source.unresolved_message())
    for invalid in discovery.invalid:
        report.add(
            Outcome(
                invalid.path,
                "upload",
                FAILED,
                "invalid key",
                error_code="InvalidKey",
                message=invalid.reason,
            )
        )
