"""One publish run: discover -> hash (while listing) -> plan -> upload -> delete -> Report.

``publish(app)`` is the Python API behind ``flask cloudcollect``. It never raises for
problems with individual files or the storage: they are in the returned Report, whose
``exit_code`` follows the CLI contract (0, 1, 2, 3, 4, 130/143).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from functools import partial

from flask import Flask

from .bundler import hashed_paths
from .compress import add_variants, check_storage, compressing
from .config import Settings
from .deletion import OutsideSync, allowed_deletes, delete_scope, record_dry_run
from .discovery import Discovery, LocalFile, discover
from .errors import CloudCollectError, Interrupted, StorageError
from .extension import app_settings
from .fingerprint.manifest import check_manifest_path, local_manifest_path
from .hashcache import open_cache
from .headers import headers_for
from .lease import Lease, lease_key
from .plan import LocalAsset, Plan, make_plan
from .release import Release
from .remote import RemoteView, read_remote, resolve_unknown, save_state
from .report import FAILED, UNCHANGED, Outcome, Report
from .state import state_key
from .storage.base import Storage
from .sync import Progress, delete_keys, run_parallel, upload_step


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
    release: Release | None = None
    try:
        if owned:
            from .storage import open_storage  # imports boto3 only when s3 is used

            storage = open_storage(settings)
        assert storage is not None
        check_storage(settings, storage.stores_headers)
        if settings.fingerprint:
            check_manifest_path(local_manifest_path(settings.manifest_path, app.instance_path))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudcollect-list") as lister:
            # the listing runs while discovering
            listing = lister.submit(_check_and_list, settings, storage, not verify_headers)
            discovery = discover(app, settings)
            _drop_own_keys(discovery, settings, report)
            _record_discovery(discovery, report)
            hashed = hashed_paths(discovery, settings, report.warn)
            if settings.fingerprint:
                release = _release(app, settings, storage, report, clock, hashed)
            _run(
                discovery,
                listing,
                settings,
                storage,
                report,
                dry_run,
                force,
                progress,
                cancel,
                on_plan,
                release,
                hashed,
            )
        if settings.cloudfront_distribution_id and not dry_run and report.exit_code == 0:
            from .storage.cloudfront import invalidate  # imports boto3 only when configured

            invalidate(report, settings)
    except CloudCollectError as error:
        report.fatal = error
    finally:
        if release is not None:
            release.close()
            if not dry_run:
                from .urls import reload_manifest

                reload_manifest(app)
        if owned and storage is not None:
            storage.close()
        report.seconds = time.perf_counter() - started
    return report


def _check_and_list(settings: Settings, storage: Storage, trust_state: bool) -> RemoteView:
    """The preflight (bucket, credentials), then the listing and the state object."""
    storage.check()
    return read_remote(settings, storage, trust_state)


def _run(
    discovery: Discovery,
    listing: Future[RemoteView],
    settings: Settings,
    storage: Storage,
    report: Report,
    dry_run: bool,
    force: bool,
    progress: Progress | None,
    cancel: threading.Event | None,
    on_plan: Callable[[Plan], None] | None,
    release: Release | None = None,
    hashed: Callable[[str], bool] | None = None,
) -> None:
    derive = release.derive if release is not None else None
    assets, remote = _hash_while_listing(
        discovery.files, listing, settings, storage, report, derive, hashed
    )
    if release is not None:
        release.take_own(remote.objects, remote.listed)
    _check_cancel(cancel)
    scope = delete_scope(discovery, settings) if settings.delete else None
    plan = make_plan(
        assets,
        remote.objects,
        force=force,
        delete_within=scope,
        live_headers=remote.live_headers,
        outside_sync=OutsideSync(discovery),
    )
    if release is not None and scope is not None:
        plan = release.cleanup(plan, remote.objects)  # keep what recent releases use
    if on_plan is not None:
        on_plan(plan)
    for step in plan.skips:
        report.add(Outcome(step.key, "skip", UNCHANGED, step.reason, step.size))
    own = release.own if release is not None else {}
    guard = partial(allowed_deletes, plan, discovery, settings, report, remote, own)
    if dry_run:
        record_dry_run(plan, guard, report)
        return
    lease = Lease(storage, settings.prefix, remote.lease)  # taken before the first write
    if plan.uploads:
        lease.take()
    try:
        run_parallel(
            sorted(plan.uploads, key=lambda step: -step.size),  # no big file at the tail
            compressing(upload_step(storage, cancel), settings),
            _collect(report, progress, give_up_after=max(FAILURE_STREAK, settings.workers)),
            workers=settings.workers,
            cancel=cancel,
        )
    finally:
        _note_not_done(plan, report)
    _check_cancel(cancel)
    if release is not None:
        release.finish(lease.hold)  # verify, then the manifest last
    deletes = guard()
    if deletes:
        lease.hold("the deletions")
        delete_keys(deletes, storage, report)
    if storage.stores_headers and remote.listed:
        save_state(assets, remote, report, settings, storage, lease)


def _hash_while_listing(
    files: list[LocalFile],
    listing: Future[RemoteView],
    settings: Settings,
    storage: Storage,
    report: Report,
    derive: Callable[[list[LocalAsset]], list[LocalAsset]] | None = None,
    hashed: Callable[[str], bool] | None = None,
) -> tuple[list[LocalAsset], RemoteView]:
    """Hash every file in parallel while ``listing`` runs; then HEAD undecidable keys.

    ``derive`` turns the hashed assets into the ones to publish (fingerprinting adds
    hashed copies) before the HEAD step, so derived keys are checked like the others.
    """
    assets: list[LocalAsset] = []

    def keep(result: LocalAsset | Outcome) -> None:
        if isinstance(result, Outcome):
            report.add(result)
        else:
            assets.append(result)

    _hash_files(files, _hasher(settings, hashed), keep, _hashing_threads(settings))
    remote = listing.result()
    for problem in remote.problems:
        report.warn(problem)
    if derive is not None:
        assets = derive(assets)
    assets = add_variants(assets, settings, report.warn, (file.key for file in files))
    resolve_unknown(assets, remote, storage, report, settings)
    return assets, remote


def _release(
    app: Flask,
    settings: Settings,
    storage: Storage,
    report: Report,
    clock: Callable[[], datetime] | None,
    hashed: Callable[[str], bool],
) -> Release:
    """The fingerprinting side of the run; the local manifest defaults to the instance
    folder (``<instance_path>/cloudcollect-manifest.json``)."""
    local = local_manifest_path(settings.manifest_path, app.instance_path)
    settings = settings.replace(manifest_path=str(local))
    now = clock() if clock is not None else datetime.now(timezone.utc)
    return Release(settings, storage, report, now, hashed)


def _hash_files(
    files: list[LocalFile],
    hash_one: Callable[[LocalFile], LocalAsset | Outcome],
    keep: Callable[[LocalAsset | Outcome], None],
    threads: int,
) -> None:
    """Hash files above :data:`SERIAL_HASH_MAX` on ``threads`` threads and, meanwhile, the
    smaller ones one after another on one more thread: for them a thread hand-off per file
    would cost more than the hashing itself. ``keep`` runs in the calling thread."""
    small = [file for file in files if file.size <= SERIAL_HASH_MAX]
    large = [file for file in files if file.size > SERIAL_HASH_MAX]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudcollect-hash") as serial:
        hashed = serial.submit(lambda: [hash_one(file) for file in small])
        run_parallel(large, hash_one, keep, workers=threads)
        for result in hashed.result():
            keep(result)


def _hashing_threads(settings: Settings) -> int:
    """Hashing is CPU work (hashlib releases the GIL on large reads): two threads a core
    keep the disks and cores busy; more only contend for the GIL on small files."""
    return max(1, min(settings.workers, 2 * (os.cpu_count() or 1)))


def _hasher(
    settings: Settings, hashed: Callable[[str], bool] | None = None
) -> Callable[[LocalFile], LocalAsset | Outcome]:
    prefix_length = len(settings.prefix)
    is_hashed = hashed or (lambda path: False)
    cache = open_cache(settings.hash_cache)  # MD5s of files unchanged since a last run

    def hash_one(file: LocalFile) -> LocalAsset | Outcome:
        try:
            md5 = cache.md5(file.path)
        except OSError as error:
            message = f"cannot read {file.path}: {error.strerror or error}"
            return Outcome(
                file.key,
                "upload",
                FAILED,
                "unreadable",
                file.size,
                error_code="LocalReadError",
                message=message,
            )
        path = file.key[prefix_length:]
        headers = headers_for(path, settings, hashed=is_hashed(path))
        return LocalAsset(file.key, file.path, file.size, file.mtime_ns, md5, headers)

    return hash_one


#: Stop uploading after this many (at least ``workers``) storage failures in a row: the
#: storage is down or refusing everything, and each further key would only add retries.
FAILURE_STREAK = 10
#: Files up to this size are hashed one after another on one thread (see _hash_files). On
#: 20,000 files of about 4 KB, 2 cores: 0.27 s in one thread, 0.47-0.66 s on 2 to 16.
SERIAL_HASH_MAX = 64 * 1024
#: Failure codes that say nothing about the storage.
_LOCAL_FAILURES = frozenset({"SourceChanged", "LocalReadError", "InvalidKey", "Interrupted"})


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


def _drop_own_keys(discovery: Discovery, settings: Settings, report: Report) -> None:
    """A static file whose key is the state object's or the lease's is never published."""
    own = {state_key(settings.prefix), lease_key(settings.prefix)}
    for file in [file for file in discovery.files if file.key in own]:
        report.warn(f"{file.path} is not published: {file.key} is cloudcollect's own object")
        discovery.files.remove(file)


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


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        signum = getattr(cancel, "signum", 2)
        raise Interrupted(int(signum))
