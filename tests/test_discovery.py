"""Discovery on real Flask apps with real files: sources, keys, filters, symlinks, oddities."""

from __future__ import annotations

import os
import threading
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import flask_bootstrap
import pytest
from flask import Blueprint, Flask

from cloudcollect.config import Settings
from cloudcollect.discovery import Discovery, Skipped, discover
from tests.conftest import write_tree


def make_app(root: Path, files: dict[str, bytes | str] | None = None, **kwargs: Any) -> Flask:
    """A Flask app rooted at ``root`` whose ``static/`` holds ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    write_tree(root / "static", files or {})
    return Flask("testapp", root_path=str(root), **kwargs)


def blueprint(root: Path, name: str, files: dict[str, bytes | str], **kwargs: Any) -> Blueprint:
    """A blueprint rooted at ``root`` with ``files`` in its own ``static/`` folder."""
    write_tree(root / "static", files)
    return Blueprint(name, "testapp", root_path=str(root), static_folder="static", **kwargs)


def run(app: Flask, **settings: Any) -> Discovery:
    return discover(app, Settings().replace(**settings))


def run_or_hang(app: Flask) -> Discovery:
    """``run(app)`` in a thread, failing (not hanging) if it never returns."""
    results: list[Discovery] = []
    worker = threading.Thread(target=lambda: results.append(run(app)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "discovery did not finish: blocked or walking in circles"
    return results[0]


def keys(discovery: Discovery) -> list[str]:
    return [file.key for file in discovery.files]


def reasons(entries: list[Skipped]) -> dict[str, str]:
    return {entry.path: entry.reason for entry in entries}


def assert_flask_serves_every_key(app: Flask, discovery: Discovery, prefix: str = "") -> None:
    """The strongest check: each key, as a URL path, is served by Flask with the same bytes."""
    assert discovery.files
    client = app.test_client()
    for file in discovery.files:
        assert file.key.startswith(prefix)
        url = "/" + quote(file.key[len(prefix) :])
        with client.get(url) as response:
            assert response.status_code == 200, url
            assert response.data == file.path.read_bytes(), url


@pytest.fixture
def multi_app(tmp_path: Path) -> Flask:
    """App static, an admin blueprint prefixed at registration, and a nested blueprint."""
    app = make_app(tmp_path / "app", {"css/site.css": "body{}", "js/app.js": "1;"})
    admin = blueprint(tmp_path / "admin", "admin", {"css/admin.css": "a{}", "logo.svg": "<svg/>"})
    parent = blueprint(tmp_path / "parent", "parent", {"p.css": "p{}"})
    child = blueprint(tmp_path / "child", "child", {"img/c.png": b"\x89PNG child"})
    parent.register_blueprint(child, url_prefix="/child")
    app.register_blueprint(admin, url_prefix="/admin")
    app.register_blueprint(parent, url_prefix="/parent")
    return app


def test_keys_follow_the_url_map_for_app_prefixed_and_nested_blueprints(multi_app: Flask) -> None:
    discovery = run(multi_app)

    assert keys(discovery) == [
        "admin/static/css/admin.css",
        "admin/static/logo.svg",
        "parent/child/static/img/c.png",
        "parent/static/p.css",
        "static/css/site.css",
        "static/js/app.js",
    ]
    sources = {file.key: file.source for file in discovery.files}
    assert sources["static/css/site.css"] == "app"
    assert sources["admin/static/logo.svg"] == "admin"
    assert sources["parent/child/static/img/c.png"] == "parent.child"
    assert [source.name for source in discovery.sources] == [
        "app",
        "admin",
        "parent",
        "parent.child",
    ]
    assert discovery.skipped == discovery.collisions == discovery.invalid == []
    assert discovery.missing_folders == []


def test_flask_serves_every_key_of_a_multi_blueprint_app(multi_app: Flask) -> None:
    assert_flask_serves_every_key(multi_app, run(multi_app))


def test_local_file_carries_absolute_path_size_and_mtime(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"css/a.css": "0123456789"})
    os.utime(tmp_path / "static/css/a.css", ns=(1_000_000_000, 1_700_000_000_123_456_789))

    [file] = run(app).files

    assert file.path.is_absolute()
    assert file.path == (tmp_path / "static/css/a.css").resolve()
    assert file.size == 10
    assert file.mtime_ns == 1_700_000_000_123_456_789


def test_prefix_is_prepended_to_the_url_path(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"css/a.css": "a"})

    discovery = run(app, prefix="cdn")

    assert keys(discovery) == ["cdn/static/css/a.css"]
    assert_flask_serves_every_key(app, discovery, prefix="cdn/")


def test_blueprint_registered_twice_under_two_names_is_two_sources(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    shop = blueprint(tmp_path / "shop", "shop", {"s.css": "s"})
    app.register_blueprint(shop, url_prefix="/eu")
    app.register_blueprint(shop, url_prefix="/us", name="shop_us")

    discovery = run(app)

    assert [(f.key, f.source) for f in discovery.files] == [
        ("eu/static/s.css", "shop"),
        ("us/static/s.css", "shop_us"),
    ]
    assert_flask_serves_every_key(app, discovery)


def test_bootstrap_flask_keys_match_its_package_static_files(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"css/a.css": "a"})
    flask_bootstrap.Bootstrap5(app)
    folder = Path(flask_bootstrap.__file__).parent / "static" / "bootstrap5"
    on_disk = {
        "bootstrap/static/" + path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
    }

    discovery = run(app)

    found = {file.key for file in discovery.files if file.source == "bootstrap"}
    assert len(on_disk) > 3
    assert found == on_disk
    assert_flask_serves_every_key(app, discovery)


def test_blueprint_on_the_app_static_url_collides_and_the_app_wins(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", {"a.css": "from app", "only-app.css": "x"})
    theme = blueprint(
        tmp_path / "theme",
        "theme",
        {"a.css": "from theme", "b.css": "b"},
        static_url_path="/static",
    )
    app.register_blueprint(theme)

    discovery = run(app)

    by_key = {file.key: file for file in discovery.files}
    assert sorted(by_key) == ["static/a.css", "static/b.css", "static/only-app.css"]
    assert by_key["static/a.css"].source == "app"
    assert by_key["static/a.css"].path.read_text() == "from app"
    [collision] = discovery.collisions
    assert (collision.path, collision.source, collision.key) == ("a.css", "theme", "static/a.css")
    assert collision.reason.startswith("shadowed by app")
    with app.test_client().get("/static/a.css") as response:  # Flask agrees: the app wins
        assert response.data == b"from app"


def test_collisions_follow_url_map_order_like_flask_does(tmp_path: Path) -> None:
    write_tree(tmp_path / "app/static", {"a.css": "from app"})
    app = Flask("testapp", root_path=str(tmp_path / "app"), static_folder=None)
    theme = blueprint(tmp_path / "theme", "theme", {"a.css": "from theme"}, static_url_path="/s")
    app.register_blueprint(theme)
    app.static_folder = "static"  # the app's static rule added after the blueprint's
    app.add_url_rule("/s/<path:filename>", endpoint="static", view_func=app.send_static_file)

    discovery = run(app)

    assert [(file.key, file.source) for file in discovery.files] == [("s/a.css", "theme")]
    assert discovery.collisions[0].reason.startswith("shadowed by theme")
    with app.test_client().get("/s/a.css") as response:
        assert response.data == b"from theme"


@pytest.mark.parametrize("folder", ["", "café/"], ids=["file", "folder"])
def test_nfc_and_nfd_names_in_one_folder_collide_and_nfc_wins(tmp_path: Path, folder: str) -> None:
    """The NFC spelling is what Flask opens for the NFC URL; NFD sorts first."""
    nfc = unicodedata.normalize("NFC", folder + "café.css")
    nfd = unicodedata.normalize("NFD", folder + "café.css")
    app = make_app(tmp_path, {nfd: "decomposed", nfc: "composed"})
    if len(os.listdir(tmp_path / "static")) != 2:
        pytest.skip("this filesystem normalises file names")

    discovery = run(app)

    assert keys(discovery) == ["static/" + nfc]
    assert discovery.files[0].path.read_text() == "composed"
    [collision] = discovery.collisions
    assert (collision.path, collision.key) == (nfd, "static/" + nfc)
    assert collision.reason == f"shadowed by app ({nfc})"
    assert_flask_serves_every_key(app, discovery)


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        (".hidden.css", "hidden"),
        (".git/", "hidden"),
        ("css/.cache/", "hidden"),
        ("css/.env", "secret-like"),
        (".env.production", "secret-like"),
        ("key.pem", "secret-like"),
        ("deep/er/server.KEY", "secret-like"),
        ("id_rsa", "secret-like"),
        ("id_ed25519.pub", "secret-like"),
        ("db.sqlite3", "secret-like"),
        ("site.css.bak", "secret-like"),
        ("cert.p12", "secret-like"),
        ("credentials.json", "secret-like"),
        ("data/app.SQLITE", "secret-like"),
        ("data/app.db", "secret-like"),
        ("keys/putty.ppk", "secret-like"),
        ("keys/release.jks", "secret-like"),
        ("vault.kdbx", "secret-like"),
        ("terraform.tfstate", "secret-like"),
        ("a.css~", "junk"),
        ("css/.a.css.swp", "junk"),
        ("b.swo", "junk"),
        (".DS_Store", "junk"),
        ("img/Thumbs.db", "junk"),
        ("desktop.ini", "junk"),
        ("#site.css#", "junk"),
    ],
)
def test_default_exclusions_at_any_depth(tmp_path: Path, relative: str, reason: str) -> None:
    files: dict[str, bytes | str] = {
        "css/site.css": "ok",
        "css/.cache/x.css": "c",
        ".git/config": "[core]",
        ".git/HEAD": "r",
    }
    if not relative.endswith("/"):
        files[relative] = "secret"
    app = make_app(tmp_path, files)

    discovery = run(app)

    assert "static/css/site.css" in keys(discovery)
    assert not any(relative.rstrip("/") in file.key for file in discovery.files)
    assert reasons(discovery.skipped)[relative] == reason


def test_dot_directories_are_pruned_as_one_entry(tmp_path: Path) -> None:
    app = make_app(tmp_path, {".git/config": "[core]", ".git/objects/ab/cd": "x", "a.css": "a"})

    discovery = run(app)

    assert keys(discovery) == ["static/a.css"]
    assert reasons(discovery.skipped) == {".git/": "hidden"}


def test_include_naming_a_dot_directory_readmits_it(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            ".well-known/security.txt": "contact",
            ".well-known/.hidden": "h",
            ".git/config": "[core]",
            "a.css": "a",
        },
    )

    discovery = run(app, include=["static/.well-known/*", "static/*.css"])

    assert keys(discovery) == ["static/.well-known/security.txt", "static/a.css"]
    assert reasons(discovery.skipped) == {".git/": "hidden", ".well-known/.hidden": "hidden"}


def test_include_naming_every_dot_component_readmits_nested_dotfiles(tmp_path: Path) -> None:
    app = make_app(tmp_path, {".well-known/.hidden": "h", ".well-known/x": "x"})

    discovery = run(app, include=["static/.well-known/.*"])

    assert keys(discovery) == ["static/.well-known/.hidden"]
    assert reasons(discovery.skipped) == {".well-known/x": "hidden"}


def test_broad_include_does_not_readmit_hidden_or_secret_files(tmp_path: Path) -> None:
    app = make_app(tmp_path, {".env": "SECRET=1", "key.pem": "k", "a.css": "a"})

    discovery = run(app, include=["static/*", "*"])

    assert keys(discovery) == ["static/a.css"]
    assert reasons(discovery.skipped) == {".env": "secret-like", "key.pem": "secret-like"}


def test_include_naming_a_secret_like_file_readmits_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"certs/public.pem": "cert", "certs/private.pem": "no"})

    discovery = run(app, include=["**/public.pem"])

    assert keys(discovery) == ["static/certs/public.pem"]
    assert reasons(discovery.skipped) == {"certs/private.pem": "secret-like"}


def test_include_limits_keys_and_reports_the_rest(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"css/a.css": "a", "css/sub/b.css": "b", "js/c.js": "c"})

    discovery = run(app, include=["static/*.css"])

    assert keys(discovery) == ["static/css/a.css", "static/css/sub/b.css"]  # "*" crosses "/"
    assert reasons(discovery.skipped) == {"js/c.js": "not included"}


def test_exclude_globs_match_the_key_without_prefix(tmp_path: Path) -> None:
    app = make_app(
        tmp_path, {"css/a.css": "a", "css/a.css.map": "m", "img/x.png": "x", "vendor/y.js": "y"}
    )

    discovery = run(app, prefix="cdn", exclude=["**/*.map", "static/vendor/*"])

    assert keys(discovery) == ["cdn/static/css/a.css", "cdn/static/img/x.png"]
    assert reasons(discovery.skipped) == {
        "css/a.css.map": "excluded by pattern",
        "vendor/y.js": "excluded by pattern",
    }
    assert {s.key for s in discovery.skipped} == {
        "cdn/static/css/a.css.map",
        "cdn/static/vendor/y.js",
    }


def test_double_star_slash_also_matches_zero_directories(tmp_path: Path) -> None:
    app = make_app(
        tmp_path, {"robots.txt": "r", "a/robots.txt": "r", "a.css": "a"}, static_url_path=""
    )

    discovery = run(app, exclude=["**/robots.txt"])

    assert keys(discovery) == ["a.css"]
    assert_flask_serves_every_key(app, discovery)


def test_exclude_wins_over_include(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a.css": "a", "b.css": "b"})

    discovery = run(app, include=["static/*.css"], exclude=["static/b.css"])

    assert keys(discovery) == ["static/a.css"]
    assert reasons(discovery.skipped) == {"b.css": "excluded by pattern"}


def test_symlink_to_a_file_inside_is_followed(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"css/real.css": "real"})
    (tmp_path / "static/alias.css").symlink_to("css/real.css")

    discovery = run(app)

    by_key = {file.key: file for file in discovery.files}
    assert sorted(by_key) == ["static/alias.css", "static/css/real.css"]
    assert by_key["static/alias.css"].path == (tmp_path / "static/css/real.css").resolve()
    assert by_key["static/alias.css"].size == 4
    assert_flask_serves_every_key(app, discovery)


def test_symlinked_directory_inside_is_followed(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"v1/app.js": "js"})
    (tmp_path / "static/latest").symlink_to("v1", target_is_directory=True)

    assert keys(run(app)) == ["static/latest/app.js", "static/v1/app.js"]


def test_symlinks_leaving_the_static_folder_are_skipped(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a.css": "a"})
    write_tree(tmp_path / "outside", {".env": "SECRET=1", "dir/x.css": "x"})
    (tmp_path / "static/config.css").symlink_to(tmp_path / "outside/.env")
    (tmp_path / "static/shared").symlink_to(tmp_path / "outside/dir", target_is_directory=True)
    (tmp_path / "static/sneaky").symlink_to("../outside/dir/x.css")

    discovery = run(app)

    assert keys(discovery) == ["static/a.css"]
    assert reasons(discovery.skipped) == {
        "config.css": "symlink leaves static folder",
        "shared": "symlink leaves static folder",
        "sneaky": "symlink leaves static folder",
    }


def test_symlinks_are_judged_by_their_target_too(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        ".env": "S=1",
        ".git/config": "[core]",
        "key.pem": "K",
        "css/site.css": "ok",
    }
    app = make_app(tmp_path, files)
    static = tmp_path / "static"
    (static / "public.txt").symlink_to(".env")
    (static / "repo").symlink_to(".git", target_is_directory=True)
    (static / "css/key.txt").symlink_to("../key.pem")
    (static / "config.css").symlink_to(".git/config")
    (static / "alias.css").symlink_to("css/site.css")

    discovery = run(app)

    assert keys(discovery) == ["static/alias.css", "static/css/site.css"]
    assert reasons(discovery.skipped) == {
        ".env": "secret-like",
        ".git/": "hidden",
        "key.pem": "secret-like",
        "config.css": "symlink target is hidden",
        "public.txt": "symlink target is secret-like",
        "repo/": "symlink target is hidden",
        "css/key.txt": "symlink target is secret-like",
    }


def test_a_symlink_target_is_readmitted_as_the_target_itself(tmp_path: Path) -> None:
    app = make_app(tmp_path, {".well-known/security.txt": "c", "demo.db": "d"})
    static = tmp_path / "static"
    (static / "security.txt").symlink_to(".well-known/security.txt")
    (static / "wk").symlink_to(".well-known", target_is_directory=True)
    (static / "sample.bin").symlink_to("demo.db")

    discovery = run(app, include=("static/.well-known/*", "static/*"))

    assert keys(discovery) == [
        "static/.well-known/security.txt",
        "static/security.txt",
        "static/wk/security.txt",
    ]
    assert reasons(discovery.skipped) == {
        "demo.db": "secret-like",
        "sample.bin": "symlink target is secret-like",
    }


def test_symlinked_directory_loop_is_skipped(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a/b/x.css": "x"})
    (tmp_path / "static/a/b/up").symlink_to("../..", target_is_directory=True)
    (tmp_path / "static/self").symlink_to("self")

    discovery = run_or_hang(app)

    assert keys(discovery) == ["static/a/b/x.css"]
    assert reasons(discovery.skipped) == {"a/b/up/": "symlink loop", "self": "symlink loop"}


def test_broken_symlink_is_skipped(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a.css": "a"})
    (tmp_path / "static/gone.css").symlink_to("nowhere.css")

    discovery = run(app)

    assert keys(discovery) == ["static/a.css"]
    assert reasons(discovery.skipped) == {"gone.css": "broken symlink"}


def test_fifo_is_skipped_without_being_opened(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a.css": "a"})
    os.mkfifo(tmp_path / "static/pipe.css")
    (tmp_path / "static/pipe-link.css").symlink_to("pipe.css")

    discovery = run_or_hang(app)  # opening the FIFO would block forever

    assert keys(discovery) == ["static/a.css"]
    assert reasons(discovery.skipped) == {
        "pipe.css": "not a regular file",
        "pipe-link.css": "not a regular file",
    }


def test_unreadable_file_is_still_listed(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"locked.css": "secret-ish"})
    (tmp_path / "static/locked.css").chmod(0)

    [file] = run(app).files

    assert (file.key, file.size) == ("static/locked.css", 10)


def test_unreadable_directory_is_an_error_not_a_silent_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(tmp_path, {"ok/a.css": "a", "locked/b.css": "b"})
    real_scandir = os.scandir

    def scandir(path: str) -> Any:
        if path.endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    discovery = run(app)

    assert keys(discovery) == ["static/ok/a.css"]
    assert reasons(discovery.invalid) == {"locked/": "cannot read directory: Permission denied"}


def test_names_with_reserved_url_characters_and_unicode_are_valid_nfc_keys(tmp_path: Path) -> None:
    names = ["a b.css", "a+b.css", "a%20b.css", "a#b.css", "a?b.css", "日本語.css", "~tilde.css"]
    app = make_app(tmp_path, dict.fromkeys(names, "x"))
    (tmp_path / "static" / unicodedata.normalize("NFD", "résumé.css")).write_text("nfd")

    discovery = run(app)

    expected = sorted("static/" + name for name in [*names, "résumé.css"])
    assert keys(discovery) == [unicodedata.normalize("NFC", key) for key in expected]
    assert discovery.invalid == []
    served = [file for file in discovery.files if "sum" not in file.key]  # NFD is not NFC on disk
    assert_flask_serves_every_key(app, Discovery(served, [], [], [], []))


def test_backslash_in_a_name_is_invalid(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a\\b.css": "x", "ok.css": "ok"})

    discovery = run(app)

    assert keys(discovery) == ["static/ok.css"]
    [invalid] = discovery.invalid
    assert invalid.path == "a\\b.css"
    assert invalid.reason.startswith("invalid key:")
    assert "backslash" in invalid.reason


def test_control_character_in_a_name_is_invalid(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a\tb.css": "x"})

    discovery = run(app)

    assert discovery.files == []
    assert [entry.path for entry in discovery.invalid] == ["a\tb.css"]


def test_name_that_is_not_utf8_is_invalid_and_printable(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"ok.css": "ok"})
    with open(os.fsencode(tmp_path / "static") + b"/bad\xff.css", "wb") as handle:
        handle.write(b"x")

    discovery = run(app)

    assert keys(discovery) == ["static/ok.css"]
    [invalid] = discovery.invalid
    assert invalid.path == "bad\\xff.css"
    invalid.path.encode("utf-8")  # safe to print
    assert invalid.reason == "invalid key: file name is not valid UTF-8"


def test_key_over_1024_utf8_bytes_is_invalid(tmp_path: Path) -> None:
    deep = "/".join(["d" * 250] * 4) + "/" + "x" * 20 + ".css"  # 1028 bytes with "static/"
    fits = "/".join(["e" * 200] * 4) + "/x.css"
    app = make_app(tmp_path, {deep: "x", fits: "y"})

    discovery = run(app)

    assert keys(discovery) == ["static/" + fits]
    [invalid] = discovery.invalid
    assert invalid.path == deep
    assert "1024" in invalid.reason


def test_key_length_counts_utf8_bytes_not_characters(tmp_path: Path) -> None:
    cjk = "/".join(["日" * 80] * 5) + ".css"  # 408 characters, 1208 bytes
    app = make_app(tmp_path, {cjk: "x"})

    discovery = run(app)

    assert discovery.files == []
    assert [entry.path for entry in discovery.invalid] == [cjk]


def test_prefix_counts_towards_the_key_length(tmp_path: Path) -> None:
    name = "/".join(["d" * 250] * 5)[: 1024 - len("static/") - 4] + ".css"  # exactly 1024
    app = make_app(tmp_path, {name: "x"})

    assert keys(run(app)) == ["static/" + name]
    assert len(run(app, prefix="p").invalid) == 1


def test_missing_static_folders_are_reported_not_raised(tmp_path: Path) -> None:
    app = Flask("testapp", root_path=str(tmp_path / "app"))  # no static/ on disk
    blog = Blueprint("blog", "testapp", root_path=str(tmp_path / "blog"), static_folder="static")
    app.register_blueprint(blog, url_prefix="/blog")

    discovery = run(app)

    assert discovery.files == []
    assert discovery.missing_folders == [
        f"app: {tmp_path / 'app' / 'static'}",
        f"blog: {tmp_path / 'blog' / 'static'}",
    ]


def test_blueprint_without_static_folder_is_no_source(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a.css": "a"})
    app.register_blueprint(Blueprint("api", "testapp"), url_prefix="/api")

    discovery = run(app)

    assert [source.name for source in discovery.sources] == ["app"]
    assert keys(discovery) == ["static/a.css"]
    assert discovery.missing_folders == []


def test_host_matching_and_subdomain_rules_use_the_path(tmp_path: Path) -> None:
    app = make_app(
        tmp_path / "app", {"a.css": "a"}, host_matching=True, static_host="static.example.com"
    )
    shop = blueprint(tmp_path / "shop", "shop", {"s.css": "s"}, subdomain="shop")
    app.register_blueprint(shop, url_prefix="/shop")

    assert keys(run(app)) == ["shop/static/s.css", "static/a.css"]


def test_custom_static_url_path(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"css/a.css": "a"}, static_url_path="/assets/v2")

    discovery = run(app)

    assert keys(discovery) == ["assets/v2/css/a.css"]
    assert_flask_serves_every_key(app, discovery)


def test_static_rule_with_url_variables_before_the_file_name_is_invalid(tmp_path: Path) -> None:
    write_tree(tmp_path / "static", {"a.css": "a"})
    app = Flask("testapp", root_path=str(tmp_path), static_folder=None)
    app.static_folder = "static"
    app.add_url_rule("/<lang>/s/<path:filename>", endpoint="static", view_func=app.send_static_file)

    discovery = run(app)

    assert discovery.files == []
    [invalid] = discovery.invalid
    assert invalid.path == "/<lang>/s/<path:filename>"
    assert "URL variables" in invalid.reason
