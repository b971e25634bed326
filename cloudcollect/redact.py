"""Removing credentials from every text cloudcollect prints or raises.

:func:`scrub` replaces with ``***``:

- the AWS credentials in use: those the S3 storage resolved when it opened (:func:`remember`;
  botocore's chain or the environment), those the transports sign with, refreshed ones
  included (:func:`remember_credentials`), and, read at each call, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` and ``AWS_SECURITY_TOKEN``;
- the userinfo of every URL (``scheme://user:password@host`` -> ``scheme://***@host``),
  and passwords remembered from URLs (:func:`remember_url`), wherever they appear.

Each secret is also removed in the forms the HTTP layers' exception texts show it in:
stripped of surrounding white space (a token read from a file with CRLF line endings ends
in ``\\r``), escaped as ``repr`` escapes it, and each run of printable characters between
control characters. Values shorter than :data:`MIN_LENGTH`, and such derived forms shorter
than :data:`MIN_FRAGMENT`, are left alone: removing them would wipe ordinary words (a
value ``"session\\ntoken"`` must not turn every later "token" into ``***``), and no real
credential is that short.

The access key id is scrubbed too. It is not a secret (the signature needs the secret key),
but it names the account (STS ``GetAccessKeyInfo``) and CI logs are often public; a
message that needs it says which variable or profile the credentials came from instead.

:class:`errors.CloudCollectError` scrubs its message when it is built, and
:class:`report.Report` scrubs every outcome message and warning it is given, so the CLI's
output at every verbosity and its ``--json`` report only ever see scrubbed text.

Remembered values are process-wide and never forgotten: a library that publishes twice in
one process (two apps, two runs, threads) scrubs the first run's credentials from the
second's output too. Forgetting at the end of a run would be unsafe: an error object of
that run, a late log line or a concurrent run can still be printed after it. Scrubbing
more than needed only masks a value no output should carry anyway; the set grows by three
values per distinct credential (one refresh an hour adds about 72 a day).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
MIN_LENGTH = 4
MIN_FRAGMENT = 8
ENV_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s'\"<>]+@")
_CONTROL_RUNS = re.compile(r"[\x00-\x1f\x7f]+")
_remembered: set[str] = set()
_lock = threading.Lock()


def remember(*secrets: str | None) -> None:
    """Scrub these values (credentials in use) from every later message; None is skipped."""
    with _lock:
        _remembered.update(secret for secret in secrets if secret)


def remember_credentials(frozen: Any) -> None:
    """Scrub botocore's frozen credentials (``ReadOnlyCredentials``: access key id, secret
    key, token) from every later message. The transports call it with what they sign
    with, at every request (a set already remembered costs a lock and a set update), so
    a credential refreshed mid-run is scrubbed as well as the first."""
    remember(frozen.access_key, frozen.secret_key, frozen.token)


def remember_url(url: str | None) -> None:
    """Scrub the password of ``url``'s userinfo, also where the URL is shown without its
    scheme (a bare ``user:password@host``). Nothing for None or a URL that does not parse."""
    if not url:
        return
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    remember(password)


def scrub(text: str) -> str:
    """``text`` without URL userinfo and without any credential value in use."""
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    for variant in _variants():
        text = text.replace(variant, MASK)
    return text


def _variants() -> list[str]:
    """Every form of every secret to remove, longest first."""
    with _lock:
        secrets = set(_remembered)
    secrets.update(os.environ.get(name) or "" for name in ENV_CREDENTIALS)
    found = {secret for secret in secrets if len(secret) >= MIN_LENGTH}
    fragments = {f for secret in found for f in _fragments(secret) if len(f) >= MIN_FRAGMENT}
    return sorted(found | fragments, key=len, reverse=True)


def _fragments(secret: str) -> set[str]:
    """The forms exception texts show ``secret`` in, besides itself."""
    return {secret.strip(), repr(secret)[1:-1], *_CONTROL_RUNS.split(secret)}
