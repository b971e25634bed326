"""Collect into a local directory (Flask-Collect parity): ``root/<key>``, servable by nginx.

Files mirror the URL space: key ``static/css/a.css`` is ``ROOT/static/css/a.css``, so
``CLOUDCOLLECT_BASE_URL`` + key is the file's URL when ``ROOT`` is the web root.

- **Atomic writes.** Each file is written to a hidden temporary file
  (``.cloudcollect-tmp-*``) in its target directory, checked against its MD5, then
  ``os.replace``\\ d over the target: a reader sees the old file or the new one, never a
  half-written one, and a wrong MD5 leaves nothing behind.
- **MD5 record.** The MD5 is stored in the extended attribute ``user.cloudcollect.md5``
  (with the size and mtime it belongs to, so a file edited in place is not trusted), not
  in a sidecar file that could collide with a served one. ``list`` reports it when the
  record is valid, else ``md5=None``; ``head`` then hashes the file. On filesystems
  without user xattrs every ``head`` hashes the file.
- **Headers are not stored**: the web server decides them from the file name. ``head``
  returns empty headers.
- **The target directory.** ``check`` never creates anything: it passes when ``ROOT`` is
  a writable directory, or is missing but its parent directory exists (the first write
  then creates it, as Flask-Collect did). A missing parent or a non-directory ``ROOT``
  is a FatalStorageError.
- Keys never escape ``ROOT``: ``.``/``..``/empty segments, backslashes and absolute keys
  are refused, and a path whose real location leaves ``ROOT`` (through a symlinked
  directory) is refused too. ``delete`` prunes directories left empty, never ``ROOT``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
import stat
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from ..baseurl import derive_base_url, object_url
from ..config import Settings, require
from ..errors import FatalStorageError, InvalidKeyError, StorageError
from ..hashing import CHUNK, md5_of_file
from ..keys import validate_segments
from .base import DeleteFailure, RemoteObject

TEMP_PREFIX = ".cloudcollect-tmp-"
MD5_XATTR = "user.cloudcollect.md5"

_Failures = list[DeleteFailure]


class FilesystemStorage:
    """Files under ``root``; ``base_url`` is where ``root`` is served (default ``/``)."""

    stores_headers = False

    def __init__(self, root: Path | str, base_url: str = "/") -> None:
        self.root = Path(root).absolute()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    @classmethod
    def from_settings(cls, settings: Settings) -> FilesystemStorage:
        """``CLOUDCOLLECT_ROOT`` is required (ConfigError); the base URL as url_for uses."""
        root = require(settings, "root")
        return cls(Path(root).expanduser(), derive_base_url(settings))

    # -- paths ----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for ``key``; InvalidKeyError if it could leave ``root``."""
        validate_segments(key)
        path = self.root.joinpath(*key.split("/"))
        real_parent = path.parent.resolve()
        if real_parent != self.root.resolve() and not real_parent.is_relative_to(
            self.root.resolve()
        ):
            raise InvalidKeyError(f"key {key!r} leads outside {self.root}", path=key)
        return path

    def _key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # -- protocol -------------------------------------------------------------------------

    def check(self) -> None:
        """FatalStorageError unless ``root`` is a writable directory or can be created."""
        if self.root.is_dir():
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise FatalStorageError(f"target directory {self.root} is not writable")
        elif self.root.exists():
            raise FatalStorageError(f"target {self.root} exists and is not a directory")
        elif not self.root.parent.is_dir():
            raise FatalStorageError(
                f"target directory {self.root} is missing and so is its parent directory"
            )

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        """Walk ``root`` (from the prefix's directory); temporary files are skipped."""
        directory, _, _ = prefix.rpartition("/")
        if directory:
            validate_segments(directory)
        start = self.root.joinpath(*directory.split("/")) if directory else self.root
        for folder, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(folder, name)
                key = self._key(path)
                if not key.startswith(prefix):
                    continue
                try:
                    info = path.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    modified = datetime.fromtimestamp(info.st_mtime, timezone.utc)
                    md5 = _recorded_md5(path, info)
                    yield RemoteObject(key, info.st_size, md5=md5, last_modified=modified)

    def head(self, key: str) -> RemoteObject | None:
        """The file's size and MD5 (recorded, else hashed); headers are not stored."""
        path = self._path(key)
        try:
            info = path.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                return None
            md5 = _recorded_md5(path, info) or md5_of_file(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise StorageError(f"head {key!r}: {error}", key=key, code=_code(error)) from None
        return RemoteObject(key, info.st_size, md5=md5)

    def get(self, key: str) -> bytes | None:
        """The file's bytes, or ``None`` when it does not exist."""
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as error:
            raise StorageError(f"get {key!r}: {error}", key=key, code=_code(error)) from None

    def put(
        self, key: str, file: BinaryIO, size: int, md5: str, headers: Mapping[str, str]
    ) -> None:
        """Write a temporary file beside the target, verify size and MD5, rename it over."""
        self._store(key, file, size, md5, replace=True)

    def put_if_absent(self, key: str, data: bytes, headers: Mapping[str, str]) -> bool:
        """Store ``data`` only if no file is at ``key`` (a hard link of the temporary file,
        which fails when the name exists; see ``base.CreatesIfAbsent``)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return self._store(key, io.BytesIO(data), len(data), md5, replace=False)

    def _store(self, key: str, file: BinaryIO, size: int, md5: str, *, replace: bool) -> bool:
        path = self._path(key)
        try:
            temp = self._create_temp(path.parent)
        except OSError as error:
            raise StorageError(f"put {key!r}: {error}", key=key, code=_code(error)) from None
        try:
            with open(temp, "wb") as out:
                written, digest = _copy(file, out, size)
                out.flush()
                os.fsync(out.fileno())
            if written != size or digest != md5:
                message = f"content of {key!r} does not match its MD5 or size"
                raise StorageError(message, key=key, code="BadDigest")
            _record_md5(temp, md5)
            if replace:
                os.replace(temp, path)
                return True
            try:
                os.link(temp, path)
            except FileExistsError:
                return False
            finally:
                temp.unlink()
            return True
        except BaseException as error:
            with contextlib.suppress(OSError):
                temp.unlink()
            if isinstance(error, OSError):
                message = f"put {key!r}: {error}"
                raise StorageError(message, key=key, code=_code(error)) from None
            raise

    def _create_temp(self, directory: Path) -> Path:
        """Create an empty temporary file in ``directory`` (made if missing), mode 0666 &
        ~umask like any other file. Retried once if a concurrent delete pruned the folder."""
        for attempt in (1, 2):
            directory.mkdir(parents=True, exist_ok=True)
            temp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
            try:
                os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileNotFoundError:
                if attempt == 2:
                    raise
                continue
            return temp
        raise AssertionError("unreachable")

    def delete(self, keys: Sequence[str]) -> _Failures:
        """Remove the files, then the directories left empty (never ``root``)."""
        failures: _Failures = []
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as error:
                failures.append(DeleteFailure(key, _code(error), str(error)))
                continue
            self._prune(path.parent)
        return failures

    def _prune(self, directory: Path) -> None:
        while directory != self.root and directory.is_relative_to(self.root):
            try:
                directory.rmdir()
            except OSError:
                return  # not empty (or already gone, or not ours to remove)
            directory = directory.parent

    def public_url(self, key: str) -> str:
        return object_url(self.base_url, key)

    def close(self) -> None:
        """Nothing to release."""


def _copy(source: BinaryIO, target: BinaryIO, size: int) -> tuple[int, str]:
    """Copy up to ``size + 1`` bytes (to notice a longer file); return count and MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    while written <= size:
        chunk = source.read(min(CHUNK, size + 1 - written))
        if not chunk:
            break
        digest.update(chunk)
        target.write(chunk)
        written += len(chunk)
    return written, digest.hexdigest()


def _record_md5(path: Path, md5: str) -> None:
    """Store ``md5:size:mtime_ns`` in the xattr; silently skipped where unsupported."""
    info = path.stat()
    value = f"{md5}:{info.st_size}:{info.st_mtime_ns}".encode("ascii")
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(path, MD5_XATTR, value, follow_symlinks=False)


def _recorded_md5(path: Path, info: os.stat_result) -> str | None:
    """The recorded MD5 if it still describes the file (same size and mtime), else None."""
    try:
        value = os.getxattr(path, MD5_XATTR, follow_symlinks=False).decode("ascii")
    except (OSError, AttributeError, UnicodeDecodeError):
        return None
    md5, _, rest = value.partition(":")
    return md5 if rest == f"{info.st_size}:{info.st_mtime_ns}" and len(md5) == 32 else None


def _code(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, "OSError")
