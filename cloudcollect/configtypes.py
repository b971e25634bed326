"""The kinds of ``CLOUDCOLLECT_*`` values (``config``'s table names one per setting) and
their conversion from what a Flask config holds: type checks only, ranges and choices are
``config``'s. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

#: One ``CLOUDCOLLECT_HEADERS`` rule: a glob and the headers it sets.
HeaderRule = tuple[str, dict[str, str]]


def convert(key: str, kind: str, value: Any) -> Any:
    """``value`` of setting ``key`` as its ``kind`` wants it (``str``, ``str?``, ``bool``,
    ``int``, ``globs``: a tuple, ``map``: a dict, else header rules); ConfigError naming
    ``key`` and the type found otherwise. A bool is not an int."""
    if kind == "str?" and value is None:
        return None
    if kind in ("str", "str?"):
        _expect(isinstance(value, str), key, "a string", value)
        return value
    if kind == "bool":
        _expect(isinstance(value, bool), key, "True or False", value)
        return value
    if kind == "int":
        _expect(isinstance(value, int) and not isinstance(value, bool), key, "an int", value)
        return value
    if kind == "globs":
        _expect(
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
            key,
            "a list of glob strings",
            value,
        )
        return tuple(value)
    if kind == "map":
        _expect(_is_str_map(value), key, "a dict of str to str", value)
        return dict(value)
    return _convert_rules(key, value)


def _convert_rules(key: str, value: Any) -> tuple[HeaderRule, ...]:
    _expect(isinstance(value, (list, tuple)), key, "a list of (glob, {header: value})", value)
    rules: list[HeaderRule] = []
    for rule in value:
        ok = (
            isinstance(rule, (list, tuple))
            and len(rule) == 2
            and isinstance(rule[0], str)
            and _is_str_map(rule[1])
        )
        _expect(ok, key, "a list of (glob, {header: value})", rule)
        rules.append((rule[0], dict(rule[1])))
    return tuple(rules)


def _is_str_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _expect(condition: bool, key: str, wanted: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"{key} must be {wanted}, got {type(value).__name__}", key=key)
