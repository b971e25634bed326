"""``flask cloudcollect``: a thin click command over ``pipeline.publish``.

Library errors become exit codes here and only here. SIGINT and SIGTERM stop scheduling
new transfers, let in-flight ones end, skip deletion, print the summary and exit 130/143
(click alone would turn Ctrl-C into exit 1, the code of a partial failure). A second
signal prints the summary of what is known and exits at once, with the same code
(``cloudcollect.clisignals``).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import time
from typing import Any

import click
from flask import Flask

from . import envvars
from .check import CheckReport
from .clicommon import OVERRIDES, echo, load_app, run_settings
from .cliprogress import ProgressBar
from .clisignals import Cancel, signals_cancel
from .config import Settings
from .report import FAILED, PLANNED, Report


@click.group("cloudcollect", invoke_without_command=True)
@click.option("--dry-run", is_flag=True, help="Print the plan; make no write request.")
@click.option(
    "--check",
    is_flag=True,
    help="Compare the storage with the sources; write nothing; exit 5 when they differ.",
)
@click.option(
    "--verify-headers",
    is_flag=True,
    help="With --check: read every object's headers with HEAD (drift by other clients).",
)
@click.option(
    "--delete/--no-delete",
    default=None,
    envvar="CLOUDCOLLECT_DELETE",
    help="Remove objects under the prefix that have no source (after all uploads succeed).",
)
@click.option("--force", is_flag=True, help="Upload every file, changed or not.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    envvar="CLOUDCOLLECT_WORKERS",
    help="Parallel transfers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary line and errors.")
@click.option("-v", "--verbose", is_flag=True, help="One line per file, with the reason.")
@click.option("--bucket", envvar="CLOUDCOLLECT_BUCKET", help="Bucket for this run.")
@click.option("--prefix", envvar="CLOUDCOLLECT_PREFIX", help="Key prefix for this run.")
@click.option("--endpoint-url", envvar="CLOUDCOLLECT_ENDPOINT_URL", help="S3 endpoint URL.")
@click.option(
    "--storage", envvar="CLOUDCOLLECT_STORAGE", help="s3, filesystem, memory or module:Class."
)
@click.option("--root", envvar="CLOUDCOLLECT_ROOT", help="Target directory (filesystem).")
@click.pass_context
def cloudcollect_command(
    ctx: click.Context,
    /,
    dry_run: bool,
    check: bool,
    verify_headers: bool,
    delete: bool | None,
    force: bool,
    workers: int | None,
    as_json: bool,
    quiet: bool,
    verbose: bool,
    **overrides: str | None,
) -> None:
    """Publish every static file of the app to the configured storage.

    Without a command, publish; the options before a command (--bucket, --prefix,
    --endpoint-url, --storage, --root) are its settings for this run too.
    """
    if ctx.invoked_subcommand is not None:
        _only_setting_options(ctx)
        ctx.meta[OVERRIDES] = overrides
        return
    if check and (dry_run or force):
        raise click.UsageError("--check cannot be combined with --dry-run or --force")
    if verify_headers and not check:
        raise click.UsageError("--verify-headers is an option of --check")
    app = load_app()
    if not quiet:
        for warning in envvars.warnings(os.environ, app.config, _option_variables()):
            echo(f"warning: {warning}", err=True)
    changes: dict[str, Any] = {}
    if delete is not None:
        changes["delete"] = delete
    if workers is not None:
        changes["workers"] = workers
    settings = run_settings(app, overrides, changes)
    with app.app_context():
        check_mode = "verify-headers" if verify_headers else "check" if check else None
        _run(app, settings, dry_run, force, as_json, quiet, verbose, check=check_mode)


#: Group options that only publishing reads; a command after them is a usage error.
_PUBLISH_ONLY = (
    "dry_run",
    "check",
    "verify_headers",
    "delete",
    "force",
    "workers",
    "as_json",
    "quiet",
    "verbose",
)


def _only_setting_options(ctx: click.Context) -> None:
    """Refuse publishing options given on the command line before a command."""
    for name in _PUBLISH_ONLY:
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            option = next(p for p in ctx.command.params if p.name == name)
            raise click.UsageError(
                f"{option.opts[-1]} is an option of publishing, not of "
                f"'{ctx.info_name} {ctx.invoked_subcommand}'"
            )


def _option_variables() -> set[str]:
    """The ``CLOUDCOLLECT_*`` variables the command reads for its options."""
    return {
        name
        for param in cloudcollect_command.params
        for name in ([param.envvar] if isinstance(param.envvar, str) else param.envvar or [])
    }


# Under `flask`, click would also read FLASK_CLOUDCOLLECT_<OPTION> for every option, as a
# raw string, while app.config.from_prefixed_env() reads the same variable as JSON. The
# command leaves FLASK_* to the app's config, so both see one value (cloudcollect.envvars).
# A bad CLOUDCOLLECT_<OPTION> value is a usage error (exit 2) naming the variable too.
for _option in cloudcollect_command.params:
    if isinstance(_option, click.Option):
        _option.allow_from_autoenv = False
        _option.show_envvar = True


def _run(
    app: Flask,
    settings: Settings,
    dry_run: bool,
    force: bool,
    as_json: bool,
    quiet: bool,
    verbose: bool,
    *,
    check: str | None = None,
) -> None:
    """One run; ``check``: None (publish), ``"check"`` or ``"verify-headers"``."""
    from .check import check as check_run
    from .pipeline import publish

    interactive = sys.stderr.isatty() and not (quiet or as_json or verbose)
    _collect_less_often()
    bar = ProgressBar(interactive, settings.workers)
    cancel = Cancel()
    # a check's own summary line if a second signal ends it
    cancel.report = CheckReport(dry_run=True) if check else Report(dry_run=dry_run)
    cancel.started = time.perf_counter()
    with signals_cancel(cancel):
        try:
            report = (
                check_run(
                    app,
                    settings,
                    cancel=cancel,
                    report=cancel.report,
                    verify_headers=check == "verify-headers",
                )
                if check
                else publish(
                    app,
                    settings,
                    dry_run=dry_run,
                    force=force,
                    progress=bar,
                    cancel=cancel,
                    on_plan=bar.start,
                    report=cancel.report,
                )
            )
        finally:
            bar.finish()
    _print_report(report, as_json=as_json, quiet=quiet, verbose=verbose)
    _skip_final_collections()
    sys.exit(report.exit_code)


#: The collector's first threshold (allocations between two young collections) for a
#: command's run; Python's default is 700.
GC_FIRST_THRESHOLD = 10_000


def _collect_less_often() -> None:
    """Raise the collector's first threshold to :data:`GC_FIRST_THRESHOLD` for the run.

    A run allocates a few objects per file and keeps most of them until it ends, and
    with the default threshold the collector walks them again and again: a quarter of
    the CPU of a 100,000-file no-op. Objects in reference cycles are still collected,
    only less often. The command owns its process, so it may; ``publish()`` leaves the
    collector of the process it runs in as it is. A higher threshold is kept.
    """
    first, second, third = gc.get_threshold()
    if first != 0:  # 0: automatic collection is off, and stays so
        gc.set_threshold(max(first, GC_FIRST_THRESHOLD), second, third)


def _skip_final_collections() -> None:
    """At exit, let the interpreter skip collecting what botocore and Flask built.

    Its final garbage collections walk every object left (about 60 ms after a run, a
    tenth of a no-op run); ``gc.freeze()`` as the last registered (so first run) atexit
    handler takes them out of that walk. Every other atexit handler still runs, and files
    are still flushed and closed. Registered once per process, run only at exit.
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def _print_report(report: Report, *, as_json: bool, quiet: bool, verbose: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))  # escapes all
    elif isinstance(report, CheckReport):
        for difference in report.differences():
            echo(f"{difference['kind']:<8} {difference['key']}  ({difference['reason']})")
    elif report.dry_run and not quiet:
        for outcome in sorted(report.with_status(PLANNED), key=lambda o: o.key):
            echo(f"{outcome.action:<7} {outcome.key}  ({outcome.reason})")
    if verbose and not as_json:
        for outcome in sorted(report.outcomes, key=lambda o: o.key):
            if outcome.status != PLANNED:
                echo(f"{outcome.status:<9} {outcome.key}  ({outcome.reason})", err=True)
    if not quiet:
        for warning in report.warnings:
            echo(f"warning: {warning}", err=True)
        for invalidation in report.invalidations:
            paths = invalidation["paths"]
            echo(f"cloudfront invalidation {invalidation['id']} ({paths} paths)", err=True)
    for failed in sorted(report.with_status(FAILED), key=lambda o: o.key):
        request = f" request-id {failed.request_id}" if failed.request_id else ""
        echo(f"failed: {failed.key}: {failed.error_code}: {failed.message}{request}", err=True)
    if report.deletion_skipped:
        echo(f"not deleting: {report.deletion_skipped}", err=True)
    if report.fatal is not None:
        echo(f"error: {report.fatal}", err=True)
    echo(report.summary_line(), err=True)


def _add_commands() -> None:
    """Register the commands; each lives in its own module (``cli_<name>.py``)."""
    from .cli_cors import cors_command
    from .cli_releases import releases_command, rollback_command
    from .cli_url import url_command

    cloudcollect_command.add_command(url_command)
    cloudcollect_command.add_command(cors_command)
    cloudcollect_command.add_command(releases_command)
    cloudcollect_command.add_command(rollback_command)


_add_commands()
