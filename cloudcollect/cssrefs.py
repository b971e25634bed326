"""References in a stylesheet, read as CSS tokens (``cloudcollect.csslexer``: regular
expressions run by ``re``, about a second for Bootstrap-Flask's 22 MB of stylesheets
where tinycss2 took 12 to 20), and how a new URL is written back in their place. Pure.

Found, at any nesting depth unless said otherwise:

- ``url(a.png)`` tokens and ``url("a.png")`` / ``url('a.png')`` functions (the first
  string directly inside; the name may be escaped or in any case: ``URL(``, ``u\\72l(``);
- the string of ``@import "x.css"`` (top level, as CSS allows it nowhere else; comments
  may stand between them);
- the strings written directly inside ``image-set()`` and ``-webkit-image-set()``
  (``image-set("a.png" 1x, "a@2x.png" 2x)``), not those of a function inside them;
- ``/*# sourceMappingURL=x.css.map */`` comments.

Every other string is text, not a reference (``content: "url(x.png)"``), and nothing
inside a comment is found, while a ``/*`` inside a string starts no comment. A string
cut by an unescaped newline (a bad string) and a malformed unquoted ``url(a b.png)`` (a
bad url, which runs to the next ``)``) are no references. A string, comment or
``url(`` left open at the end of the text ends there (``url(a.png`` is ``a.png``).

A reference's ``url`` is the token's value (escapes decoded: ``url(a\\)b.png)`` is
``a)b.png``; an escape of 0, of a surrogate or past U+10FFFF is U+FFFD, as is a NUL; the
references are tinycss2's, checked by ``tests/test_css_lexer.py``, but for the escaped
surrogate, which tinycss2 keeps) and
``text[start:end]`` is that value as written (between the quotes, or between ``url(``
and ``)`` without the surrounding whitespace). ``written`` turns a new URL into the
source for that span: escaped for its quote, or for an unquoted ``url()``. Bytes
outside a replaced span are never touched.
"""

from __future__ import annotations

import re

from . import csslexer as lex
from .reference import IMPORT, SOURCEMAP, URL, Reference

#: ``Reference.syntax`` of an unquoted ``url(...)``; a quoted one has its quote character.
CSS_URL = "css-url"
IMAGE_SETS = frozenset({"image-set", "-webkit-image-set"})
_WHITESPACE = " \t\n\r\f"
# What an open function or block does with the strings directly inside it.
_PLAIN, _FIRST_STRING, _DONE, _EVERY_STRING = range(4)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def css_references(text: str) -> list[Reference]:
    """The references in the stylesheet ``text``, in document order.

    Most of a stylesheet is skipped by one regular expression that tracks no nesting
    (``csslexer.FAST``); ``url(`` and the image sets are read with a stack from their
    parenthesis to its closer (their direct strings count), and an ``@import`` is looked
    at only once a pass with a stack from the last one says it is at the top level."""
    reader = _Reader(text)
    top = _Reader(text)  # tracks the nesting up to the last @import; finds are dropped
    clean, pos = reader.clean, 0
    while pos < len(clean):
        match = lex.FAST.match(clean, pos)
        if match is None:  # pragma: no cover - every character starts some token
            raise AssertionError(f"no CSS token at {pos}")
        kind, pos = match.lastgroup, match.end()
        if kind == "func":
            name = lex.unescape(match["fname"], "\ufffd")
            pos = reader.function(name, pos, until_closed=True)
        elif kind == "at" and _lower(lex.unescape(match["aname"], "\ufffd")) == "import":
            if top.read(top.pos, until=match.start()) == match.start() and not top.stack:
                reader.at_import(pos)
        elif kind == "mark":
            pos = reader.comment(match.start())
    return sorted(reader.found, key=lambda ref: ref.start)


class _Reader:
    """Reads tokens with a stack of open blocks and functions: ``[closer, role]``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.clean = text.replace("\0", "\ufffd") if "\0" in text else text
        self.found: list[Reference] = []
        self.stack: list[list[str | int]] = []
        self.pos = 0

    def read(self, pos: int, until: int | None) -> int:
        """Reads from ``pos`` to ``until`` (or on, if a token goes past it), or while the
        stack holds anything if ``until`` is None, never past the end; returns (and keeps
        in ``self.pos``) where it stopped."""
        clean, stack = self.clean, self.stack
        while pos < len(clean) and (stack if until is None else pos < until):
            if not stack:
                pattern = lex.TOP
            elif stack[-1][1] in (_FIRST_STRING, _EVERY_STRING):
                pattern = lex.SPECIAL
            else:
                pattern = lex.PLAIN
            match = pattern.match(clean, pos)
            if match is None:  # pragma: no cover - every character starts some token
                raise AssertionError(f"no CSS token at {pos}")
            pos = self._token(match)
        self.pos = pos
        return pos

    def _token(self, match: re.Match[str]) -> int:
        """Handles one match of a scanner; returns where reading goes on."""
        kind, end, stack = match.lastgroup, match.end(), self.stack
        if kind == "open":
            stack.append([_CLOSERS[match[0]], _PLAIN])
        elif kind == "close":
            if stack and stack[-1][0] == match[0]:  # any other closer is ignored
                stack.pop()
        elif kind == "func":
            return self.function(lex.unescape(match["fname"], "\ufffd"), end)
        elif kind == "at":
            if not stack and _lower(lex.unescape(match["aname"], "\ufffd")) == "import":
                self.at_import(end)
        elif kind == "mark":
            return self.comment(match.start())
        elif kind == "quote":
            return self._string_argument(match.start())
        return end

    def function(self, name: str, pos: int, until_closed: bool = False) -> int:
        """After ``name(``: an unquoted ``url(`` is read whole; anything else is opened,
        and with ``until_closed`` read up to its closer (only url() and the image sets:
        nothing else holds a reference that the caller would not find)."""
        lowered = _lower(name)
        if lowered == "url":
            spaces = lex.WHITESPACE_RUN.match(self.clean, pos)
            quote = spaces.end() if spaces else pos
            if self.clean[quote : quote + 1] not in ("'", '"'):
                return self._url_token(pos)
            role = _FIRST_STRING
        elif lowered in IMAGE_SETS:
            role = _EVERY_STRING
        elif until_closed:
            return pos
        else:
            role = _PLAIN
        self.stack.append([")", role])
        return self.read(pos, until=None) if until_closed else pos

    def _url_token(self, pos: int) -> int:
        """An unquoted ``url(`` from after its parenthesis; a bad one is no reference."""
        match = lex.URL.match(self.clean, pos)
        assert match is not None  # every part of URL is optional
        if match["close"] is None:
            remnants = lex.BAD_URL_REMNANTS.match(self.clean, match.end())
            assert remnants is not None
            return remnants.end()
        at_end = "\ufffd" if match.end("value") == len(self.clean) else "\\"
        value = lex.unescape(match["value"], at_end)
        self.found.append(Reference(*_url_span(self.text, pos), value, URL, CSS_URL))
        return match.end()

    def at_import(self, pos: int) -> None:
        """``@import`` at the top level: its string, if one follows (past comments)."""
        gap = lex.GAP.match(self.clean, pos)
        quote = gap.end() if gap else pos
        if quote < len(self.clean) and self.clean[quote] in "\"'":
            self._string(quote, IMPORT)

    def _string_argument(self, quote: int) -> int:
        """A string directly inside ``url()`` (the first one) or an image set (each)."""
        top = self.stack[-1]
        end, good = self._string(quote, URL)
        if good and top[1] == _FIRST_STRING:
            top[1] = _DONE
        return end

    def _string(self, quote: int, kind: str) -> tuple[int, bool]:
        """The end of the string at ``quote`` and whether it is one (not a bad string),
        which is then recorded as a reference of ``kind``."""
        match = lex.STRINGS[self.clean[quote]].match(self.clean, quote)
        assert match is not None
        if not match["end"] and match.end() < len(self.clean):
            return match.end(), False
        start, end = match.span("body")
        value = lex.unescape(match["body"], "")
        self.found.append(Reference(start, end, value, kind, self.text[quote]))
        return match.end(), True

    def comment(self, pos: int) -> int:
        """A comment that may be ``/*# sourceMappingURL=... */``; returns its end."""
        match = lex.SOURCEMAP.match(self.text, pos)
        if match:
            start, end = match.span("url")
            self.found.append(Reference(start, end, match["url"], SOURCEMAP))
        comment = lex.COMMENT.match(self.clean, pos)
        assert comment is not None
        return comment.end()


def _lower(name: str) -> str:
    """``name`` in ASCII lower case, or "" if it holds anything else (no special name)."""
    return name.lower() if name.isascii() else ""


def _url_span(text: str, pos: int) -> tuple[int, int]:
    """The span of an unquoted url's value, from after ``url(``: without the whitespace
    around it, up to the first ``)`` that no escape hides (a ``\\`` before a newline
    takes the newline into the span, as it always did)."""
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    start = end = pos
    while pos < len(text) and text[pos] != ")":
        if text[pos] == "\\":
            pos = end = _after_escape(text, pos)
        else:
            pos += 1
            if text[pos - 1] not in _WHITESPACE:
                end = pos
    return start, end


def _after_escape(text: str, backslash: int) -> int:
    """The position after the escape that starts at ``text[backslash]``: up to six hex
    digits and one whitespace, else the next character (a newline in a string too)."""
    if text.startswith("\r\n", backslash + 1):
        return backslash + 3
    match = lex.HEX_ESCAPE.match(text, backslash + 1)
    return match.end() if match else min(backslash + 2, len(text))


def written(url: str, syntax: str) -> str:
    """``url`` as source text for a span of ``syntax``: a quote character (a string), or
    CSS_URL (an unquoted ``url()``, where quotes, parentheses and spaces need escaping)."""
    specials = "\\\"'()" if syntax == CSS_URL else "\\" + syntax
    out = []
    for char in url:
        if ord(char) < 0x20 or ord(char) == 0x7F or (syntax == CSS_URL and char == " "):
            out.append(f"\\{ord(char):x} ")
        elif char in specials:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)
