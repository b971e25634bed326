"""cloudcollect/ reads no private attribute (botocore's or anyone's) and knows nothing of
test tools: the S3 transports are chosen by a documented rule, never by detecting moto or
a Stubber (issue 14)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cloudcollect"
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: Underscored names that are public API: ``os._exit``, werkzeug's documented
#: ``LocalProxy._get_current_object``.
ALLOWED = {("os", "_exit"), ("current_app", "_get_current_object")}
TEST_TOOLS = re.compile(r"moto|stubber|mock_aws|botocore\.stub", re.IGNORECASE)


def private_accesses(tree: ast.AST) -> list[str]:
    """``x._name`` where ``x`` is not ``self``/``cls``, and imports of ``_names``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__") and node.attr.endswith("__"):
                continue
            owner = node.value.id if isinstance(node.value, ast.Name) else ast.unparse(node.value)
            if owner in ("self", "cls") or (owner, node.attr) in ALLOWED:
                continue
            found.append(f"line {node.lineno}: {owner}.{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [alias.name for alias in node.names if alias.name.startswith("_")]
            hidden = any(p.startswith("_") and p != "__future__" for p in module.split("."))
            if node.level == 0 and (names or hidden):
                found.append(f"line {node.lineno}: from {module} import {names}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(part.startswith("_") for part in alias.name.split(".")[1:]):
                    found.append(f"line {node.lineno}: import {alias.name}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_attribute_is_read(path: Path) -> None:
    assert private_accesses(ast.parse(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_test_tool_is_named(path: Path) -> None:
    assert TEST_TOOLS.findall(path.read_text(encoding="utf-8")) == []


def test_the_checks_find_what_they_look_for() -> None:
    code = (
        "from botocore.retries import _private\n"
        "import botocore._internal\n"
        "def f(client, self):\n"
        "    return client._request_signer._credentials, self._mine\n"
    )
    assert len(private_accesses(ast.parse(code))) == 4
    assert TEST_TOOLS.findall("if 'moto' in sys.modules or Stubber: ...")
