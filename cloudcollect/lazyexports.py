"""Names a package re-exports, imported when first used (PEP 562), not with the package.

``flask`` loads every installed ``flask.commands`` entry point before it runs any command,
so ``flask run`` or ``flask db upgrade`` in a project that has cloudcollect imports
``cloudcollect.cli``, and with it ``cloudcollect/__init__.py``. Re-exporting through this
keeps that to the modules the command itself needs. No Flask, no boto3.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, which re-exports each name of
    ``exports`` from the module it maps to (relative to ``package``). A name is imported
    once, then kept in the package's namespace; an unknown name is an AttributeError, as
    for any module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
