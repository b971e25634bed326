"""The local MD5 cache: hits only while path, size, mtime, inode (and device, ctime) match."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from flask import Flask

from cloudcollect import MemoryStorage, hashcache, publish
from cloudcollect.hashcache import HEADER, HashCache, open_cache
from cloudcollect.hashing import CHUNK, md5_of_file
from cloudcollect.hashstage import SERIAL_HASH_MAX
from tests.support.apps import make_app, served_files


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are seconds old at most: let the cache keep them."""
    monkeypatch.setattr(hashcache, "RACY_NS", 0)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def fake_stat(stat: os.stat_result, **changes: int) -> os.stat_result:
    fields = {
        name: getattr(stat, name)
        for name in ("st_size", "st_mtime_ns", "st_ino", "st_dev", "st_ctime_ns")
    }
    return cast(os.stat_result, SimpleNamespace(**(fields | changes)))


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


@pytest.mark.usefixtures("no_racy_window")
def test_second_run_hits_and_gives_the_same_md5(tmp_path: Path) -> None:
    cache_file = tmp_path / "cache" / "md5.log"
    files = [write(tmp_path / f"f{i}.css", b"a{}" * i) for i in range(5)]
    first = HashCache(cache_file)
    assert [first.md5(f) for f in files] == [md5(f.read_bytes()) for f in files]
    assert (first.hits, first.misses) == (0, 5)
    first.close()

    second = HashCache(cache_file)
    assert [second.md5(f) for f in files] == [md5(f.read_bytes()) for f in files]
    assert (second.hits, second.misses) == (5, 0)
    assert lines_of(cache_file)[0] == HEADER


@pytest.mark.usefixtures("no_racy_window")
@pytest.mark.parametrize("field", ["st_size", "st_mtime_ns", "st_ino", "st_dev", "st_ctime_ns"])
def test_any_differing_stat_field_is_a_miss(tmp_path: Path, field: str) -> None:
    path = write(tmp_path / "a.js", b"x = 1;")
    stat = os.stat(path)
    cache = HashCache(tmp_path / "md5.log")
    cache.store(str(path), stat, md5(b"x = 1;"))
    assert cache.lookup(str(path), fake_stat(stat)) == md5(b"x = 1;")
    assert cache.lookup(str(path), fake_stat(stat, **{field: getattr(stat, field) + 1})) is None
    reloaded = HashCache(tmp_path / "md5.log")
    assert reloaded.lookup(str(path), fake_stat(stat)) == md5(b"x = 1;")
    assert reloaded.lookup(str(path), fake_stat(stat, **{field: getattr(stat, field) - 1})) is None


@pytest.mark.usefixtures("no_racy_window")
def test_another_path_is_a_miss(tmp_path: Path) -> None:
    one = write(tmp_path / "one.css", b"same")
    two = write(tmp_path / "two.css", b"same")
    cache = HashCache(tmp_path / "md5.log")
    cache.md5(one)
    assert cache.lookup(str(two), os.stat(one)) is None


@pytest.mark.usefixtures("no_racy_window")
def test_same_size_content_change_with_mtime_put_back_is_noticed(tmp_path: Path) -> None:
    path = write(tmp_path / "a.css", b"color: red;")
    cache = HashCache(tmp_path / "md5.log")
    assert cache.md5(path) == md5(b"color: red;")
    before = os.stat(path)
    path.write_bytes(b"color: tan;")  # same size, same inode
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime restored
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert HashCache(tmp_path / "md5.log").md5(path) == md5(b"color: tan;")


@pytest.mark.usefixtures("no_racy_window")
def test_replaced_file_with_same_size_and_mtime_is_noticed(tmp_path: Path) -> None:
    path = write(tmp_path / "a.css", b"old!")
    cache = HashCache(tmp_path / "md5.log")
    cache.md5(path)
    before = os.stat(path)
    replacement = write(tmp_path / "tmp.css", b"new!")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert os.stat(path).st_ino != before.st_ino
    assert HashCache(tmp_path / "md5.log").md5(path) == md5(b"new!")


def test_recently_modified_files_are_not_cached(tmp_path: Path) -> None:
    path = write(tmp_path / "fresh.js", b"fresh")
    cache = HashCache(tmp_path / "md5.log")
    assert cache.md5(path) == md5(b"fresh")
    assert cache.entries == {}
    assert HashCache(tmp_path / "md5.log").entries == {}


@pytest.mark.usefixtures("no_racy_window")
@pytest.mark.parametrize(
    "garbage",
    [b"\xff\xfe\x00binary junk\n\x00", b"", b"cloudcollect-md5-cache 999\nxyz\n", b"\n\n\n"],
)
def test_a_corrupt_or_foreign_cache_file_is_ignored_and_replaced(
    tmp_path: Path, garbage: bytes
) -> None:
    cache_file = write(tmp_path / "md5.log", garbage)
    path = write(tmp_path / "a.css", b"a{}")
    cache = HashCache(cache_file)
    assert cache.entries == {}
    assert cache.md5(path) == md5(b"a{}")
    cache.close()
    assert lines_of(cache_file)[0] == HEADER
    assert HashCache(cache_file).lookup(str(path), os.stat(path)) == md5(b"a{}")


@pytest.mark.usefixtures("no_racy_window")
def test_bad_lines_are_skipped_good_ones_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "a.css", b"a{}")
    cache_file = tmp_path / "md5.log"
    good = HashCache(cache_file)
    good.md5(path)
    good.close()
    valid = lines_of(cache_file)[1]
    with cache_file.open("a") as stream:
        stream.write("not a cache line\n")
        stream.write("0123 1 2 3 4 5 /short/md5\n")
        stream.write(f"{'a' * 32} one 2 3 4 5 /not/an/int\n")
        stream.write(f'{"b" * 32} 1 2 3 4 5 "unterminated json\n')
        stream.write(valid.replace(str(path), "/truncated/tail").rstrip("\n"))
    reloaded = HashCache(cache_file)
    assert reloaded.lookup(str(path), os.stat(path)) == md5(b"a{}")
    for bad in ("/short/md5", "/not/an/int", "/truncated/tail"):
        assert reloaded.lookup(bad, os.stat(path)) is None
    assert not {"/short/md5", "/truncated/tail"} & set(reloaded.entries)


@pytest.mark.usefixtures("no_racy_window")
def test_an_entry_with_a_non_hex_md5_is_never_used(tmp_path: Path) -> None:
    path = write(tmp_path / "a.css", b"a{}")
    stat = os.stat(path)
    identity = f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ino} {stat.st_dev} {stat.st_ctime_ns}"
    write(tmp_path / "md5.log", f"{HEADER}{'z' * 32} {identity} {path}\n".encode())
    cache = HashCache(tmp_path / "md5.log")
    assert cache.lookup(str(path), stat) is None
    assert cache.md5(path) == md5(b"a{}")


@pytest.mark.usefixtures("no_racy_window")
def test_odd_file_names_round_trip(tmp_path: Path) -> None:
    names = ["new\nline.css", '"quoted".css', "space name.css", "ünïcode.css"]
    if os.name == "posix":
        names.append(os.fsdecode(b"bad-\xff-utf8.css"))
    paths = [write(tmp_path / name, name.encode("utf-8", "surrogateescape")) for name in names]
    cache = HashCache(tmp_path / "md5.log")
    expected = [cache.md5(path) for path in paths]
    cache.close()
    reloaded = HashCache(tmp_path / "md5.log")
    assert [reloaded.lookup(str(p), os.stat(p)) for p in paths] == expected


@pytest.mark.usefixtures("no_racy_window")
def test_concurrent_threads_share_one_cache(tmp_path: Path) -> None:
    files = [write(tmp_path / "t" / f"{i:03d}.js", f"v{i};".encode() * i) for i in range(400)]
    cache = HashCache(tmp_path / "md5.log")
    results: dict[Path, str] = {}

    def work(part: list[Path]) -> None:
        for path in part:
            results[path] = cache.md5(path)

    threads = [threading.Thread(target=work, args=(files[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.close()
    assert results == {path: md5(path.read_bytes()) for path in files}
    lines = lines_of(tmp_path / "md5.log")
    assert lines[0] == HEADER and len(lines) == 1 + len(files)
    reloaded = HashCache(tmp_path / "md5.log")
    assert all(reloaded.lookup(str(p), os.stat(p)) == results[p] for p in files)


@pytest.mark.usefixtures("no_racy_window")
def test_two_caches_appending_to_one_file_at_once(tmp_path: Path) -> None:
    """Like two processes publishing at the same time: no line is lost or torn."""
    files = [write(tmp_path / "t" / f"{i:03d}.css", bytes([i % 256]) * (i + 1)) for i in range(300)]
    caches = [HashCache(tmp_path / "md5.log"), HashCache(tmp_path / "md5.log")]
    threads = [
        threading.Thread(target=lambda c=cache, part=files[i::2]: [c.md5(p) for p in part])
        for i, cache in enumerate(caches)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for cache in caches:
        cache.close()
    reloaded = HashCache(tmp_path / "md5.log")
    assert len(reloaded.entries) == len(files)
    assert all(reloaded.lookup(str(p), os.stat(p)) == md5(p.read_bytes()) for p in files)


@pytest.mark.usefixtures("no_racy_window")
def test_outdated_lines_are_compacted_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "SLACK_LINES", 10)
    path = write(tmp_path / "a.css", b"0")
    for round_number in range(30):
        path.write_bytes(str(round_number % 10).encode())
        os.utime(path, ns=(round_number * 10**9, round_number * 10**9))
        cache = HashCache(tmp_path / "md5.log")
        cache.md5(path)
        cache.close()
    assert len(lines_of(tmp_path / "md5.log")) <= 1 + 2 * 1 + 10 + 1
    final = HashCache(tmp_path / "md5.log")
    assert final.lookup(str(path), os.stat(path)) == md5(b"9")


@pytest.mark.usefixtures("no_racy_window")
def test_an_unusable_cache_location_only_costs_speed(tmp_path: Path) -> None:
    blocker = write(tmp_path / "not-a-dir", b"")
    path = write(tmp_path / "a.css", b"a{}")
    cache = HashCache(blocker / "md5.log")
    assert cache.md5(path) == md5(b"a{}")
    assert cache.md5(path) == md5(b"a{}")
    cache.close()


def test_disabled_cache_never_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    path = write(tmp_path / "a.css", b"a{}")
    cache = open_cache(False)
    assert cache.md5(path) == cache.md5(path) == md5(b"a{}")
    assert cache.hits == 0
    cache.close()
    assert not (tmp_path / "xdg").exists()


def test_default_location_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hashcache.default_path() == tmp_path / "cloudcollect" / "md5-v1.log"


@pytest.mark.parametrize("size", [0, 1, 4095, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK * 2 + 7])
def test_file_md5_of_every_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = write(tmp_path / "f.bin", data)
    assert md5_of_file(path, size) == md5_of_file(path) == md5(data)
    assert md5_of_file(path, max(0, size - 3)) == md5(data)  # grew since it was listed


@pytest.mark.usefixtures("no_racy_window")
@pytest.mark.parametrize("enabled", [True, False])
def test_publish_uses_the_cache_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    app = make_app(tmp_path / "app", {"CLOUDCOLLECT_HASH_CACHE": enabled})
    storage: Any = MemoryStorage()
    first = publish(app, storage=storage)
    second = publish(app, storage=storage)
    assert first.exit_code == second.exit_code == 0
    assert second.counts()["unchanged"] == first.counts()["uploaded"] > 0
    cache_file = tmp_path / "xdg" / "cloudcollect" / "md5-v1.log"
    assert cache_file.exists() is enabled
    if enabled:
        cached = {entry[:32] for entry in HashCache(cache_file).entries.values()}
        for key, data in served_files(tmp_path / "app").items():
            assert storage.objects[key].md5 == md5(data) in cached, key


def _cache_of(tmp_path: Path, count: int) -> tuple[Path, list[Path]]:
    """A cache log holding ``count`` files' entries (the files exist)."""
    files = [write(tmp_path / "static" / f"f{n}.css", str(n).encode()) for n in range(count)]
    cache = HashCache(tmp_path / "md5.log")
    for file in files:
        cache.md5(file)
    cache.close()
    return tmp_path / "md5.log", files


@pytest.mark.usefixtures("no_racy_window")
def test_a_large_cache_of_live_files_is_read_without_a_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PRUNE_ABOVE entries a load used to stat every entry and rewrite the log."""
    monkeypatch.setattr(hashcache, "PRUNE_ABOVE", 20)
    log, files = _cache_of(tmp_path, 60)
    before = os.stat(log)

    cache = HashCache(log)

    after = os.stat(log)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(cache.entries) == 60
    assert cache.lookup(str(files[7]), os.stat(files[7])) == md5(b"7")


@pytest.mark.usefixtures("no_racy_window")
def test_a_large_cache_drops_the_entries_of_files_that_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "PRUNE_ABOVE", 20)
    monkeypatch.setattr(hashcache, "PRUNE_SAMPLE", 10)
    log, files = _cache_of(tmp_path, 60)
    for file in files[:30]:  # a rebuild removed half of them
        file.unlink()

    cache = HashCache(log)

    assert sorted(cache.entries) == sorted(str(file) for file in files[30:])
    assert len(lines_of(log)) == 1 + 30
    assert cache.lookup(str(files[40]), os.stat(files[40])) == md5(b"40")


@pytest.mark.usefixtures("no_racy_window")
def test_a_few_gone_files_do_not_make_a_large_cache_rewrite_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "PRUNE_ABOVE", 20)
    monkeypatch.setattr(hashcache, "PRUNE_SAMPLE", 60)
    log, files = _cache_of(tmp_path, 60)
    for file in files[:3]:  # 5 %: under PRUNE_GONE
        file.unlink()
    before = os.stat(log)

    HashCache(log)

    assert os.stat(log).st_ino == before.st_ino
    assert len(lines_of(log)) == 1 + 60


# -- the hash stage asks the cache first, on its own thread -----------------------------


@pytest.mark.usefixtures("no_racy_window")
def test_check_tells_a_hit_a_miss_with_its_stat_and_a_missing_file(tmp_path: Path) -> None:
    cache_file = tmp_path / "md5.log"
    known, new = write(tmp_path / "known.css", b"a{}"), write(tmp_path / "new.css", b"b{}")
    first = HashCache(cache_file)
    first.md5(known)
    first.close()
    cache = HashCache(cache_file)
    assert cache.check(known) == (md5(b"a{}"), None)
    assert cache.check(tmp_path / "gone.css") == (None, None)
    missed, stat = cache.check(new)
    assert missed is None and stat is not None and stat.st_ino == os.stat(new).st_ino
    assert (cache.hits, cache.misses) == (1, 0)


@pytest.mark.usefixtures("no_racy_window")
def test_md5_given_the_stat_of_a_miss_stats_nothing_and_stores_under_that_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.css", b"a{}")
    cache = HashCache(tmp_path / "md5.log")
    _, stat = cache.check(path)
    assert stat is not None
    calls: list[str] = []
    real_stat = os.stat

    def counting_stat(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        calls.append(str(name))
        return real_stat(name, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    assert cache.md5(path, stat=stat) == md5(b"a{}")
    assert str(path) not in calls
    assert (cache.hits, cache.misses) == (0, 1)
    monkeypatch.undo()
    assert cache.lookup(str(path), os.stat(path)) == md5(b"a{}")


def _before_hashing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, action: Callable[[list[str]], None]
) -> Flask:
    """The test app, its hash cache under ``tmp_path``, and ``action`` called with the keys
    the hash stage sends to the hashing threads, just before it does."""
    from cloudcollect import hashstage

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    real = hashstage.hash_files

    def wrapped(files: list[Any], *args: Any) -> None:
        action(sorted(file.key for file in files))
        real(files, *args)

    monkeypatch.setattr(hashstage, "hash_files", wrapped)
    return make_app(tmp_path / "app")


@pytest.mark.usefixtures("no_racy_window")
def test_a_run_whose_files_are_all_cached_sends_none_of_them_to_the_hashing_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[list[str]] = []
    app = _before_hashing(monkeypatch, tmp_path, sent.append)
    (tmp_path / "app" / "static" / "big.bin").write_bytes(b"x" * (SERIAL_HASH_MAX + 1))
    storage: Any = MemoryStorage()
    first = publish(app, storage=storage)
    (tmp_path / "app" / "static" / "css" / "site.css").write_text("body { color: blue }")
    second = publish(app, storage=storage)
    assert first.exit_code == second.exit_code == 0
    assert "static/big.bin" in sent[0] and len(sent[0]) == first.counts()["uploaded"]
    assert sent[1] == ["static/css/site.css"]
    assert second.counts()["uploaded"] == 1
    assert storage.objects["static/css/site.css"].md5 == md5(b"body { color: blue }")


@pytest.mark.usefixtures("no_racy_window")
def test_a_file_gone_between_the_cache_check_and_its_read_is_a_read_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "app" / "static" / "css" / "site.css"
    app = _before_hashing(monkeypatch, tmp_path, lambda _keys: target.unlink())
    report = publish(app, storage=MemoryStorage())
    failed = [o for o in report.outcomes if o.key == "static/css/site.css"]
    assert report.exit_code == 1
    assert [(o.error_code, o.reason) for o in failed] == [("LocalReadError", "unreadable")]
