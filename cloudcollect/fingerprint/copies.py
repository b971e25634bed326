"""The hashed copies: ``fingerprint_assets`` turns the run's hashed LocalAssets into their
hashed copies. Files that refer to others are handled after them (``refgraph``), rewritten
into a work directory and re-hashed (their name carries the MD5 of the rewritten bytes);
every other copy streams from the original file. No Flask, no boto3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ..headers import IMMUTABLE
from ..plan import LocalAsset
from ..rewrite import apply, rewritten_url
from .names import hashed_name
from .refgraph import Node, Warn, dependency_order, scan


def fingerprint_assets(
    assets: Sequence[LocalAsset],
    prefix: str,
    workdir: Path,
    *,
    strict: bool,
    modules: bool,
    warn: Warn,
    hashed: Callable[[str], bool] = lambda path: False,
) -> tuple[list[LocalAsset], dict[str, str]]:
    """The hashed copy of every asset and the manifest's files mapping.

    A path for which ``hashed`` is true (a bundler already hashed its name, see
    ``cloudcollect.bundler``) maps to itself: no copy, its content is not rewritten, and
    references to it stay as written. Copies carry the original's headers with
    ``Cache-Control: IMMUTABLE``. A reference to a file that is not published is a
    FingerprintError in strict mode and a warning otherwise (a missing source map is always
    only a warning: the file works without it); it is then left as written.
    """
    known = frozenset(asset.key[len(prefix) :] for asset in assets)
    kept = frozenset(path for path in known if hashed(path))
    maps: list[str] = []  # missing source maps: one warning for all
    nodes = {
        n.path: n
        for n in (scan(a, prefix, known, kept, strict, modules, warn, maps) for a in assets)
    }
    if maps:
        warn(
            f"{len(maps)} files name a source map that is not published; left as written "
            f"(first: {maps[0]})"
        )
    copies: list[LocalAsset] = []
    files: dict[str, str] = {}
    md5s: dict[str, str] = {}
    for path in dependency_order(nodes):
        if path in kept:
            files[path] = path
            continue
        copy = _hashed_copy(nodes[path], prefix, md5s, workdir)
        md5s[path] = copy.md5
        files[path] = copy.key[len(prefix) :]
        copies.append(copy)
    return copies, files


def _hashed_copy(item: Node, prefix: str, md5s: Mapping[str, str], workdir: Path) -> LocalAsset:
    headers = {**item.asset.headers, "Cache-Control": IMMUTABLE}
    if not item.deps:
        key = prefix + hashed_name(item.path, item.asset.md5)
        return replace(item.asset, key=key, headers=headers)
    text = item.asset.path.read_bytes().decode("utf-8")
    replacements = {
        ref: rewritten_url(ref.url, _hasher(md5s[dep])) for ref, dep in item.deps.items()
    }
    data = apply(text, replacements).encode("utf-8")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    out = workdir.joinpath(*item.path.split("/"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    info = out.stat()
    return LocalAsset(
        prefix + hashed_name(item.path, md5), out, info.st_size, info.st_mtime_ns, md5, headers
    )


def _hasher(md5: str) -> Callable[[str], str]:
    return lambda name: hashed_name(name, md5)
