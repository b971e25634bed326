"""Bucket CORS for fonts and module scripts: evaluate a bucket's rules, merge ours in. Pure.

A browser fetches a web font (``@font-face``) and a ``<script type="module">`` in CORS
mode: a simple GET with an ``Origin`` header and no other request header, so no preflight.
S3 cannot store ``Access-Control-Allow-Origin`` as an object header; it answers CORS from
the bucket's CORS configuration, using the first rule whose AllowedOrigin matches the
Origin and whose AllowedMethod includes the request's method. So an origin's fonts and
module scripts load exactly when some rule allows GET from it.

Edge cases:

- an AllowedOrigin may hold one ``*`` (``*``, ``https://*.example.com``), as S3 allows;
  the comparison is otherwise exact (scheme, host and port);
- the merge keeps every existing rule as it is and in order; it adds one rule
  (ID :data:`RULE_ID`: GET and HEAD, :data:`MAX_AGE` seconds) or extends that rule's
  origins; an origin some rule already allows is not added again, so a second merge
  changes nothing (:func:`merged` returns None);
- no AllowedHeaders: a font or module-script GET sends no header that needs one.

Storages offer bucket CORS through two optional methods (see ``storage.base``):
``bucket_cors()`` and ``put_bucket_cors(rules)``; :func:`read_rules` and
:func:`write_rules` raise :class:`CorsUnsupported` for a storage without them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import FatalStorageError

#: ID of the rule ``flask cloudcollect cors`` adds or extends.
RULE_ID = "cloudcollect"
#: Seconds a browser may cache a preflight's answer (fonts and modules need none).
MAX_AGE = 3600
METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class CorsRule:
    """One CORSRule, in S3's terms (``max_age_seconds`` None: not set)."""

    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None


class CorsUnsupported(FatalStorageError):
    """The storage keeps no bucket CORS configuration (a filesystem, or an S3-compatible
    store that answers NotImplemented / 501)."""


def origin_matches(pattern: str, origin: str) -> bool:
    """Whether AllowedOrigin ``pattern`` (at most one ``*``) matches ``origin``."""
    if "*" not in pattern:
        return pattern == origin
    head, _, tail = pattern.partition("*")
    return (
        len(origin) >= len(head) + len(tail) and origin.startswith(head) and origin.endswith(tail)
    )


def allows_get(rule: CorsRule, origin: str) -> bool:
    """Whether ``rule`` answers a GET from ``origin`` (what a font or module needs)."""
    return "GET" in rule.allowed_methods and any(
        origin_matches(pattern, origin) for pattern in rule.allowed_origins
    )


def blocked_origins(rules: Sequence[CorsRule], origins: Sequence[str]) -> list[str]:
    """The ``origins`` from which fonts and module scripts fail: no rule allows GET."""
    return [o for o in origins if not any(allows_get(rule, o) for rule in rules)]


def merged(rules: Sequence[CorsRule], origins: Sequence[str]) -> list[CorsRule] | None:
    """``rules`` with GET and HEAD allowed from every origin of ``origins``, or None when
    they already allow GET from each (nothing to write)."""
    missing = blocked_origins(rules, origins)
    if not missing:
        return None
    ours = next((i for i, rule in enumerate(rules) if rule.id == RULE_ID), None)
    if ours is None:
        rule = CorsRule(tuple(missing), METHODS, max_age_seconds=MAX_AGE, id=RULE_ID)
        return [*rules, rule]
    old = rules[ours]
    extended = dataclasses.replace(
        old,
        allowed_origins=(
            *old.allowed_origins,
            *(o for o in missing if o not in old.allowed_origins),
        ),
        allowed_methods=(
            *old.allowed_methods,
            *(m for m in METHODS if m not in old.allowed_methods),
        ),
    )
    return [*rules[:ours], extended, *rules[ours + 1 :]]


def read_rules(storage: Any) -> list[CorsRule]:
    """The bucket's CORS rules (empty: none); CorsUnsupported for a storage without
    bucket CORS."""
    reader = getattr(storage, "bucket_cors", None)
    if not callable(reader):
        raise CorsUnsupported(f"{_kind(storage)} does not support bucket CORS")
    rules: list[CorsRule] = reader()
    return rules


def write_rules(storage: Any, rules: Sequence[CorsRule]) -> None:
    """Replace the bucket's CORS configuration with ``rules``."""
    writer = getattr(storage, "put_bucket_cors", None)
    if not callable(writer):
        raise CorsUnsupported(f"{_kind(storage)} does not support bucket CORS")
    writer(list(rules))


def _kind(storage: Any) -> str:
    return f"the {type(storage).__name__} storage"


def describe(rule: CorsRule) -> str:
    """One line for a rule: ``[id] origins methods ...``."""
    parts = [f"[{rule.id}]" if rule.id else "[no id]"]
    parts.append("origins " + ", ".join(rule.allowed_origins))
    parts.append("methods " + ", ".join(rule.allowed_methods))
    if rule.allowed_headers:
        parts.append("headers " + ", ".join(rule.allowed_headers))
    if rule.expose_headers:
        parts.append("expose " + ", ".join(rule.expose_headers))
    if rule.max_age_seconds is not None:
        parts.append(f"max-age {rule.max_age_seconds}")
    return "  ".join(parts)
