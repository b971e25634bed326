"""The classic Flask-Collect example, modernised: an app factory whose static files come
from three kinds of places, all published by ``flask cloudcollect`` and all served from the
bucket when ``CLOUDCOLLECT_SERVE_FROM_BUCKET`` is on:

- the app's own ``static/`` (site.css, site.js, a logo)        -> ``static/...``
- Bootstrap-Flask's blueprint (``BOOTSTRAP_SERVE_LOCAL``)       -> ``bootstrap/static/...``
- an ``admin`` blueprint registered at ``/admin`` and a nested
  ``reports`` blueprint inside it, each with its own static folder
                                      -> ``admin/static/...``, ``admin/reports/static/...``

Settings come from ``CLOUDCOLLECT_*`` environment variables (JSON values such as ``true``
for the bool and list settings), then from the ``config`` argument::

    CLOUDCOLLECT_BUCKET=demo CLOUDCOLLECT_ENDPOINT_URL=http://127.0.0.1:8333 \\
        flask --app examples.exampleapp cloudcollect
    CLOUDCOLLECT_SERVE_FROM_BUCKET=true ... flask --app examples.exampleapp run
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template
from flask_bootstrap import Bootstrap5

from cloudcollect.config import PREFIX, config_keys
from cloudcollect.extension import CloudCollect

from .admin import admin

bootstrap = Bootstrap5()
cloudcollect = CloudCollect()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the example app; ``config`` overrides the environment."""
    app = Flask(__name__)
    app.config["BOOTSTRAP_SERVE_LOCAL"] = True  # Bootstrap's files come from its blueprint
    app.config.update(cloudcollect_env(os.environ))
    app.config.update(config or {})

    bootstrap.init_app(app)
    app.register_blueprint(admin, url_prefix="/admin")

    @app.route("/")
    def index() -> str:
        return render_template("index.html")

    # Last, as most apps do: Bootstrap-Flask has created the Jinja environment by now,
    # and cloudcollect refreshes its url_for global.
    cloudcollect.init_app(app)
    return app


def cloudcollect_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``CLOUDCOLLECT_*`` variables of ``environ``; non-string settings parsed as JSON."""
    kinds = {key: field.metadata["kind"] for key, field in config_keys().items()}
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(PREFIX):
            continue
        if kinds.get(name, "str") in ("str", "str?"):
            values[name] = raw
        else:
            try:
                values[name] = json.loads(raw)
            except ValueError:
                values[name] = raw  # left to cloudcollect's check, which names the key
    return values
