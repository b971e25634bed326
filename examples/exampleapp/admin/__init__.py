"""A blueprint with its own static folder, mounted at ``/admin`` when registered, and a
nested ``reports`` blueprint (endpoint ``admin.reports.static``) with its own."""

from __future__ import annotations

from flask import Blueprint, render_template

from .reports import reports

admin = Blueprint("admin", __name__, static_folder="static", template_folder="templates")
admin.register_blueprint(reports, url_prefix="/reports")


@admin.route("/")
def index() -> str:
    return render_template("admin/index.html")
