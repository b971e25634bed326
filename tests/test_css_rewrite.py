"""Stylesheets read with a CSS tokenizer (cloudcollect.cssrefs through cloudcollect.rewrite).

Each case is a stylesheet that a regular expression misreads: what is found, and what a
rewrite changes (only the references; every other byte stays). The last test publishes
through SeaweedFS with fingerprinting on and reads the rewritten stylesheet back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudcollect.fingerprint import hashed_name
from cloudcollect.pipeline import publish
from cloudcollect.rewrite import IMPORT, SOURCEMAP, URL, apply, references, target
from tests.conftest import Bucket
from tests.support.apps import make_app

HASH = "0123456789abcdef0123456789abcdef"


def found(text: str) -> list[tuple[str, str]]:
    return [(ref.kind, ref.url) for ref in references("static/css/site.css", text)]


def rewritten(text: str) -> str:
    """``text`` with every relative reference renamed as fingerprinting would."""
    refs = references("static/css/site.css", text)
    return apply(
        text,
        {
            ref: ref.url.rpartition("/")[0] + "/" * ("/" in ref.url) + hashed_name(name, HASH)
            for ref in refs
            if target("static/css/site.css", ref.url) is not None
            for name in [ref.url.rpartition("/")[2]]
        },
    )


def test_image_set_strings_are_references() -> None:
    css = (
        ".a { background-image: image-set(\"../img/a.png\" 1x, '../img/a@2x.png' 2x); }\n"
        '.b { background-image: -webkit-image-set(url(../img/b.png) 1x, "../img/b2.png" 2x); }\n'
    )
    assert found(css) == [
        (URL, "../img/a.png"),
        (URL, "../img/a@2x.png"),
        (URL, "../img/b.png"),
        (URL, "../img/b2.png"),
    ]
    assert rewritten(css) == (
        '.a { background-image: image-set("../img/a.0123456789ab.png" 1x, '
        "'../img/a@2x.0123456789ab.png' 2x); }\n"
        ".b { background-image: -webkit-image-set(url(../img/b.0123456789ab.png) 1x, "
        '"../img/b2.0123456789ab.png" 2x); }\n'
    )


def test_only_image_sets_own_strings_are_references() -> None:
    css = (
        '.a { background: image-set("a.avif" type("image/avif"), "a.png" type("image/png")) }\n'
        '@font-face { src: local("Foo"), url(f.woff2) format("woff2") }\n'
        '.b { grid-template-areas: "a.png b.png"; }\n'
    )
    assert found(css) == [(URL, "a.avif"), (URL, "a.png"), (URL, "f.woff2")]


def test_a_string_that_looks_like_url_is_text() -> None:
    css = '.a::before { content: "url(x.png)"; }\n.b { content: \'@import "y.css";\' }\n'
    assert found(css) == []
    assert rewritten(css) == css


def test_a_comment_opener_inside_a_string_hides_nothing() -> None:
    css = '.a::after { content: "/*"; }\n.b { background: url(b.png) }\n.c { content: "*/" }\n'
    assert found(css) == [(URL, "b.png")]
    assert rewritten(css) == css.replace("b.png", "b.0123456789ab.png")


def test_references_inside_comments_are_not_found() -> None:
    css = "/* .a { background: url(old.png) } @import 'old.css'; */\n.b { color: red }\n"
    assert found(css) == []


def test_an_escaped_parenthesis_in_an_unquoted_url() -> None:
    css = ".a { background: url(a\\)b.png) }\n.b { background: url( c\\ d.png ) }\n"
    refs = references("static/css/site.css", css)
    assert [(ref.url, css[ref.start : ref.end]) for ref in refs] == [
        ("a)b.png", "a\\)b.png"),
        ("c d.png", "c\\ d.png"),
    ]
    assert rewritten(css) == (
        ".a { background: url(a\\)b.0123456789ab.png) }\n"
        ".b { background: url( c\\20 d.0123456789ab.png ) }\n"
    )


def test_escapes_in_strings_are_decoded_and_written_back_escaped() -> None:
    css = '.a { background: url("q\\"uote.png") } .b { background: url(\'\\61 .png\') }\n'
    assert found(css) == [(URL, 'q"uote.png'), (URL, "a.png")]
    assert rewritten(css) == (
        '.a { background: url("q\\"uote.0123456789ab.png") } '
        ".b { background: url('a.0123456789ab.png') }\n"
    )


def test_imports_url_functions_and_source_maps() -> None:
    css = (
        '@import "base.css";\n'
        "@import /* why */ 'print.css' print;\n"
        "@import url(theme.css) layer(x);\n"
        '@media print { .a { background: URL( "../img/p.png" ) } }\n'
        ".b { --x: { a: url(nested.png) } }\n"
        "/*# sourceMappingURL=site.css.map */\n"
    )
    assert found(css) == [
        (IMPORT, "base.css"),
        (IMPORT, "print.css"),
        (URL, "theme.css"),
        (URL, "../img/p.png"),
        (URL, "nested.png"),
        (SOURCEMAP, "site.css.map"),
    ]


def test_positions_survive_crlf_form_feeds_and_astral_characters() -> None:
    css = "/* \U0001f600 */\r\n.a {\r\n\f background: url('a.png') }\r\n.b{background:url(b.png)}"
    refs = references("static/css/site.css", css)
    assert [css[ref.start : ref.end] for ref in refs] == ["a.png", "b.png"]
    assert rewritten(css) == css.replace(".png", ".0123456789ab.png")


def test_a_stylesheet_without_references_is_unchanged_byte_for_byte() -> None:
    css = (
        "/* héllo */\r\n@charset 'utf-8';\n.a{color:#F00 ;;}  \t\n"
        '.b::before { content: "\\201C" "url(x)" } .c\\:hover { margin: -0.0e1px }\n'
        "@media (min-width:1px){.d{background:url(data:image/gif;base64,R0lG)}} /* unclosed"
    )
    assert found(css) == [(URL, "data:image/gif;base64,R0lG")]
    assert rewritten(css) == css


def test_unterminated_tokens_at_the_end_of_the_file() -> None:
    assert found(".a { background: url(a.png") == [(URL, "a.png")]
    assert found('.a { background: url("a.png') == [(URL, "a.png")]
    assert rewritten('.a { background: url("a.png') == '.a { background: url("a.0123456789ab.png'


@pytest.mark.seaweedfs
def test_a_published_stylesheet_points_at_published_hashed_objects(
    tmp_path: Path, bucket: Bucket
) -> None:
    css = (
        '.a::before { content: "url(nothing.png)"; }\n'
        '.b::after { content: "/*"; }\n'
        ".c { background: url(../img/a\\)b.png) }\n"
        '.d { background-image: image-set("../img/set.png" 1x) }\n'
        "/* url(ignored.png) */\n"
    )
    files: dict[str, bytes | str] = {
        "static/css/site.css": css,
        "static/img/a)b.png": b"\x89PNG a)b",
        "static/img/set.png": b"\x89PNG set",
    }
    app = make_app(
        tmp_path,
        {
            "CLOUDCOLLECT_BUCKET": bucket.name,
            "CLOUDCOLLECT_ENDPOINT_URL": bucket.server.endpoint,
            "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
            "CLOUDCOLLECT_FINGERPRINT": True,
            "CLOUDCOLLECT_MANIFEST_PATH": str(tmp_path / "manifest.json"),
        },
        files,
    )
    report = publish(app)
    assert report.exit_code == 0, (report.fatal, report.warnings)
    assert not [w for w in report.warnings if "refer" in w], report.warnings

    manifest = json.loads(bucket.read(".cloudcollect/manifest.json"))["files"]
    published = bucket.read(manifest["static/css/site.css"]).decode()
    refs = references(manifest["static/css/site.css"], published)
    pointed = [target(manifest["static/css/site.css"], ref.url) for ref in refs]
    assert pointed == [manifest["static/img/a)b.png"], manifest["static/img/set.png"]]
    assert bucket.read(manifest["static/img/a)b.png"]) == b"\x89PNG a)b"
    assert bucket.read(manifest["static/img/set.png"]) == b"\x89PNG set"
    hashed_ab = manifest["static/img/a)b.png"].rpartition("/")[2]
    hashed_set = manifest["static/img/set.png"].rpartition("/")[2]
    assert published == css.replace("a\\)b.png", hashed_ab.replace(")", "\\)")).replace(
        "set.png", hashed_set
    )
