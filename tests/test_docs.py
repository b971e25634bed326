"""The README documents every setting and every exit code the code can return."""

from __future__ import annotations

from pathlib import Path

from cloudcollect.config import config_keys
from cloudcollect.errors import CloudCollectError

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme() -> None:
    missing = [key for key in config_keys() if f"`{key}`" not in README]
    assert missing == []


def test_every_error_exit_code_is_in_the_readme() -> None:
    codes = {cls.exit_code for cls in _subclasses(CloudCollectError)} | {0, 1, 130, 143}
    for code in codes:
        assert f"| {code} |" in README or f"| {code} / " in README or f"/ {code} |" in README, code


def _subclasses(cls: type[CloudCollectError]) -> list[type[CloudCollectError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return [c for c in found if isinstance(c.exit_code, int)]
