"""Plug-in: upload order. Files are uploaded after the files they refer to, so a page never
sees a stylesheet that points at an image which is not there yet (always on).

``order``: the stylesheets (and scripts: source maps, and ES-module imports with
``CLOUDCOLLECT_REWRITE_JS_IMPORTS``) being uploaded in this run are read for references
with fingerprinting's reference graph (``cloudcollect.fingerprint.refgraph``); nothing else
is read, and a run with nothing to upload reads nothing. Level 0 holds the uploads that
refer to no other upload of the run, level n those whose referenced uploads are all in
lower levels; each level is uploaded largest first, and starts once the one before has
finished. An upload referring to one that failed is not uploaded (``ReferenceNotUploaded``,
exit 1). A precompressed variant (``.gz``/``.br``) shares its source's level and needs.
A cycle of references shares one level, with a warning. The state object and the
fingerprint manifest are written after every upload anyway.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ..compress import SUFFIXES
from ..fingerprint.levels import levels
from ..fingerprint.refgraph import scan
from ..plan import Step
from ..run import Plugin, RunContext, UploadOrder


class UploadOrdering(Plugin):
    def order(self, run: RunContext, order: UploadOrder) -> UploadOrder:
        steps = [step for group in order.groups for step in group]
        prefix = run.settings.prefix
        by_source: dict[str, list[Step]] = defaultdict(list)
        for step in steps:
            by_source[_source_path(step, prefix)].append(step)
        deps = _references(run, by_source, prefix)
        if not any(deps.values()):
            return order
        found, cycles = levels(deps)
        for cycle in cycles:
            run.report.warn("references form a cycle, uploaded together: " + " -> ".join(cycle))
        level = {path: number for number, paths in enumerate(found) for path in paths}
        needs = {
            step.key: frozenset(
                other.key
                for dep in deps[path]
                if level[dep] < level[path]  # not the members of its own cycle
                for other in by_source[dep]
            )
            for path, group in by_source.items()
            for step in group
        }
        groups = tuple(
            tuple(sorted((s for p in level for s in by_source[p]), key=lambda s: -s.size))
            for level in found
        )
        return UploadOrder(groups, {key: keys for key, keys in needs.items() if keys})


def _source_path(step: Step, prefix: str) -> str:
    """The path (key without the prefix) of the file on disk whose bytes ``step`` stores:
    a precompressed variant's is its source's."""
    assert step.asset is not None
    key = step.key
    if step.asset.encoding is not None:
        key = key.removesuffix(SUFFIXES[step.asset.encoding])
    return key[len(prefix) :]


def _references(
    run: RunContext, by_source: dict[str, list[Step]], prefix: str
) -> dict[str, set[str]]:
    """Source path -> the source paths of this run's uploads it refers to. References to
    anything else are left alone here (fingerprinting warns about missing ones)."""
    known = frozenset(by_source)
    modules = run.settings.rewrite_js_imports
    deps: dict[str, set[str]] = {}
    for path, steps in by_source.items():
        asset = steps[0].asset
        assert asset is not None
        source = replace(asset, key=prefix + path)  # a variant is read as its source
        deps[path] = set(
            scan(source, prefix, known, frozenset(), False, modules, _ignore, []).deps.values()
        )
    return deps


def _ignore(message: str) -> None:
    """scan's warnings are fingerprinting's (about rewriting); ordering only orders."""
