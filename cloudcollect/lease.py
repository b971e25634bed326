"""The release lease: two runs writing to one prefix at once never leave a lying state.

``PREFIX + LEASE_NAME`` (``.cloudcollect-lease.json``) names the run that last started
writing under the prefix: ``{"version": 1, "run": "<random id>", "started": "<UTC>"}``.
It is excluded like the state object: never published, never an orphan to delete.

A run takes the lease just before its first write (a run that writes nothing takes
none, so a no-op run stays write-free):

1. ``take``: the lease must still be the one the run saw when it listed the prefix;
   otherwise another run began writing since, the plan may be stale, and the run stops
   before writing anything (LeaseLost, exit 3). Then the run writes its own lease. A
   newer run always takes over: a crashed run's lease blocks nobody.
2. ``hold`` before the manifest, the deletions and the state object, and once more after
   the state object is written: the lease must still be this run's. When it is not, a
   newer run has taken over while this one was writing, so this run's objects may have
   overwritten the newer run's. The losing run then *revokes* the lease (writes one
   with a fresh id that no run holds), writes no manifest, deletes nothing, writes no
   state object, and stops with LeaseLost (exit 3).
3. The state object records the run id that wrote it (``run``); a reader trusts it only
   when the lease names the same run (or when there is no lease: a prefix last written
   before leases existed). A late state object from a losing run, or a winner's state
   that a loser's late uploads made untrue, is therefore ignored: the next run checks
   those keys with HEAD and repairs them.

The decision rests on reading the lease after writing, so no conditional write is needed
for safety. The first lease under a prefix is created with a conditional write where the
storage can (``put_if_absent``, S3 ``If-None-Match: *``): of two runs that start on an
empty prefix at the same moment one goes on and the other stops before writing, instead
of both stopping at their first check.
The one case left is a losing run killed (``kill -9``) after its late uploads and
before it could revoke: the winner's state object may then describe objects the loser
overwrote; ``flask cloudcollect --check --verify-headers`` finds them (a HEAD per key),
and ``--force`` rewrites them.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from .errors import CloudCollectError, FatalStorageError
from .jsondoc import load_json
from .storage.base import Storage, create_if_absent, put_bytes

LEASE_NAME = ".cloudcollect-lease.json"
VERSION = 1
LEASE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}

#: Codes a listing (or a GET of a missing key) can fail with when the credentials may
#: write but not list (no s3:ListBucket): every key is then checked with HEAD.
LIST_DENIED = frozenset({"AccessDenied", "403"})


class LeaseLost(CloudCollectError):
    """Another run started writing to the same prefix; this run stopped (exit 3)."""

    exit_code = 3


def lease_key(prefix: str) -> str:
    """Key of the lease for a normalised prefix (``""`` or ``"a/b/"``)."""
    return prefix + LEASE_NAME


def lease_run(data: bytes | None) -> str | None:
    """The run id a lease's bytes name; None for no lease, or one that cannot be read."""
    if not data:
        return None
    try:
        run = load_json(data)["run"]
    except (ValueError, TypeError, KeyError):
        return None
    return run if isinstance(run, str) else None


def new_run_id() -> str:
    return secrets.token_hex(8)


class Lease:
    """One run's side of the lease; ``seen`` is the lease's bytes when the run listed."""

    def __init__(self, storage: Storage, prefix: str, seen: bytes | None) -> None:
        self.storage = storage
        self.key = lease_key(prefix)
        self.seen = seen
        self.run = new_run_id()
        self.taken = False

    @staticmethod
    def read(storage: Storage, key: str) -> bytes | None:
        """The lease's bytes; None when missing or when the credentials cannot tell (a
        GET of a missing key is AccessDenied without list permission)."""
        try:
            return storage.get(key)
        except FatalStorageError as error:
            if error.code not in LIST_DENIED:
                raise
            return None

    def take(self) -> None:
        """Take the lease before the run's first write (once); LeaseLost when another
        run has taken it since this run listed the prefix."""
        if self.taken:
            return
        if self.read(self.storage, self.key) != self.seen:
            raise LeaseLost(
                f"another run started writing to {self.key.rpartition('/')[0] or 'the bucket'}"
                " after this run listed it: nothing was written; run again"
            )
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        text = f'{{"version": {VERSION}, "run": "{self.run}", "started": "{started}"}}'
        if self.seen is not None:
            self._write(text)
        elif not create_if_absent(self.storage, self.key, text.encode(), LEASE_HEADERS):
            raise LeaseLost(
                f"another run created the release lease {self.key} a moment before this "
                "one: nothing was written; run again"
            )
        self.taken = True

    def hold(self, writing: str) -> None:
        """Check that the lease is still this run's around writing ``writing`` (for the
        message); otherwise revoke it and raise LeaseLost."""
        self.take()
        if lease_run(self.read(self.storage, self.key)) == self.run:
            return
        self._write(f'{{"version": {VERSION}, "run": "{new_run_id()}", "revoked": true}}')
        raise LeaseLost(
            f"a newer run took over the release lease {self.key} while this run was "
            f"writing ({writing}): this run stopped and revoked the lease, so neither "
            "run's state object is trusted; the next run checks every file again"
        )

    def _write(self, text: str) -> None:
        put_bytes(self.storage, self.key, text.encode("utf-8"), LEASE_HEADERS)
