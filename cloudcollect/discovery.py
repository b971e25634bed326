"""Find the files to publish: static sources from ``app.url_map``, walked and filtered.

Sources are the URL rules whose endpoint is ``static`` or ends in ``.static``; the part of
the rule before ``<path:filename>`` is the key's URL prefix (``/admin/static/<path:filename>``
gives ``admin/static/``), so keys mirror what Flask serves, with registration-time and
nested prefixes included; :mod:`cloudcollect.sources` finds each rule's folder, also for
extensions that serve a folder without a blueprint. A source whose folder is unknown is
not walked and is listed in ``unresolved``. Sources are walked in ``url_map`` order: the
app first, then blueprints in registration order. When two files map to one key the
first wins, as it does when Flask serves them, and the other is reported in ``collisions``.

Filters (:mod:`cloudcollect.filters`), in this order:

1. Default exclusions, at any depth: hidden (dot) components, junk and secret-like names,
   which an include pattern re-admits only by naming them. A symlink is also judged by its
   target (``public.txt -> .env`` is skipped). A dot-directory is walked only when a
   dot-segment of an include pattern matches its name; otherwise it is one ``skipped``
   entry whose path ends in ``/``.
2. ``settings.include``: when non-empty, a key must match one of its patterns.
3. ``settings.exclude``: a key matching one of its patterns is skipped (wins over include).

Include and exclude patterns are matched, case-sensitively, against the key without
``settings.prefix`` (``static/css/site.css``) with :mod:`fnmatch` semantics in which ``*``
also matches ``/`` (``static/*.css`` matches ``static/css/a/b.css``); ``**/`` additionally
matches zero directories (``**/robots.txt`` matches ``robots.txt`` at the root).

Walking uses ``os.scandir`` (names in code-point order, a folder's files before its
subfolders), one ``stat`` per regular file, and opens nothing. Two names of one source that
are equal after NFC normalisation collide: the one spelled in NFC wins, as it is the file
Flask opens for the URL ``url_for`` builds (otherwise the first walked wins). Symlinks are
followed only when their real path stays inside the real path of the static folder; a
directory that is its own ancestor is a ``symlink loop``; FIFOs, sockets and devices are
``not a regular file``. Keys come from :func:`cloudcollect.keys.make_key`; a name that
cannot become a key (``\\``, over 1024 bytes, not UTF-8...) lands in ``invalid``, which
the pipeline reports as a failure. A static folder that does not exist is reported in
``missing_folders``, not raised.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidKeyError
from .filters import Filters
from .keys import make_key, normalize
from .sources import StaticSource, static_sources

if TYPE_CHECKING:
    from flask import Flask

    from .config import Settings


@dataclass(frozen=True)
class LocalFile:
    """A file to publish under ``key`` (prefix included)."""

    key: str
    path: Path  # absolute; a symlink's resolved target
    size: int
    mtime_ns: int
    source: str  # "app" or the blueprint's dotted name


@dataclass(frozen=True)
class Skipped:
    """A path that is not published, and why."""

    path: str  # relative to its static folder (a directory ends in "/"), printable
    source: str
    reason: str
    key: str | None = None  # the key it would have had; a skipped directory's ends in "/"


@dataclass(frozen=True)
class Discovery:
    """The result of :func:`discover`."""

    files: list[LocalFile]  # sorted by key
    skipped: list[Skipped]  # excluded by a filter, symlink or file type rule
    collisions: list[Skipped]  # "shadowed by <source> (<path>)": another file has the key
    missing_folders: list[str]  # "blog: /srv/blog/static"
    invalid: list[Skipped]  # cannot become a key, or cannot be read: the run must fail
    sources: list[StaticSource] = field(default_factory=list)
    unresolved: list[StaticSource] = field(default_factory=list)  # folder unknown: not walked
    #: sources with a file on disk that the user's include/exclude patterns leave out
    filtered_sources: frozenset[str] = frozenset()


def discover(
    app: Flask, settings: Settings, sources: list[StaticSource] | None = None
) -> Discovery:
    """Walk every static source of ``app`` (``sources``: its ``static_sources``, when the
    caller has them already) and return the files to publish, with reasons."""
    walker = _Walker(Filters(settings.include, settings.exclude), settings.prefix)
    sources = static_sources(app) if sources is None else sources
    unresolved = [source for source in sources if source.folder is None]
    for source in sources:
        if source.folder is not None:
            walker.walk(source)
    return Discovery(
        files=sorted(walker.files.values(), key=lambda file: file.key),
        skipped=walker.skipped,
        collisions=walker.collisions,
        missing_folders=walker.missing_folders,
        invalid=walker.invalid,
        sources=sources,
        unresolved=unresolved,
        filtered_sources=frozenset(walker.filtered_sources),
    )


def _relative(root: str, path: str) -> str:
    """``path`` (a real path inside ``root``) relative to ``root``, NFC, ``/``-separated."""
    relative = os.path.relpath(path, root)
    return "" if relative == "." else normalize(relative.replace(os.sep, "/"))


def _opened_instead(winner: LocalFile, winner_rel: str, source: StaticSource, rel: str) -> bool:
    """Whether ``rel`` takes the key from ``winner``, a name of one source equal to it after
    NFC: yes when ``rel`` is spelled in NFC and the winner is not, since that is the file
    Flask opens for the NFC URL ``url_for`` builds (``café.css`` composed, not decomposed).
    """
    same_source = winner.source == source.name
    return same_source and rel == normalize(rel) and winner_rel != normalize(winner_rel)


def _printable(text: str) -> str:
    """``text`` with undecodable bytes of a file name shown as ``\\xff``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class _Dir:
    path: str  # real path on disk
    rel: str  # relative to the static folder: "" or "a/b/"
    ancestors: frozenset[tuple[int, int]]  # (st_dev, st_ino) from the root down


class _Walker:
    """Walks sources one after the other, collecting files and everything it skipped."""

    def __init__(self, filters: Filters, prefix: str) -> None:
        self.filters = filters
        self.prefix = prefix
        self.files: dict[str, LocalFile] = {}
        self.origin: dict[str, str] = {}  # key -> path relative to its folder
        self.skipped: list[Skipped] = []
        self.collisions: list[Skipped] = []
        self.missing_folders: list[str] = []
        self.invalid: list[Skipped] = []
        self.filtered_sources: set[str] = set()

    def walk(self, source: StaticSource) -> None:
        if "<" in source.url_prefix:
            reason = f"static rule {source.rule!r} has URL variables before the file name"
            self.invalid.append(Skipped(source.rule, source.name, reason))
            return
        if source.folder is None or not os.path.isdir(source.folder):
            self.missing_folders.append(f"{source.name}: {source.folder or 'no static folder'}")
            return
        root = os.path.realpath(source.folder)
        root_stat = os.stat(root)
        stack = [_Dir(root, "", frozenset({(root_stat.st_dev, root_stat.st_ino)}))]
        while stack:
            subdirs = self._scan(source, root, stack.pop())
            stack.extend(reversed(subdirs))

    def _scan(self, source: StaticSource, root: str, directory: _Dir) -> list[_Dir]:
        """Handle the files of ``directory``; return its subdirectories to walk, in order."""
        try:
            with os.scandir(directory.path) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError as error:
            reason = f"cannot read directory: {error.strerror or error}"
            self.invalid.append(Skipped(_printable(directory.rel or "./"), source.name, reason))
            return []
        subdirs: list[_Dir] = []
        here = Path(directory.path)  # a file's Path is here / name: a third of Path(path)
        for entry in entries:
            subdir = self._entry(source, root, directory, here, entry)
            if subdir is not None:
                subdirs.append(subdir)
        return subdirs

    def _entry(
        self,
        source: StaticSource,
        root: str,
        directory: _Dir,
        here: Path,
        entry: os.DirEntry[str],
    ) -> _Dir | None:
        rel = directory.rel + entry.name
        path, target = entry.path, None
        linked = entry.is_symlink()
        if linked:
            path = os.path.realpath(entry.path)
            if path != root and not path.startswith(root.rstrip(os.sep) + os.sep):
                self._skip(rel, source, "symlink leaves static folder")
                return None
            try:
                target = os.stat(path)
            except OSError as error:
                looped = error.errno == errno.ELOOP
                self._skip(rel, source, "symlink loop" if looped else "broken symlink")
                return None
            is_dir = stat.S_ISDIR(target.st_mode)
        else:
            is_dir = entry.is_dir(follow_symlinks=False)
        if is_dir:
            return self._subdir(source, root, directory, entry, path, target)
        url_path = normalize(source.url_prefix + rel)
        reason = self.filters.reason(url_path, normalize(rel))
        if reason is None and target is not None:  # a symlink: its target is judged too
            target_rel = _relative(root, path)
            target_url = normalize(source.url_prefix + target_rel)
            reason = self.filters.target_reason(target_url, target_rel)
        if reason is not None:
            if self.filters.patterns_leave_out(url_path):
                self.filtered_sources.add(source.name)
            self._skip(rel, source, reason, self.prefix + url_path)
            return None
        target = target or entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(target.st_mode):
            self._skip(rel, source, "not a regular file")
            return None
        self._add(source, rel, Path(path) if linked else here / entry.name, target)
        return None

    def _subdir(
        self,
        source: StaticSource,
        root: str,
        directory: _Dir,
        entry: os.DirEntry[str],
        path: str,
        target: os.stat_result | None,
    ) -> _Dir | None:
        rel = directory.rel + entry.name
        if entry.name.startswith(".") and not self.filters.walks_hidden_dir(entry.name):
            self._skip(rel + "/", source, "hidden")
            return None
        if target is not None and self.filters.hidden_target_dir(_relative(root, path)):
            self._skip(rel + "/", source, "symlink target is hidden")
            return None
        target = target or entry.stat(follow_symlinks=False)
        identity = (target.st_dev, target.st_ino)
        if identity in directory.ancestors:
            self._skip(rel + "/", source, "symlink loop")
            return None
        return _Dir(path, rel + "/", directory.ancestors | {identity})

    def _add(self, source: StaticSource, rel: str, path: Path, target: os.stat_result) -> None:
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            reason = "invalid key: file name is not valid UTF-8"
            self.invalid.append(Skipped(_printable(rel), source.name, reason))
            return
        try:
            key = make_key(self.prefix, source.url_prefix + rel)
        except InvalidKeyError as error:
            self.invalid.append(Skipped(rel, source.name, f"invalid key: {error}"))
            return
        winner = self.files.get(key)
        if winner is not None and not _opened_instead(winner, self.origin[key], source, rel):
            reason = f"shadowed by {winner.source} ({self.origin[key]})"
            self.collisions.append(Skipped(rel, source.name, reason, key))
            return
        if winner is not None:
            reason = f"shadowed by {source.name} ({rel})"
            self.collisions.append(Skipped(self.origin[key], winner.source, reason, key))
        self.files[key] = LocalFile(key, path, target.st_size, target.st_mtime_ns, source.name)
        self.origin[key] = rel

    def _skip(self, rel: str, source: StaticSource, reason: str, key: str | None = None) -> None:
        """Record a skipped path; its key (a directory's ends in ``/``) stays outside the
        sync: ``--delete`` never removes it (see ``cloudcollect.deletion``)."""
        key = key if key is not None else self.prefix + normalize(source.url_prefix + rel)
        self.skipped.append(Skipped(_printable(rel), source.name, reason, _printable(key)))
