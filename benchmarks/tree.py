"""A seeded generator of realistic static trees, and the edits the scenarios make to them.

Profiles (counts multiplied by ``scale``; sizes are drawn log-uniformly between bounds):

- ``default``: about 3,000 files / 250 MB. 2,635 text assets of 1-50 KB (css, js, svg,
  json, html, map: compressible pseudo-code), 360 images and fonts of 5 KB-2 MB and
  5 media/archive files of 10-30 MB (random bytes).
- ``small-files``: 20,000 files of 0.5-16 KB (16,000 text, 4,000 binary), about 90 MB.
- ``100k``: 100,000 files of 0.5-8 KB (80,000 text, 20,000 binary), about 280 MB.

The same ``(profile, seed, scale)`` always gives byte-identical files at the same paths.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Group:
    """``count`` files with sizes in [min_size, max_size], one of ``exts``, under ``dirs``."""

    count: int
    min_size: int
    max_size: int
    exts: tuple[str, ...]
    text: bool
    dirs: tuple[str, ...]


TEXT_DIRS = ("css", "css/vendor", "js", "js/vendor", "js/chunks", "svg/icons", "locales", "")
IMAGE_DIRS = ("img", "img/products", "img/blog", "img/ui", "fonts", "favicons")
MEDIA_DIRS = ("media", "downloads")

PROFILES: dict[str, tuple[Group, ...]] = {
    "default": (
        Group(2635, 1 * KB, 50 * KB, ("css", "js", "svg", "json", "html", "map"), True, TEXT_DIRS),
        Group(360, 5 * KB, 2 * MB, ("png", "jpg", "webp", "gif", "woff2"), False, IMAGE_DIRS),
        Group(5, 10 * MB, 30 * MB, ("mp4", "zip", "pdf", "wasm"), False, MEDIA_DIRS),
    ),
    "small-files": (
        Group(16000, KB // 2, 16 * KB, ("css", "js", "svg", "json", "html"), True, TEXT_DIRS),
        Group(4000, KB // 2, 16 * KB, ("png", "ico", "woff2", "gif"), False, IMAGE_DIRS),
    ),
    "100k": (
        Group(80000, KB // 2, 8 * KB, ("css", "js", "svg", "json", "html"), True, TEXT_DIRS),
        Group(20000, KB // 2, 8 * KB, ("png", "ico", "woff2", "gif"), False, IMAGE_DIRS),
    ),
}


@dataclass(frozen=True)
class TreeInfo:
    root: Path
    files: int
    bytes: int


def _corpus(rng: random.Random, size: int = 2 * MB) -> bytes:
    """Pseudo-code text from a seeded vocabulary: compressible like real css/js."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(1500)]
    vocabulary += ["{", "}", "(", ")", ";", "=", "=>", "function", "return", "const", "var"]
    vocabulary += [".", ":", "px", "0", "1", "#fff", "\n", "\n  ", "\n    "]
    text = " ".join(rng.choices(vocabulary, k=size // 5))
    data = text.encode("ascii")
    while len(data) < size:
        data += data
    return data[:size]


def _size(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def _subdir(rng: random.Random, base: str) -> str:
    """A directory under ``base``: sometimes one or two package-like levels deeper."""
    depth = rng.choice((0, 0, 0, 1, 1, 2))
    parts = [base] if base else []
    for _ in range(depth):
        parts.append(f"pkg{rng.randrange(5):02d}")
    return "/".join(parts)


def generate(root: Path, profile: str, *, seed: int = 1, scale: float = 1.0) -> TreeInfo:
    """Write the profile's tree under ``root`` (emptied first); return its size."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rng = random.Random(f"cloudcollect-bench:{profile}:{seed}")
    corpus = _corpus(rng)
    files = total = 0
    for group_number, group in enumerate(PROFILES[profile]):
        count = max(1, round(group.count * scale))
        for index in range(count):
            directory = _subdir(rng, rng.choice(group.dirs))
            ext = rng.choice(group.exts)
            name = f"f{group_number}-{index:05d}-{rng.getrandbits(32):08x}.{ext}"
            size = _size(rng, group.min_size, group.max_size)
            if group.text:
                header = f"/* {directory}/{name} {rng.getrandbits(64):016x} */\n".encode()
                start = rng.randrange(len(corpus) - size) if size < len(corpus) else 0
                data = (header + corpus[start : start + size])[:size]
            else:
                data = rng.randbytes(size)
            path = root / directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files += 1
            total += size
    return TreeInfo(root, files, total)


def all_files(root: Path) -> list[Path]:
    """Every file under ``root``, sorted (deterministic order for seeded edits)."""
    found = [Path(dirpath, name) for dirpath, _, names in os.walk(root) for name in names]
    return sorted(found)


def change_some(root: Path, fraction: float, *, seed: int = 1) -> list[Path]:
    """Change the content (not the size, not the set) of ``fraction`` of the files."""
    rng = random.Random(f"cloudcollect-bench-change:{seed}")
    files = all_files(root)
    chosen = rng.sample(files, max(1, round(len(files) * fraction)))
    for path in chosen:
        data = bytearray(path.read_bytes())
        if not data:
            continue
        length = min(64, len(data))
        offset = rng.randrange(len(data) - length + 1)
        letters = b"abcdefghijklmnopqrstuvwxyz"
        data[offset : offset + length] = bytes(rng.choice(letters) for _ in range(length))
        path.write_bytes(bytes(data))
    return chosen


def touch_all(root: Path) -> int:
    """Give every file a new mtime (now), content untouched: a fresh CI checkout."""
    now = time.time_ns()
    files = all_files(root)
    for path in files:
        os.utime(path, ns=(now, now))
    return len(files)


def big_file(path: Path, size: int, *, seed: int = 1) -> Path:
    """A file of ``size`` seeded random bytes, written once and reused when it exists."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"cloudcollect-bench-big:{seed}")
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        remaining = size
        while remaining > 0:
            chunk = min(64 * MB, remaining)
            stream.write(rng.randbytes(chunk))
            remaining -= chunk
    partial.replace(path)
    return path
