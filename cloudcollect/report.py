"""The result of a run: one Outcome per key, counts, the exit code, and its JSON form. Pure.

Message strings in the JSON form (``fatal``, ``warnings``, each outcome's ``message``) have
control characters escaped (``\\x01``); keys stay exact, escaped by JSON itself.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .errors import CloudCollectError
from .keys import printable
from .redact import scrub

# Outcome statuses.
UPLOADED = "uploaded"
UNCHANGED = "unchanged"
DELETED = "deleted"
FAILED = "failed"
PLANNED = "planned"  # dry run: would be uploaded or deleted
REFUSED = "refused"  # dry run: a deletion a guard refuses (the run ends with exit 4)


@dataclass(frozen=True)
class Outcome:
    """What happened to one key. ``action`` is upload/skip/delete; ``status`` as above."""

    key: str
    action: str
    status: str
    reason: str = ""
    size: int = 0
    error_code: str | None = None
    request_id: str | None = None
    message: str | None = None
    retries: int = 0
    etag: str | None = None


@dataclass
class Report:
    """Everything a run did; thread-safe ``add``. ``exit_code`` follows the CLI contract.

    Outcome messages and warnings are scrubbed of credentials as they are added
    (``redact.scrub``): whatever prints a Report prints no secret."""

    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    excluded: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fatal: CloudCollectError | None = None
    deletion_skipped: str | None = None
    invalidations: list[dict[str, Any]] = field(default_factory=list)  # CDN, id + paths
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: Outcome) -> None:
        if outcome.message:
            outcome = replace(outcome, message=scrub(outcome.message))
        with self._lock:
            self.outcomes.append(outcome)

    def warn(self, message: str) -> None:
        message = scrub(message)
        with self._lock:
            self.warnings.append(message)

    def with_status(self, status: str, action: str | None = None) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if o.status == status and (action is None or o.action == action)
        ]

    def counts(self) -> dict[str, int]:
        """Counts for the summary line and the JSON report."""
        return {
            "uploaded": len(self.with_status(UPLOADED)),
            "unchanged": len(self.with_status(UNCHANGED)),
            "deleted": len(self.with_status(DELETED)),
            "failed": len(self.with_status(FAILED)),
            "excluded": self.excluded,
            "would_upload": len(self.with_status(PLANNED, "upload")),
            "would_delete": len(self.with_status(PLANNED, "delete")),
            "retries": sum(o.retries for o in self.outcomes),
        }

    @property
    def bytes_uploaded(self) -> int:
        return sum(o.size for o in self.with_status(UPLOADED))

    @property
    def bytes_planned(self) -> int:
        """What a dry run would upload: the sizes of the planned uploads (0 otherwise)."""
        return sum(o.size for o in self.with_status(PLANNED, "upload"))

    @property
    def exit_code(self) -> int:
        """0 all done; 1 some keys failed; the fatal error's own code (2, 3, 4, 130...)."""
        if self.fatal is not None:
            return self.fatal.exit_code
        return 1 if self.with_status(FAILED) else 0

    def summary_line(self) -> str:
        c = self.counts()
        if self.dry_run:
            head = f"dry run: would upload {c['would_upload']}, would delete {c['would_delete']}"
        else:
            head = f"uploaded {c['uploaded']}, deleted {c['deleted']}"
        size = self.bytes_planned if self.dry_run else self.bytes_uploaded
        return (
            f"{head}, unchanged {c['unchanged']}, failed {c['failed']}, "
            f"excluded {c['excluded']}, {_size(size)}, {self.seconds:.2f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: counts, bytes, seconds, exit code, failures, warnings, outcomes."""
        return {
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "bytes_uploaded": self.bytes_uploaded,
            "bytes_planned": self.bytes_planned,
            "seconds": round(self.seconds, 3),
            "fatal": printable(str(self.fatal)) if self.fatal else None,
            "deletion_skipped": self.deletion_skipped,
            "invalidations": list(self.invalidations),
            "warnings": [printable(warning) for warning in self.warnings],
            "failures": [_entry(o) for o in self.with_status(FAILED)],
            "outcomes": [_entry(o) for o in sorted(self.outcomes, key=lambda o: o.key)],
        }


def _entry(outcome: Outcome) -> dict[str, Any]:
    """An outcome for the JSON report: the exact key (JSON escapes it), messages escaped."""
    entry = asdict(outcome)
    if outcome.message is not None:
        entry["message"] = printable(outcome.message)
    return entry


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
