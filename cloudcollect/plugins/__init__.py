"""The plug-ins of a run (see ``cloudcollect.run`` for the hooks); one module each.

``active`` lists the ones a run's settings turn on, in the order their hooks are called:
the lease first (it guards every write), then fingerprinting and its SRI digests (they
need the current manifest fingerprinting read), precompression (after fingerprinting:
the hashed copies get their ``.gz``/``.br`` variants too), the upload order (it sees
every upload, variants included), the state object, and the CloudFront invalidation last
(it runs once everything else finished).
"""

from __future__ import annotations

from ..config import Settings
from ..run import Plugin
from .cdn import CloudFrontInvalidation
from .fingerprinting import Fingerprinting
from .leasing import Leasing
from .precompress import Precompression
from .sri import SubresourceIntegrity
from .stateobject import StateObject
from .uploadorder import UploadOrdering


def active(settings: Settings) -> tuple[Plugin, ...]:
    """The plug-ins ``settings`` turn on, in hook order."""
    lease = Leasing()
    plugins: list[Plugin] = [lease]
    if settings.fingerprint:
        fingerprinting = Fingerprinting()
        plugins += [fingerprinting, SubresourceIntegrity(fingerprinting)]
    plugins += [Precompression(), UploadOrdering(), StateObject(lease)]
    if settings.cloudfront_distribution_id:
        plugins.append(CloudFrontInvalidation())
    return tuple(plugins)


__all__ = [
    "CloudFrontInvalidation",
    "Fingerprinting",
    "Leasing",
    "Precompression",
    "StateObject",
    "SubresourceIntegrity",
    "UploadOrdering",
    "active",
]
