"""No credential ever appears in any output, at any verbosity, in ``--json`` too (issue 12):
not the secret key, the session token or the access key id in use, not the password of an
endpoint URL's userinfo, also where an HTTP layer's exception text quotes them.

Runs go through the real command against the real SeaweedFS, over HTTP and HTTPS, on both
transports (the fast one, and botocore's client: ``BOTOCORE``).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import flask
import pytest
from click.testing import Result
from flask import Flask

from cloudcollect import CloudCollect
from cloudcollect.errors import ConfigError, FatalStorageError, StorageError
from cloudcollect.redact import MASK, remember, remember_url, scrub
from cloudcollect.report import Outcome, Report
from tests.conftest import Bucket
from tests.support.faultproxy import Fault, FaultProxy, delete_errors, error
from tests.support.redirect import redirect_server
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY
from tests.test_bad_settings import BOTOCORE, bare_app, base_config, invoke

TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKENvalue0123456789"
PASSWORD = "hunter2-endpoint-password"
USER = "cc-endpoint-user"
VERBOSITIES = [["-v"], ["-q"], [], ["--json"]]
VERBOSITY_IDS = ["verbose", "quiet", "default", "json"]
#: Settings that pick each transport.
PATHS = [{}, BOTOCORE]
PATH_IDS = ["fast", "botocore"]


def assert_no_secret(result: Result, *secrets: str) -> None:
    output = result.output + result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    for secret in secrets:
        assert secret not in output, output
        assert secret not in json.dumps(output), output


def with_json(args: list[str], result: Result) -> None:
    """``--json`` prints one JSON document on stdout, whatever the outcome."""
    if "--json" in args:
        json.loads(result.stdout)


# -- a session token read from a file with CRLF line endings --------------------------------


@pytest.mark.seaweedfs
@pytest.mark.parametrize("args", VERBOSITIES, ids=VERBOSITY_IDS)
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("path_env", PATHS, ids=PATH_IDS)
def test_a_session_token_ending_in_cr_is_refused_and_never_printed(
    args: list[str], https: bool, path_env: dict[str, str], bucket: Bucket, tmp_path: Path
) -> None:
    app = bare_app(tmp_path, base_config(bucket, https) | path_env)
    result = invoke(app, args, {"AWS_SESSION_TOKEN": TOKEN + "\r"})
    assert_no_secret(result, TOKEN, TOKEN[:20], SECRET_KEY)
    assert result.exit_code == 2, result.output
    assert "AWS_SESSION_TOKEN" in result.output
    assert bucket.keys() == set()


# -- user:password@ in the endpoint URL ------------------------------------------------------


def userinfo_url(address: str, https: bool) -> str:
    return f"{'https' if https else 'http'}://{USER}:{PASSWORD}@{address}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_with_endpoint(
    target: Bucket, tmp_path: Path, endpoint: str, https: bool, args: list[str], **extra: Any
) -> Result:
    config = base_config(target, https) | {"CLOUDCOLLECT_ENDPOINT_URL": endpoint}
    config |= {f"CLOUDCOLLECT_{name.upper()}": value for name, value in extra.items()}
    result = invoke(bare_app(tmp_path, config), args)
    assert_no_secret(result, PASSWORD, f"{USER}:")
    with_json(args, result)
    return result


@pytest.mark.seaweedfs
@pytest.mark.parametrize("args", VERBOSITIES, ids=VERBOSITY_IDS)
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_an_endpoint_password_is_never_printed(
    args: list[str], https: bool, bucket: Bucket, tmp_path: Path
) -> None:
    """A run that works (on both transports), a missing
    bucket (exit 3), an endpoint that does not answer (exit 1) and one that redirects
    everything (exit 3): the password shows nowhere."""
    server = bucket.server
    address = (server.https_endpoint if https else server.endpoint).split("://")[1]
    endpoint = userinfo_url(address, https)
    for transport in ("fast", "botocore"):
        done = run_with_endpoint(bucket, tmp_path, endpoint, https, args, transport=transport)
        assert done.exit_code == 0, done.output
    assert bucket.keys() >= {"static/site.css"}
    missing = run_with_endpoint(bucket, tmp_path, endpoint, https, args, bucket="no-such-bucket")
    assert missing.exit_code == 3, missing.output
    if "--json" not in args:
        assert f"{MASK}@127.0.0.1" in missing.output
    unreachable = userinfo_url(f"127.0.0.1:{closed_port()}", https)
    failed = run_with_endpoint(bucket, tmp_path, unreachable, https, args, max_attempts=1)
    assert failed.exit_code == 1, failed.output
    certs = server.ca_file.parent if https and server.ca_file else None
    with redirect_server(certs) as redirecting:
        moved = run_with_endpoint(bucket, tmp_path, userinfo_url(redirecting, https), https, args)
    assert moved.exit_code == 3, moved.output


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_public_urls_never_carry_the_endpoint_password(
    https: bool, bucket: Bucket, tmp_path: Path
) -> None:
    """url_for's bucket URLs (rendered into every page) and ``flask cloudcollect url``."""
    server = bucket.server
    address = (server.https_endpoint if https else server.endpoint).split("://")[1]
    config = base_config(bucket, https) | {
        "CLOUDCOLLECT_ENDPOINT_URL": userinfo_url(address, https),
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
    }
    app = bare_app(tmp_path, config)
    CloudCollect(app)
    with app.test_request_context():
        url = flask.url_for("static", filename="site.css")
    scheme = "https" if https else "http"
    assert url == f"{scheme}://{address}/{bucket.name}/static/site.css"
    printed = invoke(app, ["url", "static", "site.css"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip() == url


# -- credentials quoted by the store in its error answers ------------------------------------


def proxied(tmp_path: Path, bucket: Bucket, proxy: FaultProxy, **extra: Any) -> Flask:
    config = base_config(bucket) | {"CLOUDCOLLECT_ENDPOINT_URL": proxy.url}
    config |= {
        name if name.startswith("CLOUDCOLLECT_") else f"CLOUDCOLLECT_{name.upper()}": value
        for name, value in extra.items()
    }
    return bare_app(tmp_path, config)


ECHO = f"signed by {ACCESS_KEY} with {SECRET_KEY!r}"


@pytest.mark.seaweedfs
@pytest.mark.parametrize("args", VERBOSITIES, ids=VERBOSITY_IDS)
@pytest.mark.parametrize("path_env", PATHS, ids=PATH_IDS)
def test_credentials_quoted_in_error_answers_are_never_printed(
    args: list[str],
    path_env: dict[str, str],
    bucket: Bucket,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """A failed PutObject and a failed DeleteObjects key (reported per key) and a failed
    listing (the run's fatal error) whose messages quote the credentials in use."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "other.js").write_text("let a = 1;")
    bucket.client.put_object(Bucket=bucket.name, Key="static/orphan.txt", Body=b"x")
    fault_proxy.add(Fault("PutObject", "static/*.css", error(400, "InvalidArgument", ECHO)))
    fault_proxy.add(Fault("DeleteObjects", "static/orphan.txt", delete_errors("Denied", ECHO)))
    app = proxied(tmp_path, bucket, fault_proxy, delete=True, **path_env)
    result = invoke(app, args)
    assert_no_secret(result, SECRET_KEY, ACCESS_KEY)
    with_json(args, result)
    assert result.exit_code == 1, result.output
    assert f"signed by {MASK} with" in result.output
    fault_proxy.add(Fault("ListObjectsV2", None, error(400, "InvalidArgument", ECHO), times=None))
    listing = invoke(proxied(tmp_path, bucket, fault_proxy, **path_env), args)
    assert_no_secret(listing, SECRET_KEY, ACCESS_KEY)
    assert listing.exit_code == 1, listing.output


# -- the scrub itself --------------------------------------------------------------------------


def test_scrub_removes_credentials_in_every_form_an_exception_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN + "\r")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    texts = [
        f"Invalid header value {(TOKEN + chr(13)).encode()!r}",
        f"token {TOKEN}\r and {SECRET_KEY} for {ACCESS_KEY}",
        json.dumps({"token": TOKEN + "\r"}),
    ]
    for text in texts:
        scrubbed = scrub(text)
        for secret in (TOKEN, SECRET_KEY, ACCESS_KEY):
            assert secret not in scrubbed, scrubbed
        assert MASK in scrubbed


def test_scrub_removes_url_userinfo_and_remembered_passwords() -> None:
    text = f'Could not connect to "https://{USER}:{PASSWORD}@127.0.0.1:9/b/k" or ftp://x@h/'
    assert scrub(text) == f'Could not connect to "https://{MASK}@127.0.0.1:9/b/k" or ftp://***@h/'
    remember_url(f"http://{USER}:{PASSWORD}@127.0.0.1:9")
    assert (
        scrub(f"{USER}:{PASSWORD}@127.0.0.1:9: gaierror") == f"{USER}:{MASK}@127.0.0.1:9: gaierror"
    )
    remember_url("http://[::1")  # does not parse: nothing to remember, no error


def test_short_values_are_left_alone() -> None:
    """A value shorter than 4 characters, or a fragment of one (between control
    characters) shorter than 8, would wipe ordinary words; none is a credential."""
    remember("abc", None, "", "word\nlongfragment")
    assert scrub("abc abcd word longfragment") == f"abc abcd word {MASK}"


@pytest.mark.seaweedfs
def test_a_refused_credential_leaves_ordinary_words_alone(bucket: Bucket, tmp_path: Path) -> None:
    """A refused token is never sent, so never remembered: its pieces ("token") must not
    be scrubbed from every later message of the process."""
    text = "the listing repeated a continuation token"
    result = invoke(bare_app(tmp_path, base_config(bucket)), [], {"AWS_SESSION_TOKEN": "a\ntoken"})
    assert result.exit_code == 2, result.output
    assert scrub(text) == text


def test_errors_and_reports_are_scrubbed_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:9"
    for kind in (StorageError, FatalStorageError, ConfigError):
        assert SECRET_KEY not in str(kind(f"{url}: {SECRET_KEY}"))
        assert PASSWORD not in str(kind(f"{url}: {SECRET_KEY}"))
    report = Report()
    report.add(Outcome("k", "upload", "failed", message=f"{url} {SECRET_KEY}"))
    report.warn(f"{url} {SECRET_KEY}")
    document = json.dumps(report.to_dict())
    assert SECRET_KEY not in document
    assert PASSWORD not in document
