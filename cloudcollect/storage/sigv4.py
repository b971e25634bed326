"""AWS Signature Version 4 for the S3 requests of the fast transport, header-signed.

The same canonical request as ``botocore.auth.S3SigV4Auth`` builds for S3 (which
``tests/test_sigv4.py`` checks on thousands of random requests): the URL's path as it is
(S3 paths are not normalised), the query's ``key=value`` pairs sorted as they are encoded,
every header but botocore's unsigned ones (``SIGNED_HEADERS_EXCLUDED``) by lower-case
name with its value stripped and inner whitespace collapsed, ``host`` from the URL
without a default port, ``x-amz-date``, ``x-amz-security-token`` with a session token,
and ``x-amz-content-sha256: UNSIGNED-PAYLOAD`` (bodies are covered by their Content-MD5).

botocore builds the request through ``email.message`` headers and spends about 120 µs
per request; this takes about 30 µs, and the derived signing key is kept per day, region
and secret. Pure: no botocore, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: Headers botocore never signs (``botocore.auth.SIGNED_HEADERS_BLACKLIST``).
SIGNED_HEADERS_EXCLUDED = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Signer:
    """Signs requests for one region and service; thread-safe."""

    def __init__(self, region: str, service: str = "s3") -> None:
        self.region = region
        self.service = service
        self._last_key: tuple[str, str, bytes] | None = None  # (secret, day, signing key)

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        access_key: str,
        secret_key: str,
        token: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """``headers`` with ``X-Amz-Date``, ``X-Amz-Content-SHA256``, the token when
        given, and ``Authorization`` added (any of them in ``headers`` is replaced).
        ``now`` defaults to the current UTC time."""
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        timestamp = moment.strftime("%Y%m%dT%H%M%SZ")
        day = timestamp[:8]
        replaced = {"authorization", "x-amz-date", "x-amz-content-sha256"}
        if token:
            replaced.add("x-amz-security-token")
        out = {name: value for name, value in headers.items() if name.lower() not in replaced}
        out["X-Amz-Date"] = timestamp
        if token:
            out["X-Amz-Security-Token"] = token
        out["X-Amz-Content-SHA256"] = UNSIGNED_PAYLOAD
        parts = urlsplit(url)
        signed = _headers_to_sign(out, parts.hostname or "", parts.port, parts.scheme)
        names = ";".join(signed)
        canonical = "\n".join(
            (
                method.upper(),
                parts.path,
                _canonical_query(parts.query),
                "".join(f"{name}:{signed[name]}\n" for name in signed),
                names,
                UNSIGNED_PAYLOAD,
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
        key = self._signing_key(secret_key, day)
        signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        out["Authorization"] = (
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}"
        )
        return out

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        """The key for ``day``, derived again only when the day or the secret changes (two
        threads may both derive it once: the same bytes; the tuple is swapped whole)."""
        last = self._last_key
        if last is not None and last[0] == secret_key and last[1] == day:
            return last[2]
        key = _hmac(f"AWS4{secret_key}".encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        self._last_key = (secret_key, day, key)
        return key


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _headers_to_sign(
    headers: Mapping[str, str], host: str, port: int | None, scheme: str
) -> dict[str, str]:
    """Lower-case name -> canonical value, sorted by name; repeated names (in any case)
    are joined with ``,`` in their order, as botocore does."""
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname not in SIGNED_HEADERS_EXCLUDED:
            values.setdefault(lname, []).append(" ".join(str(value).split()))
    if "host" not in values:
        netloc = host if ":" not in host else f"[{host}]"
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            netloc = f"{netloc}:{port}"
        values["host"] = [netloc]
    return {name: ",".join(values[name]) for name in sorted(values)}


def _canonical_query(query: str) -> str:
    """The query's pairs as they are encoded, sorted by key then value."""
    if not query:
        return ""
    pairs = [pair.partition("=") for pair in query.split("&")]
    return "&".join(f"{key}={value}" for key, _, value in sorted(pairs))
