"""Finding references in stylesheets and scripts, and rewriting them (cloudcollect.rewrite)."""

from __future__ import annotations

import pytest

from cloudcollect.rewrite import (
    IMPORT,
    MODULE,
    SOURCEMAP,
    URL,
    apply,
    references,
    rewritten_url,
    target,
)

CSS = """@import "base.css";
@import 'print.css' print;
@import url(theme.css);
/* url(commented.png) is not a reference */
.a { background: url(../img/a.png) }
.b { background: URL( "../img/b b.png?v=2#frag" ) }
.c { src: url('fonts/f.woff2') format("woff2"), url(data:font/woff;base64,AAAA) }
/*# sourceMappingURL=site.css.map */
"""


def found(path: str, text: str, modules: bool = False) -> list[tuple[str, str]]:
    return [(ref.kind, ref.url) for ref in references(path, text, modules=modules)]


def test_css_references_in_document_order_outside_comments() -> None:
    assert found("static/css/site.css", CSS) == [
        (IMPORT, "base.css"),
        (IMPORT, "print.css"),
        (URL, "theme.css"),
        (URL, "../img/a.png"),
        (URL, "../img/b b.png?v=2#frag"),
        (URL, "fonts/f.woff2"),
        (URL, "data:font/woff;base64,AAAA"),
        (SOURCEMAP, "site.css.map"),
    ]


def test_reference_spans_cover_exactly_the_url() -> None:
    for ref in references("a.css", CSS):
        assert CSS[ref.start : ref.end] == ref.url


def test_js_source_maps_always_and_module_imports_only_when_asked() -> None:
    js = (
        'import a from "./a.js";\n'
        "import { b, c } from '../lib/b.mjs';\n"
        'import "./side-effect.js";\n'
        'export * from "./re.js";\n'
        'import lodash from "lodash";\n'
        'const d = import("./dynamic.js");\n'
        "//# sourceMappingURL=app.js.map\n"
    )
    assert found("static/js/app.js", js) == [(SOURCEMAP, "app.js.map")]
    assert found("static/js/app.js", js, modules=True) == [
        (MODULE, "./a.js"),
        (MODULE, "../lib/b.mjs"),
        (MODULE, "./side-effect.js"),
        (MODULE, "./re.js"),
        (SOURCEMAP, "app.js.map"),
    ]


def test_other_files_have_no_references() -> None:
    assert found("static/img/a.svg", '<image href="x.png"/> url(x.png)') == []


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,AAAA",
        "https://cdn.example/x.png",
        "http://example.com/x.png",
        "//cdn.example/x.png",
        "/static/img/x.png",
        "#marker",
        "",
        "?only-a-query",
    ],
)
def test_urls_left_alone(url: str) -> None:
    assert target("static/css/site.css", url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("a.png", "static/css/a.png"),
        ("./a.png", "static/css/a.png"),
        ("../img/a.png?v=1#x", "static/img/a.png"),
        ("../img/b%20b.png", "static/img/b b.png"),
        ("../../../outside.png", "../outside.png"),
    ],
)
def test_relative_urls_resolve_against_the_referrer(url: str, expected: str) -> None:
    assert target("static/css/site.css", url) == expected


def test_rewritten_url_keeps_folders_query_and_fragment() -> None:
    def hashed(name: str) -> str:
        return name.replace(".", ".0123456789ab.", 1)

    assert rewritten_url("../img/a.png?v=1#x", hashed) == "../img/a.0123456789ab.png?v=1#x"
    assert rewritten_url(" b.css ", hashed) == "b.0123456789ab.css"


def test_apply_replaces_each_reference_once() -> None:
    text = "a{background:url(x.png)} b{background:url(y.png)}"
    refs = references("s.css", text)
    assert apply(text, {refs[0]: "X", refs[1]: "Y"}) == "a{background:url(X)} b{background:url(Y)}"
    assert apply(text, {}) == text
