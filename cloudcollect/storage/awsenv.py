"""What botocore would resolve for the S3 storage, read through botocore's public API, and
the rule that picks the transport.

Public pieces used (nothing else of botocore is read): ``botocore.session.Session`` with
``get_config_variable`` (region, ``ca_bundle``, ``use_fips_endpoint``,
``use_dualstack_endpoint``, the ``s3`` and ``proxies_config`` sections),
``get_scoped_config`` (the profile's ``endpoint_url``, ``services`` and ``s3`` keys) and
``get_credentials``; ``botocore.httpsession.get_cert_path`` (botocore's default CA bundle);
``botocore.utils.get_environ_proxies`` (the proxy botocore would use for a URL).

**The selection rule** (``CLOUDCOLLECT_TRANSPORT``, also in the README): ``botocore`` always
uses botocore's client; ``fast`` always uses the fast transport and is a ConfigError (exit 2)
naming the first option below when one is set; ``auto`` (the default) uses the fast
transport unless one of these is set, then botocore's client:

- ``CLOUDCOLLECT_CHECKSUM_POLICY=when_supported`` (CRC trailers: botocore sends them);
- a bucket that is not a plain name (an ARN, an access point, a ``--x-s3`` directory bucket);
- ``use_fips_endpoint``, ``use_dualstack_endpoint``, ``s3.use_accelerate_endpoint``,
  ``s3.payload_signing_enabled = true``, an ``s3.signature_version`` other than ``s3v4``,
  any ``proxy_ca_bundle`` / ``proxy_client_cert`` / ``proxy_use_forwarding_for_https``;
- without ``CLOUDCOLLECT_ENDPOINT_URL``: an endpoint from the AWS configuration
  (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, a profile's ``endpoint_url`` or
  ``services``), no region at all (botocore then finds the bucket's region), a region
  outside the ``aws`` partition, or ``s3.us_east_1_regional_endpoint = legacy``.

Everything else both transports honour alike: credentials from botocore's chain (profiles,
SSO, web identity, instance roles, refreshed before expiry), the region, the CA bundle
(``CLOUDCOLLECT_CA_BUNDLE``, then ``ca_bundle`` / ``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``,
botocore's default) and the environment's proxies.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..config import Settings
from ..errors import ConfigError

if TYPE_CHECKING:
    import botocore.session


TRANSPORTS = ("auto", "fast", "botocore")
#: A bucket name botocore sends as it is (no ARN, no access point alias handling).
_PLAIN_BUCKET = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")
#: A bucket name that can be a host name label (virtual-hosted style on AWS).
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
#: Regions of the ``aws`` partition (``s3.<region>.amazonaws.com``).
_AWS_REGION = re.compile(r"^(?!cn-|us-gov-|us-iso)[a-z]{2}(-[a-z]+)+-\d+$")
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class Endpoint:
    """Where the fast transport sends a bucket's requests and how it signs them.

    ``base`` is ``scheme://host[:port][/path]`` without a trailing ``/``; ``virtual``
    puts the bucket in the host name (``scheme://bucket.host/...``).
    """

    base: str
    bucket: str
    region: str
    virtual: bool

    @property
    def scheme(self) -> str:
        return urlsplit(self.base).scheme

    def url(self, key: str | None, query: str = "") -> str:
        """The request URL for ``key`` (None: the bucket); ``query`` already encoded."""
        parts = urlsplit(self.base)
        path = parts.path
        if self.virtual:
            origin = f"{parts.scheme}://{self.bucket}.{parts.netloc}"
        else:
            origin = f"{parts.scheme}://{parts.netloc}"
            path += "/" + quote(self.bucket, safe="")
        if key is not None:
            path += "/" + quote(key, safe="/~")
        elif not path:
            path = "/"
        return origin + path + (f"?{query}" if query else "")


def aws_session(settings: Settings) -> botocore.session.Session:
    """botocore's session for ``settings.profile``. ConfigError (exit 2, before any
    request) for an unknown profile, naming where it was chosen (``CLOUDCOLLECT_PROFILE``,
    else ``AWS_DEFAULT_PROFILE`` or ``AWS_PROFILE``, in botocore's order), and for an AWS
    config or shared credentials file botocore cannot parse, naming the file."""
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session(profile=settings.profile)
    try:
        session.get_scoped_config()
    except botocore.exceptions.ProfileNotFound as error:
        source = _profile_source(settings)
        raise ConfigError(f"{source}: {error}", key=source) from None
    except botocore.exceptions.ConfigParseError as error:
        message = f"{error} (an AWS config or shared credentials file); fix or move it"
        raise ConfigError(message) from None
    return session


def _profile_source(settings: Settings) -> str:
    """The setting or variable that named the profile botocore looks for."""
    if settings.profile:
        return "CLOUDCOLLECT_PROFILE"
    return next(
        (name for name in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE") if os.environ.get(name)),
        "AWS_PROFILE",
    )


def choose_transport(
    settings: Settings, session: botocore.session.Session, preference: str = "auto"
) -> str:
    """``fast`` or ``botocore`` by the rule in the module docstring; ConfigError when the
    fast transport is asked for and an option it cannot honour is set."""
    if preference == "botocore":
        return "botocore"
    blockers = fast_blockers(settings, session)
    if not blockers:
        return "fast"
    if preference == "fast":
        message = (
            f"CLOUDCOLLECT_TRANSPORT=fast cannot honour {blockers[0]}; "
            "unset it or use CLOUDCOLLECT_TRANSPORT=botocore"
        )
        raise ConfigError(message, key="CLOUDCOLLECT_TRANSPORT")
    return "botocore"


def fast_blockers(settings: Settings, session: botocore.session.Session) -> list[str]:
    """The options set that the fast transport does not implement (see the module
    docstring), named as a user would look for them."""
    blockers: list[str] = []
    if settings.checksum_policy == "when_supported":
        blockers.append("CLOUDCOLLECT_CHECKSUM_POLICY=when_supported")
    bucket = settings.bucket or ""
    if not _PLAIN_BUCKET.match(bucket) or bucket.endswith("--x-s3"):
        blockers.append(f"CLOUDCOLLECT_BUCKET={bucket!r} (not a plain bucket name)")
    s3 = _section(session.get_config_variable("s3"))
    scoped_s3 = _section(session.get_scoped_config().get("s3"))
    checks = (
        (
            "use_fips_endpoint (AWS_USE_FIPS_ENDPOINT)",
            session.get_config_variable("use_fips_endpoint"),
        ),
        (
            "use_dualstack_endpoint (AWS_USE_DUALSTACK_ENDPOINT)",
            session.get_config_variable("use_dualstack_endpoint")
            or s3.get("use_dualstack_endpoint"),
        ),
        ("s3.use_accelerate_endpoint", s3.get("use_accelerate_endpoint")),
        ("s3.payload_signing_enabled", s3.get("payload_signing_enabled")),
        ("s3.signature_version", scoped_s3.get("signature_version") not in (None, "s3v4")),
        (
            "proxies_config (proxy_ca_bundle, ...)",
            any(_section(session.get_config_variable("proxies_config")).values()),
        ),
    )
    blockers += [name for name, value in checks if value]
    if not settings.endpoint_url:
        blockers += _aws_blockers(session, region(settings, session), s3)
    return blockers


def _aws_blockers(
    session: botocore.session.Session, region_name: str | None, s3: Mapping[str, Any]
) -> list[str]:
    """What keeps the fast transport from AWS S3 itself (no CLOUDCOLLECT_ENDPOINT_URL)."""
    blockers: list[str] = []
    scoped = session.get_scoped_config()
    configured = [name for name in _ENDPOINT_ENV if os.environ.get(name)]
    configured += [f"{name} (profile)" for name in ("endpoint_url", "services") if name in scoped]
    if configured and not session.get_config_variable("ignore_configured_endpoint_urls"):
        blockers.append(f"{configured[0]} (an endpoint from the AWS configuration)")
    if region_name is None:
        blockers.append("no region (CLOUDCOLLECT_REGION, AWS_DEFAULT_REGION)")
    elif not _AWS_REGION.match(region_name):
        blockers.append(f"region {region_name!r} (outside the aws partition)")
    elif region_name == "us-east-1" and s3.get("us_east_1_regional_endpoint") == "legacy":
        blockers.append("s3.us_east_1_regional_endpoint=legacy")
    return blockers


def region(settings: Settings, session: botocore.session.Session) -> str | None:
    """The region: the setting, else botocore's (``AWS_DEFAULT_REGION``, the profile)."""
    value = settings.region or session.get_config_variable("region")
    return str(value) if value else None


def addressing_style(settings: Settings, session: botocore.session.Session) -> str:
    """``path`` or ``virtual`` (``auto`` only for botocore on AWS): the setting when it is
    explicit, else the profile's ``s3.addressing_style``, else path style on an endpoint."""
    if settings.addressing_style in ("path", "virtual"):
        return settings.addressing_style
    configured = _section(session.get_config_variable("s3")).get("addressing_style")
    if configured in ("path", "virtual"):
        return str(configured)
    return "path" if settings.endpoint_url else "auto"


def fast_endpoint(settings: Settings, session: botocore.session.Session) -> Endpoint:
    """The fast transport's endpoint (for settings :func:`fast_blockers` accepts)."""
    bucket = settings.bucket or ""
    region_name = region(settings, session) or "us-east-1"
    style = addressing_style(settings, session)
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        # user:password@ in the URL: botocore leaves it out of the host, and so do we
        netloc = parts.netloc.rpartition("@")[2]
        base = f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")
        return Endpoint(base, bucket, region_name, style == "virtual")
    virtual = style == "virtual" or (style == "auto" and bool(_DNS_BUCKET.match(bucket)))
    return Endpoint(f"https://s3.{region_name}.amazonaws.com", bucket, region_name, virtual)


def check_endpoint_url(url: str) -> None:
    """ConfigError naming CLOUDCOLLECT_ENDPOINT_URL for a URL botocore would refuse."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        message = f"CLOUDCOLLECT_ENDPOINT_URL: not an http(s) URL: {url!r}"
        raise ConfigError(message, key="CLOUDCOLLECT_ENDPOINT_URL")


def ca_bundle(settings: Settings, session: botocore.session.Session) -> str:
    """The CA bundle botocore verifies HTTPS with: the setting, ``ca_bundle`` (profile or
    ``AWS_CA_BUNDLE``), ``REQUESTS_CA_BUNDLE``, else botocore's default (certifi's)."""
    from botocore.httpsession import get_cert_path

    for value in (
        settings.ca_bundle,
        session.get_config_variable("ca_bundle"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
    ):
        if value and str(value).strip():
            return str(value)
    return str(get_cert_path(True))


def proxy_for(url: str) -> str | None:
    """The proxy botocore would send ``url`` through (environment, ``no_proxy`` applied)."""
    from botocore.utils import get_environ_proxies

    proxy = get_environ_proxies(url).get(urlsplit(url).scheme)
    if not proxy:
        return None
    proxy = str(proxy)
    return proxy if proxy.startswith(("http:", "https:")) else "http://" + proxy.lstrip("/")


def _section(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
