"""The pure planner, table by table: every reason a key is uploaded, skipped, deleted or
kept, and every reason a key needs a HEAD before it can be decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cloudcollect.headers import headers_digest
from cloudcollect.plan import Action, LocalAsset, make_plan, needs_head, upload_reason
from cloudcollect.storage.base import RemoteObject

MD5_A = "0cc175b9c0f1b6a831c399e269772661"
MD5_B = "92eb5ffee6ae2fec3ad71c777531578f"
CSS = {"Content-Type": "text/css", "Cache-Control": "max-age=60"}
CSS_DIGEST = headers_digest(CSS)
OTHER_DIGEST = headers_digest({"Content-Type": "text/plain"})
GZIP = {**CSS, "Content-Encoding": "gzip", "x-amz-meta-source-md5": MD5_A}


def local(
    key: str = "s/a.css",
    md5: str = MD5_A,
    size: int = 10,
    headers: Mapping[str, str] = CSS,
    encoding: str | None = None,
) -> LocalAsset:
    return LocalAsset(key, Path("/nonexistent") / key, size, 1, md5, headers, encoding)


def stored(key: str = "s/a.css", size: int = 10, md5: str | None = MD5_A) -> RemoteObject:
    return RemoteObject(key, size, md5=md5, etag=md5 or "opaque-2")


@dataclass(frozen=True)
class Case:
    """One key: the local asset, what the listing shows, the stored headers' digest (a
    missing key in ``live`` is "unknown"; ``live=None`` is a storage without headers)."""

    asset: LocalAsset
    remote: RemoteObject | None
    live: dict[str, str] | None = field(default_factory=dict)
    force: bool = False


def _live(digest: str | None) -> dict[str, str]:
    return {} if digest is None else {"s/a.css": digest}


UPLOAD_CASES = {
    # reason: the case that must be uploaded for it
    "new": Case(local(), None),
    "new (forced too)": Case(local(), None, force=True),
    "forced": Case(local(), stored(), _live(CSS_DIGEST), force=True),
    "size changed": Case(local(size=11), stored(), _live(CSS_DIGEST)),
    "size changed (md5 unknown)": Case(local(size=11), stored(md5=None)),
    "remote checksum unknown": Case(local(), stored(md5=None), _live(CSS_DIGEST)),
    "content changed": Case(local(md5=MD5_B), stored(), _live(CSS_DIGEST)),
    "headers unknown": Case(local(), stored(), _live(None)),
    "headers changed": Case(local(), stored(), _live(OTHER_DIGEST)),
    "headers changed (a metadata header)": Case(
        local(headers={**CSS, "x-amz-meta-owner": "web"}), stored(), _live(CSS_DIGEST)
    ),
}

SKIP_CASES = {
    "same size, MD5 and headers": Case(local(), stored(), _live(CSS_DIGEST)),
    "no headers stored: content only": Case(local(), stored(), None),
    "header names differ only in case": Case(
        local(headers={"content-type": "text/css", "CACHE-CONTROL": "max-age=60"}),
        stored(),
        _live(CSS_DIGEST),
    ),
    "header values differ only in surrounding spaces": Case(
        local(headers={"Content-Type": " text/css", "Cache-Control": "max-age=60 "}),
        stored(),
        _live(CSS_DIGEST),
    ),
    "a header that is not compared differs": Case(
        local(headers={**CSS, "Link": "</a.js>; rel=preload"}), stored(), _live(CSS_DIGEST)
    ),
}

VARIANT = local("s/a.css.gz", headers=GZIP, encoding="gzip")
VARIANT_LIVE = {"s/a.css.gz": headers_digest(GZIP)}
VARIANT_CASES = {
    # A variant's size and MD5 are its source's: only its stored headers decide.
    "new": (Case(VARIANT, None, VARIANT_LIVE), "new"),
    "forced": (Case(VARIANT, stored("s/a.css.gz"), VARIANT_LIVE, force=True), "forced"),
    "headers unknown": (Case(VARIANT, stored("s/a.css.gz", 3, MD5_B)), "headers unknown"),
    "no headers stored": (Case(VARIANT, stored("s/a.css.gz"), None), "headers unknown"),
    "source changed": (
        Case(VARIANT, stored("s/a.css.gz"), {"s/a.css.gz": CSS_DIGEST}),
        "source or headers changed",
    ),
    "up to date, whatever its size and ETag": (
        Case(VARIANT, stored("s/a.css.gz", 3, MD5_B), VARIANT_LIVE),
        None,
    ),
}


def _plan_one(case: Case) -> tuple[Action, str]:
    remote = {} if case.remote is None else {case.remote.key: case.remote}
    plan = make_plan([case.asset], remote, force=case.force, live_headers=case.live)
    (step,) = plan.steps
    assert step.asset == case.asset and step.size == case.asset.size
    return step.action, step.reason


@pytest.mark.parametrize("label", UPLOAD_CASES)
def test_every_upload_reason(label: str) -> None:
    reason = label.split(" (")[0]
    assert _plan_one(UPLOAD_CASES[label]) == (Action.UPLOAD, reason)


@pytest.mark.parametrize("label", SKIP_CASES)
def test_every_skip(label: str) -> None:
    assert _plan_one(SKIP_CASES[label]) == (Action.SKIP, "unchanged")


@pytest.mark.parametrize("label", VARIANT_CASES)
def test_every_variant_decision(label: str) -> None:
    case, reason = VARIANT_CASES[label]
    expected = (Action.SKIP, "unchanged") if reason is None else (Action.UPLOAD, reason)
    assert _plan_one(case) == expected


def test_upload_reason_ignores_live_headers_unless_compared() -> None:
    assert upload_reason(local(), stored(), False, OTHER_DIGEST) is None
    assert upload_reason(local(), stored(), False, OTHER_DIGEST, True) == "headers changed"
    assert upload_reason(local(), stored(), False, None, True) == "headers unknown"


SCOPE = ("s/",)
DELETE_CASES = {
    # a listed key: (a local file has it, delete_within, outside the sync, expected action)
    "orphan in scope": (False, SCOPE, False, Action.DELETE),
    "orphan in a nested folder of the scope": (False, SCOPE, False, Action.DELETE),
    "orphan outside the scope": (False, ("t/",), False, None),
    "orphan in a folder that only starts like the scope": (False, ("s/a/",), False, None),
    "deletion off (None)": (False, None, False, None),
    "deletion off (no scope)": (False, (), False, None),
    "a local file exists for it": (True, SCOPE, False, Action.SKIP),
    "outside the sync (a filter leaves its file out)": (False, SCOPE, True, None),
}
DELETE_KEYS = {
    "orphan in a nested folder of the scope": "s/deep/er/x.js",
    "orphan in a folder that only starts like the scope": "s/ab/x.js",
}


@pytest.mark.parametrize("label", DELETE_CASES)
def test_every_delete_and_keep(label: str) -> None:
    key = DELETE_KEYS.get(label, "s/old.js")
    has_local, scope, outside, expected = DELETE_CASES[label]
    assets = [local(key)] if has_local else []
    outside_sync = {key} if outside else set()
    plan = make_plan(assets, {key: stored(key)}, delete_within=scope, outside_sync=outside_sync)
    actions = {step.key: (step.action, step.reason) for step in plan.steps}
    if expected is None:
        assert actions == {}
    elif expected is Action.DELETE:
        assert actions == {key: (Action.DELETE, "no local source")}
        assert plan.deletes[0].size == 10 and plan.deletes[0].asset is None
    else:
        assert actions == {key: (Action.SKIP, "unchanged")}


def test_a_scope_without_trailing_slash_is_a_caller_bug() -> None:
    with pytest.raises(AssertionError):
        make_plan([], {"s/x": stored("s/x")}, delete_within=("s",))


def test_steps_come_uploads_then_skips_then_deletes_each_sorted_by_key() -> None:
    assets = [local("s/z.css", MD5_B), local("s/b.css"), local("s/a.css", MD5_B), local("s/c")]
    remote = {k: stored(k) for k in ("s/z.css", "s/b.css", "s/a.css", "s/c", "s/y", "s/d")}
    plan = make_plan(assets, remote, delete_within=SCOPE, live_headers=None)
    assert [(s.action.value, s.key) for s in plan.steps] == [
        ("upload", "s/a.css"),
        ("upload", "s/z.css"),
        ("skip", "s/b.css"),
        ("skip", "s/c"),
        ("delete", "s/d"),
        ("delete", "s/y"),
    ]


HEAD_CASES = {
    # label: (case, whether the listing cannot decide it)
    "not stored: it is new": (Case(local(), None), False),
    "size differs: it is changed": (Case(local(size=11), stored(md5=None)), False),
    "same size, unknown MD5": (Case(local(), stored(md5=None), None), True),
    "same size and MD5, headers unknown": (Case(local(), stored(), {}), True),
    "same size and MD5, headers known": (Case(local(), stored(), _live(CSS_DIGEST)), False),
    "same size and MD5, no headers stored": (Case(local(), stored(), None), False),
    "different MD5: it is changed": (Case(local(md5=MD5_B), stored(), {}), False),
    "variant, headers unknown": (Case(VARIANT, stored("s/a.css.gz", 3, MD5_B), {}), True),
    "variant, headers known": (Case(VARIANT, stored("s/a.css.gz"), VARIANT_LIVE), False),
    "variant, no headers stored": (Case(VARIANT, stored("s/a.css.gz"), None), False),
}


@pytest.mark.parametrize("label", HEAD_CASES)
def test_every_reason_for_a_head(label: str) -> None:
    case, wanted = HEAD_CASES[label]
    remote = {} if case.remote is None else {case.remote.key: case.remote}
    assert needs_head([case.asset], remote, case.live) == ([case.asset.key] if wanted else [])
