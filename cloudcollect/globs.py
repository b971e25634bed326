"""Glob patterns on ``/``-separated keys, one semantics for every setting that takes them.

:mod:`fnmatch` rules, case-sensitive unless asked, where ``*`` also matches ``/``
(``static/*.css`` matches ``static/css/a/b.css``) and ``**/`` additionally matches zero
directories (``**/robots.txt`` matches ``robots.txt``). Pure.
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import re
from collections.abc import Iterable, Iterator


def compile_globs(patterns: Iterable[str], flags: int = 0) -> re.Pattern[str]:
    """One regex matching any of ``patterns`` (use ``.match``); no pattern matches nothing."""
    alternatives = [fnmatch.translate(v) for p in patterns for v in _double_star_variants(p)]
    return re.compile("|".join(alternatives) or "(?!)", flags)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_globs((pattern,))


def matches(pattern: str, path: str) -> bool:
    """Whether ``path`` matches the glob ``pattern`` (compiled once, then cached)."""
    return _compiled(pattern).match(path) is not None


def _double_star_variants(pattern: str) -> Iterator[str]:
    pieces = pattern.split("**/")
    for joins in itertools.product(("*/", ""), repeat=len(pieces) - 1):
        yield pieces[0] + "".join(
            join + piece for join, piece in zip(joins, pieces[1:], strict=True)
        )
