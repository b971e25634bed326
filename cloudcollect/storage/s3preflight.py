"""What the S3 storage checks before its first request, whichever transport it uses.

- The CA bundle in effect for an HTTPS endpoint (or AWS's own), taken as botocore takes it
  (``CLOUDCOLLECT_CA_BUNDLE``, else ``AWS_CA_BUNDLE``, else ``REQUESTS_CA_BUNDLE``), must
  exist and hold a certificate (a directory is taken as a CA directory, unchecked): else a
  ConfigError naming the one that gave it, exit 2. Not checked for a plain-HTTP endpoint,
  which uses none.
- Credentials must be free of control characters (a token read from a file with CRLF line
  endings ends in ``\\r``; no HTTP layer can send it): else a ConfigError naming the
  environment variable (or the source botocore reports), never the value. The values are
  remembered for ``redact.scrub``.
- A region or endpoint botocore refuses (``AWS_DEFAULT_REGION="us east"``,
  ``AWS_ENDPOINT_URL_S3="http://[::1"``) is a ConfigError naming where it came from.
- So is a proxy from the environment that cannot be used: a URL that does not parse, or
  a scheme other than http and https (botocore reads ``socks5://h:1080`` as an HTTP proxy
  at host ``socks5``). Its value is not shown: it may hold a password.

A 3xx answer without ``x-amz-bucket-region`` (an endpoint that redirects everything) is
handled by the transports themselves: it fails at once (exit 3 at the preflight).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import urllib3

from .. import redact
from ..config import Settings
from ..errors import ConfigError
from ..values import CONTROL, endpoint_problem, region_problem
from . import awsenv

_CA_SOURCES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None


def tls_context(bundle: str) -> ssl.SSLContext:
    """A verifying client context trusting ``bundle`` (a file, or a directory of CAs)."""
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


_REDIRECTS = (301, 302, 307)
_REGION_HEADER = "x-amz-bucket-region"


def check_ca_bundle(settings: Settings, environ: Mapping[str, str]) -> None:
    """ConfigError when the CA bundle an HTTPS request would use is missing or unusable."""
    endpoint = settings.endpoint_url
    if endpoint and urlsplit(endpoint.strip()).scheme != "https":
        return
    sources = [("CLOUDCOLLECT_CA_BUNDLE", settings.ca_bundle)]
    sources += [(name, environ.get(name)) for name in _CA_SOURCES]
    for name, path in sources:
        if path:
            _load(name, path)
            return


def _load(name: str, path: str) -> None:
    if os.path.isdir(path):
        return
    if not os.path.isfile(path):
        raise ConfigError(f"{name}: no such file: {path!r}", key=name)
    try:
        tls_context(path)
    except (ssl.SSLError, OSError, ValueError) as error:
        message = f"{name}: {path!r} holds no usable CA certificate ({error})"
        raise ConfigError(message, key=name) from None


def check_credentials(credentials: Credentials, source: str, environ: Mapping[str, str]) -> None:
    """ConfigError when one of ``credentials`` holds a control character (they are never
    sent, and their values are not remembered); else remember them for scrubbing.
    ``source`` says where they came from (botocore's ``method``)."""
    fields = (
        ("access key id", credentials.access_key, ("AWS_ACCESS_KEY_ID",)),
        ("secret access key", credentials.secret_key, ("AWS_SECRET_ACCESS_KEY",)),
        ("session token", credentials.token, ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")),
    )
    for label, value, names in fields:
        if value and CONTROL.search(value):
            name = next((n for n in names if environ.get(n) == value), None)
            where = name or f"the AWS {label} (from {source})"
            message = (
                f"{where} contains a control character (a CR from a file with Windows "
                "line endings?); its value is not shown"
            )
            raise ConfigError(message, key=name)
    redact.remember(*credentials)


def botocore_credentials(session: Any, environ: Mapping[str, str]) -> None:
    """:func:`check_credentials` for what a botocore session resolved (nothing if none,
    or if the chain fails, whatever it raises: the first request reports that)."""
    try:
        resolved = session.get_credentials()
        if resolved is None:
            return
        frozen = resolved.get_frozen_credentials()
    except Exception:  # reported by the transport (``transport.credentials_error``)
        return
    credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
    check_credentials(credentials, str(getattr(resolved, "method", "botocore")), environ)


#: Where botocore takes a region or an endpoint from when the settings give none.
_REGION_SOURCES: tuple[str, ...] = ("AWS_DEFAULT_REGION",)
_ENDPOINT_SOURCES: tuple[str, ...] = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def check_environment(settings: Settings, environ: Mapping[str, str]) -> None:
    """ConfigError naming the variable when botocore would take a bad region or endpoint
    URL from the environment (the settings leave them unset; the settings' own values are
    checked with the other settings)."""
    checks = (
        (settings.region, _REGION_SOURCES, region_problem),
        (settings.endpoint_url, _ENDPOINT_SOURCES, endpoint_problem),
    )
    for given, sources, problem in checks:
        value, name = next(((environ[n], n) for n in sources if environ.get(n)), ("", ""))
        if not given and value and (message := problem(value)):
            raise ConfigError(f"{name} {message}", key=name)
    check_proxy(settings.endpoint_url or "https://s3.amazonaws.com/", environ)


def check_proxy(url: str, environ: Mapping[str, str]) -> None:
    """ConfigError naming the variable (``https_proxy``, ``HTTPS_PROXY``, ... as urllib
    reads them, lower case first) when the proxy the transports would send ``url``
    through cannot be used (see the module docstring); nothing without a proxy."""
    proxy = awsenv.proxy_for(url)
    if proxy is None:
        return
    scheme = urlsplit(url).scheme
    names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
    name = next((n for n in names if environ.get(n)), names[1])
    inner = proxy.partition("://")[2]
    if "://" in inner:  # botocore put http:// before a scheme it does not know
        given = inner.partition("://")[0]
        message = f"{name}: a {given}:// proxy cannot be used, only http:// and https://"
        raise ConfigError(message, key=name)
    try:
        urlsplit(proxy)
        urllib3.util.parse_url(proxy)
    except ValueError:
        message = f"{name} is not a proxy URL that can be parsed (its value is not shown)"
        raise ConfigError(message, key=name) from None


def client_value_error(
    error: ValueError, settings: Settings, environ: Mapping[str, str]
) -> ConfigError:
    """The ConfigError for a region or endpoint botocore refused to build its client with,
    naming where it came from: the setting, else the environment variable, else the AWS
    config file (no key then)."""
    import botocore.exceptions as bce

    if isinstance(error, bce.InvalidRegionError):
        setting, sources, what = "CLOUDCOLLECT_REGION", _REGION_SOURCES, "region"
        given = settings.region
    else:
        setting, sources, what = "CLOUDCOLLECT_ENDPOINT_URL", _ENDPOINT_SOURCES, "endpoint_url"
        given = settings.endpoint_url
    name = setting if given else next((n for n in sources if environ.get(n)), None)
    where = name or f"the AWS config file's {what}"
    return ConfigError(f"{where}: {error}", key=name)
