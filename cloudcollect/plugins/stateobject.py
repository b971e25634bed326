"""Plug-in: the state object (``cloudcollect.state``) records what the run left right.

``finished``: on a storage that keeps headers and could be listed, every key now known to
be right (uploaded or unchanged) is recorded; the object is written only when it changed
or when the run took the lease, between two checks of the lease. Reading it is part of
the list stage (``cloudcollect.remote.read_remote``).
"""

from __future__ import annotations

from ..plan import LocalAsset
from ..remote import RemoteView, save_state
from ..run import Plugin, RunContext
from .leasing import Leasing


class StateObject(Plugin):
    def __init__(self, leasing: Leasing) -> None:
        self.leasing = leasing

    def finished(self, run: RunContext, assets: list[LocalAsset], remote: RemoteView) -> None:
        lease = self.leasing.lease
        if not run.storage.stores_headers or not remote.listed or lease is None:
            return
        save_state(assets, remote, run.report, run.settings, run.storage, lease)
