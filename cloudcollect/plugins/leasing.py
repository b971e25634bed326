"""Plug-in: the release lease (``cloudcollect.lease``) guards every write of the run.

``remote``: remembers the lease the listing saw. ``before_write``: takes the lease before
the first upload, and checks that it is still this run's before every later write (the
manifest, the deletions, the state object): LeaseLost (exit 3) when a newer run took over.
A run that writes nothing takes no lease.
"""

from __future__ import annotations

from ..lease import Lease
from ..remote import RemoteView
from ..run import UPLOADS, Plugin, RunContext


class Leasing(Plugin):
    def __init__(self) -> None:
        self.lease: Lease | None = None

    def remote(self, run: RunContext, remote: RemoteView) -> RemoteView:
        self.lease = Lease(run.storage, run.settings.prefix, remote.lease)
        return remote

    def before_write(self, run: RunContext, what: str) -> None:
        assert self.lease is not None
        if what == UPLOADS:
            self.lease.take()
        else:
            self.lease.hold(what)
