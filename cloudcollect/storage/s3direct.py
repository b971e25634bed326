"""The lean S3 path's target and credentials, resolved without importing botocore.

Importing botocore and building its client costs about 0.15 s, which is a third of a
re-run that uploads nothing. When the settings and the environment are simple enough
that botocore's own resolution is certain, :func:`direct_setup` returns what
``s3lean.LeanS3`` needs, and S3Storage builds the botocore client only if an operation
needs it (HeadObject, multipart, deletes). Every condition below is one under which
botocore would resolve exactly this; anything else gives None and botocore does it all:

- ``CLOUDCOLLECT_ENDPOINT_URL`` is set and addressing is path style (``auto`` is path
  style on an endpoint): ``{endpoint}/{bucket}/{key}``, as botocore builds it;
- the bucket is a plain name (no ARN, no access point) and the region, from
  ``CLOUDCOLLECT_REGION`` or ``AWS_DEFAULT_REGION``, is a valid host label;
- credentials are ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``
  or ``AWS_SECURITY_TOKEN``), which botocore's chain takes first when no profile is named
  (``CLOUDCOLLECT_PROFILE``, ``AWS_PROFILE``, ``AWS_DEFAULT_PROFILE``), without an expiry
  (``AWS_CREDENTIAL_EXPIRATION``: botocore would refresh them);
- no proxy variable, no ``AWS_USE_FIPS_ENDPOINT`` / ``AWS_USE_DUALSTACK_ENDPOINT``, and the
  AWS config file's ``[default]`` section sets nothing but :data:`_HARMLESS_CONFIG` (a CA
  bundle, an endpoint or S3 options there would change what botocore sends);
- checksums are not asked for (``CLOUDCOLLECT_CHECKSUM_POLICY=when_supported``) and
  ListObjectsV2 is used;
- moto's in-process mock (``mock_aws``) is not active: it answers only what botocore sends.

The CA bundle for HTTPS is botocore's: ``CLOUDCOLLECT_CA_BUNDLE``, ``AWS_CA_BUNDLE``,
``REQUESTS_CA_BUNDLE``, else certifi's bundle (botocore's own ``cacert.pem`` without it).
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from ..config import Settings
from .s3lean import Credentials, Target

#: botocore's region check (``validate_region_name``).
_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$")
#: botocore's bucket-name check for anything that is not an ARN.
_BUCKET = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")
#: Environment variables that change botocore's endpoint, credentials or transport.
_DEFERRING_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
)
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy")
#: Keys of the config file's [default] section that change nothing botocore sends here
#: (the region is taken from the settings or AWS_DEFAULT_REGION; the environment's
#: credentials win over the profile's).
_HARMLESS_CONFIG = frozenset(
    {
        "region",
        "output",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "cli_pager",
        "cli_timestamp_format",
        "cli_binary_format",
        "cli_auto_prompt",
        "cli_follow_urlparam",
        "cli_history",
    }
)


class DirectSetup(NamedTuple):
    """What the lean path needs: where to send, as whom, and the TLS context (HTTPS)."""

    target: Target
    credentials: Credentials
    tls: ssl.SSLContext | None


def direct_setup(settings: Settings, environ: Mapping[str, str]) -> DirectSetup | None:
    """The lean path's setup when botocore's resolution is certain (see the module
    docstring), else None. ``settings`` are the effective ones (``providers.effective``)."""
    endpoint, bucket = settings.endpoint_url, settings.bucket
    if (
        not endpoint
        or not bucket
        or settings.addressing_style not in ("auto", "path")
        or settings.profile
        or settings.checksum_policy == "when_supported"
        or settings.list_version != 2
        or not _BUCKET.match(bucket)
    ):
        return None
    if any(name in environ for name in _DEFERRING_ENV) or _proxied(environ) or _mocked():
        return None
    region = settings.region or environ.get("AWS_DEFAULT_REGION")
    credentials = env_credentials(environ)
    if not region or not _REGION.match(region) or credentials is None:
        return None
    if not _plain_config_file(environ):
        return None
    target = Target.path_style(endpoint, bucket, region)
    if target is None:
        return None
    tls = None
    if target.scheme == "https":
        tls = tls_context(ca_bundle(settings, environ))
    return DirectSetup(target, credentials, tls)


def env_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """Static credentials from the environment, read as botocore's EnvProvider does, or
    None when there are none or they are partial (botocore then reports it)."""
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key:
        return None
    token = next(
        (environ[name] for name in ("AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN") if name in environ),
        None,
    )
    return Credentials(access_key, secret_key, token or None)


def ca_bundle(settings: Settings, environ: Mapping[str, str]) -> str:
    """The CA bundle botocore verifies the endpoint with (settings, environment, default)."""
    for value in (
        settings.ca_bundle,
        environ.get("AWS_CA_BUNDLE"),
        environ.get("REQUESTS_CA_BUNDLE"),
    ):
        if value:
            return value
    spec = importlib.util.find_spec("certifi")
    if spec is not None:
        import certifi

        return str(certifi.where())
    botocore = importlib.util.find_spec("botocore")
    assert botocore is not None and botocore.origin is not None
    return str(Path(botocore.origin).parent / "cacert.pem")


def tls_context(bundle: str) -> ssl.SSLContext:
    """A verifying client context trusting ``bundle`` (a file, or a directory of CAs)."""
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def _mocked() -> bool:
    """Whether moto's mock of botocore is on (moto imported and inside ``mock_aws``)."""
    models = sys.modules.get("moto.core.models")
    stubber = getattr(models, "botocore_stubber", None)
    return bool(getattr(stubber, "enabled", False))


def _proxied(environ: Mapping[str, str]) -> bool:
    return any(value and name.lower() in _PROXY_ENV for name, value in environ.items())


def _plain_config_file(environ: Mapping[str, str]) -> bool:
    """Whether the AWS config file is absent or its [default] profile is harmless."""
    path = Path(environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    except (OSError, UnicodeError):
        return False
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return False  # botocore reports it
    if not parser.has_section("default"):
        return True
    return all(key in _HARMLESS_CONFIG for key in parser.options("default"))
