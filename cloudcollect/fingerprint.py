"""Content-hashed names, reference rewriting in dependency order, the manifest, and which
old objects a release-aware cleanup may remove. No Flask, no boto3.

- ``hashed_name("css/app.css", md5)`` is ``css/app.<first 12 hex of md5>.css`` (the MD5
  already computed for change detection; for a stylesheet or script whose references
  were rewritten, the MD5 of the rewritten bytes).
- ``fingerprint_assets`` turns the run's hashed LocalAssets into their hashed copies:
  files that refer to others are handled after them (topological order; a cycle is a
  FingerprintError), rewritten into a work directory and re-hashed; every other copy
  streams from the original file. Only rewritable text files up to REWRITE_LIMIT bytes
  are read whole.
- The manifest maps each path (the key without the prefix, ``static/css/app.css``) to its
  hashed path; it carries a version, the release id and its time.
- ``removable`` says which deletion candidates cleanup may remove: those that no kept
  manifest references and that are older than the grace period.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .errors import ConfigError, FingerprintError
from .headers import IMMUTABLE as IMMUTABLE  # re-exported: copies use it too
from .jsondoc import load_json
from .plan import LocalAsset
from .rewrite import SOURCEMAP, Reference, apply, is_rewritable, references, rewritten_url, target
from .storage.base import RemoteObject

MANIFEST_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
MANIFEST_VERSION = 1
HASH_LENGTH = 12
OWN_FOLDER = ".cloudcollect/"
CURRENT_MANIFEST = OWN_FOLDER + "manifest.json"
HISTORY_FOLDER = OWN_FOLDER + "manifests/"
LOCAL_MANIFEST_NAME = "cloudcollect-manifest.json"
#: Precompressed siblings (cloudcollect.compress): kept while the file they belong to is.
VARIANT_SUFFIXES = (".gz", ".br")
#: Stylesheets and scripts larger than this are published as they are, with a warning.
REWRITE_LIMIT = 8 * 1024 * 1024

Warn = Callable[[str], None]


def hashed_name(path: str, md5: str) -> str:
    """``path`` with ``.<12 hex>`` before its last extension (appended when it has none)."""
    folder, slash, name = path.rpartition("/")
    stem, dot, extension = name.rpartition(".")
    digest = md5[:HASH_LENGTH]
    hashed = f"{stem}.{digest}.{extension}" if dot and stem else f"{name}.{digest}"
    return f"{folder}{slash}{hashed}"


# -- the manifest ------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """One release: ``files`` maps each path (key without prefix) to its hashed path."""

    files: Mapping[str, str]
    release: str
    created: str  # ISO 8601, UTC
    version: int = MANIFEST_VERSION


def new_manifest(files: Mapping[str, str], now: datetime) -> Manifest:
    """A manifest for ``files``; the release id sorts by time: ``20260102T030405123456Z-<8
    hex of the mapping>``."""
    now = now.astimezone(timezone.utc)
    digest = hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()
    release = now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + digest[:8]
    return Manifest(dict(files), release, now.isoformat().replace("+00:00", "Z"))


def encode_manifest(manifest: Manifest) -> bytes:
    document = {
        "version": manifest.version,
        "release": manifest.release,
        "created": manifest.created,
        "files": dict(sorted(manifest.files.items())),
    }
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def decode_manifest(data: bytes, where: str) -> Manifest:
    """Parse a manifest; FingerprintError naming ``where`` when it is not one we can read."""
    try:
        document = load_json(data)
        if document["version"] != MANIFEST_VERSION:
            raise ValueError(f"version {document['version']!r}")
        files = {str(k): str(v) for k, v in document["files"].items()}
        return Manifest(files, str(document["release"]), str(document["created"]))
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise FingerprintError(f"unreadable manifest {where}: {error}", path=where) from None


def local_manifest_path(manifest_path: str | None, instance_path: str) -> Path:
    """``CLOUDCOLLECT_MANIFEST_PATH``, else ``<instance_path>/cloudcollect-manifest.json``."""
    if manifest_path:
        return Path(manifest_path).expanduser()
    return Path(instance_path) / LOCAL_MANIFEST_NAME


def check_manifest_path(path: Path) -> None:
    """ConfigError naming ``CLOUDCOLLECT_MANIFEST_PATH`` when ``path`` cannot be written:
    it is a directory, or its nearest existing ancestor is not a writable directory (a
    file in the way). Creates nothing; a later failure (a full disk) is still possible."""

    def fail(why: str) -> None:
        key = "CLOUDCOLLECT_MANIFEST_PATH"
        raise ConfigError(f"{key} {str(path)!r} {why}", key=key)

    if path.is_dir():
        fail("is a directory")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        fail(f"cannot be created: {str(ancestor)!r} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        fail(f"cannot be written: {str(ancestor)!r} is not writable")


def current_manifest_key(prefix: str) -> str:
    return prefix + CURRENT_MANIFEST


def history_key(prefix: str, release: str) -> str:
    return f"{prefix}{HISTORY_FOLDER}{release}.json"


def release_of(key: str, prefix: str) -> str | None:
    """The release id of a history key, or None for any other key."""
    folder = prefix + HISTORY_FOLDER
    if key.startswith(folder) and key.endswith(".json") and "/" not in key[len(folder) :]:
        return key[len(folder) : -len(".json")]
    return None


# -- hashed copies -----------------------------------------------------------------------


@dataclass
class _Scanned:
    asset: LocalAsset
    path: str  # key without the prefix
    deps: dict[Reference, str]  # reference -> path of the asset it points to


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
    ``Cache-Control: IMMUTABLE``. A reference to
    a file that is not published is a FingerprintError in strict mode and a warning
    otherwise (a missing source map is always only a warning: the file works without
    it); it is then left as written.
    """
    known = frozenset(asset.key[len(prefix) :] for asset in assets)
    kept = frozenset(path for path in known if hashed(path))
    maps: list[str] = []  # missing source maps: one warning for all
    scanned = {
        s.path: s
        for s in (_scan(a, prefix, known, kept, strict, modules, warn, maps) for a in assets)
    }
    if maps:
        warn(
            f"{len(maps)} files name a source map that is not published; left as written "
            f"(first: {maps[0]})"
        )
    copies: list[LocalAsset] = []
    files: dict[str, str] = {}
    md5s: dict[str, str] = {}
    for path in _dependency_order(scanned):
        item = scanned[path]
        if path in kept:
            files[path] = path
            continue
        copy = _hashed_copy(item, prefix, md5s, workdir)
        md5s[path] = copy.md5
        files[path] = copy.key[len(prefix) :]
        copies.append(copy)
    return copies, files


def _scan(
    asset: LocalAsset,
    prefix: str,
    known: frozenset[str],
    kept: frozenset[str],
    strict: bool,
    modules: bool,
    warn: Warn,
    missing_maps: list[str],
) -> _Scanned:
    path = asset.key[len(prefix) :]
    item = _Scanned(asset, path, {})
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


def _dependency_order(scanned: Mapping[str, _Scanned]) -> list[str]:
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
        for dep in sorted(set(scanned[path].deps.values())):
            visit(dep, [*trail, path])
        state[path] = "done"
        order.append(path)

    for path in sorted(scanned):
        visit(path, [])
    return order


def _hashed_copy(item: _Scanned, prefix: str, md5s: Mapping[str, str], workdir: Path) -> LocalAsset:
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


# -- cleanup -----------------------------------------------------------------------------


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
