"""A reference: where a URL stands in a stylesheet or script, and its kind. Pure; shared by
``rewrite`` (scripts, rewriting) and ``cssrefs`` (stylesheets): cssrefs needs nothing of
rewrite, which loads cssrefs on demand."""

from __future__ import annotations

from dataclasses import dataclass

URL = "url"
IMPORT = "import"
SOURCEMAP = "sourcemap"
MODULE = "module"


@dataclass(frozen=True)
class Reference:
    """A URL at ``text[start:end]`` of a file, of ``kind`` (url, import, sourcemap, module).

    ``url`` is its value and ``text[start:end]`` the same as written: they differ only
    where CSS escapes are used (``url(a\\)b.png)`` has url ``a)b.png``). ``syntax`` says how
    a new URL is written there: ``""`` as it is, ``'"'`` or ``"'"`` inside that CSS
    string, ``"css-url"`` inside an unquoted CSS ``url()``.
    """

    start: int
    end: int
    url: str
    kind: str
    syntax: str = ""
