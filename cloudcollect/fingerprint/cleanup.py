"""Which old objects a release-aware cleanup may remove: those no kept manifest references
and that are older than the grace period. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from ..storage.base import RemoteObject
from .manifest import Manifest
from .names import CURRENT_MANIFEST, VARIANT_SUFFIXES, history_key


def kept_releases(history: Iterable[str], current: str, keep: int) -> list[str]:
    """The release ids cleanup keeps: ``current`` and the ``keep`` newest others."""
    older = sorted({r for r in history if r != current}, reverse=True)
    return [current, *older[:keep]]


def removable(
    candidates: Iterable[RemoteObject],
    prefix: str,
    kept: Sequence[Manifest],
    now: datetime,
    grace: timedelta,
) -> list[str]:
    """The candidate keys cleanup may delete: not referenced (plain or hashed, or as the
    ``.gz``/``.br`` sibling of such a key) by a kept manifest, not the current manifest or
    a kept one's history copy, and written before ``now - grace`` (an unknown time keeps
    the object)."""
    referenced = {prefix + CURRENT_MANIFEST}
    for manifest in kept:
        referenced.add(history_key(prefix, manifest.release))
        for path, hashed in manifest.files.items():
            referenced.update((prefix + path, prefix + hashed))
    cutoff = now - grace

    def in_use(key: str) -> bool:
        base, dot, suffix = key.rpartition(".")
        return key in referenced or (f"{dot}{suffix}" in VARIANT_SUFFIXES and base in referenced)

    return [
        obj.key
        for obj in candidates
        if not in_use(obj.key) and obj.last_modified is not None and obj.last_modified < cutoff
    ]
