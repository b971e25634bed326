"""Plug-in: the state object (``cloudcollect.state``) records what the run left right.

``finished``: on a storage that keeps headers and could be listed, every key now known to
be right (uploaded or unchanged) is recorded. The object is written only when its entries
changed or when the run took the lease (it must name the run holding the lease), with
``before_write("the state object")`` before and after the write: the lease is checked on
both sides (LeaseLost: a newer run took over). Reading it is part of the list stage
(``cloudcollect.remote.read_remote``).
"""

from __future__ import annotations

from ..plan import LocalAsset
from ..remote import RemoteView, state_entries
from ..run import Plugin, RunContext
from ..state import STATE_HEADERS, encode, state_key
from ..storage.base import put_bytes
from .leasing import Leasing

WHAT = "the state object"


class StateObject(Plugin):
    def __init__(self, leasing: Leasing) -> None:
        self.leasing = leasing

    def finished(self, run: RunContext, assets: list[LocalAsset], remote: RemoteView) -> None:
        lease = self.leasing.lease
        if not run.storage.stores_headers or not remote.listed or lease is None:
            return
        entries = state_entries(assets, remote, run.report)
        if entries == remote.recorded and not lease.taken:
            return
        run.before_write(WHAT)
        data = encode(entries, lease.run)
        put_bytes(run.storage, state_key(run.settings.prefix), data, STATE_HEADERS)
        run.before_write(WHAT)
