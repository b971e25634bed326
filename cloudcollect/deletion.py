"""``--delete``: where it may happen, the guards that refuse it, and the deletion itself.

An orphan is a key under the deletion scope with no local file at all. A key whose local
file exists but is left out by a filter (exclude, include, the default junk, secret-like
and hidden rules, a symlink or file type rule) is outside the sync: never deleted.

The guards run in the same order for a dry run and a real run, so both end with the same
exit code; each refusal is a DeletionRefused (exit 4) and nothing is deleted:

1. any failed key: deletion is skipped (not an error of its own; the run exits 1);
2. the prefix could not be listed;
3. no static file at all, or a static folder missing;
4. a plain run on a prefix that holds a fingerprinting manifest (mode mismatch);
5. a static source with no file now while the plan deletes what it published, except
   keys the user's own include/exclude patterns leave out when they also leave out a file
   of its folder (filtered on purpose; a folder holding only a ``.gitkeep`` that the
   default rules leave out is emptied);
6. more deletions than ``CLOUDCOLLECT_MAX_DELETE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from .config import Settings
from .discovery import Discovery
from .errors import DeletionRefused
from .filters import Filters
from .fingerprint.names import HASH_LENGTH, OWN_FOLDER, VARIANT_SUFFIXES
from .plan import Action, Plan, Step
from .remote import RemoteView, listing_roots
from .report import FAILED, PLANNED, REFUSED, Outcome, Report


def delete_scope(discovery: Discovery, settings: Settings) -> list[str]:
    """Where deletion may happen: the prefix; with no prefix, each static URL root
    (``static/``, ``admin/static/``...), never the whole bucket."""
    roots = listing_roots(discovery.sources, settings.prefix)
    if roots == [""]:
        raise DeletionRefused(
            "a static folder is served at the URL root: set CLOUDCOLLECT_PREFIX to delete"
        )
    return roots


class OutsideSync:
    """``key in outside`` for the keys a run must leave alone because their local file
    exists but a filter left it out: the file's key, everything under a skipped
    directory, and the keys derived from such a file (its ``.gz``/``.br`` sibling, its
    hashed copy ``name.<12 hex>.ext``, and their combinations). Conservative: an orphan
    that merely looks like a hashed copy of a filtered-out file is kept too."""

    def __init__(self, discovery: Discovery) -> None:
        keys = [skipped.key for skipped in discovery.skipped if skipped.key is not None]
        self.files = frozenset(key for key in keys if not key.endswith("/"))
        self.folders = tuple(key for key in keys if key.endswith("/"))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not (self.files or self.folders):
            return False
        if key.startswith(self.folders):
            return True
        base = key
        for suffix in VARIANT_SUFFIXES:
            base = base.removesuffix(suffix)
        return bool({key, base, _unhashed(key), _unhashed(base)} & self.files)


def _unhashed(key: str) -> str:
    """``a/b.0123456789ab.css`` -> ``a/b.css`` (``a/LICENSE.0123456789ab`` -> ``a/LICENSE``);
    any other key unchanged."""
    folder, slash, name = key.rpartition("/")
    match = _HASHED.match(name)
    return f"{folder}{slash}{match['stem']}{match['ext'] or ''}" if match else key


_HASHED = re.compile(rf"^(?P<stem>.+)\.[0-9a-f]{{{HASH_LENGTH}}}(?P<ext>\.[^.]+)?$")


def allowed_deletes(
    plan: Plan,
    discovery: Discovery,
    settings: Settings,
    report: Report,
    remote: RemoteView,
) -> list[Step] | None:
    """The plan's deletions once every guard agrees; None without ``--delete`` or when
    failures skip deletion.

    Raises DeletionRefused (exit 4) when a guard refuses. The mode check reads
    ``remote.objects``: a plain run's view holds every listed key (a fingerprinted run's
    leaves its own objects out, but the check passes a fingerprinted run anyway).
    """
    if not settings.delete:
        return None
    if report.with_status(FAILED):
        report.deletion_skipped = "some files failed; nothing was deleted"
        return None
    if not remote.listed:
        raise DeletionRefused("the prefix could not be listed: refusing to delete")
    if not discovery.files:
        raise DeletionRefused("no static files found: refusing to delete every object")
    if discovery.missing_folders:
        missing = ", ".join(discovery.missing_folders)
        raise DeletionRefused(f"a static folder is missing ({missing}): refusing to delete")
    deletes = plan.of(Action.DELETE)
    _check_mode(settings, remote.objects)
    _check_sources(discovery, settings, deletes)
    if len(deletes) > settings.max_delete:
        raise DeletionRefused(
            f"{len(deletes)} objects to delete, over CLOUDCOLLECT_MAX_DELETE="
            f"{settings.max_delete}: refusing to delete"
        )
    return deletes


def record_dry_run(plan: Plan, guard: Callable[[], list[Step] | None], report: Report) -> None:
    """Record a dry run's planned uploads, and the deletions every guard of the real run
    allows (so it ends with the real run's exit code). Deletions a guard refuses are
    recorded as REFUSED: not counted, not listed as planned; ``--check`` reads them."""
    for step in plan.uploads:
        report.add(Outcome(step.key, "upload", PLANNED, step.reason, step.size))
    try:
        deletes = guard() or []
    except DeletionRefused:
        for step in plan.deletes:
            report.add(Outcome(step.key, "delete", REFUSED, step.reason, step.size))
        raise
    for step in deletes:
        report.add(Outcome(step.key, "delete", PLANNED, step.reason, step.size))


def _check_mode(settings: Settings, remote_keys: Collection[str]) -> None:
    """A plain run must not delete a fingerprinted publication (its manifest, history and
    hashed files would all look like orphans). The other way round is allowed: a
    fingerprinted run publishes the plain keys too, so it removes only true orphans."""
    own = settings.prefix + OWN_FOLDER
    if settings.fingerprint or not any(key.startswith(own) for key in remote_keys):
        return
    raise DeletionRefused(
        f"{own} holds a fingerprinting manifest but CLOUDCOLLECT_FINGERPRINT is off (mode "
        "mismatch): refusing to delete; to switch to plain publishing, remove that folder "
        "first (see README, Deletion guarantees)"
    )


def _check_sources(discovery: Discovery, settings: Settings, deletes: list[Step]) -> None:
    """Refuse when a static source has no file now while the plan deletes keys under its
    URL prefix (not under a more specific prefix of another source): it published them,
    and an emptied folder (a missing build step) is more likely than a deliberate wipe.

    When the user's own include/exclude patterns leave out a file on disk in the folder,
    the user filtered it on purpose: the keys under it that those patterns leave out too
    may be deleted (without this, such orphans would block every later ``--delete``); any
    other key still refuses, since a folder whose build did not run may hold a file the
    patterns leave out (a ``README.md`` with ``*.md`` excluded). Files left out only by
    the default rules (``.gitkeep``, ``.DS_Store``, ``*.swp``) never count."""
    published = {file.source for file in discovery.files}
    filters = Filters(settings.include, settings.exclude)
    roots = sorted({settings.prefix + s.url_prefix for s in discovery.sources}, key=len)
    for source in discovery.sources:
        if source.name in published:
            continue
        root = settings.prefix + source.url_prefix
        deeper = tuple(r for r in roots if len(r) > len(root) and r.startswith(root))
        under = [s.key for s in deletes if s.key.startswith(root) and not s.key.startswith(deeper)]
        if source.name in discovery.filtered_sources:
            start = len(settings.prefix)
            under = [key for key in under if not filters.patterns_leave_out(key[start:])]
        if under:
            raise DeletionRefused(
                f"static source {source.name} ({source.folder}) has no file but published "
                f"{len(under)} objects under {root} (first: {under[0]}): refusing to delete"
            )
