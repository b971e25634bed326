"""References inside stylesheets and scripts, and rewriting them to hashed names. Pure.

Found (``references``):

- CSS (read as CSS tokens, see ``cloudcollect.cssrefs``): ``url(...)`` (quoted or not,
  escaped names such as ``u\\72l(`` too), ``@import "..."``, the strings of
  ``image-set()`` / ``-webkit-image-set()`` and ``/*# sourceMappingURL=... */``; never
  inside comments or other strings (``content: "url(x.png)"`` is text). A stylesheet
  without ``url(``, ``@import``, ``image-set``, ``sourceMappingURL`` or a backslash (in
  any case) has none and is not tokenized.
- JS (``.js``, ``.mjs``): ``//# sourceMappingURL=...`` (and ``/*# ... */``); with
  ``modules=True`` also static ES-module specifiers that start with ``./`` or ``../``:
  ``import x from "./a.js"``, ``import "./a.js"``, ``export * from "../b.js"``. Bare
  specifiers (``"lodash"``), dynamic ``import()`` and anything built at run time are left
  alone; the scan is a regular expression, not a parser, hence opt-in.

Left alone (``target`` returns None): data URIs and every URL with a scheme (``https:``,
``data:``...), protocol-relative ``//host/...``, absolute paths ``/...`` (they name a
path on whatever host serves the page, not a file beside the stylesheet), fragment-only
``#x`` and empty URLs. A relative URL is resolved against the referring file's folder;
its query string and fragment are kept when it is rewritten. ``apply`` changes only the
characters of the references it replaces; every other byte stays as it was.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from urllib.parse import unquote

from .reference import IMPORT as IMPORT
from .reference import MODULE as MODULE
from .reference import SOURCEMAP as SOURCEMAP
from .reference import URL as URL
from .reference import Reference as Reference

CSS_EXTENSIONS = (".css",)
JS_EXTENSIONS = (".js", ".mjs")

_JS_SOURCEMAP = re.compile(
    r"(?://[#@]\s*sourceMappingURL=(?P<bare>\S+)\s*$)"
    r"|(?:/\*\s*[#@]\s*sourceMappingURL=(?P<block>[^\s*]+)\s*\*/)",
    re.MULTILINE,
)
_JS_MODULE = re.compile(
    r"""(?:^|[;\s}])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?"""
    r"""(?:"(?P<dq>\.{1,2}/[^"\n]*)"|'(?P<sq>\.{1,2}/[^'\n]*)')""",
    re.MULTILINE,
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def is_rewritable(path: str) -> bool:
    """Whether files at ``path`` are scanned for references (by extension)."""
    return path.lower().endswith(CSS_EXTENSIONS + JS_EXTENSIONS)


#: A stylesheet holding none of these (lower-cased) has no reference and is not tokenized;
#: a backslash could escape one of them (``u\\72l(``), so it sends the text to the tokenizer.
_CSS_MARKERS = ("url(", "@import", "image-set", "sourcemappingurl", "\\")


def references(path: str, text: str, *, modules: bool = False) -> list[Reference]:
    """The references in ``text`` (the file at ``path``), in document order."""
    if path.lower().endswith(CSS_EXTENSIONS):
        lowered = text.lower()
        if not any(marker in lowered for marker in _CSS_MARKERS):
            return []
        from .cssrefs import css_references  # compiles its expressions on first use

        found = css_references(text)
    elif path.lower().endswith(JS_EXTENSIONS):
        found = _matches(_JS_SOURCEMAP, text, SOURCEMAP)
        if modules:
            found += _matches(_JS_MODULE, text, MODULE)
    else:
        found = []
    return sorted(found, key=lambda ref: ref.start)


def _matches(pattern: re.Pattern[str], text: str, kind: str) -> list[Reference]:
    found = []
    for match in pattern.finditer(text):
        group = next(name for name, value in match.groupdict().items() if value is not None)
        start, end = match.span(group)
        found.append(Reference(start, end, match.group(group), kind))
    return found


def target(referrer: str, url: str) -> str | None:
    """The path (same space as ``referrer``, e.g. ``static/img/a.png``) that ``url`` in the
    file ``referrer`` points to, or None for a URL that is left alone (see the module
    docstring). A path that climbs above the root is returned as it resolves (``../x``),
    so it is reported as missing."""
    url = url.strip()
    if not url or url.startswith(("#", "/")) or _SCHEME.match(url):
        return None
    path = unquote(_split(url)[0])
    if not path:
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(referrer), path))


def rewritten_url(url: str, hashed_basename: Callable[[str], str]) -> str:
    """``url`` with its last path segment replaced by ``hashed_basename(segment)``; the
    folders, query string and fragment are kept as written."""
    url = url.strip()
    path, rest = _split(url)
    folder, slash, name = path.rpartition("/")
    return f"{folder}{slash}{hashed_basename(name)}{rest}"


def apply(text: str, replacements: dict[Reference, str]) -> str:
    """``text`` with each reference's URL replaced (references must not overlap), escaped
    as its ``syntax`` needs; everything between the references is kept as it was."""
    pieces = []
    position = 0
    for ref in sorted(replacements, key=lambda ref: ref.start):
        pieces += [text[position : ref.start], _written(replacements[ref], ref.syntax)]
        position = ref.end
    pieces.append(text[position:])
    return "".join(pieces)


def _split(url: str) -> tuple[str, str]:
    """(path, "?query#fragment" as written)."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    return url[:cut], url[cut:]


def _written(url: str, syntax: str) -> str:
    if not syntax:
        return url
    from .cssrefs import written

    return written(url, syntax)
