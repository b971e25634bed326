"""The regular-expression reader of stylesheets (cloudcollect.cssrefs on csslexer) against
the tinycss2 reader it replaced, kept as the oracle in tests/support/cssoracle.py.

Both must find the same references (spans, decoded values, kinds, quote characters) in
every stylesheet that Bootstrap-Flask, Flask-Admin and Flask-DebugToolbar ship, in
hostile samples, and in random CSS-like text (fixed seed). One difference is deliberate:
an escaped surrogate is U+FFFD, as CSS Syntax says, where tinycss2 keeps the surrogate.
"""

from __future__ import annotations

import importlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cloudcollect.cssrefs import css_references
from cloudcollect.rewrite import references
from tests.support.cssoracle import css_references as oracle

PACKAGES = ("flask_bootstrap", "flask_admin", "flask_debugtoolbar")


def stylesheets(package: str) -> list[Path]:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    return sorted(Path(module.__file__).parent.rglob("*.css"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, id=f"{package}/{path.name}")
        for package in PACKAGES
        for path in stylesheets(package)
    ],
)
def test_a_packaged_stylesheet_reads_as_the_oracle_reads_it(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert css_references(text) == oracle(text)


def test_the_packages_ship_stylesheets_with_references() -> None:
    counts = {package: len(stylesheets(package)) for package in PACKAGES}
    assert (
        counts["flask_bootstrap"] >= 90 and counts["flask_admin"] and counts["flask_debugtoolbar"]
    )
    bootstrap = [p.read_text(encoding="utf-8") for p in stylesheets("flask_bootstrap")]
    assert sum(len(css_references(text)) for text in bootstrap) > 1000


EDGE_CASES = [
    # the cases of tests/test_css_rewrite.py
    ".a { background-image: image-set(\"../img/a.png\" 1x, '../img/a@2x.png' 2x); }\n"
    '.b { background-image: -webkit-image-set(url(../img/b.png) 1x, "../img/b2.png" 2x); }',
    '.a { background: image-set("a.avif" type("image/avif"), "a.png" type("image/png")) }\n'
    '@font-face { src: local("Foo"), url(f.woff2) format("woff2") }\n'
    '.b { grid-template-areas: "a.png b.png"; }',
    '.a::before { content: "url(x.png)"; }\n.b { content: \'@import "y.css";\' }',
    '.a::after { content: "/*"; }\n.b { background: url(b.png) }\n.c { content: "*/" }',
    "/* .a { background: url(old.png) } @import 'old.css'; */\n.b { color: red }",
    ".a { background: url(a\\)b.png) }\n.b { background: url( c\\ d.png ) }",
    '.a { background: url("q\\"uote.png") } .b { background: url(\'\\61 .png\') }',
    "@import \"base.css\";\n@import /* why */ 'print.css' print;\n@import url(theme.css) x;\n"
    '@media print { .a { background: URL( "../img/p.png" ) } }\n'
    ".b { --x: { a: url(nested.png) } }\n/*# sourceMappingURL=site.css.map */",
    "/* \U0001f600 */\r\n.a {\r\n\f background: url('a.png') }\r\n.b{background:url(b.png)}",
    '.b::before { content: "\\201C" "url(x)" } .c\\:hover { margin: -0.0e1px }\n'
    "@media (min-width:1px){.d{background:url(data:image/gif;base64,R0lG)}} /* unclosed",
    ".a { background: url(a.png",
    '.a { background: url("a.png',
    # comments, strings and whitespace
    "/* url(a.png) */ a { b: url(/*c.png*/) }",
    "a { content: '/* url(x.png)' } b { background: url(b.png) }",
    "a { b: url( a.png ) url(\ta.png\n) url(\r\na.png\r\n) url(\fa.png\f) }",
    "a { b: url(a\\)b.png) url(a\\\\) url(a\\ b) url(\\28 x\\29) }",
    # escaped and cased names
    "a { b: u\\72l(x.png) \\75 rl(y.png) \\55 RL(z.png) u\\rl(w.png) ur\\6c\r\n(v.png) }",
    "a { b: URL(x) Url('y') uRl( \"z\" ) }",
    "a { b: url\\28 (x) \\31 url(y) 1url(z) #url(h) @url(a) -url(b) .url(c) }",
    "@IMPORT 'a.css'; @\\69mport \"b.css\"; @import url(c.css); @import\n/**/'d.css';",
    "@import 'a.css' screen; a{} @import 'late.css'; @media x { @import 'inner.css'; }",
    "@import 'bad\n.css'; @import ) 'x.css'; @import {'y.css'} @import",
    # bad urls and bad strings
    "a { b: url(a b.png) url(c.png) }",
    'a { b: url(a"b.png) url(c.png) url(a(b) url(d.png) url(a\x01b) url(e.png) }',
    "a { b: url(a b\\) c) url(d.png) url(x\\\ny) url(f.png) url(g\\\n) }",
    "a { content: 'bad\n'; b: url('also\nbad') url('c.png') }",
    # the end of the text
    "a { b: url('x.png' ",
    "a { b: url(x.png  ",
    "a { b: url(",
    "a { b: url(x\\",
    "a { b: url('x\\",
    "a { b: url(x.png) /* unclosed url(y.png)",
    "a { b: image-set('a.png' 1x, 'b.png",
    # newlines, NUL and non-ASCII
    "a {\r\n b: url('\\\r\nx.png'); c: url('y\\\fz.png'); d: url(\"é\\e9\\0 \\110000.png\") }",
    "a { b: url(\x00.png) url('\x00.png') } \U0001f600 { c: url('\U0001f600.png') }",
    "a\\\n{ b: url(x.png) } \\\r\nc: url(y.png)",
    # image sets
    'a { b: image-set(url(a.png) 1x, "b.png" 2x) }',
    "a { b: image-set('a.png' 1x, image-set('b.png') 2x, f('c.png'), ('d.png'), [e.png]) }",
    "a { b: f(image-set('a.png'), -webkit-image-set('b.png'), -WEBKIT-IMAGE-SET('c.png')) }",
    "a { b: url('a.png' 'b.png') url(f('c.png') 'd.png') url('e.png' url(g.png)) }",
    "a { b: image-set('a.png' ] 'b.png' } 'c.png') 'd.png' }",
    "a { b: Image-Set('a.png') image-sets('b.png') -moz-image-set('c.png') }",
    # data URIs, unicode ranges, CDO/CDC and source maps
    "a { b: url(data:image/svg+xml;charset=utf8,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E) }",
    "a { b: url(\"data:image/svg+xml,%3csvg%3e%3cpath d='M0 0'/%3e%3c/svg%3e\") }",
    "@font-face { unicode-range: U+0025-00FF, u+4??, u+aurl(x.png), u+abcdefurl(y.png) }",
    "<!--url(a.png)--> -->url(b.png) <!-url(c.png)",
    "a{}\n/*# sourceMappingURL=a.css.map */\n/*@ sourceMappingURL=b.map*/ /*#sourceMappingURL=c */",
    "a { b: url(x.png) }/*# sourceMappingURL=data:application/json;base64,eyJ9 */",
]


@pytest.mark.parametrize("css", EDGE_CASES)
def test_an_edge_case_reads_as_the_oracle_reads_it(css: str) -> None:
    assert css_references(css) == oracle(css)


ATOMS = [
    *["url(", "URL(", "u\\72l(", "\\75 rl(", "image-set(", "-webkit-image-set(", "f("],
    *["@import", "@IMPORT", "@\\69mport", "@", "#", "<!--", "-->", "u+", "?", "%"],
    *["a", "b.png", "-", "--", "0", "1", ".", "+", "e", "u", ",", ";", ":", "é", "\U0001f600"],
    *["(", ")", "[", "]", "{", "}", '"', "'", "/*", "*/", "/", "*", "/*#", "/*@"],
    *["\\", "\\)", '\\"', "\\41", "\\41 ", "\\0", "\\110000", "\\\n", "\\\r\n"],
    *[" ", "\n", "\r\n", "\r", "\f", "\t", "\x00", "\x01", "\x7f", "\x0b"],
    *["/*# sourceMappingURL=a.map */", " sourceMappingURL=", "data:image/png;base64,AA=="],
]


@pytest.mark.slow
def test_random_css_like_text_reads_as_the_oracle_reads_it() -> None:
    rng = random.Random(20261201)
    for _ in range(4000):
        css = "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 40)))
        assert css_references(css) == oracle(css), css


def test_an_escaped_surrogate_is_a_replacement_character() -> None:
    css = "a { b: url(\\D800.png) url('\\DFFF .png') }"
    assert [ref.url for ref in css_references(css)] == ["\ufffd.png", "\ufffd.png"]
    assert [css[ref.start : ref.end] for ref in css_references(css)] == [
        "\\D800.png",
        "\\DFFF .png",
    ]


def test_reading_a_stylesheet_loads_no_css_library() -> None:
    code = (
        "import sys\n"
        "from cloudcollect.rewrite import references\n"
        "assert references('a.css', 'a { b: url(x.png) }')[0].url == 'x.png'\n"
        "print(sorted(m for m in sys.modules if 'css' in m))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "tinycss2" not in result.stdout, result.stdout


def test_references_still_skips_a_stylesheet_without_markers() -> None:
    assert references("a.css", "a { color: red } /* nothing */") == []
    assert references("a.css", "a { b: u\\72l(x.png) }")[0].url == "x.png"
