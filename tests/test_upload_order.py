"""Upload order (issue 15): a file is uploaded after the files it refers to, the state
object last; an upload referring to a failed one is not made (exit 1). Through the fault
proxy, whose log holds the requests in the order they finished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudcollect import publish
from cloudcollect.fingerprint.levels import levels
from cloudcollect.report import FAILED
from cloudcollect.rewrite import references
from tests.conftest import Bucket
from tests.support.apps import make_app
from tests.support.faultproxy import Fault, FaultProxy, delay, error
from tests.support.seaweed import REGION

pytestmark = pytest.mark.seaweedfs

PREFIX = "ord/"
IMAGE = PREFIX + "static/img/new.png"
FONT = PREFIX + "static/fonts/f.woff2"
SITE = PREFIX + "static/css/site.css"
MAIN = PREFIX + "static/css/main.css"
STATE = PREFIX + ".cloudcollect-state.json"
FILES: dict[str, bytes | str] = {
    "static/img/new.png": b"\x89PNG" + b"i" * 3000,  # the largest: first without ordering
    "static/fonts/f.woff2": b"wOF2" + b"f" * 2000,
    "static/css/site.css": "body { background: url(../img/new.png) }\n"
    "@font-face { font-family: F; src: url('../fonts/f.woff2') }\n",
    "static/css/main.css": '@import "site.css";\nh1 { color: red }\n',
    "static/robots.txt": "User-agent: *\n",
}


def app_behind(
    tmp_path: Path, bucket: Bucket, proxy: FaultProxy, files: Any = None, **extra: object
) -> Any:
    config = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": proxy.url,
        "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
        "CLOUDCOLLECT_REGION": REGION,
        "CLOUDCOLLECT_PREFIX": PREFIX,
        "CLOUDCOLLECT_WORKERS": 4,
        "CLOUDCOLLECT_MAX_ATTEMPTS": 2,
        **{f"CLOUDCOLLECT_{name}": value for name, value in extra.items()},
    }
    return make_app(tmp_path, config, FILES if files is None else files)


def put_order(proxy: FaultProxy) -> list[str]:
    """The keys of the successful PUTs, in the order they finished (not the lease's)."""
    return [
        r.key or ""
        for r in proxy.requests("PutObject")
        if r.status == 200 and not (r.key or "").endswith(".cloudcollect-lease.json")
    ]


def stored(bucket: Bucket) -> set[str]:
    listing = bucket.client.list_objects_v2(Bucket=bucket.name, Prefix=PREFIX)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_referenced_files_are_stored_before_the_files_that_refer_to_them(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    # The image answers a second late: without ordering the stylesheets finish first.
    fault_proxy.add(Fault("PutObject", IMAGE, delay(1.0)))
    report = publish(app_behind(tmp_path, bucket, fault_proxy))
    assert report.exit_code == 0, report.outcomes
    order = put_order(fault_proxy)
    assert order.index(IMAGE) < order.index(SITE) < order.index(MAIN)
    assert order.index(FONT) < order.index(SITE)
    assert order[-1] == STATE
    assert len(order) == len(set(order)) == 6


def test_a_failed_image_keeps_the_stylesheets_that_refer_to_it_unpublished(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(
        Fault("PutObject", IMAGE, error(503, "SlowDown"), times=None)
    )  # retries exhausted
    report = publish(app_behind(tmp_path, bucket, fault_proxy))
    assert report.exit_code == 1
    failed = {o.key: o for o in report.outcomes if o.status == FAILED}
    assert set(failed) == {IMAGE, SITE, MAIN}
    assert failed[SITE].error_code == "ReferenceNotUploaded"
    assert IMAGE in (failed[SITE].message or "")
    assert failed[MAIN].error_code == "ReferenceNotUploaded"
    assert SITE in (failed[MAIN].message or "")
    requested = {r.key for r in fault_proxy.requests("PutObject")}
    assert not {SITE, MAIN} & requested  # never sent
    assert not {IMAGE, SITE, MAIN} & stored(bucket)
    assert FONT in stored(bucket)


def test_a_cycle_of_imports_is_uploaded_together_after_what_it_refers_to(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    files: dict[str, bytes | str] = {
        "static/img/new.png": b"\x89PNG" + b"i" * 3000,
        "static/a.css": '@import "b.css";\nbody { background: url(img/new.png) }\n',
        "static/b.css": '@import "a.css";\n',
    }
    fault_proxy.add(Fault("PutObject", IMAGE, delay(1.0)))
    report = publish(app_behind(tmp_path, bucket, fault_proxy, files))
    assert report.exit_code == 0, report.outcomes
    order = put_order(fault_proxy)
    assert order.index(IMAGE) < min(
        order.index(PREFIX + "static/a.css"), order.index(PREFIX + "static/b.css")
    )
    assert any("cycle" in warning and "static/a.css" in warning for warning in report.warnings)


def test_levels_put_each_file_after_what_it_refers_to_and_a_cycle_in_one_level() -> None:
    deps = {
        "img.png": set(),
        "site.css": {"img.png", "font.woff2"},
        "font.woff2": set(),
        "main.css": {"site.css", "elsewhere.css"},  # not in the graph: ignored
        "a.css": {"b.css", "img.png"},
        "b.css": {"a.css"},
        "page.css": {"a.css"},
        "self.css": {"self.css"},
    }
    found, cycles = levels(deps)
    assert found == [
        ["font.woff2", "img.png", "self.css"],
        ["a.css", "b.css", "site.css"],
        ["main.css", "page.css"],
    ]
    assert cycles == [["a.css", "b.css"], ["self.css"]]


def test_a_precompressed_variant_waits_for_what_its_source_refers_to(
    tmp_path: Path, bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.add(Fault("PutObject", IMAGE, error(503, "SlowDown"), times=None))
    report = publish(app_behind(tmp_path, bucket, fault_proxy, PRECOMPRESS=["gzip"]))
    assert report.exit_code == 1
    failed = {o.key: o.error_code for o in report.outcomes if o.status == FAILED}
    assert failed[SITE + ".gz"] == failed[MAIN + ".gz"] == "ReferenceNotUploaded"
    assert not {SITE, SITE + ".gz", MAIN, MAIN + ".gz"} & stored(bucket)


@pytest.mark.parametrize(
    ("css", "url"),
    [
        ("a{b:u\\72l(x.png)}", "x.png"),  # an escaped url( is still tokenized
        ("a{b:URL(x.png)}", "x.png"),
        ('@IMPORT "y.css";', "y.css"),
        ('a{b:-webkit-image-set("z.png" 1x)}', "z.png"),
        ("/*# sourceMappingURL=m.map */", "m.map"),
    ],
)
def test_the_quick_check_before_tokenizing_a_stylesheet_misses_no_reference(
    css: str, url: str
) -> None:
    assert [ref.url for ref in references("s.css", css)] == [url]
    assert references("s.css", "a { color: red }") == []
