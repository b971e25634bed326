"""The benchmarked Flask app: one static folder, the generated tree, served at /static.

``BENCH_STATIC`` names the folder; ``BENCH_HASH_CACHE=0`` turns
the local hash cache off (the ``cloudcollect-nocache`` variant).
"""

from __future__ import annotations

import os

from flask import Flask


def create_app() -> Flask:
    app = Flask(
        __name__,
        static_folder=os.environ["BENCH_STATIC"],
        static_url_path="/static",
    )
    app.config["CLOUDCOLLECT_ADDRESSING_STYLE"] = "path"
    if os.environ.get("BENCH_HASH_CACHE") == "0":
        app.config["CLOUDCOLLECT_HASH_CACHE"] = False
    return app


app = create_app()
