"""make_plan decides by size + MD5, never by mtime, and never deletes outside the prefix."""

from __future__ import annotations

from pathlib import Path

from cloudcollect.headers import headers_digest
from cloudcollect.plan import Action, LocalAsset, make_plan, needs_head, upload_reason
from cloudcollect.storage.base import RemoteObject

MD5_A = "0cc175b9c0f1b6a831c399e269772661"
MD5_B = "92eb5ffee6ae2fec3ad71c777531578f"


def asset(key: str, md5: str = MD5_A, size: int = 1, mtime_ns: int = 1) -> LocalAsset:
    return LocalAsset(key, Path("/nonexistent") / key, size, mtime_ns, md5)


def test_new_changed_unchanged_and_unknown_checksum() -> None:
    local = [
        asset("s/new"),
        asset("s/same"),
        asset("s/edit", MD5_B),
        asset("s/big", size=9),
        asset("s/opaque"),
    ]
    remote = {
        "s/same": RemoteObject("s/same", 1, md5=MD5_A),
        "s/edit": RemoteObject("s/edit", 1, md5=MD5_A),
        "s/big": RemoteObject("s/big", 1, md5=MD5_A),
        "s/opaque": RemoteObject("s/opaque", 1, md5=None, etag="abc-2"),
    }
    plan = make_plan(local, remote)
    reasons = {step.key: (step.action, step.reason) for step in plan.steps}
    assert reasons == {
        "s/new": (Action.UPLOAD, "new"),
        "s/same": (Action.SKIP, "unchanged"),
        "s/edit": (Action.UPLOAD, "content changed"),
        "s/big": (Action.UPLOAD, "size changed"),
        "s/opaque": (Action.UPLOAD, "remote checksum unknown"),
    }


def test_mtime_never_matters() -> None:
    remote = {"k": RemoteObject("k", 1, md5=MD5_A)}
    assert upload_reason(asset("k", mtime_ns=10**19), remote["k"], force=False) is None


def test_force_uploads_identical_files() -> None:
    plan = make_plan([asset("k")], {"k": RemoteObject("k", 1, md5=MD5_A)})
    assert [s.action for s in plan.steps] == [Action.SKIP]
    forced = make_plan([asset("k")], {"k": RemoteObject("k", 1, md5=MD5_A)}, force=True)
    assert [(s.action, s.reason) for s in forced.steps] == [(Action.UPLOAD, "forced")]


def test_delete_only_orphans_under_the_prefix() -> None:
    remote = {
        key: RemoteObject(key, 1, md5=MD5_A)
        for key in ("static/keep", "static/orphan", "static2/x", "staticx", "other/y")
    }
    plan = make_plan([asset("static/keep")], remote, delete_within=["static/"])
    assert [step.key for step in plan.deletes] == ["static/orphan"]
    assert make_plan([asset("static/keep")], remote).deletes == []
    several = make_plan([asset("static/keep")], remote, delete_within=["static/", "other/"])
    assert [step.key for step in several.deletes] == ["other/y", "static/orphan"]


def test_needs_head_only_for_same_size_unknown_md5() -> None:
    remote = {
        "a": RemoteObject("a", 1, md5=None),
        "b": RemoteObject("b", 2, md5=None),
        "c": RemoteObject("c", 1, md5=MD5_A),
    }
    assert needs_head([asset("a"), asset("b"), asset("c"), asset("d")], remote) == ["a"]


def test_a_compressed_variant_is_compared_by_its_headers_only() -> None:
    source = {"Content-Encoding": "gzip", "X-Amz-Meta-Cloudcollect-Source": f"gzip-9:{MD5_A}"}
    variant = LocalAsset("s/a.css.gz", Path("/nonexistent"), 100, 1, MD5_A, source, "gzip")
    stored = RemoteObject("s/a.css.gz", 31, md5=MD5_B)  # compressed: other size and MD5
    wanted = headers_digest(source)
    assert upload_reason(variant, stored, False, wanted, compare_headers=True) is None
    other = headers_digest({**source, "X-Amz-Meta-Cloudcollect-Source": f"gzip-9:{MD5_B}"})
    assert upload_reason(variant, stored, False, other, True) == "source or headers changed"
    assert upload_reason(variant, stored, False, None, True) == "headers unknown"
    assert upload_reason(variant, None, False, wanted, True) == "new"
    assert needs_head([variant], {variant.key: stored}, {}) == [variant.key]
    assert needs_head([variant], {variant.key: stored}, {variant.key: wanted}) == []
