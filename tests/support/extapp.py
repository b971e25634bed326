"""An app built from the real extensions a new user would reach for first.

Flask-Admin with a SQLAlchemy ModelView (Flask-SQLAlchemy, sqlite under the test's
folder; ``FLASK_ADMIN_MAPS`` on, so its forms load the Leaflet it ships),
Flask-DebugToolbar enabled (debug on: the toolbar is injected into every HTML page and
serves its folder through ``app.add_url_rule``, not a blueprint), Bootstrap-Flask served
from its blueprint, and a blueprint with its own ``url_prefix`` and ``static_url_path``.
``CloudCollect`` is registered first, before any of them, as the README shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, render_template_string
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_bootstrap import Bootstrap5
from flask_debugtoolbar import DebugToolbarExtension
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cloudcollect import CloudCollect
from tests.conftest import write_tree


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Item(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


FILES: dict[str, bytes | str] = {
    "static/css/site.css": ".logo { background: url(../img/logo.png) }\n",
    "static/img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    "static/js/site.js": "document.body.dataset.site = 'loaded';\n",
    "shop_assets/shop.css": ".shop { color: rgb(7, 8, 9) }\n",
    "shop_assets/drafts/preview.css": ".draft { color: red }\n",
}
#: The shop's drafts are excluded from publishing: their URLs must stay on the app.
EXCLUDE = ["shop/assets/drafts/*"]
#: What the README recommends for Leaflet (its marker images keep their plain names).
LEAFLET_PLAIN = ["admin/static/vendor/leaflet/images/*"]

HOME = """<!doctype html><html><head>
{{ bootstrap.load_css() }}
<link rel="stylesheet" href="{{ url_for('static', filename='css/site.css') }}">
</head><body><h1 class="logo">home</h1>
<img src="{{ url_for('static', filename='img/logo.png') }}" alt="logo">
{{ bootstrap.load_js() }}
<script src="{{ url_for('static', filename='js/site.js') }}"></script>
</body></html>"""
SHOP = """<!doctype html><html><head>
<link rel="stylesheet" href="{{ url_for('.static', filename='shop.css') }}">
<link rel="stylesheet" href="{{ url_for('.static', filename='drafts/preview.css') }}">
</head><body><p class="shop">shop</p></body></html>"""
MAP = """<!doctype html><html><head>
<link rel="stylesheet" href="{{ url_for('admin.static', filename='vendor/leaflet/leaflet.css') }}">
<style>#map { width: 400px; height: 300px }</style>
</head><body><div id="map"></div>
<script src="{{ url_for('admin.static', filename='vendor/leaflet/leaflet.js') }}"></script>
<script>
var map = L.map('map').setView([48.85, 2.35], 5);
L.marker([48.85, 2.35]).addTo(map);
document.body.dataset.map = 'loaded';
</script></body></html>"""

#: The pages the tests render: every asset they reference must load.
PAGES = ("/", "/shop/", "/map", "/admin/", "/admin/item/", "/admin/item/new/")


def make_extension_app(root: Path, config: dict[str, Any] | None = None) -> Flask:
    """The app, its files written under ``root``, its database in ``root``."""
    write_tree(root, FILES)
    app = Flask("extapp", root_path=str(root), static_folder=str(root / "static"))
    app.debug = True
    app.config.update(
        SECRET_KEY="test",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{root / 'items.sqlite3'}",
        DEBUG_TB_ENABLED=True,
        DEBUG_TB_INTERCEPT_REDIRECTS=False,
        BOOTSTRAP_SERVE_LOCAL=True,
        FLASK_ADMIN_MAPS=True,
        CLOUDCOLLECT_EXCLUDE=EXCLUDE,
    )
    app.config.update(config or {})
    CloudCollect(app)
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.add(Item(name="first"))
        db.session.commit()
    admin = Admin(app, name="Shop admin")
    admin.add_view(ModelView(Item, db))
    DebugToolbarExtension(app)
    Bootstrap5(app)
    app.register_blueprint(_shop(root), url_prefix="/shop")
    app.add_url_rule("/", "home", lambda: render_template_string(HOME))
    app.add_url_rule("/map", "map", lambda: render_template_string(MAP))
    return app


def _shop(root: Path) -> Blueprint:
    shop = Blueprint(
        "shop",
        "extapp.shop",
        root_path=str(root),
        static_folder=str(root / "shop_assets"),
        static_url_path="/assets",
    )
    shop.add_url_rule("/", "index", lambda: render_template_string(SHOP))
    return shop
