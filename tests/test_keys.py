"""Key validation, NFC normalisation and per-segment URL encoding."""

from __future__ import annotations

import unicodedata

import pytest

from cloudcollect.errors import InvalidKeyError
from cloudcollect.keys import make_key, normalize_prefix, printable, quote_key


def test_keys_are_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "static/café.css")
    assert make_key("", nfd) == unicodedata.normalize("NFC", "static/café.css")
    assert make_key("", nfd) != nfd


@pytest.mark.parametrize(
    "path",
    [
        "static/../x",
        "static/./x",
        "static//x",
        "/static/x",
        "static/a\\b.css",
        "static/a\tb",
        "static/x\udcff",
        "static/a\x7fb",
    ],
)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidKeyError):
        make_key("", path)


def test_length_is_counted_in_utf8_bytes() -> None:
    ok = "static/" + "é" * 508  # 7 + 1016 bytes
    assert make_key("", ok) == ok
    with pytest.raises(InvalidKeyError, match="1024"):
        make_key("", ok + "x" * 2)


def test_prefix_normalisation_never_matches_siblings() -> None:
    assert normalize_prefix("static") == "static/"
    assert normalize_prefix("/a/b/") == "a/b/"
    assert normalize_prefix("") == ""


def test_quote_key_encodes_plus_space_and_reserved() -> None:
    assert quote_key("static/a b+c%d#e?f.css") == "static/a%20b%2Bc%25d%23e%3Ff.css"
    assert quote_key("static/日本.css") == "static/%E6%97%A5%E6%9C%AC.css"
    assert quote_key("static/a~b-c_d.e") == "static/a~b-c_d.e"


def test_printable_escapes_control_characters_and_undecodable_bytes_only() -> None:
    assert printable("static/é ü.css") == "static/é ü.css"
    assert printable("a\x01b\x1b[31m\n\u2028") == "a\\x01b\\x1b[31m\\x0a\\u2028"
    assert printable("bad\udcff.css") == "bad\\xff.css"
