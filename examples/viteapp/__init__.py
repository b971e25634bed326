"""A Flask app whose JS and CSS are built by Vite into ``static/dist/``, then published.

``frontend/`` is the source: an entry (``src/main.js``) with a stylesheet, an image and a
dynamically imported chunk (``src/lazy.js``, which brings its own stylesheet). ``vite
build`` writes content-hashed files and ``static/dist/.vite/manifest.json``; the page
renders the entry's script and stylesheets from that manifest with ``url_for``, and
cloudcollect publishes them as they are (immutable, never hashed again). The bundler's
runtime loads the lazy chunk's stylesheet relative to the ``--base`` it was built with,
which is why the build takes it from ``flask cloudcollect url``::

    export CLOUDCOLLECT_BUCKET=demo CLOUDCOLLECT_ENDPOINT_URL=http://127.0.0.1:8333
    BASE="$(flask --app examples.viteapp cloudcollect url static dist/)"
    (cd examples/viteapp && npm install && npx vite build --base "$BASE")
    flask --app examples.viteapp cloudcollect
    CLOUDCOLLECT_SERVE_FROM_BUCKET=true flask --app examples.viteapp run

from the repository root. Settings come from ``CLOUDCOLLECT_*`` environment variables as
in ``examples.exampleapp``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template

from cloudcollect.extension import CloudCollect
from examples.exampleapp import cloudcollect_env

HERE = Path(__file__).resolve().parent
#: Where Vite writes its manifest, relative to the static folder (vite.config.mjs).
VITE_MANIFEST = "dist/.vite/manifest.json"
ENTRY = "src/main.js"


def create_app(config: Mapping[str, Any] | None = None, root: Path = HERE) -> Flask:
    """Build the app; its static folder is ``root/static`` (a copy of this folder in the
    tests); ``config`` overrides the environment."""
    app = Flask(
        __name__, static_folder=str(root / "static"), template_folder=str(HERE / "templates")
    )
    app.config.update(cloudcollect_env(os.environ))
    app.config.update(config or {})

    @app.route("/")
    def index() -> str:
        return render_template("index.html", entry=vite_entry(app, ENTRY))

    CloudCollect(app)
    return app


def vite_entry(app: Flask, name: str) -> dict[str, Any]:
    """The manifest entry ``name`` with its paths made relative to the static folder:
    ``{"file": "dist/assets/main-x.js", "css": ["dist/assets/main-y.css"]}``."""
    assert app.static_folder is not None
    manifest = json.loads(Path(app.static_folder, VITE_MANIFEST).read_text(encoding="utf-8"))
    chunk = manifest[name]
    return {
        "file": "dist/" + chunk["file"],
        "css": ["dist/" + css for css in chunk.get("css", [])],
    }
