"""The MD5s of a large file's multipart parts, computed in the same read as its whole MD5.

A multipart upload sends a Content-MD5 with every part, and the object's metadata needs
the whole file's MD5 before the upload starts. Hashed separately, a file whose upload is
certain (the listing shows no object of its size) is read three times by MD5: once to
decide, once to check that the bytes sent are the bytes hashed, once for the parts. When
the hash stage computes both in one read (:func:`md5_with_parts`, the part MD5s on a
second thread), the upload needs no MD5 at all: the store checks every part against its
digest, so a file that changed since it was hashed is refused (BadDigest) and leaves
nothing, as before.

Digests are kept by content, ``(whole MD5, size, part size)``, in a small process-wide
memo (:func:`remember`, :func:`recall`): whoever finds them can trust them for any file
with that content, and a miss only means the upload hashes the parts itself. No Flask, no
boto3.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections import OrderedDict

from .hashing import CHUNK

Digests = tuple[bytes, ...]
#: Entries kept (least recently used dropped first); one is at most 10,000 x 16 bytes.
MEMO_SIZE = 64
#: Chunks read ahead of the thread hashing the parts.
READ_AHEAD = 4

_memo: OrderedDict[tuple[str, int, int], Digests] = OrderedDict()
_memo_lock = threading.Lock()


def remember(md5: str, size: int, part_size: int, digests: Digests) -> None:
    """Keep the part digests of the content whose MD5 is ``md5``."""
    with _memo_lock:
        _memo[(md5, size, part_size)] = digests
        _memo.move_to_end((md5, size, part_size))
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)


def md5_remembering_parts(path: str, part_size: int) -> str:
    """Hex MD5 of the file at ``path``; its part digests are remembered on the way."""
    md5, size, digests = md5_with_parts(path, part_size)
    remember(md5, size, part_size, digests)
    return md5


def recall(md5: str, size: int, part_size: int) -> Digests | None:
    """The part digests remembered for this content and part size, or None."""
    with _memo_lock:
        digests = _memo.get((md5, size, part_size))
        if digests is not None:
            _memo.move_to_end((md5, size, part_size))
        return digests


def md5_with_parts(path: str | os.PathLike[str], part_size: int) -> tuple[str, int, Digests]:
    """Hex MD5 of the file at ``path``, the bytes read, and the raw MD5 of each
    ``part_size`` piece, in one read (memory: :data:`READ_AHEAD` chunks). An empty file
    has one empty part."""
    if part_size <= 0:
        raise ValueError(f"part size must be positive, not {part_size}")
    chunks: queue.Queue[bytes | None] = queue.Queue(READ_AHEAD)
    parts: list[bytes] = []
    failure: list[BaseException] = []
    worker = threading.Thread(
        target=_hash_parts, args=(chunks, part_size, parts, failure), daemon=True
    )
    worker.start()
    whole, size = hashlib.md5(usedforsecurity=False), 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        while chunk := os.read(fd, CHUNK):
            chunks.put(chunk)
            whole.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
        chunks.put(None)
        worker.join()
    if failure:
        raise failure[0]
    return whole.hexdigest(), size, tuple(parts)


def _hash_parts(
    chunks: queue.Queue[bytes | None],
    part_size: int,
    parts: list[bytes],
    failure: list[BaseException],
) -> None:
    """Consume ``chunks`` until None, appending each finished part's digest to ``parts``."""
    try:
        digest, filled = hashlib.md5(usedforsecurity=False), 0
        while (chunk := chunks.get()) is not None:
            view = memoryview(chunk)
            while view:
                take = view[: part_size - filled]
                digest.update(take)
                filled += len(take)
                view = view[len(take) :]
                if filled == part_size:
                    parts.append(digest.digest())
                    digest, filled = hashlib.md5(usedforsecurity=False), 0
        if filled or not parts:
            parts.append(digest.digest())
    except BaseException as error:  # pragma: no cover - hashlib does not fail on bytes
        failure.append(error)
        while chunks.get() is not None:  # let the reader finish
            pass
