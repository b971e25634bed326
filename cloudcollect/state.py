"""The state object: what cloudcollect last stored, kept under the prefix. Pure.

A listing tells size and ETag, not headers, and a multipart ETag is not an MD5. The state
object (``PREFIX + STATE_NAME``, JSON) records for every published key the ETag it had
after upload, its content MD5 and a digest of its headers. An entry is trusted only while
the listing still shows that ETag (or, where a store reports no ETag, that MD5): then
the MD5 and the headers are known without a HEAD. So a changed header rule or MIME type
reaches unchanged objects on the next run, and a no-op run needs no HEAD at all.

A missing, unreadable or foreign state object is simply ignored (then undecidable keys
get a HEAD, as without state).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .hashing import plain_md5_from_etag
from .storage.base import RemoteObject

STATE_NAME = ".cloudcollect-state.json"
VERSION = 2

# Headers a store gives back on HEAD; only these take part in drift detection.
_COMPARED = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-type",
    "expires",
    "x-amz-website-redirect-location",
)


@dataclass(frozen=True)
class Recorded:
    """One key as cloudcollect stored it."""

    etag: str | None
    md5: str
    headers: str  # headers_digest() of what was stored


def state_key(prefix: str) -> str:
    """Key of the state object for a normalised prefix (``""`` or ``"a/b/"``)."""
    return prefix + STATE_NAME


def headers_digest(headers: Mapping[str, str]) -> str:
    """A short digest of the compared headers (names case-insensitive, order-free)."""
    return _digest(tuple(headers.items()))


@functools.lru_cache(maxsize=4096)
def _digest(items: tuple[tuple[str, str], ...]) -> str:
    # A run has a handful of distinct header sets for thousands of files: cache them.
    lines = sorted(
        f"{name.lower()}:{value.strip()}"
        for name, value in items
        if name.lower() in _COMPARED or name.lower().startswith("x-amz-meta-")
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:20]


def encode(entries: Mapping[str, Recorded]) -> bytes:
    """The state object's bytes: deterministic, so an unchanged state is never rewritten.

    Compact, as it is read on every run: each distinct headers digest is stored once
    (objects refer to it by index) and an MD5 equal to the plain ETag is left out.
    """
    digests = sorted({r.headers for r in entries.values()})
    index = {digest: n for n, digest in enumerate(digests)}
    objects = {
        key: [r.etag, None if plain_md5_from_etag(r.etag) == r.md5 else r.md5, index[r.headers]]
        for key, r in sorted(entries.items())
    }
    document = {"version": VERSION, "headers": digests, "objects": objects}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def decode(data: bytes | None) -> dict[str, Recorded]:
    """Entries from a state object's bytes; ``{}`` for None or anything unexpected."""
    if not data:
        return {}
    try:
        document = json.loads(data)
        if document.get("version") != VERSION:
            return {}
        digests = [str(digest) for digest in document["headers"]]
        entries: dict[str, Recorded] = {}
        for key, (etag, md5, digest) in document["objects"].items():
            if not (etag is None or isinstance(etag, str)) or isinstance(digest, bool):
                continue
            md5 = md5 if md5 is not None else plain_md5_from_etag(etag)
            if md5 is not None:
                entries[str(key)] = Recorded(etag, str(md5), digests[digest])
        return entries
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return {}


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
