"""Bundler output inside static folders: which files a Vite or webpack build already hashed.

Manifests are found among what discovery saw, without a second walk:

- Vite 5+ writes ``<outDir>/.vite/manifest.json``. Discovery skips the dot-directory
  ``.vite/`` (it is never published unless an include pattern names it); the manifest is
  read from disk there. Its paths are relative to ``<outDir>``.
- Vite 2-4 and webpack-manifest-plugin write ``manifest.json``; a published file of that
  name is read, paths relative to its folder.

Formats, told apart by shape (anything else, such as a PWA's ``manifest.json``, is not a
bundler manifest and is ignored):

- Vite: an object whose every value is an object with a string ``file``; ``file``,
  ``css`` and ``assets`` name output files.
- webpack-manifest-plugin: an object of file names (every key has an extension) to
  strings, the output path with the bundler's ``publicPath`` in front
  (``"/static/dist/main.3f9a1c2b.js"``, ``"auto/main.3f9a1c2b.js"``). A value names the
  file at its longest trailing part that is a file under the manifest's folder.

A listed output counts as **hashed** when its file name carries a hash token, ``-`` or
``.`` followed by 8 or more of ``[A-Za-z0-9_-]`` with a digit or an upper-case letter
among them, then ``.`` (``main-DtvZySHS.js``, ``main.3f9a1c2b.chunk.js``), and its name
without extension is not the bundler's own name for it (Vite's ``name``, the source's
stem or webpack's key: ``entryFileNames: "[name].js"`` gives no hash). Hashed files get
``Cache-Control: IMMUTABLE`` and fingerprinting leaves their names alone. A listed file
that is not published (excluded, or missing on disk) is a warning, and a difference for
``--check``. Pure apart from reading the manifests; no Flask, no boto3.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .discovery import Discovery
from .globs import compile_globs
from .jsondoc import load_json

VITE_DIR = ".vite/"
MANIFEST_NAME = "manifest.json"
_HASH_TOKEN = re.compile(r"[.-]([A-Za-z0-9_-]{8,})\.")
_HASH_CHARACTER = re.compile(r"[0-9A-Z]")
_SCHEME_HOST = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^/]*")


@dataclass(frozen=True)
class Listed:
    """A file a bundler manifest names: its path (the key without the prefix), the
    manifest's path, and whether its name is hashed."""

    path: str
    manifest: str
    hashed: bool


@dataclass(frozen=True)
class Bundles:
    """Every bundler manifest of a run and the files they list."""

    manifests: tuple[str, ...] = ()
    listed: tuple[Listed, ...] = ()
    warnings: tuple[str, ...] = ()
    unpublished: tuple[tuple[Listed, str], ...] = ()  # (listed file, why it is missing)
    _hashed: frozenset[str] = field(default=frozenset(), repr=False)

    def hashed_test(self, patterns: Iterable[str] = ()) -> Callable[[str], bool]:
        """Whether a path (key without prefix) is already hashed: a listed hashed file
        or a match of ``patterns`` (``CLOUDCOLLECT_HASHED``, glob semantics of
        ``cloudcollect.globs``)."""
        globs = compile_globs(patterns)
        hashed = self._hashed
        return lambda path: path in hashed or globs.match(path) is not None


def hashed_paths(
    discovery: Discovery, settings: Settings, warn: Callable[[str], None]
) -> Callable[[str], bool]:
    """The run's test for names hashed already (bundler manifests, ``CLOUDCOLLECT_HASHED``);
    ``warn`` hears of unreadable manifests and listed files that are not published."""
    bundles = read_bundles(discovery, settings.prefix)
    for warning in bundles.warnings:
        warn(warning)
    return bundles.hashed_test(settings.hashed)


def read_bundles(discovery: Discovery, prefix: str) -> Bundles:
    """Read every bundler manifest ``discovery`` found (see the module docstring)."""
    published = {file.key[len(prefix) :]: str(file.path) for file in discovery.files}
    skipped = {
        s.key[len(prefix) :]: s.reason
        for s in discovery.skipped
        if s.key is not None and s.key.startswith(prefix)
    }
    listed: list[Listed] = []
    warnings: list[str] = []
    manifests: list[str] = []
    for manifest, disk_path, folder in _manifests(discovery, published, prefix):
        try:
            with open(disk_path, "rb") as handle:
                document = load_json(handle.read())  # deep nesting: ValueError
        except (OSError, ValueError) as error:
            if manifest.endswith(VITE_DIR + MANIFEST_NAME):
                warnings.append(f"cannot read the bundler manifest {manifest}: {error}")
            continue
        found = _listed(document, manifest, folder, published)
        if found is not None:
            manifests.append(manifest)
            listed.extend(found)
    unpublished = tuple(
        (item, skipped.get(item.path, "no such file"))
        for item in _unique(listed)
        if item.path not in published
    )
    for item, why in unpublished:
        warnings.append(f"{item.manifest} lists {item.path}, which is not published ({why})")
    return Bundles(
        tuple(manifests),
        tuple(listed),
        tuple(warnings),
        unpublished,
        frozenset(item.path for item in listed if item.hashed),
    )


def looks_hashed(path: str, names: Iterable[str] = ()) -> bool:
    """Whether the file name of ``path`` carries a hash token and is not one of ``names``
    (the bundler's names for it, without extension)."""
    name = path.rpartition("/")[2]
    if name.rpartition(".")[0] in set(names):
        return False
    return any(_HASH_CHARACTER.search(m.group(1)) for m in _HASH_TOKEN.finditer(name))


def _manifests(
    discovery: Discovery, published: dict[str, str], prefix: str
) -> Iterator[tuple[str, str, str]]:
    """(manifest path, its file on disk, the folder its paths are relative to)."""
    folders = {source.name: source.folder for source in discovery.sources}
    for skip in discovery.skipped:
        folder = folders.get(skip.source)
        if skip.key is None or folder is None or not skip.key.endswith("/" + VITE_DIR):
            continue
        if skip.path != VITE_DIR and not skip.path.endswith("/" + VITE_DIR):
            continue
        disk = os.path.join(folder, *skip.path.split("/"), MANIFEST_NAME)
        if os.path.isfile(disk):
            out_dir = skip.key[len(prefix) : -len(VITE_DIR)]
            yield out_dir + VITE_DIR + MANIFEST_NAME, disk, out_dir
    for path, disk in published.items():
        folder, _, name = path.rpartition("/")
        if name == MANIFEST_NAME:
            folder = folder + "/" if folder else ""
            vite_dir = folder.endswith(VITE_DIR)
            yield path, disk, folder[: -len(VITE_DIR)] if vite_dir else folder


def _listed(
    document: Any, manifest: str, folder: str, published: dict[str, str]
) -> list[Listed] | None:
    """The files a manifest lists, or None when it is not a bundler manifest."""
    if not isinstance(document, dict) or not document:
        return None
    values = list(document.values())
    if all(isinstance(v, dict) and isinstance(v.get("file"), str) for v in values):
        return list(_vite(document, manifest, folder))
    file_names = all("." in str(k).rpartition("/")[2] for k in document)
    if file_names and all(isinstance(v, str) for v in values):
        return [_webpack(k, v, manifest, folder, published) for k, v in document.items()]
    return None


def _vite(document: dict[str, Any], manifest: str, folder: str) -> Iterator[Listed]:
    for key, chunk in document.items():
        names = {_stem(key)}
        if isinstance(chunk.get("name"), str):
            names.add(chunk["name"])
        outputs = [chunk["file"]]
        for extra in ("css", "assets"):
            items = chunk.get(extra)
            if isinstance(items, list):
                outputs.extend(item for item in items if isinstance(item, str))
        for output in outputs:
            path = _joined(folder, output)
            yield Listed(path, manifest, looks_hashed(path, names))


def _webpack(key: str, value: str, manifest: str, folder: str, published: dict[str, str]) -> Listed:
    parts = _SCHEME_HOST.sub("", value).split("?")[0].strip("/").split("/")
    candidates = [_joined(folder, "/".join(parts[i:])) for i in range(len(parts))]
    path = next((c for c in candidates if c in published), candidates[-1])
    return Listed(path, manifest, looks_hashed(path, {_stem(key)}))


def _joined(folder: str, relative: str) -> str:
    """``folder`` + ``relative`` with ``./`` and ``..`` segments resolved."""
    segments: list[str] = []
    for segment in (folder + relative.lstrip("/")).split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "/".join(segments)


def _stem(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.rpartition(".")[0] or name


def _unique(listed: Iterable[Listed]) -> list[Listed]:
    seen: dict[str, Listed] = {}
    for item in listed:
        seen.setdefault(item.path, item)
    return list(seen.values())
