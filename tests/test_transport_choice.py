"""The rule that picks the transport (storage/awsenv.py), and the endpoint the fast one
builds. No server: only botocore's configuration resolution runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudcollect.config import Settings
from cloudcollect.errors import ConfigError
from cloudcollect.storage.awsenv import (
    Endpoint,
    aws_session,
    ca_bundle,
    choose_transport,
    fast_endpoint,
    proxy_for,
)

ENDPOINT = Settings(bucket="site", endpoint_url="http://127.0.0.1:9000", region="us-east-1")
AWS = Settings(bucket="site", region="eu-west-3")


def chosen(settings: Settings, preference: str = "auto") -> str:
    return choose_transport(settings, aws_session(settings), preference)


def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))


def test_the_common_s3_section_keeps_the_fast_transport(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file(
        tmp_path, monkeypatch, "[default]\nregion = eu-west-3\ns3 =\n  addressing_style = path\n"
    )
    assert chosen(ENDPOINT) == "fast"
    assert chosen(AWS) == "fast"
    assert not fast_endpoint(AWS, aws_session(AWS)).virtual


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("", {"AWS_USE_FIPS_ENDPOINT": "true"}, "use_fips_endpoint"),
        ("[default]\nuse_dualstack_endpoint = true\n", {}, "use_dualstack_endpoint"),
        ("[default]\ns3 =\n  use_dualstack_endpoint = true\n", {}, "use_dualstack_endpoint"),
        ("[default]\ns3 =\n  use_accelerate_endpoint = true\n", {}, "s3.use_accelerate_endpoint"),
        ("[default]\ns3 =\n  payload_signing_enabled = true\n", {}, "payload_signing_enabled"),
        ("[default]\ns3 =\n  signature_version = s3\n", {}, "s3.signature_version"),
        ("[default]\nproxy_ca_bundle = /x.pem\n", {}, "proxies_config"),
    ],
)
def test_options_the_fast_transport_cannot_honour(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    env: dict[str, str],
    named: str,
) -> None:
    """auto falls back to botocore; asking for fast is exit 2 naming the option."""
    config_file(tmp_path, monkeypatch, text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert chosen(ENDPOINT) == "botocore"
    assert chosen(ENDPOINT, "botocore") == "botocore"
    with pytest.raises(ConfigError, match=named) as refused:
        chosen(ENDPOINT, "fast")
    assert refused.value.key == "CLOUDCOLLECT_TRANSPORT"
    assert refused.value.exit_code == 2


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (AWS.replace(provider="aws", checksum_policy="when_supported"), "CHECKSUM_POLICY"),
        (ENDPOINT.replace(bucket="arn:aws:s3:eu-west-3:1:accesspoint/ap"), "plain bucket"),
        (ENDPOINT.replace(bucket="dir--euw3-az1--x-s3"), "plain bucket"),
        (AWS.replace(region=None), "no region"),
        (AWS.replace(region="cn-north-1"), "outside the aws partition"),
    ],
)
def test_settings_the_fast_transport_leaves_to_botocore(settings: Settings, named: str) -> None:
    assert chosen(settings) == "botocore"
    with pytest.raises(ConfigError, match=named):
        chosen(settings, "fast")


def test_an_endpoint_from_the_aws_configuration_goes_to_botocore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    assert chosen(AWS) == "botocore"
    assert chosen(ENDPOINT) == "fast"  # CLOUDCOLLECT_ENDPOINT_URL wins, as in botocore
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert chosen(AWS) == "fast"


def test_an_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_PROFILE"):
        aws_session(ENDPOINT.replace(profile="nobody"))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AWS_PROFILE": "nobody"}, "AWS_PROFILE"),
        ({"AWS_DEFAULT_PROFILE": "nobody"}, "AWS_DEFAULT_PROFILE"),
        ({"AWS_DEFAULT_PROFILE": "nobody", "AWS_PROFILE": "default"}, "AWS_DEFAULT_PROFILE"),
    ],
)
def test_an_unknown_profile_from_the_environment_names_its_variable(
    env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not CLOUDCOLLECT_PROFILE, which is unset; botocore reads AWS_DEFAULT_PROFILE first."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        aws_session(ENDPOINT)
    assert raised.value.key == named
    assert str(raised.value).startswith(f"{named}: ")
    assert "CLOUDCOLLECT_PROFILE" not in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        (ENDPOINT, "http://127.0.0.1:9000/site/a%20b/c~.css"),
        (
            ENDPOINT.replace(endpoint_url="https://h.example/base/"),
            "https://h.example/base/site/a%20b/c~.css",
        ),
        (ENDPOINT.replace(addressing_style="virtual"), "http://site.127.0.0.1:9000/a%20b/c~.css"),
        (AWS, "https://site.s3.eu-west-3.amazonaws.com/a%20b/c~.css"),
        (AWS.replace(bucket="my.site"), "https://s3.eu-west-3.amazonaws.com/my.site/a%20b/c~.css"),
        (
            AWS.replace(addressing_style="path"),
            "https://s3.eu-west-3.amazonaws.com/site/a%20b/c~.css",
        ),
    ],
)
def test_fast_endpoint_urls_are_botocores(settings: Settings, url: str) -> None:
    endpoint = fast_endpoint(settings, aws_session(settings))
    assert endpoint.url("a b/c~.css") == url
    assert endpoint.url(None).rstrip("/") == url.rsplit("/a%20b", 1)[0]


def test_bucket_url_on_a_bare_virtual_host() -> None:
    endpoint = Endpoint("https://s3.eu-west-3.amazonaws.com", "site", "eu-west-3", True)
    assert (
        endpoint.url(None, "list-type=2") == "https://site.s3.eu-west-3.amazonaws.com/?list-type=2"
    )


def test_ca_bundle_is_looked_up_as_botocore_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.httpsession import get_cert_path

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    session = aws_session(ENDPOINT)
    assert ca_bundle(ENDPOINT, session) == get_cert_path(True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")
    assert ca_bundle(ENDPOINT, aws_session(ENDPOINT)) == "/requests.pem"
    config_file(tmp_path, monkeypatch, "[default]\nca_bundle = /profile.pem\n")
    assert ca_bundle(ENDPOINT, aws_session(ENDPOINT)) == "/profile.pem"
    monkeypatch.setenv("AWS_CA_BUNDLE", "/aws.pem")
    assert ca_bundle(ENDPOINT, aws_session(ENDPOINT)) == "/aws.pem"
    explicit = ENDPOINT.replace(ca_bundle="/setting.pem")
    assert ca_bundle(explicit, aws_session(explicit)) == "/setting.pem"


def test_proxies_come_from_the_environment_with_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert proxy_for("https://s3.eu-west-3.amazonaws.com/") == "http://proxy.example:3128"
    assert proxy_for("https://internal.example/") is None
    assert proxy_for("http://s3.example/") is None
