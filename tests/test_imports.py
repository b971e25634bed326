"""Imports point one way: no cycle among cloudcollect's modules, counting the imports made
inside functions (a lazy import is still a dependency) and leaving out the ones made only
for type checking; no module is over 300 lines; and importing the CLI entry point or the
extension loads none of the publishing modules."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import cloudcollect

PACKAGE = Path(cloudcollect.__file__).parent


def _module_name(path: Path) -> tuple[str, list[str]]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), parts
    return ".".join(parts), parts[:-1]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for inner in ast.walk(node))
    return skipped


def _imports(path: Path, package: list[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = base + (node.module.split(".") if node.module else [])
            found.add(".".join(target))
            found.update(".".join([*target, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {
        name: (package, path)
        for path in PACKAGE.rglob("*.py")
        for name, package in [_module_name(path)]
    }
    names = set(modules)
    graph: dict[str, set[str]] = {}
    for name, (package, path) in modules.items():
        edges = {
            target
            for target in _imports(path, package) & names
            # a package's __init__ re-exporting its own modules is not a dependency
            if target != name
            and not target.startswith(name + ".")
            and not name.startswith(target + ".")
        }
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_cloudcollect_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_check_sees_a_cycle_made_by_a_lazy_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert "cloudcollect.fingerprint.names" in _graph()["cloudcollect.deletion"]


#: The house rule of issue 16: a module that grows past this is split by job.
MAX_LINES = 300


def test_no_module_of_the_package_is_over_the_line_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 50
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


# -- what an import costs: flask imports cloudcollect.cli for every command it runs ---------


def _modules_after(code: str) -> set[str]:
    """The cloudcollect and botocore modules a fresh interpreter holds after ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return {name for name in result.stdout.split() if name.split(".")[0] in PREFIXES}


PREFIXES = ("cloudcollect", "botocore", "boto3")
#: Modules of the publishing path: a command that does not publish has no use for them.
PUBLISHING = {
    "cloudcollect.pipeline",
    "cloudcollect.stages",
    "cloudcollect.discovery",
    "cloudcollect.remote",
    "cloudcollect.fingerprint.copies",
    "cloudcollect.fingerprint.cleanup",
    "botocore",
}


@pytest.mark.parametrize(
    "code",
    [
        "import cloudcollect.cli",  # what `flask routes` or `flask run` imports
        "import cloudcollect",
        "from cloudcollect import CloudCollect",  # an app at start-up
        "from cloudcollect.fingerprint.manifest import local_manifest_path",
    ],
)
def test_an_import_loads_none_of_the_publishing_modules(code: str) -> None:
    assert _modules_after(code) & PUBLISHING == set()


def test_the_flask_entry_point_is_the_cheap_one() -> None:
    entry = "cloudcollect.cli:cloudcollect_command"
    text = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert f'cloudcollect = "{entry}"' in text
    assert "cloudcollect.cli" in _modules_after("import cloudcollect.cli")


def test_the_probe_sees_a_publishing_module_when_one_is_imported() -> None:
    assert "cloudcollect.pipeline" in _modules_after("from cloudcollect import publish")
    assert "cloudcollect.fingerprint.copies" in _modules_after(
        "from cloudcollect.fingerprint import fingerprint_assets"
    )


@pytest.mark.parametrize("package", ["cloudcollect", "cloudcollect.fingerprint"])
def test_every_re_exported_name_is_the_one_its_module_defines(package: str) -> None:
    code = (
        f"import importlib, {package} as p\n"
        "names = list(p.__all__)\n"
        "seen = {n: getattr(p, n) for n in names}\n"
        "assert set(names) <= set(dir(p)), set(names) - set(dir(p))\n"
        "star = {}\n"
        f"exec('from {package} import *', star)\n"
        "assert all(star[n] is seen[n] for n in names)\n"
        "print(len(names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(result.stdout) > 15
    module = importlib.import_module(package)
    source = (PACKAGE.parent / package.replace(".", "/") / "__init__.py").read_text("utf-8")
    tree = ast.parse(source)
    checked = _type_checking_nodes(tree)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and id(node) in checked
        for alias in node.names
    }
    assert imported == set(module.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    import cloudcollect

    with pytest.raises(AttributeError, match="'cloudcollect' has no attribute 'publsh'"):
        cloudcollect.publsh  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError, match="publsh"):
        exec("from cloudcollect import publsh", {})
