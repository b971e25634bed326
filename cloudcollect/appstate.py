"""Where cloudcollect keeps its per-app state (``app.extensions["cloudcollect"]``) and how
any module reads an app's settings. Imports no other part of the extension.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from .config import Settings, settings_from_config

EXTENSION_NAME = "cloudcollect"


@dataclass(frozen=True)
class AppState:
    """What cloudcollect keeps per app."""

    settings: Settings


def app_settings(app: Flask) -> Settings:
    """Settings of ``app``: from its registered extension, else read from its config now."""
    state = app.extensions.get(EXTENSION_NAME)
    if isinstance(state, AppState):
        return state.settings
    return settings_from_config(app.config)
