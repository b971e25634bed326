"""Object keys: validation, prefix handling and URL encoding.

A key is built from path segments joined with ``/``. Every key is NFC-normalised and
validated before any request, so that what the collector uploads and what ``url_for``
links to are the same bytes.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from .errors import ConfigError, InvalidKeyError

MAX_KEY_BYTES = 1024

# Everything RFC 3986 allows unencoded in a path segment except "+" (S3 reads "+" as a
# space), plus nothing else: "%", "#", "?" and non-ASCII are always encoded.
_SEGMENT_SAFE = "-._~!$&'()*,;=:@"


def normalize(text: str) -> str:
    """Return ``text`` in Unicode NFC, the form used for every key."""
    return unicodedata.normalize("NFC", text)


def normalize_prefix(prefix: str) -> str:
    """Return ``prefix`` as ``""`` or ``"a/b/"``; reject ``..``, ``\\`` and empty segments.

    ``"static"`` becomes ``"static/"`` so that it never matches ``static2/`` or ``staticx``.
    """
    stripped = normalize(prefix.strip()).strip("/")
    if not stripped:
        return ""
    try:
        validate_segments(stripped)
    except InvalidKeyError as error:
        message = f"CLOUDCOLLECT_PREFIX {prefix!r}: {error}"
        raise ConfigError(message, key="CLOUDCOLLECT_PREFIX") from None
    return stripped + "/"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal or in a log: control characters (``\\x01``,
    ``\\x1b``, ``\\n``...), line and paragraph separators as escapes, and the surrogates
    left by undecodable file-name bytes as the bytes (``\\xff``). Other text, non-ASCII
    letters included, is unchanged; so is a backslash."""
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cs" and 0xDC80 <= ord(char) <= 0xDCFF:  # surrogateescape of a byte
        return f"\\x{ord(char) - 0xDC00:02x}"
    if category in ("Cc", "Cs", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def validate_segments(path: str) -> None:
    """Raise InvalidKeyError unless every ``/``-separated segment of ``path`` is safe.

    Refused: empty segments (``a//b``, leading or trailing ``/``), ``.`` and ``..``,
    backslashes (some stores turn them into ``/``), control characters, surrogates
    left by undecodable file names.
    """
    plain = path.isascii() and path.isprintable()  # no control character: skip the scan
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(f"empty, '.' or '..' segment in {path!r}", path=path)
        if "\\" in segment:
            raise InvalidKeyError(f"backslash in {path!r}", path=path)
        for char in "" if plain else segment:
            if unicodedata.category(char) in ("Cc", "Cs"):
                raise InvalidKeyError(
                    f"control character or undecodable byte in {path!r}", path=path
                )


def make_key(prefix: str, url_path: str) -> str:
    """Join a normalised ``prefix`` and a URL path (no leading ``/``) into a valid key.

    Raises InvalidKeyError for unsafe segments or keys over 1024 UTF-8 bytes.
    """
    path = normalize(url_path)
    validate_segments(path)
    key = prefix + path
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"key is {len(key.encode('utf-8'))} UTF-8 bytes, over the {MAX_KEY_BYTES} limit",
            path=url_path,
        )
    return key


def quote_key(key: str) -> str:
    """Percent-encode ``key`` per segment for a URL: space -> %20, + -> %2B, # ? % too."""
    return "/".join(quote(segment, safe=_SEGMENT_SAFE) for segment in key.split("/"))
