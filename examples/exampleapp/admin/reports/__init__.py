"""Nested inside ``admin``: its files are served at ``/admin/reports/static/...``."""

from __future__ import annotations

from flask import Blueprint

reports = Blueprint("reports", __name__, static_folder="static")
