"""The Flask extension: ``CloudCollect(app)`` or ``ext.init_app(app)``.

Per-app state lives in ``app.extensions["cloudcollect"]`` (``cloudcollect.appstate``),
never on the extension object, so one ``CloudCollect()`` serves any number of apps
(application factories).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from .appstate import EXTENSION_NAME as EXTENSION_NAME
from .appstate import AppState as AppState
from .appstate import app_settings as app_settings
from .config import settings_from_config
from .errors import ConfigError
from .integrity import static_integrity
from .urls import install_url_for


class CloudCollect:
    """Register cloudcollect on a Flask app: validates settings, installs the url_for switch
    and the Jinja global ``static_integrity``.

    Unknown or mistyped ``CLOUDCOLLECT_*`` keys raise ConfigError here, at start-up.
    Registering twice on one app is an error.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_NAME in app.extensions:
            raise ConfigError("cloudcollect is already registered on this app")
        app.extensions[EXTENSION_NAME] = AppState(settings_from_config(app.config))
        install_url_for(app)
        _add_static_integrity(app)


def _add_static_integrity(app: Flask) -> None:
    """The Jinja global ``static_integrity``, without creating the Jinja environment
    early (an extension's later changes to ``jinja_options`` must still apply)."""
    if "jinja_env" in app.__dict__:
        app.jinja_env.globals["static_integrity"] = static_integrity
        return
    create = app.create_jinja_environment

    def create_with_global() -> Any:
        environment = create()
        environment.globals["static_integrity"] = static_integrity
        return environment

    setattr(app, "create_jinja_environment", create_with_global)  # noqa: B010
