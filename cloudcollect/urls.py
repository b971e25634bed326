"""The url_for switch (being built: see issue 3)."""

from __future__ import annotations

from flask import Flask


def install_url_for(app: Flask) -> None:
    """Install the url_for switch on ``app`` (not built yet)."""
