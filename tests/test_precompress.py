"""Precompression: deterministic gzip/brotli variants, compared by source, never recompressed
to compare; siblings and in-place; MemoryStorage for the logic, SeaweedFS for serving."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO

import brotli
import pytest

from cloudcollect import ConfigError, MemoryStorage, publish, settings_from_config
from cloudcollect import compress as compress_module
from cloudcollect.check import check
from cloudcollect.cli import cloudcollect_command
from cloudcollect.compress import SOURCE_HEADER, compress_to, with_variants
from cloudcollect.plan import LocalAsset
from cloudcollect.report import Report
from tests.conftest import Bucket
from tests.support.apps import make_app

CSS = "".join(f".rule-{i} {{ color: rgb({i % 256}, 2, 3); margin: 0 auto; }}\n" for i in range(400))
JS = "".join(f"export function f{i}(x) {{ return x * {i}; }}\n" for i in range(300))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
FILES: dict[str, bytes | str] = {
    "static/css/site.css": CSS,
    "static/js/app.js": JS,
    "static/img/logo.png": PNG,
    "static/tiny.css": "a{}",
    "admin_static/admin.css": CSS.replace("rule", "admin"),
    "child_static/child.js": JS.replace("f", "g"),
}
COMPRESSIBLE = [
    "static/css/site.css",
    "static/js/app.js",
    "static/tiny.css",
    "admin/static/admin.css",
    "parent/child/static/child.js",
]


def config(**extra: object) -> dict[str, object]:
    return {f"CLOUDCOLLECT_{k}": v for k, v in extra.items()}


def uploaded(report: Report) -> set[str]:
    return {o.key for o in report.with_status("uploaded")}


@pytest.fixture
def compressions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Observe every call of the compressor: (source file name, codec)."""
    calls: list[tuple[str, str]] = []
    real = compress_module.compress_to

    def spy(source: Path, target: IO[bytes], codec: str) -> tuple[int, str]:
        calls.append((source.name, codec))
        return real(source, target, codec)

    monkeypatch.setattr(compress_module, "compress_to", spy)
    return calls


# --- the codecs ------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["gzip", "br"])
def test_compression_is_deterministic_and_reversible(tmp_path: Path, codec: str) -> None:
    source = tmp_path / "site.css"
    source.write_text(CSS)
    first, second = io.BytesIO(), io.BytesIO()
    size, md5 = compress_to(source, first, codec)
    assert compress_to(source, second, codec) == (size, md5)
    assert first.getvalue() == second.getvalue()
    assert size == len(first.getvalue()) < len(CSS) // 4
    decompress: Callable[[bytes], bytes] = gzip.decompress if codec == "gzip" else brotli.decompress
    assert decompress(first.getvalue()) == CSS.encode()
    if codec == "gzip":
        header = first.getvalue()[:10]
        assert header[4:8] == b"\0\0\0\0"  # mtime 0
        assert header[3] & 0x08 == 0  # no file name
        assert header[8] == 2  # maximum compression (level 9)


def test_variants_only_for_compressible_types() -> None:
    settings = settings_from_config(config(PRECOMPRESS=["gzip", "brotli"]))
    css = LocalAsset("static/a.css", Path("a.css"), 10, 0, "0" * 32, {"Content-Type": "text/css"})
    png = LocalAsset("static/a.png", Path("a.png"), 10, 0, "0" * 32, {"Content-Type": "image/png"})
    assert with_variants(png, settings) == [png]
    plain, gz, br = with_variants(css, settings)
    assert plain == css
    assert (gz.key, gz.encoding, br.key, br.encoding) == (
        "static/a.css.gz",
        "gzip",
        "static/a.css.br",
        "br",
    )
    assert gz.headers == {
        "Content-Type": "text/css",
        "Content-Encoding": "gzip",
        SOURCE_HEADER: "gzip-9:" + "0" * 32,
    }


@pytest.mark.parametrize("provider", ["r2", "gcs"])
def test_r2_and_gcs_add_no_transform_to_gzip_only(provider: str) -> None:
    """README: on ``r2`` and ``gcs`` every gzip-encoded object gets ``no-transform``."""
    base = config(PROVIDER=provider, PRECOMPRESS=["gzip", "br"], CACHE_CONTROL="public, max-age=60")
    asset = LocalAsset(
        "a.js",
        Path("a.js"),
        1,
        0,
        "0" * 32,
        {"Content-Type": "text/javascript", "Cache-Control": "public, max-age=60"},
    )
    _, gz, br = with_variants(asset, settings_from_config(base))
    assert gz.headers["Cache-Control"] == "public, max-age=60, no-transform"
    assert br.headers["Cache-Control"] == "public, max-age=60"
    gzip_only = config(PRECOMPRESS=["gzip"], PRECOMPRESS_MODE="in-place")
    in_place = settings_from_config({**base, **gzip_only})
    [only] = with_variants(asset, in_place)
    assert only.key == "a.js" and only.headers["Cache-Control"].endswith("no-transform")


def test_bad_precompress_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_PRECOMPRESS knows gzip, br"):
        settings_from_config(config(PRECOMPRESS=["zstd"]))
    with pytest.raises(ConfigError, match="in-place mode stores one variant"):
        settings_from_config(config(PRECOMPRESS=["gzip", "br"], PRECOMPRESS_MODE="in-place"))
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_PRECOMPRESS_MODE"):
        settings_from_config(config(PRECOMPRESS=["gzip"], PRECOMPRESS_MODE="inline"))
    filesystem = config(STORAGE="filesystem", ROOT=str(tmp_path / "out"), PRECOMPRESS=["gzip"])
    app = make_app(tmp_path, filesystem, FILES)
    report = publish(app)
    assert report.exit_code == 2
    assert "CLOUDCOLLECT_PRECOMPRESS" in str(report.fatal)


# --- publish, in memory ------------------------------------------------------------------------


def test_siblings_are_published_once_and_never_recompressed_to_compare(
    tmp_path: Path, compressions: list[tuple[str, str]]
) -> None:
    app = make_app(tmp_path, config(PRECOMPRESS=["gzip", "br"]), FILES)
    storage = MemoryStorage()
    first = publish(app, storage=storage)
    assert first.exit_code == 0, first.to_dict()
    variants = {f"{key}{suffix}" for key in COMPRESSIBLE for suffix in (".gz", ".br")}
    assert uploaded(first) == set(COMPRESSIBLE) | {"static/img/logo.png"} | variants
    assert len(compressions) == 10

    css_gz = storage.objects["static/css/site.css.gz"]
    assert gzip.decompress(css_gz.data) == CSS.encode()
    assert css_gz.headers["Content-Encoding"] == "gzip"
    assert css_gz.headers["Content-Type"] == "text/css; charset=utf-8"
    js_br = storage.objects["static/js/app.js.br"]
    assert brotli.decompress(js_br.data) == JS.encode()
    assert js_br.headers["Content-Encoding"] == "br"
    tiny = storage.objects["static/tiny.css.gz"]  # saves under 5 %: stored as it is
    assert tiny.data == b"a{}" and "Content-Encoding" not in tiny.headers

    compressions.clear()
    storage.requests.clear()
    second = publish(app, storage=storage)
    assert uploaded(second) == set()
    assert compressions == []
    assert {op for op, _ in storage.requests} == {"list", "get"}  # no HEAD, no PUT

    (tmp_path / "static/css/site.css").write_text(CSS + ".new { color: red; }\n")
    third = publish(app, storage=storage)
    css = "static/css/site.css"
    assert uploaded(third) == {css, f"{css}.gz", f"{css}.br"}
    assert sorted(compressions) == [("site.css", "br"), ("site.css", "gzip")]
    assert gzip.decompress(storage.objects["static/css/site.css.gz"].data).endswith(b"red; }\n")


def test_in_place_gzip_stores_the_key_itself_compressed(tmp_path: Path) -> None:
    app = make_app(tmp_path, config(PRECOMPRESS=["gzip"], PRECOMPRESS_MODE="in-place"), FILES)
    storage = MemoryStorage()
    assert publish(app, storage=storage).exit_code == 0
    stored = storage.objects["static/js/app.js"]
    assert gzip.decompress(stored.data) == JS.encode()
    assert stored.headers["Content-Encoding"] == "gzip"
    assert "static/js/app.js.gz" not in storage.objects
    assert storage.objects["static/img/logo.png"].data == PNG
    assert uploaded(publish(app, storage=storage)) == set()
    # turned off: the objects go back to plain bytes
    plain = make_app(tmp_path, {}, FILES)
    assert "static/js/app.js" in uploaded(publish(plain, storage=storage))
    assert storage.objects["static/js/app.js"].data == JS.encode()


@pytest.mark.parametrize("mode", ["in-place", "siblings"])
def test_a_variant_stored_uncompressed_is_in_sync_when_its_headers_are_read(
    tmp_path: Path, mode: str
) -> None:
    """``tiny.css`` saves under 5 % and is stored without Content-Encoding: reading its
    headers with HEAD (``--verify-headers``, or a lost state object) must not call it
    changed and upload it again."""
    app = make_app(tmp_path, config(PRECOMPRESS=["gzip"], PRECOMPRESS_MODE=mode), FILES)
    storage = MemoryStorage()
    assert publish(app, storage=storage).exit_code == 0
    key = "static/tiny.css" if mode == "in-place" else "static/tiny.css.gz"
    assert "Content-Encoding" not in storage.objects[key].headers  # stored as it is

    verified = check(app, storage=storage, verify_headers=True)
    assert verified.differences() == [], verified.differences()
    assert verified.exit_code == 0
    del storage.objects[".cloudcollect-state.json"]  # the state object lost
    assert uploaded(publish(app, storage=storage)) == set()


def test_check_covers_variants(tmp_path: Path, compressions: list[tuple[str, str]]) -> None:
    app = make_app(tmp_path, config(PRECOMPRESS=["gzip", "br"], PREFIX="p"), FILES)
    storage = MemoryStorage()
    publish(app, storage=storage)
    compressions.clear()
    assert check(app, storage=storage).exit_code == 0
    (tmp_path / "static/js/app.js").write_text(JS + "// more\n")
    del storage.objects["p/static/css/site.css.br"]
    report = check(app, storage=storage)
    assert {d["key"]: d["kind"] for d in report.differences()} == {
        "p/static/js/app.js": "changed",
        "p/static/js/app.js.gz": "changed",
        "p/static/js/app.js.br": "changed",
        "p/static/css/site.css.br": "missing",
    }
    assert compressions == []


# --- against the real SeaweedFS ------------------------------------------------------------


@pytest.mark.seaweedfs
def test_seaweedfs_serves_stable_variants(tmp_path: Path, bucket: Bucket) -> None:
    settings = config(
        BUCKET=bucket.name,
        ENDPOINT_URL=bucket.server.endpoint,
        PROVIDER="seaweedfs",
        PRECOMPRESS=["gzip", "br"],
    )
    app = make_app(tmp_path, settings, FILES)
    runner = app.test_cli_runner()
    first = runner.invoke(cloudcollect_command, ["--json"])
    assert first.exit_code == 0, first.output
    stored = bucket.keys()
    content = {key for key in stored if not key.startswith(".cloudcollect-")}  # not our own
    etags = {key: bucket.head(key)["ETag"] for key in content}

    for key, codec, decompress in [
        ("static/css/site.css.gz", "gzip", gzip.decompress),
        ("static/js/app.js.br", "br", brotli.decompress),
    ]:
        got = bucket.client.get_object(Bucket=bucket.name, Key=key)
        assert got["ContentEncoding"] == codec
        source = key.rsplit(".", 1)[0]
        assert got["ContentType"] == bucket.head(source)["ContentType"]
        assert decompress(got["Body"].read()) == bucket.read(source)
    assert bucket.head("static/img/logo.png").get("ContentEncoding") is None

    second = runner.invoke(cloudcollect_command, ["--json"])
    assert json.loads(second.stdout)["counts"]["uploaded"] == 0
    assert runner.invoke(cloudcollect_command, ["--check"]).exit_code == 0

    # without the state object, HEAD tells each variant's source: no recompression, and
    # no upload either, variants stored uncompressed (saving under 5 %) included
    bucket.client.delete_object(Bucket=bucket.name, Key=".cloudcollect-state.json")
    stateless = runner.invoke(cloudcollect_command, ["--json"])
    redone = {
        o["key"] for o in json.loads(stateless.stdout)["outcomes"] if o["status"] == "uploaded"
    }
    assert redone == set()

    # forced: the same bytes again (deterministic compression), so the same ETags
    third = runner.invoke(cloudcollect_command, ["--json", "--force"])
    assert third.exit_code == 0
    assert bucket.keys() == stored
    after = {key: bucket.head(key)["ETag"] for key in content}
    assert after == etags
