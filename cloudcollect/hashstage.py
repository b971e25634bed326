"""The hash stage: every discovered file's MD5 (from the hash cache when it is unchanged)
and wanted headers, as LocalAssets. A file that cannot be read is a failed Outcome in the
report, not an asset.

A file the storage would send in parts (its optional ``multipart_part_size(size)``) whose
upload is certain (the listing shows no object of its key and size, or ``--force``) has
its part MD5s computed in the same read (``cloudcollect.partdigests``), so that its
upload hashes nothing again. The listing is waited for at most :data:`LISTING_WAIT`
seconds: a listing slower than that (a very large bucket) never delays hashing, and the
parts are then computed anyway (one more MD5 pass, on a second thread). A denied or
failed listing, a dry run or a hash cache hit leave the parts to the upload.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from .config import Settings
from .discovery import LocalFile
from .hashcache import open_cache
from .hashing import md5_of_file
from .headers import headers_for
from .partdigests import md5_remembering_parts
from .plan import LocalAsset
from .remote import RemoteView
from .report import FAILED, Outcome
from .run import Found, RunContext
from .sync import run_parallel

#: Files up to this size are hashed one after another on one thread (see hash_files). On
#: 20,000 files of about 4 KB, 2 cores: 0.27 s in one thread, 0.47-0.66 s on 2 to 16.
SERIAL_HASH_MAX = 64 * 1024
#: Seconds a large file's hashing waits for the listing to say whether it is uploaded.
LISTING_WAIT = 1.0


#: For a file: the part size to compute its part MD5s for, or None.
PartsWanted = Callable[[LocalFile], "int | None"]


def hash_stage(
    run: RunContext, found: Found, listing: Future[RemoteView] | None = None
) -> list[LocalAsset]:
    """The assets of every readable file (a name a bundler hashed gets immutable headers).
    ``listing``: the listing being read meanwhile (see the module docstring). Files whose
    MD5 the hash cache holds are answered on the calling thread; only the others go to
    :func:`hash_files` (threads would cost more than a cache hit: 3,000 hits took 65-75
    ms through them, 30-36 ms without)."""
    assets: list[LocalAsset] = []

    def keep(result: LocalAsset | Outcome) -> None:
        if isinstance(result, Outcome):
            run.report.add(result)
        else:
            assets.append(result)

    hasher = _Hasher(run.settings, found.hashed, _parts_wanted(run, listing))
    missed: list[LocalFile] = []
    for file in found.discovery.files:
        asset = hasher.cached(file)
        if asset is None:
            missed.append(file)
        else:
            keep(asset)
    hash_files(missed, hasher.hash_one, keep, _hashing_threads(run.settings))
    return assets


def hash_files(
    files: list[LocalFile],
    hash_one: Callable[[LocalFile], LocalAsset | Outcome],
    keep: Callable[[LocalAsset | Outcome], None],
    threads: int,
) -> None:
    """Hash files above :data:`SERIAL_HASH_MAX` on ``threads`` threads and, meanwhile, the
    smaller ones one after another on one more thread: for them a thread hand-off per file
    would cost more than the hashing itself. ``keep`` runs in the calling thread."""
    small = [file for file in files if file.size <= SERIAL_HASH_MAX]
    large = [file for file in files if file.size > SERIAL_HASH_MAX]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudcollect-hash") as serial:
        hashed = serial.submit(lambda: [hash_one(file) for file in small])
        run_parallel(large, hash_one, keep, workers=threads)
        for result in hashed.result():
            keep(result)


def _hashing_threads(settings: Settings) -> int:
    """Hashing is CPU work (hashlib releases the GIL on large reads): two threads a core
    keep the disks and cores busy; more only contend for the GIL on small files."""
    return max(1, min(settings.workers, 2 * (os.cpu_count() or 1)))


def _parts_wanted(run: RunContext, listing: Future[RemoteView] | None) -> PartsWanted:
    multipart_part_size = getattr(run.storage, "multipart_part_size", None)
    if listing is None or run.dry_run or not callable(multipart_part_size):
        return lambda file: None

    def wanted(file: LocalFile) -> int | None:
        part_size: int | None = multipart_part_size(file.size)
        if part_size is None or run.force:
            return part_size
        try:
            remote = listing.result(timeout=LISTING_WAIT)
        except TimeoutError:
            return part_size  # not known yet: computing the parts costs less than waiting
        except Exception:  # the run stops on it once hashing is done
            return None
        stored = remote.objects.get(file.key)
        certain = remote.listed and (stored is None or stored.size != file.size)
        return part_size if certain else None

    return wanted


class _Hasher:
    """Makes a file's LocalAsset: its MD5 from the hash cache, else computed (with its
    part MD5s when ``parts_wanted`` says so), and its headers."""

    def __init__(
        self, settings: Settings, is_hashed: Callable[[str], bool], parts_wanted: PartsWanted
    ) -> None:
        self.settings = settings
        self.is_hashed = is_hashed
        self.parts_wanted = parts_wanted
        self.prefix_length = len(settings.prefix)
        self.cache = open_cache(settings.hash_cache)  # MD5s of files unchanged since a last run
        #: key -> the stat a cache miss was found with, handed to the cache's md5()
        self.missed: dict[str, os.stat_result] = {}

    def cached(self, file: LocalFile) -> LocalAsset | None:
        """The file's asset when the cache holds its MD5; None: it must be read."""
        md5, stat = self.cache.check(file.path)
        if md5 is None:
            if stat is not None:
                self.missed[file.key] = stat
            return None
        return self._asset(file, md5)

    def hash_one(self, file: LocalFile) -> LocalAsset | Outcome:
        part_size = self.parts_wanted(file)
        compute = md5_of_file if part_size is None else partial(_with_parts, part_size)
        try:
            md5 = self.cache.md5(file.path, compute, self.missed.pop(file.key, None))
        except OSError as error:
            message = f"cannot read {file.path}: {error.strerror or error}"
            return Outcome(
                file.key,
                "upload",
                FAILED,
                "unreadable",
                file.size,
                error_code="LocalReadError",
                message=message,
            )
        return self._asset(file, md5)

    def _asset(self, file: LocalFile, md5: str) -> LocalAsset:
        path = file.key[self.prefix_length :]
        headers = headers_for(path, self.settings, hashed=self.is_hashed(path))
        return LocalAsset(file.key, file.path, file.size, file.mtime_ns, md5, headers)


def _with_parts(part_size: int, path: str, size: int) -> str:
    return md5_remembering_parts(path, part_size)
