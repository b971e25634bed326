"""The regular expressions of ``cssrefs``: a stylesheet read as CSS Syntax Level 3 tokens,
matched by ``re`` (in C), not character by character in Python. Pure.

Tokens are read as tinycss2 reads them (the reader cloudcollect used before, still the
oracle of the tests): ``\\r\\n``, ``\\r`` and ``\\f`` are newlines, a NUL is U+FFFD (the
caller replaces it, which keeps every position), an identifier or ``url(`` value may
hold escapes (``u\\72l(`` and ``\\75 rl(`` are the function ``url``), a ``\\`` before a
newline is no escape (it ends an identifier; in an unquoted ``url()`` it is a character
of the value), a string ends at its quote, at the end of the text, or, unescaped, at a
newline (a bad string, which is no string token: the newline is not part of it), and
the remnants of a bad ``url(`` run to the first ``)`` not written ``\\)``. Where tinycss2
differs from CSS Syntax, tinycss2 is followed (a ``\\`` before a newline in an unquoted
``url(``, which CSS makes a bad url; ``\\\\)`` in a bad url's remnants, which CSS ends at
that ``)``), but for escaped surrogates (U+FFFD, as CSS says).

What is skipped is matched in runs rather than token by token: a run of name
characters and escapes (``_RUN``) holds an identifier, a number with its unit or a hash
token's name, and only a run that starts an identifier and is followed by ``(`` is a
function token. A run is glued to what may start a token in it: ``#`` and ``@`` before
it, the ``<!--`` (``<!--url(`` is the function ``url``) and a unicode range (``u+a``
ends before ``url(``).

Each scanner matches, at a position, one of: ``skip`` (a run of tokens that holds no
reference), ``open`` or ``close`` (a bracket), ``func`` (a function token, name in
``fname``), ``at`` (an at-keyword, name in ``aname``), ``mark`` (a comment that may be a
source map) or ``quote`` (a string). ``FAST`` skips brackets and every function but
``url(`` and the image sets (any escaped name is looked at); ``TOP`` (top level),
``PLAIN`` (inside a block) and ``SPECIAL`` (directly inside ``url()`` or an image set)
stop at brackets and functions, ``TOP`` and ``FAST`` at ``@import`` (any escaped
at-keyword too), ``SPECIAL`` at strings.
"""

from __future__ import annotations

import re
from itertools import groupby

WHITESPACE = r"[ \t\n\r\f]"
_HEX = "[0-9a-fA-F]"
_NAME_CHARS = frozenset("-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _ascii(chars: str, but: str = "", negated: bool = False) -> str:
    """A character class of the ASCII ``chars`` less ``but``, or of every character but
    those (with ``negated``). Classes are written with small ranges only: ``re`` compiles
    a range reaching U+10FFFF slowly (a tenth of a second for these expressions)."""
    codes = sorted({ord(char) for char in chars} - {ord(char) for char in but})
    runs = [list(run) for _, run in groupby(codes, key=lambda code: code - codes.index(code))]
    ranges = (f"\\x{run[0]:02x}" + (f"-\\x{run[-1]:02x}" if len(run) > 1 else "") for run in runs)
    return "[" + "^" * negated + "".join(ranges) + "]"


_ASCII = "".join(map(chr, range(128)))
#: Name characters are ASCII letters, digits, ``-`` and ``_``, and all of non-ASCII.
_NAME_START = _ascii(
    _ASCII, but="_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", negated=True
)
_NAME_CHAR = _ascii(_ASCII, but="".join(_NAME_CHARS), negated=True)
#: An escape as identifiers and unquoted urls have them (a ``\\`` at the end of the text
#: is one: U+FFFD), written so that it can match only one way (no backtracking can make
#: a run of them end elsewhere). Strings add the escaped newline (a line continuation).
_ESCAPE = (
    rf"\\(?:(?:{_HEX}{{6}}|{_HEX}{{1,5}}(?!{_HEX}))"
    rf"(?:\r\n|(?!\r\n){WHITESPACE}|(?!{WHITESPACE}))|[^\n\r\f0-9a-fA-F]|\Z)"
)
_STRING_ESCAPE = rf"\\(?:\r\n|[\n\r\f]|{_HEX}{{1,6}}(?:\r\n|{WHITESPACE})?|[\s\S]|\Z)"
_STARTS_ESCAPE = r"\\(?![\n\r\f])"
#: Name characters and escapes, maybe none (each escape can match one way only).
_RUN = rf"{_NAME_CHAR}*(?:{_ESCAPE}{_NAME_CHAR}*)*"
_IDENT = rf"(?:--|-?(?:{_NAME_START}|{_ESCAPE})){_RUN}"
_STARTS_IDENT = rf"(?:--|-?(?:{_NAME_START}|{_STARTS_ESCAPE}))"
_ENDS_RUN = rf"(?!{_NAME_CHAR}|{_STARTS_ESCAPE})"
_SPECIAL_NAME = (
    r"(?:[uU][rR][lL]|(?:-[wW][eE][bB][kK][iI][tT]-)?[iI][mM][aA][gG][eE]-[sS][eE][tT])\("
)
_IMPORT_NAME = rf"[iI][mM][pP][oO][rR][tT]{_ENDS_RUN}"
_COMMENT = r"/\*[^*]*(?:\*+[^*/][^*]*)*(?:\*+/|\**\Z)"
#: A comment that ``SOURCEMAP`` may match (``\s`` as there).
_MARK = r"/\*\s*[#@]"
_RANGE_BODY = "|".join(
    [rf"{_HEX}{{6}}(?:-{_HEX}{{1,6}})?", rf"{_HEX}{{5}}\?"]
    + [rf"{_HEX}{{{n}}}\?{{1,{6 - n}}}" for n in range(4, 0, -1)]
    + [r"\?{1,6}", rf"{_HEX}{{1,5}}(?:-{_HEX}{{1,6}})?"]
)
_STRINGS = [
    rf"{quote}(?:[^{quote}\\\n\r\f]+|{_STRING_ESCAPE})*(?:{quote}|(?=[\n\r\f])|\Z)"
    for quote in "\"'"
]
#: ASCII characters that start no token of interest and belong to no run.
_OTHER = "".join(char for char in _ASCII if char not in _NAME_CHARS and char not in "\\\"'/@#<")


def _rest(brackets: str) -> list[str]:
    """What every scanner skips but the plain runs (after them, in this order)."""
    return [
        rf"{_NAME_CHAR}*(?:{_ESCAPE}{_NAME_CHAR}*)+{_ENDS_RUN}(?!\()",  # escapes, no function
        rf"-?[0-9]{_RUN}{brackets}",  # a number with its unit, before a parenthesis
        *_STRINGS,
        rf"(?!{_MARK}){_COMMENT}|/(?!\*)",
        rf"\#{_RUN}",
        rf"@(?!{_STARTS_IDENT})|<!--|<|\\(?=[\n\r\f])",
    ]


_RANGE = rf"[uU]\+(?=[0-9a-fA-F?])(?:{_RANGE_BODY})"
_TOP_AT = rf"@(?!{_IMPORT_NAME}){_NAME_CHAR}*{_ENDS_RUN}"
_ANY_AT = rf"@{_RUN}"


def _scanner(skipped: list[str]) -> re.Pattern[str]:
    return re.compile(
        rf"(?P<skip>(?:{'|'.join(skipped)})+)|(?P<open>[({{\[])|(?P<close>[)}}\]])"
        rf"|(?P<func>(?P<fname>{_IDENT})\()|(?P<at>@(?P<aname>{_IDENT}))"
        rf"|(?P<mark>{_MARK})|(?P<quote>[\"'])"
    )


#: Plain runs of name characters: not a function, or ``-`` before a parenthesis.
_NESTED = [_ascii(_OTHER, but="(){}[]") + "+", _RANGE, rf"{_NAME_CHAR}+{_ENDS_RUN}(?!\()|-(?=\()"]
TOP = _scanner([*_NESTED, *_rest(r"(?=\()"), _TOP_AT])
PLAIN = _scanner([*_NESTED, *_rest(r"(?=\()"), _ANY_AT])
SPECIAL = _scanner([*_NESTED, *[r for r in _rest(r"(?=\()") if r not in _STRINGS], _ANY_AT])
#: Brackets and plain runs, a function (not ``url(`` nor an image set) or not.
FAST = _scanner(
    [
        _ascii(_OTHER) + "+",
        _RANGE,
        rf"(?!{_SPECIAL_NAME}){_NAME_CHAR}+(?:\(|{_ENDS_RUN})",
        *_rest(r"\("),
        _TOP_AT,
    ]
)

COMMENT = re.compile(_COMMENT)
#: Whitespace and comments: what may stand between ``@import`` and its string.
GAP = re.compile(rf"(?:{WHITESPACE}+|{_COMMENT})*")
WHITESPACE_RUN = re.compile(f"{WHITESPACE}*")
#: A string from its quote: ``body`` between the quotes, ``end`` the closing quote, or ""
#: at a newline (a bad string, unless the text ends there) or at the end of the text.
STRINGS = {
    quote: re.compile(
        rf"{quote}(?P<body>(?:[^{quote}\\\n\r\f]+|{_STRING_ESCAPE})*)"
        rf"(?P<end>{quote}|(?=[\n\r\f])|\Z)"
    )
    for quote in "\"'"
}
#: After ``url(``: the value of a url token and, if the token is well formed, its end
#: (``)`` or the end of the text) in ``close``; else the bad url's remnants follow.
URL = re.compile(
    rf"{WHITESPACE}*(?P<value>(?:[^ \t\n\r\f)\\\"'(\x00-\x08\x0b\x0e-\x1f\x7f]|{_ESCAPE}"
    rf"|\\(?=[\n\r\f]))*){WHITESPACE}*(?P<close>\)|\Z)?"
)
BAD_URL_REMNANTS = re.compile(r"(?:\\\)|[^)])*\)?")
HEX_ESCAPE = re.compile(rf"{_HEX}{{1,6}}(?:\r\n|{WHITESPACE})?")
SOURCEMAP = re.compile(r"/\*\s*[#@]\s*sourceMappingURL=(?P<url>[^\s*]+)\s*\*/")
_UNESCAPE = re.compile(rf"\\(?:({_HEX}{{1,6}})(?:\r\n|{WHITESPACE})?|(\r\n|[\n\r\f])|([\s\S])|\Z)")


def unescape(raw: str, at_end: str) -> str:
    """``raw`` (an identifier, a string's or a url's value as written) with its escapes
    decoded: up to six hex digits and one whitespace (``\\r\\n`` is one) make a code point,
    U+FFFD for 0, a surrogate or one past U+10FFFF; an escaped newline is dropped (a line
    continuation, only strings have them); any other escaped character is itself; a
    ``\\`` that ends ``raw`` becomes ``at_end``."""
    if "\\" not in raw:
        return raw
    return _UNESCAPE.sub(lambda match: _code_point(match, at_end), raw)


def _code_point(match: re.Match[str], at_end: str) -> str:
    hex_digits, newline, char = match.groups()
    if hex_digits:
        code = int(hex_digits, 16)
        valid = 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
        return chr(code) if valid else "\ufffd"
    if newline:
        return ""
    return char if char else at_end
