"""Decide, then act: ``make_plan`` says what to do with every key, and why. Pure.

Change detection is by content, never by mtime: a file is unchanged when the remote object
has the same size and a known MD5 equal to the local one. An unknown remote MD5 (multipart
or opaque ETag without our recorded MD5) means "upload", never "skip".
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .headers import headers_digest
from .storage.base import RemoteObject


@dataclass(frozen=True)
class LocalAsset:
    """A local file ready to publish: its key, where it is, its size, MD5 and headers."""

    key: str
    path: Path
    size: int
    mtime_ns: int
    md5: str
    headers: Mapping[str, str] = field(default_factory=dict)
    #: A precompressed variant ("gzip" or "br"): ``md5`` and ``size`` are the source's,
    #: the stored bytes are unknown until compressed, so the variant is compared by its
    #: headers, which name the source MD5 (see ``cloudcollect.compress``).
    encoding: str | None = None


class Action(enum.Enum):
    UPLOAD = "upload"
    SKIP = "skip"
    DELETE = "delete"


@dataclass(frozen=True)
class Step:
    """One decision: ``action`` on ``key`` because of ``reason``."""

    action: Action
    key: str
    reason: str
    asset: LocalAsset | None = None
    size: int = 0


@dataclass(frozen=True)
class Plan:
    """Every step, uploads first, then skips, then deletes; each group sorted by key."""

    steps: tuple[Step, ...]

    def of(self, action: Action) -> list[Step]:
        return [step for step in self.steps if step.action is action]

    @property
    def uploads(self) -> list[Step]:
        return self.of(Action.UPLOAD)

    @property
    def skips(self) -> list[Step]:
        return self.of(Action.SKIP)

    @property
    def deletes(self) -> list[Step]:
        return self.of(Action.DELETE)


def upload_reason(
    asset: LocalAsset,
    remote: RemoteObject | None,
    force: bool,
    live_headers: str | None = None,
    compare_headers: bool = False,
) -> str | None:
    """Why ``asset`` must be uploaded, or ``None`` when the remote copy is identical.

    With ``compare_headers``, ``live_headers`` is the ``headers_digest`` of the stored
    object's headers (``None``: unknown, which also means "upload").
    """
    if remote is None:
        return "new"
    if force:
        return "forced"
    if asset.encoding is not None:
        return _variant_reason(asset, live_headers, compare_headers)
    if remote.size != asset.size:
        return "size changed"
    if remote.md5 is None:
        return "remote checksum unknown"
    if remote.md5 != asset.md5:
        return "content changed"
    if compare_headers and live_headers != headers_digest(asset.headers):
        return "headers unknown" if live_headers is None else "headers changed"
    return None


def _variant_reason(
    asset: LocalAsset, live_headers: str | None, compare_headers: bool
) -> str | None:
    """A compressed variant is up to date when its stored headers, which name its source
    MD5, codec and level, are the wanted ones; never decided by size or ETag. A variant
    that compression would not shrink by 5 % is stored as it is, without
    ``Content-Encoding``: those headers are up to date too."""
    if not compare_headers or live_headers is None:
        return "headers unknown"
    if live_headers not in _variant_digests(asset.headers):
        return "source or headers changed"
    return None


def _variant_digests(headers: Mapping[str, str]) -> tuple[str, str]:
    """The digests of a variant's wanted headers, compressed and stored as it is."""
    stored_plain = {k: v for k, v in headers.items() if k.lower() != "content-encoding"}
    return headers_digest(headers), headers_digest(stored_plain)


def needs_head(
    assets: Iterable[LocalAsset],
    remote: Mapping[str, RemoteObject],
    live_headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Keys the listing cannot decide: same size and an unknown MD5, or (when headers are
    compared, ``live_headers`` not None) the same MD5 but unknown headers; for a
    compressed variant, unknown headers alone."""
    return [
        asset.key
        for asset in assets
        if (found := remote.get(asset.key)) is not None and _undecided(asset, found, live_headers)
    ]


def _undecided(
    asset: LocalAsset, found: RemoteObject, live_headers: Mapping[str, str] | None
) -> bool:
    headers_unknown = live_headers is not None and asset.key not in live_headers
    if asset.encoding is not None:
        return headers_unknown
    if found.size != asset.size:
        return False
    return found.md5 is None or (found.md5 == asset.md5 and headers_unknown)


def make_plan(
    local: Sequence[LocalAsset],
    remote: Mapping[str, RemoteObject],
    *,
    force: bool = False,
    delete_within: Sequence[str] | None = None,
    live_headers: Mapping[str, str] | None = None,
    outside_sync: Container[str] = (),
) -> Plan:
    """Compare ``local`` with ``remote`` (the listing) and plan each key.

    ``live_headers`` maps keys to the ``headers_digest`` of their stored headers; when
    given, an object whose headers differ from the wanted ones is uploaded again ("headers
    changed"); ``None`` (a storage that keeps no headers) compares content only.

    With ``delete_within`` (normalised prefixes ending in ``/``), remote keys under one of
    them without a local source are planned for deletion; no other key ever is, whatever
    ``remote`` holds. ``None`` or an empty sequence plans no deletion. A remote key in
    ``outside_sync`` (see ``deletion.OutsideSync``: its local file exists but a filter
    leaves it out) is never planned for deletion.
    """
    uploads: list[Step] = []
    skips: list[Step] = []
    for asset in sorted(local, key=lambda a: a.key):
        reason = upload_reason(
            asset,
            remote.get(asset.key),
            force,
            (live_headers or {}).get(asset.key),
            compare_headers=live_headers is not None,
        )
        if reason is None:
            skips.append(Step(Action.SKIP, asset.key, "unchanged", asset, asset.size))
        else:
            uploads.append(Step(Action.UPLOAD, asset.key, reason, asset, asset.size))
    deletes: list[Step] = []
    if delete_within:
        scope = tuple(delete_within)
        assert all(prefix.endswith("/") for prefix in scope), scope
        local_keys = {asset.key for asset in local}
        deletes = [
            Step(Action.DELETE, key, "no local source", size=obj.size)
            for key, obj in sorted(remote.items())
            if key.startswith(scope) and key not in local_keys and key not in outside_sync
        ]
    return Plan(tuple(uploads + skips + deletes))
