"""FilesystemStorage beyond the contract: atomic writes, no escape from root, pruning,
the xattr MD5 record, the target directory rules, open_storage."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from cloudcollect.config import Settings
from cloudcollect.errors import ConfigError, FatalStorageError, InvalidKeyError, StorageError
from cloudcollect.storage import MemoryStorage, open_storage
from cloudcollect.storage.filesystem import MD5_XATTR, TEMP_PREFIX, FilesystemStorage


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def put(storage: FilesystemStorage, key: str, data: bytes) -> None:
    storage.put(key, io.BytesIO(data), len(data), md5(data), {"Content-Type": "text/css"})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "public"


@pytest.fixture
def storage(root: Path) -> FilesystemStorage:
    return FilesystemStorage(root)


def files_under(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


class WatchingReader(io.BytesIO):
    """A source that records what the target directory holds while it is being read."""

    def __init__(self, data: bytes, directory: Path) -> None:
        super().__init__(data)
        self.directory = directory
        self.seen: list[tuple[list[str], bytes | None]] = []

    def read(self, size: int | None = -1, /) -> bytes:
        names = sorted(p.name for p in self.directory.iterdir())
        target = self.directory / "a.css"
        self.seen.append((names, target.read_bytes() if target.exists() else None))
        return super().read(size)


def test_put_writes_a_temporary_file_then_renames_it(
    storage: FilesystemStorage, root: Path
) -> None:
    put(storage, "static/a.css", b"old")
    source = WatchingReader(b"new content", root / "static")

    storage.put("static/a.css", source, 11, md5(b"new content"), {})

    names, target_content = source.seen[0]
    assert len(names) == 2 and "a.css" in names
    (temp,) = [name for name in names if name != "a.css"]
    assert temp.startswith(TEMP_PREFIX)
    assert target_content == b"old"  # readers saw the old file until the rename
    assert (root / "static/a.css").read_bytes() == b"new content"
    assert files_under(root) == ["static", "static/a.css"]


def test_failed_put_leaves_no_temporary_file_and_keeps_the_old_file(
    storage: FilesystemStorage, root: Path
) -> None:
    put(storage, "static/a.css", b"old")
    with pytest.raises(StorageError) as raised:
        storage.put("static/a.css", io.BytesIO(b"new"), 3, md5(b"other"), {})
    with pytest.raises(StorageError):  # the source is longer than announced
        storage.put("static/a.css", io.BytesIO(b"new!"), 3, md5(b"new"), {})

    assert raised.value.code == "BadDigest"
    assert (root / "static/a.css").read_bytes() == b"old"
    assert files_under(root) == ["static", "static/a.css"]


def test_files_get_the_usual_permissions(storage: FilesystemStorage, root: Path) -> None:
    previous = os.umask(0o022)
    try:
        put(storage, "static/a.css", b"body {}")
    finally:
        os.umask(previous)
    assert (root / "static/a.css").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "key",
    ["../escape.css", "static/../../escape.css", "/etc/escape.css", "a\\..\\escape.css", ""],
)
def test_keys_never_escape_root(storage: FilesystemStorage, root: Path, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        put(storage, key, b"x")
    with pytest.raises(InvalidKeyError):
        storage.delete([key])
    with pytest.raises(InvalidKeyError):
        storage.head(key)
    if key.endswith(".css") and "/" in key:
        with pytest.raises(InvalidKeyError):
            list(storage.list(key.rpartition("/")[0] + "/"))
    assert not (root.parent / "escape.css").exists()
    assert not root.exists()


def test_symlinked_directory_leading_outside_is_refused(
    storage: FilesystemStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "static").symlink_to(outside)

    with pytest.raises(InvalidKeyError):
        put(storage, "static/a.css", b"x")
    assert list(outside.iterdir()) == []


def test_delete_prunes_empty_directories_but_never_root(
    storage: FilesystemStorage, root: Path
) -> None:
    put(storage, "static/css/deep/a.css", b"a")
    put(storage, "static/b.css", b"b")

    assert storage.delete(["static/css/deep/a.css"]) == []
    assert files_under(root) == ["static", "static/b.css"]

    assert storage.delete(["static/b.css", "static/missing.css"]) == []
    assert root.is_dir()
    assert files_under(root) == []


def test_delete_reports_what_it_cannot_remove(storage: FilesystemStorage, root: Path) -> None:
    (root / "static/dir.css").mkdir(parents=True)
    failures = storage.delete(["static/dir.css"])
    assert [f.key for f in failures] == ["static/dir.css"]
    assert failures[0].code in ("EISDIR", "EPERM")


def test_list_skips_temporary_files_and_other_prefixes(
    storage: FilesystemStorage, root: Path
) -> None:
    put(storage, "static/a.css", b"a")
    put(storage, "static2/b.css", b"b")
    (root / "static" / f"{TEMP_PREFIX}abc").write_bytes(b"partial")
    (root / "static" / "link.css").symlink_to(root / "static" / "a.css")

    assert [o.key for o in storage.list("static/")] == ["static/a.css"]
    assert [o.key for o in storage.list("")] == ["static/a.css", "static2/b.css"]
    assert list(storage.list("nothing/here/")) == []


def test_md5_is_recorded_in_an_xattr_and_distrusted_after_an_edit(
    storage: FilesystemStorage, root: Path
) -> None:
    put(storage, "static/a.css", b"first")
    path = root / "static/a.css"
    assert os.getxattr(path, MD5_XATTR).decode().startswith(md5(b"first") + ":")
    (listed,) = storage.list("static/")
    assert listed.md5 == md5(b"first")

    with path.open("ab") as stream:  # edited in place: same inode, same xattr
        stream.write(b" and more")

    (listed,) = storage.list("static/")
    assert listed.md5 is None
    head = storage.head("static/a.css")
    assert head is not None
    assert (head.size, head.md5, dict(head.headers)) == (14, md5(b"first and more"), {})


def test_check_passes_for_a_missing_root_whose_parent_exists_and_creates_nothing(
    storage: FilesystemStorage, root: Path
) -> None:
    storage.check()
    assert not root.exists()
    assert list(storage.list("")) == []
    put(storage, "static/a.css", b"a")
    assert (root / "static/a.css").read_bytes() == b"a"


def test_check_refuses_a_missing_parent_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(FatalStorageError):
        FilesystemStorage(tmp_path / "no" / "such" / "dir").check()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FatalStorageError) as raised:
        FilesystemStorage(tmp_path / "file").check()
    assert raised.value.exit_code == 3


def test_public_url_uses_the_base_url(root: Path) -> None:
    assert FilesystemStorage(root).public_url("static/a b.css") == "/static/a%20b.css"
    cdn = FilesystemStorage(root, "https://cdn.example.com/assets")
    assert cdn.public_url("static/a+b.css") == "https://cdn.example.com/assets/static/a%2Bb.css"


# -- open_storage ------------------------------------------------------------------------


class CustomStorage(MemoryStorage):
    """A user's backend, built from the settings."""

    @classmethod
    def from_settings(cls, settings: Settings) -> CustomStorage:
        return cls(f"custom://{settings.bucket}/")


class NotAStorage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class PlainStorage(MemoryStorage):
    def __init__(self, settings: Settings) -> None:
        super().__init__(f"plain://{settings.prefix}")


def test_open_storage_builds_each_backend(tmp_path: Path) -> None:
    filesystem = open_storage(Settings(storage="filesystem", root=str(tmp_path)))
    assert isinstance(filesystem, FilesystemStorage) and filesystem.root == tmp_path
    memory = open_storage(Settings(storage="memory", base_url="https://cdn.example.com"))
    assert isinstance(memory, MemoryStorage)
    assert memory.public_url("a b") == "https://cdn.example.com/a%20b"
    custom = open_storage(Settings(storage=f"{__name__}:CustomStorage", bucket="bk"))
    assert isinstance(custom, CustomStorage) and custom.public_url("k") == "custom://bk/k"
    plain = open_storage(Settings(storage=f"{__name__}:PlainStorage", prefix="p/"))
    assert isinstance(plain, PlainStorage) and plain.public_url("k") == "plain://p/k"


def test_open_storage_s3_needs_a_bucket() -> None:
    with pytest.raises(ConfigError) as raised:
        open_storage(Settings(storage="s3"))
    assert raised.value.key == "CLOUDCOLLECT_BUCKET"


def test_open_storage_filesystem_needs_a_root() -> None:
    with pytest.raises(ConfigError) as raised:
        open_storage(Settings(storage="filesystem"))
    assert raised.value.key == "CLOUDCOLLECT_ROOT"


@pytest.mark.parametrize(
    "path", ["no_such_module_xyz:Storage", f"{__name__}:Missing", f"{__name__}:NotAStorage", ":X"]
)
def test_open_storage_bad_import_path(path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_storage(Settings(storage=path))
    assert raised.value.key == "CLOUDCOLLECT_STORAGE"
