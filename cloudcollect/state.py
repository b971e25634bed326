"""The state object: what cloudcollect last stored, kept under the prefix. Pure.

A listing tells size and ETag, not headers, and a multipart ETag is not an MD5. The state
object (``PREFIX + STATE_NAME``, JSON) records for every published key the ETag it had
after upload, its content MD5 and a digest of its headers. An entry is trusted only while
the listing still shows that ETag (or, where a store reports no ETag, that MD5): then
the MD5 and the headers are known without a HEAD. So a changed header rule or MIME type
reaches unchanged objects on the next run, and a no-op run needs no HEAD at all.

A missing or foreign state object is simply ignored, a corrupt one (not JSON, nested too
deeply...) with a warning; then undecidable keys get a HEAD, as without state. A state
object is also ignored when the release lease names another run (``cloudcollect.lease``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .hashing import plain_md5_from_etag
from .headers import headers_digest as headers_digest  # re-exported: entries record it
from .jsondoc import load_json
from .storage.base import RemoteObject

STATE_NAME = ".cloudcollect-state.json"
STATE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}
VERSION = 2


@dataclass(frozen=True)
class Recorded:
    """One key as cloudcollect stored it."""

    etag: str | None
    md5: str
    headers: str  # headers_digest() of what was stored


def state_key(prefix: str) -> str:
    """Key of the state object for a normalised prefix (``""`` or ``"a/b/"``)."""
    return prefix + STATE_NAME


def encode(entries: Mapping[str, Recorded], run: str | None = None) -> bytes:
    """The state object's bytes: deterministic, so an unchanged state is never rewritten.

    Compact, as it is read on every run: each distinct headers digest is stored once
    (objects refer to it by index) and an MD5 equal to the plain ETag is left out.
    ``run`` is the id of the run that writes it (see ``cloudcollect.lease``).
    """
    digests = sorted({r.headers for r in entries.values()})
    index = {digest: n for n, digest in enumerate(digests)}
    objects = {
        key: [r.etag, None if plain_md5_from_etag(r.etag) == r.md5 else r.md5, index[r.headers]]
        for key, r in sorted(entries.items())
    }
    document: dict[str, object] = {"version": VERSION, "headers": digests, "objects": objects}
    if run is not None:
        document["run"] = run
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def decode(data: bytes | None) -> dict[str, Recorded]:
    """Entries from a state object's bytes; ``{}`` for None or anything unexpected."""
    return read_state(data).entries


@dataclass(frozen=True)
class StateDocument:
    """A state object as read: its entries, the run that wrote it, and ``problem`` (why
    it was ignored) when it is present but corrupt (not JSON, nested too deeply...)."""

    entries: dict[str, Recorded]
    run: str | None = None
    problem: str | None = None


def read_state(data: bytes | None) -> StateDocument:
    """Parse a state object; a foreign version is ignored silently, a corrupt one with
    ``problem`` set. Never raises (RecursionError included)."""
    if not data:
        return StateDocument({})
    try:
        document = load_json(data)
        if document.get("version") != VERSION:
            return StateDocument({})
        run = document.get("run")
        return StateDocument(_entries(document), run if isinstance(run, str) else None)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        return StateDocument({}, problem=f"{type(error).__name__}: {str(error)[:100]}")


def _entries(document: dict[str, object]) -> dict[str, Recorded]:
    digests = [str(digest) for digest in document["headers"]]  # type: ignore[attr-defined]
    entries: dict[str, Recorded] = {}
    for key, (etag, md5, digest) in document["objects"].items():  # type: ignore[attr-defined]
        if not (etag is None or isinstance(etag, str)) or isinstance(digest, bool):
            continue
        md5 = md5 if md5 is not None else plain_md5_from_etag(etag)
        if md5 is not None:
            entries[str(key)] = Recorded(etag, str(md5), digests[digest])
    return entries


def _normal_etag(etag: str | None) -> str | None:
    return None if etag is None else etag.strip().strip('"').lower()


def still_valid(entry: Recorded, listed: RemoteObject) -> bool:
    """Whether ``entry`` still describes the listed object (same ETag, else same MD5)."""
    if listed.etag is not None and entry.etag is not None:
        return _normal_etag(listed.etag) == _normal_etag(entry.etag)
    return listed.md5 is not None and listed.md5 == entry.md5


def merge(
    remote: Mapping[str, RemoteObject], recorded: Mapping[str, Recorded]
) -> tuple[dict[str, RemoteObject], dict[str, str]]:
    """Fill unknown MD5s from valid entries; return the listing and the known header digests.

    Keys whose entry is missing or stale get no header digest: their headers are unknown.
    """
    merged: dict[str, RemoteObject] = {}
    digests: dict[str, str] = {}
    for key, listed in remote.items():
        entry = recorded.get(key)
        if entry is not None and still_valid(entry, listed):
            digests[key] = entry.headers
            if listed.md5 is None:
                listed = replace(listed, md5=entry.md5)
        merged[key] = listed
    return merged, digests
