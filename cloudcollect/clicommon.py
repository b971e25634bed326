"""What ``flask cloudcollect`` and its commands share: the app, its settings with the
command line's options, and safe printing. Nothing here imports a command module.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo

from .appstate import app_settings
from .config import Settings
from .errors import CloudCollectError
from .keys import printable

#: ``ctx.meta`` key of the setting options given before a command.
OVERRIDES = "cloudcollect.overrides"


def run_settings(
    app: Flask, overrides: dict[str, str | None], changes: dict[str, Any] | None = None
) -> Settings:
    """The app's settings with this run's options applied; a bad value is exit 2."""
    changes = {**{k: v for k, v in overrides.items() if v is not None}, **(changes or {})}
    if overrides.get("prefix") is None and os.environ.get("CLOUDCOLLECT_PREFIX") == "":
        changes["prefix"] = ""  # click reads an empty variable as unset; it is explicit
    try:
        return app_settings(app).replace(**changes)
    except CloudCollectError as error:
        raise click.UsageError(printable(str(error))) from None


def load_app() -> Flask:
    """The current app, or the one ``--app`` names; its ConfigError becomes exit 2."""
    if current_app:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    info = click.get_current_context().ensure_object(ScriptInfo)
    try:
        return info.load_app()
    except CloudCollectError as error:
        raise click.UsageError(printable(str(error))) from None


def command_app(ctx: click.Context) -> tuple[Flask, Settings]:
    """A command's app and its settings with the setting options given before the command
    (``flask cloudcollect --prefix x/ url ...``); exit 2 as ``load_app``/``run_settings``."""
    app = load_app()
    return app, run_settings(app, ctx.meta.get(OVERRIDES, {}))


def exit_with(error: CloudCollectError) -> NoReturn:
    """Print ``error`` on stderr and exit with its exit code."""
    echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


def echo(line: str, err: bool = False) -> None:
    """Print one line with control characters escaped: keys come from other clients too."""
    click.echo(printable(line), err=err)
