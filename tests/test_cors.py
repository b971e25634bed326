"""Bucket CORS logic (cloudcollect/cors.py): which rules let an origin load fonts and module
scripts, the merge ``flask cloudcollect cors`` writes, CLOUDCOLLECT_CORS_ORIGINS, and
``--check``'s *cors* differences, on the memory and filesystem storages."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudcollect import MemoryStorage, publish
from cloudcollect.check import CORS_BLOCKED, OUT_OF_SYNC, check
from cloudcollect.cli import cloudcollect_command
from cloudcollect.config import Settings
from cloudcollect.cors import (
    MAX_AGE,
    RULE_ID,
    CorsRule,
    CorsUnsupported,
    blocked_origins,
    merged,
    origin_matches,
    read_rules,
    write_rules,
)
from cloudcollect.errors import ConfigError
from cloudcollect.storage.filesystem import FilesystemStorage
from tests.support.apps import make_app

APP = "https://app.example"
THEIRS = CorsRule(("https://other.example",), ("PUT", "GET"), ("x-amz-*",), ("ETag",), 600, "x")


@pytest.mark.parametrize(
    ("pattern", "origin", "expected"),
    [
        ("https://app.example", "https://app.example", True),
        ("https://app.example", "http://app.example", False),
        ("https://app.example", "https://app.example:8443", False),
        ("*", "http://127.0.0.1:5000", True),
        ("https://*.example", "https://app.example", True),
        ("https://*.example", "https://example", False),
        ("https://*.example", "https://app.example.evil", False),
        ("http://127.0.0.1:*", "http://127.0.0.1:5000", True),
    ],
)
def test_an_allowed_origin_matches_exactly_or_by_its_one_wildcard(
    pattern: str, origin: str, expected: bool
) -> None:
    assert origin_matches(pattern, origin) is expected


def test_only_a_rule_that_allows_get_from_the_origin_lets_fonts_load() -> None:
    put_only = CorsRule((APP,), ("PUT",))
    other = CorsRule(("https://other.example",), ("GET",))
    assert blocked_origins([], [APP]) == [APP]
    assert blocked_origins([put_only, other], [APP]) == [APP]
    assert blocked_origins([put_only, other, CorsRule(("*",), ("GET",))], [APP]) == []


def test_the_merge_keeps_every_rule_and_adds_ours() -> None:
    rules = [THEIRS, CorsRule(("https://third.example",), ("GET",))]

    new = merged(rules, [APP, "http://127.0.0.1:5000"])

    assert new is not None
    assert new[:2] == rules  # untouched, in order
    assert new[2] == CorsRule(
        (APP, "http://127.0.0.1:5000"), ("GET", "HEAD"), max_age_seconds=MAX_AGE, id=RULE_ID
    )
    assert merged(new, [APP, "http://127.0.0.1:5000"]) is None  # idempotent


def test_the_merge_extends_our_rule_with_a_new_origin_only() -> None:
    ours = CorsRule((APP,), ("GET",), max_age_seconds=5, id=RULE_ID)

    new = merged([ours, THEIRS], [APP, "https://other.example", "https://new.example"])

    # other.example already may GET (THEIRS): it is not added again.
    assert new == [
        CorsRule((APP, "https://new.example"), ("GET", "HEAD"), max_age_seconds=5, id=RULE_ID),
        THEIRS,
    ]


def test_our_rule_without_get_gets_get_and_head_back_without_a_second_origin() -> None:
    edited = CorsRule((APP,), ("PUT",), id=RULE_ID)

    new = merged([edited], [APP])

    assert new == [CorsRule((APP,), ("PUT", "GET", "HEAD"), id=RULE_ID)]
    assert merged(new, [APP]) is None


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example/",
        "https://app.example/path",
        "app.example",
        "HTTPS://App.example",
        "https://app.example:443",
        "http://app.example:80",
        "https://app.example:70000",
        "https://**.example",
        "https://app.example?x=1",
    ],
)
def test_an_origin_that_no_browser_sends_is_a_config_error(origin: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings().replace(cors_origins=[origin])
    assert caught.value.key == "CLOUDCOLLECT_CORS_ORIGINS"
    assert caught.value.exit_code == 2


def test_origins_as_browsers_send_them_are_accepted() -> None:
    origins = ["*", APP, "http://127.0.0.1:5000", "https://*.example", "http://[::1]:8080"]
    assert Settings().replace(cors_origins=origins).cors_origins == tuple(origins)


def test_memory_storage_keeps_the_rules_put_there() -> None:
    storage = MemoryStorage()
    assert read_rules(storage) == []
    write_rules(storage, [THEIRS])
    assert read_rules(storage) == [THEIRS]


def test_a_filesystem_has_no_bucket_cors(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    with pytest.raises(CorsUnsupported) as caught:
        read_rules(storage)
    assert caught.value.exit_code == 3
    assert "FilesystemStorage storage does not support bucket CORS" in str(caught.value)


def test_the_cors_command_on_a_filesystem_is_exit_3(tmp_path: Path) -> None:
    config = {
        "CLOUDCOLLECT_STORAGE": "filesystem",
        "CLOUDCOLLECT_ROOT": str(tmp_path / "target"),
        "CLOUDCOLLECT_CORS_ORIGINS": [APP],
    }
    app = make_app(tmp_path / "app", config)

    result = app.test_cli_runner().invoke(cloudcollect_command, ["cors"])

    assert result.exit_code == 3
    assert "does not support bucket CORS" in result.stderr


def test_check_reports_an_origin_the_rules_do_not_allow(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_STORAGE": "memory"})
    storage = MemoryStorage()
    assert publish(app, storage=storage).exit_code == 0
    storage.put_bucket_cors([THEIRS])
    settings = Settings(storage="memory", cors_origins=(APP, "https://other.example"))

    report = check(app, settings, storage=storage)

    assert report.exit_code == OUT_OF_SYNC
    assert report.differences() == [{"key": APP, "kind": "cors", "reason": CORS_BLOCKED}]
    assert "cors 1" in report.summary_line()
    storage.put_bucket_cors(merged([THEIRS], settings.cors_origins) or [])
    again = check(app, settings, storage=storage)
    assert again.exit_code == 0, again.differences()
    assert again.to_dict()["in_sync"] is True


def test_check_on_a_filesystem_warns_that_cors_is_not_checked(tmp_path: Path) -> None:
    target = tmp_path / "target"
    config = {"CLOUDCOLLECT_STORAGE": "filesystem", "CLOUDCOLLECT_ROOT": str(target)}
    app = make_app(tmp_path / "app", config)
    assert publish(app).exit_code == 0
    settings = Settings(storage="filesystem", root=str(target), cors_origins=(APP,))

    report = check(app, settings)

    assert report.exit_code == 0
    assert any("not checked" in w and "CORS" in w for w in report.warnings), report.warnings
