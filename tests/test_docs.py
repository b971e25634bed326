"""The README documents every setting (with the code's default), every exit code the code
can return and every default exclusion; the package ships the license it declares."""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path
from typing import Any

from cloudcollect.config import Settings, config_keys
from cloudcollect.errors import CloudCollectError
from cloudcollect.filters import JUNK, SECRET_LIKE

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


#: README defaults that mean "no value" (the code's None, or the unset prefix "").
_UNSET = ("—", "unset", "derived", "preset", "<instance_path>")


def _readme_default(cell: str) -> Any:
    """A README default cell as the Settings value it claims."""
    text = cell.strip()
    if text.lstrip("`").startswith(_UNSET):
        return None
    text = text.strip("`")
    if text.endswith(" MiB"):
        return int(text.removesuffix(" MiB")) * 1024 * 1024
    value = ast.literal_eval(text)
    return tuple(value) if isinstance(value, list) else value


def test_every_default_in_the_readme_table_is_the_codes() -> None:
    rows = re.findall(r"^\| `(CLOUDCOLLECT_\w+)` \| ([^|]+) \|", README, re.MULTILINE)
    assert {key for key, _ in rows} == set(config_keys())
    settings = Settings()
    for key, cell in rows:
        field = config_keys()[key]
        claimed = _readme_default(cell)
        actual = getattr(settings, field.name)
        if claimed is None:  # "—", "unset", "derived": no value of its own
            assert actual in (None, ""), (key, actual)
        else:
            assert actual == claimed, (key, cell, actual)


def test_the_readme_lists_every_default_exclusion_and_no_other() -> None:
    section = README.split("Excluded by default, at any depth")[1].split("Symlinks are followed")[0]
    listed = set(re.findall(r"`([^`]+)`", section))
    assert set(JUNK) | set(SECRET_LIKE) <= listed, sorted(set(JUNK) | set(SECRET_LIKE) - listed)
    hidden_examples = {".git/", ".env", ".npmrc", ".netrc", ".htpasswd"}
    assert listed - set(JUNK) - set(SECRET_LIKE) == hidden_examples


def test_every_test_docs_claims_names_exists() -> None:
    """docs/claims.md names tests as ``file::name`` (a name after ``, ::`` belongs to the
    file named before it in the same row); each must be a test of that file."""
    table = (ROOT / "docs/claims.md").read_text(encoding="utf-8")
    missing, named = [], 0
    for row in table.splitlines():
        current = None
        for file, name in re.findall(r"(?:(test_\w+)|\B)::(test_\w+)", row):
            current = file or current
            source = ROOT / "tests" / f"{current}.py"
            named += 1
            if not source.exists() or f"def {name}(" not in source.read_text(encoding="utf-8"):
                missing.append(f"{current}::{name}")
    assert missing == [] and named > 300
