"""The former tinycss2-based reader of stylesheet references, kept as the oracle that
``tests/test_css_lexer.py`` compares ``cloudcollect.cssrefs`` with. Not used at run time.

It walks tinycss2's component values: ``url(...)`` tokens and the first string of a
``url("...")`` function anywhere, the strings directly inside ``image-set()`` and
``-webkit-image-set()``, the string after a top-level ``@import`` and
``/*# sourceMappingURL=... */`` comments; spans are found again in the source from
tinycss2's line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from tinycss2 import parse_component_value_list
from tinycss2.ast import (
    AtKeywordToken,
    Comment,
    CurlyBracketsBlock,
    FunctionBlock,
    Node,
    ParenthesesBlock,
    SquareBracketsBlock,
    StringToken,
    URLToken,
)

from cloudcollect.reference import IMPORT, SOURCEMAP, URL, Reference

#: ``Reference.syntax`` of an unquoted ``url(...)``; a quoted one has its quote character.
CSS_URL = "css-url"
IMAGE_SETS = frozenset({"image-set", "-webkit-image-set"})
_WHITESPACE = " \t\n\r\f"
_NEWLINE = re.compile(r"\r\n|[\r\n\f]")
_HEX = re.compile(r"[0-9a-fA-F]{1,6}(?:\r\n|[ \t\n\r\f])?")
_SOURCEMAP = re.compile(r"/\*\s*[#@]\s*sourceMappingURL=(?P<url>[^\s*]+)\s*\*/")

_Offset = Callable[[Node], int]


def css_references(text: str) -> list[Reference]:
    """The references in the stylesheet ``text``, in document order."""
    nodes = parse_component_value_list(text, skip_comments=False)
    starts = [0] + [match.end() for match in _NEWLINE.finditer(text)]

    def offset(node: Node) -> int:
        # tinycss2 counts lines after folding \r\n, \r and \f into \n; columns from 1.
        return starts[node.source_line - 1] + node.source_column - 1

    found = list(_imports(nodes, text, offset)) + list(_walk(nodes, text, offset))
    return sorted(found, key=lambda ref: ref.start)


def _imports(nodes: list[Node], text: str, offset: _Offset) -> Iterator[Reference]:
    """``@import "x"`` strings of the top level (``@import url(x)`` is found as a url)."""
    significant = [n for n in nodes if n.type not in ("whitespace", "comment")]
    for keyword, following in zip(significant, significant[1:], strict=False):
        if (
            isinstance(keyword, AtKeywordToken)
            and keyword.lower_value == "import"
            and isinstance(following, StringToken)
        ):
            yield _string(following, text, offset, IMPORT)


def _walk(nodes: Iterable[Node], text: str, offset: _Offset) -> Iterator[Reference]:
    for node in nodes:
        if isinstance(node, URLToken):
            yield _url_token(node, text, offset)
        elif isinstance(node, Comment):
            match = _SOURCEMAP.match(text, offset(node))
            if match:
                yield Reference(match.start("url"), match.end("url"), match["url"], SOURCEMAP)
        elif isinstance(node, FunctionBlock):
            yield from _function(node, text, offset)
        elif isinstance(node, (ParenthesesBlock, SquareBracketsBlock, CurlyBracketsBlock)):
            yield from _walk(node.content, text, offset)


def _function(node: FunctionBlock, text: str, offset: _Offset) -> Iterator[Reference]:
    strings = [a for a in node.arguments if isinstance(a, StringToken)]
    if node.lower_name == "url" and strings:
        yield _string(strings[0], text, offset, URL)
    elif node.lower_name in IMAGE_SETS:
        yield from (_string(s, text, offset, URL) for s in strings)
    yield from _walk(node.arguments, text, offset)


def _string(node: StringToken, text: str, offset: _Offset, kind: str) -> Reference:
    """A string token's value, spanning the characters between its quotes."""
    quote = offset(node)
    start = position = quote + 1
    while position < len(text) and text[position] != text[quote]:
        position = _after_escape(text, position) if text[position] == "\\" else position + 1
    return Reference(start, min(position, len(text)), node.value, kind, text[quote])


def _url_token(node: URLToken, text: str, offset: _Offset) -> Reference:
    """An unquoted ``url(...)``, spanning its value without the whitespace around it."""
    position = text.index("(", offset(node)) + 1
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    start = end = position
    while position < len(text) and text[position] != ")":
        if text[position] == "\\":
            position = end = _after_escape(text, position)
        else:
            position += 1
            if text[position - 1] not in _WHITESPACE:
                end = position
    return Reference(start, end, node.value, URL, CSS_URL)


def _after_escape(text: str, backslash: int) -> int:
    """The position after the escape that starts at ``text[backslash]``: up to six hex
    digits and one whitespace, else the next character (a newline in a string too)."""
    if text.startswith("\r\n", backslash + 1):
        return backslash + 3
    match = _HEX.match(text, backslash + 1)
    return match.end() if match else min(backslash + 2, len(text))
