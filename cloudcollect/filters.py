"""Which walked paths are published: default exclusions, then include/exclude patterns.

Default exclusions, at any depth: a path component starting with ``.`` ("hidden": dotfiles
and dot-directories such as ``.git/``), editor/OS junk (:data:`JUNK`) and secret-like file
names (:data:`SECRET_LIKE`), both case-insensitive; a name matching both is "junk". An
include pattern re-admits such a path only when it matches the key *and* names every
excluded part explicitly: each dot-component by a segment of the pattern that itself starts
with ``.``, and a junk or secret-like name by a segment that the default pattern matches.
``static/.well-known/*`` re-admits ``static/.well-known/x`` (not ``static/.well-known/.x``),
``**/public.pem`` re-admits ``static/public.pem``; ``static/*`` re-admits neither.

A symlink is judged by its own path and by its target's: ``public.txt -> .env`` is
"symlink target is hidden". The target's default exclusions are re-admitted as for the
target itself (an include naming ``static/.well-known/*`` admits a link into it); include
and exclude patterns judge the link's key only.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from .globs import compile_globs

JUNK = ("*~", "*.swp", "*.swo", ".DS_Store", "Thumbs.db", "desktop.ini", "#*#")
#: Names that hold keys, credentials or data, never web assets (README lists them).
SECRET_LIKE = (
    # private keys, key stores and password databases
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.p8",
    "*.ppk",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.kdb",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    # environment and credential files
    "*.env",
    ".env.*",
    "credentials.json",
    "client_secret*.json",
    "service-account*.json",
    "secrets.json",
    "secrets.yml",
    "secrets.yaml",
    "secrets.toml",
    "*.tfstate",
    "*.tfstate.backup",
    "*.tfvars",
    # databases and backups
    "*.sqlite",
    "*.sqlite3",
    "*.db",
    "*.db-journal",
    "*.db-wal",
    "*.db-shm",
    "*.bak",
)


@dataclass(frozen=True)
class Group:
    """A default exclusion of file names: its reason and its patterns (case-insensitive)."""

    reason: str
    names: re.Pattern[str]


class Filters:
    """Default exclusions plus the include/exclude globs of the settings."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.groups = (  # junk first: Thumbs.db is junk more than a database
            Group("junk", compile_globs(JUNK, re.IGNORECASE)),
            Group("secret-like", compile_globs(SECRET_LIKE, re.IGNORECASE)),
        )
        self.include = [(compile_globs((p,)), p.split("/")) for p in include]
        self.exclude = compile_globs(exclude)
        dot_segments = tuple(s for _, segments in self.include for s in segments if s[:1] == ".")
        self.dot_segments = compile_globs(dot_segments)

    def walks_hidden_dir(self, name: str) -> bool:
        """Whether a dot-segment of an include pattern matches dot-directory ``name``."""
        return self.dot_segments.match(name) is not None

    def reason(self, url_path: str, rel: str) -> str | None:
        """Why ``url_path`` (the key without prefix) is skipped, or None to publish it.

        ``rel`` is the NFC path relative to the static folder: only its components are
        checked against the default exclusions.
        """
        matching = [segments for regex, segments in self.include if regex.match(url_path)]
        default = self._default(rel, matching)
        if default is not None:
            return default
        if self.include and not matching:
            return "not included"
        if self.exclude.match(url_path):
            return "excluded by pattern"
        return None

    def patterns_leave_out(self, url_path: str) -> bool:
        """Whether the user's own include/exclude patterns leave ``url_path`` out, whatever
        the default exclusions say (``.gitkeep`` with the exclude ``static/*``: yes; with
        no pattern: no). The deletion guard reads it: such a source is filtered on purpose,
        not emptied by accident."""
        if self.include and not any(regex.match(url_path) for regex, _ in self.include):
            return True
        return self.exclude.match(url_path) is not None

    def target_reason(self, url_path: str, rel: str) -> str | None:
        """Why a symlink to the file at ``rel`` (its own URL path ``url_path``) is skipped.

        Only the default exclusions apply, re-admitted as for the target itself: a link
        publishes nothing its target would not (``public.txt -> .env`` is skipped, a link
        into an included ``.well-known/`` is not). Include/exclude patterns judge the link.
        """
        matching = [segments for regex, segments in self.include if regex.match(url_path)]
        default = self._default(rel, matching)
        return None if default is None else f"symlink target is {default}"

    def hidden_target_dir(self, rel: str) -> bool:
        """Whether a symlinked directory's target ``rel`` has a dot-component not walked."""
        return any(p[:1] == "." and not self.walks_hidden_dir(p) for p in rel.split("/"))

    def _default(self, rel: str, matching: list[list[str]]) -> str | None:
        """The default exclusion ``rel`` triggers, unless a ``matching`` include names it."""
        named = [g for g in self.groups if g.names.match(rel.rpartition("/")[2])]
        hidden = [part for part in rel.split("/") if part[:1] == "."] if "/." in "/" + rel else []
        if (named or hidden) and not any(_names(s, named, hidden) for s in matching):
            return named[0].reason if named else "hidden"
        return None


def _names(segments: list[str], named: list[Group], hidden: list[str]) -> bool:
    """Whether include ``segments`` name every default exclusion that a path triggered.

    A secret-like or junk name is named by a segment its pattern matches (``*.pem`` matches
    the segment ``public.pem`` or ``*.pem``, not ``*``); a dot-component by a segment that
    starts with ``.`` and matches it as a glob (``.well-known``, ``.*``).
    """
    return all(any(g.names.match(s) for s in segments) for g in named) and all(
        any(s[:1] == "." and fnmatch.fnmatchcase(part, s) for s in segments) for part in hidden
    )
