"""``flask cloudcollect url ENDPOINT [PATH]``: the public URL of a static path.

The value to build a bundler with (Vite's ``base``, webpack's ``publicPath``), since its
runtime loads lazy chunks relative to that base, not through ``url_for``.
"""

from __future__ import annotations

import click

from .clicommon import command_app, exit_with
from .errors import CloudCollectError, ConfigError


@click.command("url")
@click.argument("endpoint")
@click.argument("path", default="")
@click.pass_context
def url_command(ctx: click.Context, endpoint: str, path: str) -> None:
    """Print the public URL where ENDPOINT serves PATH.

    Exactly what url_for(ENDPOINT, filename=PATH) returns in a request with
    CLOUDCOLLECT_SERVE_FROM_BUCKET on; a directory keeps its trailing slash. The base
    for a bundler: vite build --base "$(flask cloudcollect url static dist/)".
    """
    from .urls import public_url

    app, settings = command_app(ctx)
    try:
        url = public_url(app, settings, endpoint, path)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    except CloudCollectError as error:
        exit_with(error)
    click.echo(url)
