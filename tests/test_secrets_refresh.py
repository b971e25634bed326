"""Credentials refreshed after the run started are scrubbed too (both transports).

botocore's real refresh mechanism: a ``credential_process`` in an AWS config file written
here, whose every call hands out a new access key id, secret key and session token. The
first two sets expire within botocore's mandatory refresh window (10 minutes), so the set
the requests are signed with is a third one, obtained after the storage had opened and
remembered the second. The store (the fault proxy, answering every request itself)
quotes in each error the token it received and that set's secret key and key id.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from cloudcollect.redact import MASK, scrub
from tests.conftest import Bucket
from tests.support.faultproxy import Action, Fault, FaultProxy
from tests.test_bad_settings import invoke
from tests.test_secrets import assert_no_secret, proxied

pytestmark = pytest.mark.seaweedfs

SCRIPT = """\
import datetime, json, pathlib
calls = pathlib.Path({calls!r})
calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
n = len(calls.read_text())
now = datetime.datetime.now(datetime.timezone.utc)
expires = now + datetime.timedelta(minutes=5 if n <= {short} else 60)
print(json.dumps({{
    "Version": 1,
    "AccessKeyId": "AKIA{tag}%08d" % n,
    "SecretAccessKey": "refreshed-secret-%04d-{tag}" % n,
    "SessionToken": "refreshed-token-%04d-{tag}" % n,
    "Expiration": expires.isoformat(),
}}))
"""


def generation(n: int, tag: str) -> tuple[str, str, str]:
    """(access key id, secret key, token) of the credential process's ``n``-th call."""
    return (
        f"AKIA{tag}{n:08d}",
        f"refreshed-secret-{n:04d}-{tag}",
        f"refreshed-token-{n:04d}-{tag}",
    )


def refreshing_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: int = 2
) -> tuple[Path, str]:
    """Profile ``refreshing`` in a new AWS config file whose first ``short`` sets expire
    within 10 minutes (each freeze of such a set refreshes it); returns the file counting
    the calls, and the tag in every value it hands out. Remembered values are
    process-wide, so each test's differ from every other test's (a value scrubbed for an
    earlier test would let a later one pass)."""
    calls = tmp_path / "calls"
    script = tmp_path / "credentials.py"
    tag = uuid.uuid4().hex[:12].upper()
    script.write_text(SCRIPT.format(calls=str(calls), short=short, tag=tag))
    config = tmp_path / "aws-config"
    config.write_text(f"[profile refreshing]\ncredential_process = {sys.executable} {script}\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return calls, tag


def echo_credentials(tokens: list[str], tag: str) -> Action:
    """Answer 400 quoting the request's session token and its set's secret and key id."""

    def run(exchange: Any, fault: Fault) -> None:
        exchange.body()
        token = str(exchange.headers.get("X-Amz-Security-Token", ""))
        tokens.append(token)
        number = re.search(r"refreshed-token-(\d+)-", token)
        key, secret, _ = generation(int(number[1]) if number else 0, tag)
        message = f"token {token} of key {key} signed with {secret}"
        exchange.respond_error(400, "InvalidArgument", message, {})

    return Action("echo credentials", run)


def answer(status: int, body: bytes = b"", tokens: list[str] | None = None) -> Action:
    """Answer ``status`` with ``body`` (an empty listing, a HeadBucket's 200); the
    request's session token is added to ``tokens``."""

    def run(exchange: Any, fault: Fault) -> None:
        exchange.body()
        if tokens is not None:
            tokens.append(str(exchange.headers.get("X-Amz-Security-Token", "")))
        headers = [("x-amz-bucket-region", "us-east-1"), ("Content-Type", "application/xml")]
        exchange.respond(status, "OK", headers, body)

    return Action(f"answer {status}", run)


EMPTY_LISTING = (
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>"
)


def echoing_store(fault_proxy: FaultProxy, tag: str) -> list[str]:
    """The proxy answers every request itself: HeadBucket 200, an empty listing, and an
    error quoting the credentials for anything else. Returns the tokens it receives."""
    tokens: list[str] = []
    fault_proxy.add(Fault("HeadBucket", None, answer(200, tokens=tokens), times=None))
    listing = answer(200, EMPTY_LISTING, tokens)
    fault_proxy.add(Fault("ListObjectsV2", None, listing, times=None))
    fault_proxy.add(Fault(None, None, echo_credentials(tokens, tag), times=None))
    return tokens


@pytest.mark.parametrize("args", [["-v"], ["--json"]], ids=["verbose", "json"])
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_credentials_refreshed_mid_run_are_never_printed(
    args: list[str],
    transport: str,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, tag = refreshing_profile(tmp_path, monkeypatch)
    tokens = echoing_store(fault_proxy, tag)
    app = proxied(tmp_path, bucket, fault_proxy, transport=transport, profile="refreshing")

    result = invoke(app, args)

    assert result.exit_code in (1, 3), result.output
    used = {int(t.split("-")[2]) for t in tokens}
    assert used and min(used) >= 3, tokens  # signed with a set refreshed after the start
    assert len(calls.read_text()) >= 3
    every = [value for n in range(1, len(calls.read_text()) + 1) for value in generation(n, tag)]
    assert_no_secret(result, *every)
    shown = result.output if "--json" not in args else json.dumps(json.loads(result.stdout))
    assert f"token {MASK} of key {MASK} signed with {MASK}" in shown


@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_credentials_refreshed_before_every_request_are_never_printed(
    transport: str,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every set expires within 10 minutes, so every freeze refreshes: the fast transport
    signs with the set it remembered; botocore's signer freezes on its own, so its key id
    and token are read from the signed request (the secret key, never sent, could only be
    guessed: botocore's client covers it in the common case above)."""
    calls, tag = refreshing_profile(tmp_path, monkeypatch, short=10**6)
    tokens = echoing_store(fault_proxy, tag)
    app = proxied(tmp_path, bucket, fault_proxy, transport=transport, profile="refreshing")

    result = invoke(app, ["-v"])

    assert result.exit_code in (1, 3), result.output
    sent = [generation(int(t.split("-")[2]), tag) for t in tokens]
    assert len({token for _, _, token in sent}) == len(sent) >= 2, tokens  # all new
    assert len(calls.read_text()) >= 3
    hidden = [v for key, secret, token in sent for v in (key, token)]
    if transport == "fast":
        hidden += [secret for _, secret, _ in sent]
    assert_no_secret(result, *hidden)
    assert f"token {MASK} of key {MASK}" in result.output


def test_remembered_credentials_stay_scrubbed_for_later_runs_of_the_process(
    bucket: Bucket, fault_proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Library use: two publishes in one process. The first run's (refreshed) credentials
    are still scrubbed from what the second run prints: nothing is forgotten."""
    calls, tag = refreshing_profile(tmp_path, monkeypatch)
    echoing_store(fault_proxy, tag)
    first = invoke(proxied(tmp_path, bucket, fault_proxy, profile="refreshing"), ["-q"])
    assert first.exit_code in (1, 3), first.output
    for value in generation(len(calls.read_text()), tag):
        assert scrub(f"later: {value}") == f"later: {MASK}"
