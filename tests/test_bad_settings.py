"""Every bad setting or environment value is exit 2 naming the setting, never a traceback;
an endpoint that answers 301 to everything is exit 3 with a one-line reason (issue 12).

The table covers every key of ``config_keys()``: a new setting without a bad-value case
fails :func:`test_every_setting_has_bad_values`, and a new ``CLOUDCOLLECT_*`` variable of a
CLI option without one fails :func:`test_every_option_variable_has_bad_values`. Runs go
through the real command against the real SeaweedFS bucket, so a value the checks miss
shows what really happens (an upload, a traceback) instead of passing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from cloudcollect.cli import cloudcollect_command
from cloudcollect.config import config_keys, settings_from_config
from cloudcollect.errors import ConfigError
from cloudcollect.pipeline import publish
from tests.conftest import Bucket
from tests.support.flaskcli import run_flask
from tests.support.redirect import redirect_server

GIB = 1024**3
HUGE = 10**30


@dataclass(frozen=True)
class Case:
    """Setting ``key`` at ``value``, with ``extra`` settings that make it matter."""

    key: str
    value: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}"[:80]


FS = {"CLOUDCOLLECT_STORAGE": "filesystem"}
FINGERPRINT_DELETE = {"CLOUDCOLLECT_FINGERPRINT": True, "CLOUDCOLLECT_DELETE": True}

#: Wrong values for every setting; the first of each is always of the wrong type.
BAD_VALUES: dict[str, list[Any]] = {
    "CLOUDCOLLECT_STORAGE": [3, "ftp", "no_such_module_xyz:Storage", "s3\n"],
    "CLOUDCOLLECT_BUCKET": [
        5,
        "my bucket",
        "ab",
        "a/b",
        "-bucket",
        "bucket-",
        "b" * 300,
        "192.168.0.1",
        "bu..cket",
        "bucket\r\n",
    ],
    "CLOUDCOLLECT_PREFIX": [1, "a/../b", "a\nb"],
    "CLOUDCOLLECT_ENDPOINT_URL": [
        1,
        "http://[::1",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:port",
        "ftp://127.0.0.1/",
        "127.0.0.1:8333",
        "http://127.0.0.1/?x=1",
        "http://127.0.0.1/\r\n",
    ],
    "CLOUDCOLLECT_REGION": [1, "us east 1", "us-east-1\r", "-bad-"],
    "CLOUDCOLLECT_ADDRESSING_STYLE": [1, "sideways"],
    "CLOUDCOLLECT_PROFILE": [1, "no-such-profile", "default\r"],
    "CLOUDCOLLECT_CA_BUNDLE": [1, "ca\n.pem"],  # files: see CA_CASES
    "CLOUDCOLLECT_ROOT": [1, "/tmp/a\x00b", "/tmp/a\nb"],
    "CLOUDCOLLECT_SERVE_FROM_BUCKET": ["yes", 1],
    "CLOUDCOLLECT_BASE_URL": [1, "http://[::1", "https://cdn.example.com:0x50/", "cdn.example"],
    "CLOUDCOLLECT_INCLUDE": ["*.css", [1], ["*.css\n"]],
    "CLOUDCOLLECT_EXCLUDE": ["*.css", [None], ["\x00"]],
    "CLOUDCOLLECT_HASHED": ["dist/*", [1], ["dist/*\n"]],
    "CLOUDCOLLECT_FINGERPRINT_EXCLUDE": ["*.png", [1], ["*.png\r\n"]],
    "CLOUDCOLLECT_WORKERS": ["8", True, 0, 10**9],
    "CLOUDCOLLECT_HEADERS": [
        {"*.css": {}},
        [("*.css", {"Cache-Control": "public\r\nX-Injected: 1"})],
        [("*.css", {"Cache-Control": "public\n"})],
        [("*.css", {"X-Amz-Meta-A\r\nB": "v"})],
        [("*.css", {"X-Amz-Meta-a b": "v"})],
        [("*.css", {"X-Amz-Meta-a:b": "v"})],
        [("*.css", {"X-Not-Stored-By-S3": "v"})],
        [("*.css\r\n", {"Cache-Control": "public"})],
    ],
    "CLOUDCOLLECT_CACHE_CONTROL": [1, "public\r\nX-Injected: 1", "max-age=1\n"],
    "CLOUDCOLLECT_MIME_TYPES": [
        [".css"],
        {".css": "text/css\r\nX-Injected: 1"},
        {".css": "text/css\n"},
        {".css": "nonsense"},
        {"css": "text/css"},
        {".c ss": "text/css"},
        {".css\r\n": "text/css"},
    ],
    "CLOUDCOLLECT_ACL": [1, "wrong", "private\r\n"],
    "CLOUDCOLLECT_DELETE": ["yes"],
    "CLOUDCOLLECT_MAX_DELETE": ["10", -1],
    "CLOUDCOLLECT_MULTIPART_THRESHOLD": [1.5, 0, 5 * GIB + 1, HUGE],
    "CLOUDCOLLECT_MULTIPART_CHUNKSIZE": ["16MiB", 1024, 5 * GIB + 1, HUGE],
    "CLOUDCOLLECT_TRUST_ETAG": ["no"],
    "CLOUDCOLLECT_HASH_CACHE": [1],
    "CLOUDCOLLECT_MAX_ATTEMPTS": ["5", 0, 10**9],
    "CLOUDCOLLECT_CONNECT_TIMEOUT": ["10", 0, 10**9],
    "CLOUDCOLLECT_READ_TIMEOUT": [1.5, 0, 10**9],
    "CLOUDCOLLECT_FINGERPRINT": ["true"],
    "CLOUDCOLLECT_MANIFEST_PATH": [
        1,
        "/tmp/manifest\x00.json",
        str(Path(__file__) / "manifest.json"),  # under a file
        str(Path(__file__).parent),  # a directory
    ],
    "CLOUDCOLLECT_MANIFEST_SOURCE": [1, "s3"],
    "CLOUDCOLLECT_MANIFEST_STRICT": [None],
    "CLOUDCOLLECT_REWRITE_JS_IMPORTS": ["yes"],
    "CLOUDCOLLECT_KEEP_MANIFESTS": ["2", -1, HUGE],
    "CLOUDCOLLECT_GRACE_SECONDS": ["3600", -1, 10**14, HUGE],
    "CLOUDCOLLECT_PROVIDER": [1, "azure"],
    "CLOUDCOLLECT_CHECKSUM_POLICY": [1, "always", "when_supported"],
    # "fast" cannot honour CRC checksums (EXTRA asks for them): botocore's client can.
    "CLOUDCOLLECT_TRANSPORT": [1, "quick", "fast"],
    "CLOUDCOLLECT_LIST_VERSION": ["2", 3],
    "CLOUDCOLLECT_PRECOMPRESS": ["gzip", ["zstd"]],
    "CLOUDCOLLECT_PRECOMPRESS_MODE": [1, "inplace"],
    "CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID": [1, "bad id", "E2QWRUHAPOMQZL\r\n"],
    "CLOUDCOLLECT_CORS_ORIGINS": [
        "https://app.example",
        ["https://app.example/"],
        ["app.example"],
        ["HTTPS://APP.EXAMPLE"],
        ["https://app.example:443"],
        ["https://app.example\n"],
    ],
}
#: Settings whose bad values only matter with others set.
EXTRA: dict[str, dict[str, Any]] = {
    "CLOUDCOLLECT_ROOT": FS,
    "CLOUDCOLLECT_GRACE_SECONDS": FINGERPRINT_DELETE,
    "CLOUDCOLLECT_KEEP_MANIFESTS": FINGERPRINT_DELETE,
    "CLOUDCOLLECT_MANIFEST_PATH": {"CLOUDCOLLECT_FINGERPRINT": True},
    "CLOUDCOLLECT_TRANSPORT": {
        "CLOUDCOLLECT_PROVIDER": "aws",
        "CLOUDCOLLECT_CHECKSUM_POLICY": "when_supported",
    },
}
#: Settings with no meaningful wrong value, and why (none today: each has one of the
#: wrong type at least).
NO_BAD_VALUE: dict[str, str] = {}


def bad_ca_bundles(tmp: Path) -> list[str]:
    """A CA bundle path that is missing, and one to a file that holds no certificate."""
    not_a_cert = tmp / "not-a-cert.pem"
    not_a_cert.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    return [str(tmp / "missing.pem"), str(not_a_cert)]


def all_cases() -> list[Case]:
    return [
        Case(key, value, EXTRA.get(key, {}))
        for key, values in BAD_VALUES.items()
        for value in values
    ]


def test_every_setting_has_bad_values() -> None:
    assert set(config_keys()) == set(BAD_VALUES) | set(NO_BAD_VALUE)
    assert not set(BAD_VALUES) & set(NO_BAD_VALUE)


# -- the library: a ConfigError that carries the key ---------------------------------------


def base_config(bucket: Bucket, https: bool = False) -> dict[str, Any]:
    server = bucket.server
    config: dict[str, Any] = {
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": server.https_endpoint if https else server.endpoint,
        "CLOUDCOLLECT_REGION": "us-east-1",
    }
    if https:
        config["CLOUDCOLLECT_CA_BUNDLE"] = str(server.ca_file)
    return config


def config_error(config: dict[str, Any], root: Path) -> ConfigError:
    """The ConfigError of reading ``config`` (raised), or of a publish with it (in the
    report: opening the storage, the manifest's path, before any request)."""
    try:
        report = publish(bare_app(root, config), settings_from_config(config))
    except ConfigError as error:
        return error
    assert isinstance(report.fatal, ConfigError), (config, report.fatal)
    return report.fatal


@pytest.mark.seaweedfs
@pytest.mark.parametrize("case", all_cases(), ids=str)
def test_bad_value_is_a_config_error_naming_its_key(
    case: Case, bucket: Bucket, tmp_path: Path
) -> None:
    error = config_error(base_config(bucket) | case.extra | {case.key: case.value}, tmp_path)
    assert error.key == case.key, error
    assert case.key in str(error)


# -- the command: exit 2, the key named, no traceback ---------------------------------------


def bare_app(root: Path, config: dict[str, Any]) -> Flask:
    """An app with one static file whose config is read by the command itself (the
    extension is not registered, so a bad config does not stop the app's creation)."""
    static = root / "static"
    static.mkdir(parents=True, exist_ok=True)
    (static / "site.css").write_text("body { color: red; }")
    app = Flask("badsettings", root_path=str(root), static_folder=str(static))
    app.config.update(config)
    app.config.setdefault("CLOUDCOLLECT_MANIFEST_PATH", str(root / "manifest.json"))
    return app


def invoke(
    app: Flask, args: list[str] | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """The command's result; ``env`` adds variables for the call, None removes one."""
    return app.test_cli_runner().invoke(cloudcollect_command, args or [], env=env)


def assert_usage_error(result: Result, name: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert name in result.output
    assert "Traceback" not in result.output


def the_one_error_line(result: Result, exit_code: int) -> str:
    """The ``error:`` line of a run that ended with ``exit_code``: one, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.seaweedfs
@pytest.mark.parametrize("case", all_cases(), ids=str)
def test_bad_value_exits_2_naming_the_setting(case: Case, bucket: Bucket, tmp_path: Path) -> None:
    app = bare_app(tmp_path, base_config(bucket) | case.extra | {case.key: case.value})
    assert_usage_error(invoke(app, ["--json"]), case.key)


@pytest.mark.seaweedfs
def test_a_ca_bundle_missing_or_not_a_certificate_exits_2_on_every_path(
    bucket: Bucket, tmp_path: Path
) -> None:
    """CLOUDCOLLECT_CA_BUNDLE, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE; on both transports."""
    for path in bad_ca_bundles(tmp_path):
        for variable in ("CLOUDCOLLECT_CA_BUNDLE", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
            for transport in ("fast", "botocore"):
                config = base_config(bucket, https=True)
                config.pop("CLOUDCOLLECT_CA_BUNDLE")
                config["CLOUDCOLLECT_TRANSPORT"] = transport
                env: dict[str, str] = {}
                if variable.startswith("CLOUDCOLLECT"):
                    config[variable] = path
                    assert config_error(config, tmp_path).key == variable
                else:
                    env[variable] = path
                result = invoke(bare_app(tmp_path, config), ["-q"], env)
                assert_usage_error(result, variable)
                assert bucket.keys() == set()


#: The settings that make the storage use botocore's client.
BOTOCORE = {"CLOUDCOLLECT_TRANSPORT": "botocore"}


def test_a_ca_bundle_is_not_read_for_a_plain_http_endpoint(bucket: Bucket, tmp_path: Path) -> None:
    config = base_config(bucket) | {"CLOUDCOLLECT_CA_BUNDLE": bad_ca_bundles(tmp_path)[0]}
    result = invoke(bare_app(tmp_path, config), ["-q"])
    assert result.exit_code == 0, result.output


#: Bad values of the variables the command reads for its options.
BAD_ENV: dict[str, list[str]] = {
    "CLOUDCOLLECT_WORKERS": ["many", "0", "-3"],
    "CLOUDCOLLECT_DELETE": ["maybe"],
    "CLOUDCOLLECT_BUCKET": ["my bucket", "ab"],
    "CLOUDCOLLECT_PREFIX": ["a/../b"],
    "CLOUDCOLLECT_ENDPOINT_URL": ["http://[::1", "http://127.0.0.1:99999"],
    "CLOUDCOLLECT_STORAGE": ["ftp"],
    "CLOUDCOLLECT_ROOT": ["/tmp/a\nb"],
}
#: Environment variables the AWS chain reads, with values no request can carry.
BAD_AWS_ENV: dict[str, list[str]] = {
    "AWS_ACCESS_KEY_ID": ["cloudcollect-test\r"],
    "AWS_SECRET_ACCESS_KEY": ["cloudcollect-test-secret\r"],
    "AWS_SESSION_TOKEN": ["session-token\r", "session\ntoken"],
    "AWS_SECURITY_TOKEN": ["security-token\r"],
}


def option_variables() -> set[str]:
    return {
        param.envvar
        for param in cloudcollect_command.params
        if isinstance(param.envvar, str) and param.envvar.startswith("CLOUDCOLLECT_")
    }


def test_every_option_variable_has_bad_values() -> None:
    assert option_variables() == set(BAD_ENV)


def env_cases() -> list[tuple[str, str, dict[str, str]]]:
    found: list[tuple[str, str, dict[str, str]]] = [
        (name, v, {}) for name, values in BAD_ENV.items() for v in values
    ]
    for name, values in BAD_AWS_ENV.items():
        found += [(name, v, transport) for v in values for transport in ({}, BOTOCORE)]
    return found


@pytest.mark.seaweedfs
@pytest.mark.parametrize(("name", "value", "transport"), env_cases(), ids=repr)
def test_bad_environment_value_exits_2_naming_the_variable(
    name: str, value: str, transport: dict[str, str], bucket: Bucket, tmp_path: Path
) -> None:
    app = bare_app(tmp_path, base_config(bucket) | transport)
    result = invoke(app, [], {name: value})
    assert_usage_error(result, name)
    assert bucket.keys() == set()


#: AWS variables botocore reads when a setting is unset: (variable, value, setting unset).
BAD_AWS_FALLBACKS = [
    ("AWS_ENDPOINT_URL_S3", "http://[::1", "CLOUDCOLLECT_ENDPOINT_URL"),
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:99999", "CLOUDCOLLECT_ENDPOINT_URL"),
    ("AWS_DEFAULT_REGION", "us east 1", "CLOUDCOLLECT_REGION"),
]


@pytest.mark.seaweedfs
@pytest.mark.parametrize(("name", "value", "unset"), BAD_AWS_FALLBACKS)
def test_a_bad_aws_variable_behind_an_unset_setting_is_named(
    name: str, value: str, unset: str, bucket: Bucket, tmp_path: Path
) -> None:
    """Not the setting: it is unset (the message named CLOUDCOLLECT_ENDPOINT_URL)."""
    config = base_config(bucket)
    config.pop(unset)
    result = invoke(bare_app(tmp_path, config), [], {name: value})
    assert_usage_error(result, name)
    assert unset not in result.output


@pytest.mark.seaweedfs
def test_through_the_flask_command_in_a_subprocess(tmp_path: Path, bucket: Bucket) -> None:
    """The installed ``flask`` entry point: the extension refuses the config at app
    creation, the command's variables are read by click."""
    config = base_config(bucket) | {"CLOUDCOLLECT_MIME_TYPES": {".css": "text/css\r\nX: 1"}}
    result = run_flask(tmp_path, [], config)
    assert result.returncode == 2, result.stderr
    assert "CLOUDCOLLECT_MIME_TYPES" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_flask(tmp_path, [], base_config(bucket), {"CLOUDCOLLECT_WORKERS": "x"})
    assert result.returncode == 2, result.stderr
    assert "CLOUDCOLLECT_WORKERS" in result.stderr
    assert "Traceback" not in result.stderr
    assert bucket.keys() == set()


# -- AWS files botocore cannot parse -------------------------------------------------------

#: A section header left open; bytes that are not UTF-8.
UNPARSABLE_AWS_FILES = [b"[default\nregion = us-east-1\n", b"[default]\nregion = \xff\xfe\n"]


@pytest.mark.seaweedfs
@pytest.mark.parametrize("variable", ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"])
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_an_aws_file_botocore_cannot_parse_exits_2_naming_it(
    variable: str, transport: str, bucket: Bucket, tmp_path: Path
) -> None:
    """Also with the keys in the environment: botocore reads both files for the profile."""
    config = base_config(bucket) | {"CLOUDCOLLECT_TRANSPORT": transport}
    for number, content in enumerate(UNPARSABLE_AWS_FILES):
        path = tmp_path / f"aws-file-{number}"
        path.write_bytes(content)
        result = invoke(bare_app(tmp_path, config), [], {variable: str(path)})
        assert_usage_error(result, str(path))
    assert bucket.keys() == set()


@pytest.mark.seaweedfs
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_partial_credentials_are_exit_3_with_one_line_naming_what_is_missing(
    transport: str, bucket: Bucket, tmp_path: Path
) -> None:
    """botocore's client loads the credentials as it is made, the fast transport at its
    first request: the same exit and the same words, no traceback, no key id shown."""
    key_id = bucket.server.env()["AWS_ACCESS_KEY_ID"]
    config = base_config(bucket) | {"CLOUDCOLLECT_TRANSPORT": transport}
    env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": ""}
    result = invoke(bare_app(tmp_path, config), [], env)
    error = the_one_error_line(result, 3)
    assert "credentials could not be loaded" in error
    assert "missing: AWS_SECRET_ACCESS_KEY" in error
    assert key_id not in result.output
    assert bucket.keys() == set()


def chain_failures(tmp: Path) -> list[tuple[str, dict[str, str], str, str]]:
    """Credential chains botocore's providers fail with an error of Python's, not their
    own: (id, environment, AWS config text, what the error line says)."""
    missing = tmp / "no-such-file"
    role = {"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/site"}
    not_found = f"FileNotFoundError: No such file or directory: {str(missing)!r}"
    process = f"[default]\ncredential_process = {sys.executable} -c "  # split as by shlex
    return [
        (
            "web identity token file missing",
            role | {"AWS_WEB_IDENTITY_TOKEN_FILE": str(missing)},
            "",
            not_found,
        ),
        (
            "credential process program missing",
            {},
            f"[default]\ncredential_process = {missing}\n",
            not_found,
        ),
        ("credential process printing no JSON", {}, process + "print(1,2)\n", "JSONDecodeError"),
        ("credential process printing a number", {}, process + "print(42)\n", "AttributeError"),
        (
            "container credentials on a refused host",
            {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.invalid/creds"},
            "",
            "ValueError",
        ),
    ]


@pytest.mark.seaweedfs
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_a_credential_chain_failing_with_pythons_own_errors_is_exit_3_in_one_line(
    transport: str, bucket: Bucket, tmp_path: Path
) -> None:
    """Web identity (EKS), a credential process (aws-vault, 1Password) and container
    credentials (ECS) fail with OSError, ValueError and others, not botocore's errors:
    the same exit 3 as any credential failure, no traceback, nothing written."""
    config = base_config(bucket) | {"CLOUDCOLLECT_TRANSPORT": transport}
    empty = tmp_path / "empty"
    empty.write_text("")
    for name, env, aws_config, said in chain_failures(tmp_path):
        config_path = tmp_path / "aws-config"
        config_path.write_text(aws_config)
        variables: dict[str, str | None] = {
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
            "AWS_SESSION_TOKEN": None,
            "AWS_CONFIG_FILE": str(config_path),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_EC2_METADATA_DISABLED": "true",
            **env,
        }
        error = the_one_error_line(invoke(bare_app(tmp_path, config), [], variables), 3)
        assert "credentials could not be loaded" in error, (name, error)
        assert said in error, (name, error)
    assert bucket.keys() == set()


#: Proxies no transport can use: (variable, value, what the message says).
BAD_PROXIES = [
    ("HTTP_PROXY", "http://user:pw-of-the-proxy@[::1", "is not a proxy URL that can be parsed"),
    ("http_proxy", "socks5://user:pw-of-the-proxy@127.0.0.1:1080", "a socks5:// proxy"),
]


@pytest.mark.seaweedfs
@pytest.mark.parametrize(("name", "value", "said"), BAD_PROXIES)
@pytest.mark.parametrize("transport", ["fast", "botocore"])
def test_a_proxy_no_transport_can_use_exits_2_naming_its_variable(
    name: str, value: str, said: str, transport: str, bucket: Bucket, tmp_path: Path
) -> None:
    """Checked before any request, alike on both transports (botocore's would read
    ``socks5://h`` as an HTTP proxy at host ``socks5``); the password is not shown."""
    config = base_config(bucket) | {"CLOUDCOLLECT_TRANSPORT": transport}
    env = {name: value, "NO_PROXY": None, "no_proxy": None}
    result = invoke(bare_app(tmp_path, config), [], env)
    assert_usage_error(result, name)
    assert said in result.output
    assert "pw-of-the-proxy" not in result.output
    assert bucket.keys() == set()


# -- an endpoint that answers 301 to everything ---------------------------------------------


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("transport", [{}, BOTOCORE], ids=["fast", "botocore"])
def test_an_endpoint_redirecting_everything_is_exit_3_with_one_line(
    https: bool, transport: dict[str, str], bucket: Bucket, tmp_path: Path
) -> None:
    certs = bucket.server.ca_file.parent if https and bucket.server.ca_file else None
    with redirect_server(certs) as address:
        config = base_config(bucket, https) | transport
        config["CLOUDCOLLECT_ENDPOINT_URL"] = f"{'https' if https else 'http'}://{address}"
        result = invoke(bare_app(tmp_path, config), [])
    error = the_one_error_line(result, 3)
    assert re.search(rf"bucket '{bucket.name}' at .*: redirected \(HTTP 301\)", error)
