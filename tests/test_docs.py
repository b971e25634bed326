"""The README documents every setting and every exit code the code can return; the
package ships the license it declares."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from cloudcollect.config import config_keys
from cloudcollect.errors import CloudCollectError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


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


def test_the_license_file_is_the_bsd_3_clause_the_metadata_declares() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License\n\nCopyright (c) 2026, the cloudcollect authors\n")
    assert "3. Neither the name of the copyright holder nor the names of its" in text
    assert 'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"' in text
    metadata = importlib.metadata.metadata("cloudcollect")
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata.get_all("License-File") == ["LICENSE"]
    classifiers = metadata.get_all("Classifier") or []
    assert {"Framework :: Flask", "Typing :: Typed"} <= set(classifiers)
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: expression
    assert metadata.get_all("Project-URL") is None  # no public address yet: none invented
