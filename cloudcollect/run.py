"""One run: its frozen inputs (``RunContext``) and the plug-in interface (``Plugin``).

The stages (``cloudcollect.stages``) take values and return new ones; a plug-in sees the
values at fixed points and may return changed copies or act, never edit what a stage
returned. Hooks, in the order a run calls them (every one is optional):

=================  =============================================  ============================
hook               sees / may return                              used by
=================  =============================================  ============================
``start``          the context, before any request; may raise     fingerprint, precompress
                   ConfigError (exit 2)
``derive``         the hashed assets and what discovery found;    fingerprint (hashed copies),
                   returns the assets to publish                  precompress (.gz/.br)
``remote``         the remote view after listing and HEADs;       lease (remembers the lease
                   returns the view the plan compares with        it saw), fingerprint (takes
                                                                  out its own objects), SRI
                                                                  (the manifest's digests)
``plan``           the plan and the remote view; returns the      fingerprint (settles the
                   plan to carry out (before ``on_plan``)         manifest, release-aware
                                                                  cleanup)
``order``          the uploads in groups (one group: the plan's   upload order (referenced
                   uploads, largest first); returns the groups    files first)
                   to upload one after another
``upload_work``    the worker that uploads one step; returns a    precompress (compresses
                   wrapped worker                                 first)
``before_write``   what is about to be written ("the uploads",    lease (take, then hold)
                   "the manifest", "the deletions", "the state
                   object"); raises to stop the run
``uploaded``       every upload has an outcome (not in a dry      fingerprint (verify, then
                   run); deletion comes next                      the manifest)
``finished``       the published assets and the remote view,      state object, CloudFront
                   after the deletions (not in a dry run)
``close``          always, last (also after an error)             fingerprint (work dir,
                                                                  url_for's manifest)
=================  =============================================  ============================

Plug-ins run in the order ``cloudcollect.plugins.active`` lists them. A new feature is a
new module with a ``Plugin`` subclass that overrides the hooks it needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import Flask

from .config import Settings
from .discovery import Discovery
from .errors import Interrupted
from .plan import LocalAsset, Plan, Step
from .remote import RemoteView
from .report import Outcome, Report
from .storage.base import Storage

Progress = Callable[..., None]
Work = Callable[[Step], Outcome]
#: What ``before_write`` is told before the first upload (the other writes name themselves).
UPLOADS = "the uploads"


@dataclass(frozen=True)
class Found:
    """What the discover stage returns: the files, and the paths whose names a bundler
    hashed already (``cloudcollect.bundler``; they keep their names)."""

    discovery: Discovery
    hashed: Callable[[str], bool]


@dataclass(frozen=True)
class UploadOrder:
    """The uploads in groups: a group starts once every upload of the one before has an
    outcome. ``needs``: key -> the keys (of earlier groups) it refers to; a step one of
    whose needed keys was not uploaded is not uploaded either (it fails, naming it)."""

    groups: tuple[tuple[Step, ...], ...]
    needs: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunContext:
    """The inputs of one run; ``report`` is where every stage and plug-in records."""

    app: Flask
    settings: Settings
    storage: Storage
    report: Report
    dry_run: bool = False
    force: bool = False
    verify_headers: bool = False
    progress: Progress | None = None
    cancel: threading.Event | None = None
    on_plan: Callable[[Plan], None] | None = None
    clock: Callable[[], datetime] | None = None
    plugins: tuple[Plugin, ...] = field(default=())

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(timezone.utc)

    def check_cancel(self) -> None:
        """Interrupted (exit 130/143) once ``cancel`` is set."""
        if self.cancel is not None and self.cancel.is_set():
            raise Interrupted(int(getattr(self.cancel, "signum", 2)))

    # -- calling every plug-in's hook, in order ------------------------------------------

    def start(self) -> None:
        for plugin in self.plugins:
            plugin.start(self)

    def derive(self, found: Found, assets: list[LocalAsset]) -> list[LocalAsset]:
        for plugin in self.plugins:
            assets = plugin.derive(self, found, assets)
        return assets

    def remote(self, remote: RemoteView) -> RemoteView:
        for plugin in self.plugins:
            remote = plugin.remote(self, remote)
        return remote

    def plan(self, plan: Plan, remote: RemoteView) -> Plan:
        for plugin in self.plugins:
            plan = plugin.plan(self, plan, remote)
        return plan

    def order(self, uploads: list[Step]) -> UploadOrder:
        """The plug-ins' order, from one group of ``uploads``, largest first."""
        order = UploadOrder((tuple(sorted(uploads, key=lambda step: -step.size)),))
        for plugin in self.plugins:
            order = plugin.order(self, order)
        return order

    def upload_work(self, work: Work) -> Work:
        for plugin in self.plugins:
            work = plugin.upload_work(self, work)
        return work

    def before_write(self, what: str) -> None:
        for plugin in self.plugins:
            plugin.before_write(self, what)

    def uploaded(self) -> None:
        for plugin in self.plugins:
            plugin.uploaded(self)

    def finished(self, assets: list[LocalAsset], remote: RemoteView) -> None:
        for plugin in self.plugins:
            plugin.finished(self, assets, remote)

    def close(self) -> None:
        for plugin in self.plugins:
            plugin.close(self)


class Plugin:
    """A feature of the run; every hook does nothing by default (see the module table)."""

    def start(self, run: RunContext) -> None:
        """Before any request: check the settings this plug-in reads."""

    def derive(self, run: RunContext, found: Found, assets: list[LocalAsset]) -> list[LocalAsset]:
        """The assets to publish, from the hashed ones (before HEAD lookups)."""
        return assets

    def remote(self, run: RunContext, remote: RemoteView) -> RemoteView:
        """The remote view the plan compares with (after listing and HEADs)."""
        return remote

    def plan(self, run: RunContext, plan: Plan, remote: RemoteView) -> Plan:
        """The plan to carry out."""
        return plan

    def order(self, run: RunContext, order: UploadOrder) -> UploadOrder:
        """The uploads in the groups to upload one after another."""
        return order

    def upload_work(self, run: RunContext, work: Work) -> Work:
        """The worker that uploads one step (called on the upload threads)."""
        return work

    def before_write(self, run: RunContext, what: str) -> None:
        """Before ``what`` is written; raise to stop the run."""

    def uploaded(self, run: RunContext) -> None:
        """Every upload has an outcome; deletion comes next."""

    def finished(self, run: RunContext, assets: list[LocalAsset], remote: RemoteView) -> None:
        """After the deletions of a real run."""

    def close(self, run: RunContext) -> None:
        """Always, last."""
