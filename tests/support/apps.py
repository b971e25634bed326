"""Real Flask apps with real static files on disk, for publish and CLI tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask

from cloudcollect import CloudCollect

APP_FILES: dict[str, bytes | str] = {
    "static/css/site.css": "body { color: rgb(1, 2, 3); }\n",
    "static/js/site.js": "document.body.dataset.js = 'loaded';\n",
    "static/img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "static/empty.txt": b"",
    "static/a b+c.css": "a{}",
    "static/.env": "SECRET=1",
    "static/.git/config": "[core]",
    "static/key.pem": "-----BEGIN PRIVATE KEY-----",
    "admin_static/admin.css": ".admin { color: red; }",
    "child_static/child.js": "console.log('child');",
}


def make_app(root: Path, config: dict[str, Any] | None = None, files: Any = None) -> Flask:
    """An app with its own static folder, a blueprint registered at ``/admin`` and a
    nested blueprint at ``/parent/child``, its files written under ``root``."""
    for relative, content in (APP_FILES if files is None else files).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    app = Flask("testapp", root_path=str(root), static_folder=str(root / "static"))
    admin = Blueprint(
        "admin",
        "testapp.admin",
        static_folder=str(root / "admin_static"),
        static_url_path="/static",
        root_path=str(root),
    )
    parent = Blueprint("parent", "testapp.parent", root_path=str(root))
    child = Blueprint(
        "child",
        "testapp.child",
        static_folder=str(root / "child_static"),
        static_url_path="/static",
        root_path=str(root),
    )
    parent.register_blueprint(child, url_prefix="/child")
    app.register_blueprint(admin, url_prefix="/admin")
    app.register_blueprint(parent, url_prefix="/parent")
    app.config.update(config or {})
    CloudCollect(app)
    return app


def served_files(root: Path) -> dict[str, bytes]:
    """The keys (no prefix) and bytes this app must publish: what Flask serves, minus the
    dotfiles and secret-like names excluded by default."""
    return {
        "static/css/site.css": (root / "static/css/site.css").read_bytes(),
        "static/js/site.js": (root / "static/js/site.js").read_bytes(),
        "static/img/logo.png": (root / "static/img/logo.png").read_bytes(),
        "static/empty.txt": b"",
        "static/a b+c.css": (root / "static/a b+c.css").read_bytes(),
        "admin/static/admin.css": (root / "admin_static/admin.css").read_bytes(),
        "parent/child/static/child.js": (root / "child_static/child.js").read_bytes(),
    }
