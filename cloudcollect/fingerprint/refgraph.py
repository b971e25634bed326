"""The reference graph: which published files each stylesheet or script refers to, and an
order in which every file comes after the files it refers to. No Flask, no boto3.

Only rewritable text files (``cloudcollect.rewrite.is_rewritable``) up to REWRITE_LIMIT
bytes are read, whole; a larger or non-UTF-8 one is published as it is, with a warning.
A reference to a file that is not published is a FingerprintError in strict mode and a
warning otherwise (a missing source map is always only a warning: the file works without
it). A cycle is a FingerprintError naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import FingerprintError
from ..plan import LocalAsset
from ..rewrite import SOURCEMAP, Reference, is_rewritable, references, target

#: Stylesheets and scripts larger than this are published as they are, with a warning.
REWRITE_LIMIT = 8 * 1024 * 1024

Warn = Callable[[str], None]


@dataclass
class Node:
    """One published file: its asset, its path (the key without the prefix) and the
    references in it that point to other published files (reference -> their path)."""

    asset: LocalAsset
    path: str
    deps: dict[Reference, str]


def scan(
    asset: LocalAsset,
    prefix: str,
    known: frozenset[str],
    kept: frozenset[str],
    strict: bool,
    modules: bool,
    warn: Warn,
    missing_maps: list[str],
) -> Node:
    """The node of ``asset``. ``known``: every published path; ``kept``: the paths whose
    names a bundler already hashed (neither read nor a dependency: referenced as written).
    Missing source maps are appended to ``missing_maps`` for one warning for all."""
    path = asset.key[len(prefix) :]
    item = Node(asset, path, {})
    if path in kept or not is_rewritable(path):
        return item
    if asset.size > REWRITE_LIMIT:
        warn(f"{path}: over {REWRITE_LIMIT} bytes, its references are not rewritten")
        return item
    try:
        text = asset.path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        warn(f"{path}: not UTF-8, its references are not rewritten")
        return item
    for ref in references(path, text, modules=modules):
        pointed = target(path, ref.url)
        if pointed is None:
            continue
        if pointed in known:
            if pointed not in kept:  # a name the bundler hashed is referenced as it is
                item.deps[ref] = pointed
            continue
        message = f"{path} refers to {ref.url!r}, which is not published ({pointed})"
        if ref.kind == SOURCEMAP:
            missing_maps.append(message)
            continue
        if strict:
            raise FingerprintError(
                message + "; set CLOUDCOLLECT_MANIFEST_STRICT = False to publish it anyway",
                path=path,
            )
        warn(message + ": left as written")
    return item


def dependency_order(nodes: Mapping[str, Node]) -> list[str]:
    """Every path, each after the paths it refers to; FingerprintError on a cycle."""
    order: list[str] = []
    state: dict[str, str] = {}  # "visiting" | "done"

    def visit(path: str, trail: list[str]) -> None:
        if state.get(path) == "done":
            return
        if state.get(path) == "visiting":
            cycle = trail[trail.index(path) :] + [path]
            raise FingerprintError("references form a cycle: " + " -> ".join(cycle), path=cycle[0])
        state[path] = "visiting"
        for dep in sorted(set(nodes[path].deps.values())):
            visit(dep, [*trail, path])
        state[path] = "done"
        order.append(path)

    for path in sorted(nodes):
        visit(path, [])
    return order
