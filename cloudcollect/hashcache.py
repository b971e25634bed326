"""A local cache of file MD5s for developer re-runs. No Flask, no boto3.

An entry maps a file's absolute path to its MD5 together with the ``os.stat`` fields it
had when it was hashed: size, ``st_mtime_ns``, inode, device and ``st_ctime_ns``. It is
used only when all of them are still equal, so any write, rename-over, ``touch`` or
``chmod`` makes the file be hashed again. (ctime cannot be set back by a user, which closes
the gap that tools restoring mtimes, such as ``tar`` or ``rsync -t``, would leave.) A file
whose mtime or ctime is younger than :data:`RACY_NS` when it is hashed is not cached:
a write in the same timestamp tick could otherwise go unnoticed ("racy clean" in git).

In CI every checkout has fresh mtimes and inodes, so the cache only ever misses there; the
MD5 is then computed from the content, as without a cache.

The cache file is ``$XDG_CACHE_HOME/cloudcollect/md5-v1.log`` (``~/.cache/...`` without
XDG_CACHE_HOME): a header line, then one line per hashed file, appended with ``O_APPEND``
(one ``write`` per batch of lines), so concurrent threads and processes never interleave
within a line. Later lines win. Lines that do not parse (a crash mid-write, a foreign or
corrupt file) are ignored; a file with another header is ignored and replaced. When the
log holds many outdated lines it is rewritten (compacted) atomically on load. Every error
of the cache itself is swallowed: it can make a run slower, never wrong or failing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .hashing import md5_of_file

HEADER = "cloudcollect-md5-cache 1\n"
FILE_NAME = "md5-v1.log"
#: Files modified less than this long before they are hashed are not cached.
RACY_NS = 2_000_000_000
#: Compact when the log has more than this many lines beyond twice the live entries.
SLACK_LINES = 1000
#: Beyond this many entries, compaction also drops entries of files that are gone, and a
#: load checks every n-th of :data:`PRUNE_SAMPLE` entries: when :data:`PRUNE_GONE` of
#: them are gone (or stale), the log is compacted and pruned. (Pruning on every load cost
#: a stat of every entry and a rewrite of the log: 1 s of a 100,000-file no-op.)
PRUNE_ABOVE = 50_000
PRUNE_SAMPLE = 1000
PRUNE_GONE = 0.1

_HEX32 = re.compile(r"[0-9a-f]{32}")

# "<md5> <size> <mtime_ns> <inode> <device> <ctime_ns>": the start of its line in the log,
# kept as one string (a third of the memory of a tuple of ints). The MD5 is checked when
# an entry is used, the rest by comparing it with the same string made from a stat.
Entry = str


def default_path() -> Path:
    """``$XDG_CACHE_HOME/cloudcollect/md5-v1.log``, else under ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cloudcollect" / FILE_NAME


def _identity(stat: os.stat_result) -> str:
    return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ino} {stat.st_dev} {stat.st_ctime_ns}"


def _md5_of(entry: Entry, stat: os.stat_result) -> str | None:
    """The entry's MD5 when it was made for exactly this ``stat``, else None."""
    if entry[32:33] == " " and entry[33:] == _identity(stat):
        md5 = entry[:32]
        if _HEX32.fullmatch(md5):
            return md5
    return None


def _encode_path(path: str) -> str:
    """The path as it is when that is safe on one line; otherwise as a JSON string."""
    if path[:1] == '"' or "\n" in path or "\r" in path:
        return json.dumps(path)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of a file name (surrogates)
        return json.dumps(path)
    return path


def _parse(line: str) -> tuple[str, Entry] | None:
    parts = line.split(" ", 6)
    if len(parts) != 7 or not line.endswith("\n") or len(parts[0]) != 32:
        return None
    raw_path = parts[6][:-1]
    try:
        path = json.loads(raw_path) if raw_path[:1] == '"' else raw_path
    except ValueError:
        return None
    if not isinstance(path, str) or not path:
        return None
    return path, line[: len(line) - len(raw_path) - 2]


def _format(path: str, entry: Entry) -> str:
    return f"{entry} {_encode_path(path)}\n"


class HashCache:
    """MD5s of local files, reused while their stat identity is unchanged. Thread-safe.

    ``HashCache(None)`` is a cache that never hits and never writes (hashing only).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Entry] = {}
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._flushing = False
        self._fd: int | None = None
        self._broken = path is None
        if path is not None:
            self._load(path)

    # -- reading --------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace", newline="\n") as stream:
                lines = iter(stream)
                valid = next(lines, "") == HEADER
                count = self._read(lines) if valid else 0
        except FileNotFoundError:
            valid, count = False, 0
        except OSError:
            self._broken = True
            return
        large = len(self.entries) > PRUNE_ABOVE
        if not valid or count > 2 * len(self.entries) + SLACK_LINES:
            self._compact(path, prune=large)
        elif large and self._many_gone():
            self._compact(path, prune=True)

    def _read(self, lines: Iterator[str]) -> int:
        count = 0
        entries = self.entries
        for line in lines:
            count += 1
            parsed = _parse(line)
            if parsed is not None:
                entries[parsed[0]] = parsed[1]
        return count

    def _compact(self, path: Path, *, prune: bool) -> None:
        """Rewrite the log with one line per live entry (atomically, by rename)."""
        if prune:
            self.entries = {p: e for p, e in self.entries.items() if self._still_valid(p, e)}
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(HEADER)
                stream.writelines(_format(p, e) for p, e in self.entries.items())
            os.replace(temporary, path)
        except OSError:
            self._broken = True
            with contextlib.suppress(OSError):
                os.unlink(temporary)

    def _many_gone(self) -> bool:
        """Whether at least :data:`PRUNE_GONE` of a sample of the entries (every n-th, about
        :data:`PRUNE_SAMPLE` of them) describe files that are gone or changed."""
        paths = list(self.entries)
        sample = paths[:: max(1, len(paths) // PRUNE_SAMPLE)]
        gone = sum(not self._still_valid(p, self.entries[p]) for p in sample)
        return gone >= PRUNE_GONE * len(sample)

    @staticmethod
    def _still_valid(path: str, entry: Entry) -> bool:
        try:
            return _md5_of(entry, os.stat(path)) is not None
        except OSError:
            return False

    def lookup(self, path: str, stat: os.stat_result) -> str | None:
        """The cached MD5 of ``path`` if ``stat`` matches what it was hashed with."""
        entry = self.entries.get(path)
        return None if entry is None else _md5_of(entry, stat)

    # -- writing --------------------------------------------------------------------------

    def store(self, path: str, stat: os.stat_result, md5: str, now_ns: int | None = None) -> None:
        """Remember ``md5`` for ``path`` as it was at ``stat`` (taken before reading it),
        unless the file changed within :data:`RACY_NS` of ``now_ns`` (default: now)."""
        if self.path is None:
            return
        now_ns = time.time_ns() if now_ns is None else now_ns
        if max(stat.st_mtime_ns, stat.st_ctime_ns) > now_ns - RACY_NS:
            return
        if not _HEX32.fullmatch(md5):
            return
        entry = f"{md5} {_identity(stat)}"
        if self.entries.get(path) == entry:
            return
        self.entries[path] = entry
        if self._broken:
            return
        line = _format(path, entry)
        with self._lock:
            self._pending.append(line)
            if self._flushing:
                return  # the thread that is writing picks this line up
            self._flushing = True
        self._flush()

    def _flush(self) -> None:
        """Write pending lines until none are left (one ``write`` per batch)."""
        while True:
            with self._lock:
                lines, self._pending = self._pending, []
                if not lines:
                    self._flushing = False
                    return
            if not self._broken:
                self._write("".join(lines).encode("utf-8"))

    def _write(self, data: bytes) -> None:
        assert self.path is not None
        try:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                fd = os.open(self.path, flags, 0o600)
                if os.fstat(fd).st_size == 0:
                    os.write(fd, HEADER.encode("ascii"))
                self._fd = fd
            os.write(self._fd, data)
        except OSError:
            self._broken = True

    def close(self) -> None:
        """Write what is pending and close the log; the cache still answers lookups."""
        with self._lock:
            busy = self._flushing
            if not busy:
                self._flushing = True
        if not busy:
            self._flush()
        with self._lock:
            fd, self._fd = self._fd, None
            self._broken = True
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- what the hash stage calls --------------------------------------------------------

    def md5(
        self,
        path: str | os.PathLike[str],
        compute: Callable[[str, int], str] = md5_of_file,
        stat: os.stat_result | None = None,
    ) -> str:
        """MD5 of the file at ``path``: from the cache when its stat still matches, else
        ``compute(path, size)`` (and remembered); ``stat``: a miss :meth:`check` found.
        OSError when the file cannot be read."""
        name = os.fspath(path)
        if stat is None:
            cached, stat = self.check(name)
            if cached is not None:
                return cached
            stat = stat or os.stat(name)  # raises the OSError that check() swallowed
        self.misses += 1
        started = time.time_ns()
        md5 = compute(name, stat.st_size)
        self.store(name, stat, md5, started)
        return md5

    def check(self, path: str | os.PathLike[str]) -> tuple[str | None, os.stat_result | None]:
        """``(md5, None)`` on a hit (counted); ``(None, stat)`` on a miss, for :meth:`md5`;
        ``(None, None)`` when ``path`` cannot be stat'ed (:meth:`md5` raises the OSError)."""
        name = os.fspath(path)
        try:
            stat = os.stat(name)
        except OSError:
            return None, None
        if (md5 := self.lookup(name, stat)) is None:
            return None, stat
        self.hits += 1
        return md5, None


def open_cache(enabled: bool = True, path: Path | None = None) -> HashCache:
    """The cache at ``path`` (default :func:`default_path`), or a no-op one if disabled."""
    return HashCache((path or default_path()) if enabled else None)
