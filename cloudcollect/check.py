"""``flask cloudcollect --check``: how the bucket differs from the local sources. No writes.

A check is a dry run whose plan is read as a list of differences: every planned upload is
a key that is *missing*, *changed* (size, content, a precompressed variant's source) or
whose stored headers differ (*headers*), and every planned deletion is an *extra* object
under the deletion scope with no local source. There is no second comparison engine:
``check`` runs ``publish(..., dry_run=True)`` with deletion planning on, so it sees
exactly what a real run would do, and a dry run makes no write request (no PUT, POST or
DELETE; the state object is not rewritten).

With ``CLOUDCOLLECT_CORS_ORIGINS`` set, the bucket's CORS configuration is read too: an
origin no rule allows GET from is a *cors* difference (its pages' fonts and module
scripts fail; ``flask cloudcollect cors`` adds the rule). A store without bucket CORS, or
a configuration that cannot be read (AccessDenied), is a warning, not a difference.

Exit codes: 0 in sync, ``OUT_OF_SYNC`` (5) when anything differs, and otherwise the
usual codes (1 a local file could not be read, 2 configuration, 3 fatal precondition,
130/143 interrupted).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import Flask

from .appstate import app_settings
from .config import Settings
from .errors import DeletionRefused
from .report import PLANNED, REFUSED, Outcome, Report

#: Exit code of a check that found differences (1-4 and 130/143 are taken).
OUT_OF_SYNC = 5

#: Plan reason -> kind of difference; every other upload reason is "changed".
_KINDS = {
    "new": "missing",
    "headers changed": "headers",
    "headers unknown": "headers",
    "no local source": "extra",
}
KINDS = ("missing", "changed", "headers", "extra")
#: Reason of a *cors* difference (its key is the origin).
CORS_BLOCKED = "no bucket CORS rule allows GET from this origin: fonts and module scripts fail"


#: Reason of a file a bundler manifest lists that is not published: kind "missing".
UNPUBLISHED = "not published, listed by"


def difference_kind(reason: str) -> str:
    """The kind of difference a plan reason stands for."""
    if reason.startswith(UNPUBLISHED):
        return "missing"
    return _KINDS.get(reason, "changed")


@dataclass
class CheckReport(Report):
    """A dry run's Report read as differences; ``exit_code`` is 5 when any is found.
    ``cors_blocked``: the configured origins the bucket's CORS rules do not allow."""

    cors_blocked: list[str] = dataclasses.field(default_factory=list)

    def differences(self) -> list[dict[str, str]]:
        """One ``{"key", "kind", "reason"}`` per difference, sorted by key; the *cors*
        ones (keyed by origin) last."""
        found = [
            {"key": o.key, "kind": difference_kind(o.reason), "reason": o.reason}
            for o in sorted(self.with_status(PLANNED), key=lambda o: o.key)
        ]
        cors = [{"key": o, "kind": "cors", "reason": CORS_BLOCKED} for o in self.cors_blocked]
        return found + cors

    @property
    def exit_code(self) -> int:
        code = super().exit_code
        if code == 0 and (self.with_status(PLANNED) or self.cors_blocked):
            return OUT_OF_SYNC
        return code

    def summary_line(self) -> str:
        found = self.differences()
        by_kind = {kind: sum(d["kind"] == kind for d in found) for kind in KINDS}
        details = ", ".join(f"{kind} {count}" for kind, count in by_kind.items())
        if self.cors_blocked:
            details += f", cors {len(self.cors_blocked)}"
        head = _head(self.exit_code, len(found))
        c = self.counts()
        return (
            f"{head} ({details}), unchanged {c['unchanged']}, failed {c['failed']}, "
            f"excluded {c['excluded']}, {self.seconds:.2f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON report of a run, plus ``check``, ``in_sync`` and ``differences``."""
        document = super().to_dict()
        document.update(check=True, in_sync=self.exit_code == 0, differences=self.differences())
        return document

    @classmethod
    def of(cls, report: Report) -> CheckReport:
        fields = dataclasses.fields(Report)
        return cls(**{f.name: getattr(report, f.name) for f in fields if f.name != "_lock"})


def _head(exit_code: int, differences: int) -> str:
    """ "in sync" only for a check that compared everything and found nothing; a check
    stopped by an error (unreachable storage, unreadable file) is "incomplete"."""
    if exit_code == 0:
        return "check: in sync"
    if exit_code == OUT_OF_SYNC:
        return f"check: {differences} differences"
    return f"check: incomplete, {differences} differences found before it stopped"


def check(
    app: Flask,
    settings: Settings | None = None,
    *,
    storage: Any = None,
    cancel: threading.Event | None = None,
    report: Report | None = None,
    verify_headers: bool = False,
) -> CheckReport:
    """Compare the storage with ``app``'s static files; write nothing.

    ``report``: an empty Report the first comparison fills (see ``publish``).
    ``verify_headers`` (``--verify-headers``): HEAD every object instead of trusting the
    state object, to find headers changed by any other client.
    Extra objects are looked for where ``--delete`` would delete (the prefix, or each
    static URL root without a prefix). When no such scope exists (a static folder served
    at the URL root and no prefix), extras are not checked and a warning says so; when a
    deletion guard would refuse, they are listed and a warning names the guard.
    """
    from .pipeline import publish

    settings = settings or app_settings(app)
    compare = partial(
        publish, app, storage=storage, dry_run=True, cancel=cancel, verify_headers=verify_headers
    )
    report = compare(settings.replace(delete=True), report=report)
    if isinstance(report.fatal, DeletionRefused) and report.with_status(REFUSED):
        _read_refused_as_extra(report)
    elif isinstance(report.fatal, DeletionRefused):
        reason = str(report.fatal)
        report = compare(settings.replace(delete=False))
        report.warn(f"objects without a local source are not checked: {reason}")
    if report.fatal is None:
        _unpublished_bundler_files(app, settings, report)
    checked = CheckReport.of(report)
    if checked.fatal is None and settings.cors_origins:
        _check_cors(settings, storage, checked)
    return checked


def _check_cors(settings: Settings, storage: Any, report: CheckReport) -> None:
    """Read the bucket's CORS rules (``storage``, else one opened for this); the origins
    they do not allow GET from become *cors* differences; a failure to read is a warning."""
    from .cors import blocked_origins, read_rules
    from .errors import StorageError

    owned = storage is None
    try:
        if owned:
            from .storage import open_storage

            storage = open_storage(settings)
        report.cors_blocked = blocked_origins(read_rules(storage), settings.cors_origins)
    except StorageError as error:
        report.warn(f"fonts and module scripts not checked: {error}")
    finally:
        if owned and storage is not None:
            storage.close()


def _unpublished_bundler_files(app: Flask, settings: Settings, report: Report) -> None:
    """Every file a bundler manifest lists but the run does not publish (excluded, or
    missing on disk) is a *missing* difference: its runtime would load it and get a 404."""
    from .bundler import read_bundles
    from .discovery import discover

    bundles = read_bundles(discover(app, settings), settings.prefix)
    for listed, why in bundles.unpublished:
        reason = f"{UNPUBLISHED} {listed.manifest}: {why}"
        report.add(Outcome(settings.prefix + listed.path, "upload", PLANNED, reason))


def _read_refused_as_extra(report: Report) -> None:
    """Objects a ``--delete`` guard would refuse to delete are still extra objects: list
    them, and warn that a real ``--delete`` would refuse (exit 4) and why."""
    report.outcomes = [
        dataclasses.replace(o, status=PLANNED) if o.status == REFUSED else o
        for o in report.outcomes
    ]
    report.warn(f"--delete would not remove the extra objects: {report.fatal}")
    report.fatal = None
