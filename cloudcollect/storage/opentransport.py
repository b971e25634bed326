"""Open the transport the selection rule in :mod:`.awsenv` chooses for some settings.

Its own module so that :mod:`.awsenv` (what botocore's session resolves) never imports the
transports, which import it: imports point one way.
"""

from __future__ import annotations

import botocore.session

from ..config import Settings
from .awsenv import (
    aws_session,
    ca_bundle,
    check_endpoint_url,
    choose_transport,
    fast_endpoint,
    proxy_for,
)
from .retry import RetryPolicy
from .transport import Transport


def open_transport(
    settings: Settings,
    preference: str = "auto",
    session: botocore.session.Session | None = None,
) -> Transport:
    """The transport for ``settings`` (the selection rule of :mod:`.awsenv`); ConfigError for an
    unknown profile, a bad endpoint URL or an option the asked-for transport cannot honour.
    ``settings`` are the effective ones (``providers.effective``)."""
    if settings.endpoint_url:
        check_endpoint_url(settings.endpoint_url)
    session = session or aws_session(settings)
    policy = RetryPolicy(settings.max_attempts)
    pool_size = settings.workers + 4
    if choose_transport(settings, session, preference) == "fast":
        from .fasttransport import FastTransport  # only the transport in use is imported

        endpoint = fast_endpoint(settings, session)
        return FastTransport(
            endpoint,
            session.get_credentials,
            policy,
            ca_bundle=ca_bundle(settings, session),
            proxy=proxy_for(endpoint.url(None)),
            pool_size=pool_size,
            timeouts=(float(settings.connect_timeout), float(settings.read_timeout)),
        )
    from .botocoretransport import BotocoreTransport, make_client  # botocore's client: ~0.2 s

    client = make_client(settings, session, pool_size)
    https = not (settings.endpoint_url or "").startswith("http://")
    bundle = ca_bundle(settings, session) if https else None
    return BotocoreTransport(
        client, settings.bucket or "", policy, ca_bundle=bundle, credentials=session.get_credentials
    )
