"""The Flask extension: ``CloudCollect(app)`` or ``ext.init_app(app)``.

Per-app state lives in ``app.extensions["cloudcollect"]``, never on the extension object,
so one ``CloudCollect()`` serves any number of apps (application factories).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from .config import Settings, settings_from_config
from .errors import ConfigError

EXTENSION_NAME = "cloudcollect"


@dataclass(frozen=True)
class AppState:
    """What cloudcollect keeps per app."""

    settings: Settings


class CloudCollect:
    """Register cloudcollect on a Flask app: validates settings and installs the url_for switch.

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
        from .urls import install_url_for

        install_url_for(app)


def app_settings(app: Flask) -> Settings:
    """Settings of ``app``: from its registered extension, else read from its config now."""
    state = app.extensions.get(EXTENSION_NAME)
    if isinstance(state, AppState):
        return state.settings
    return settings_from_config(app.config)
