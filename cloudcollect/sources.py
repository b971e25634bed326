"""Static sources: the ``static`` and ``*.static`` rules of ``app.url_map`` and their folders.

A rule's URL prefix is the part before ``<path:filename>`` (``/admin/static/<path:filename>``
gives ``admin/static/``). Its folder, by endpoint:

- ``static``: ``app.static_folder``; ``<blueprint>.static`` of a registered blueprint: the
  blueprint's ``static_folder``.
- any other ``*.static`` endpoint (an extension's ``app.add_url_rule``): read from its view
  function (decorators unwrapped), in this order:

  1. a method bound to an object with a ``static_folder`` (``view_func=bp.send_static_file``
     for a Flask app, a blueprint or a lookalike);
  2. a function or method whose code calls ``send_from_directory`` and reads exactly one
     value naming an existing directory from ``self.<attr>``, a closure variable or a
     module global (Flask-DebugToolbar's ``send_from_directory(self._static_dir, filename)``).
     A relative directory is taken from ``app.root_path``, as Flask does.

  Otherwise the folder is unknown (``None``): the collector cannot publish the endpoint,
  and the url_for switch leaves its URLs to Flask.

:class:`StaticEndpoints` answers the url_for switch per endpoint, resolving each one on
first use (extensions often register after ``CloudCollect``) and logging an unresolved
one once.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.routing import Rule

FILENAME_VARIABLE = "<path:filename>"
logger = logging.getLogger("cloudcollect")


@dataclass(frozen=True)
class StaticSource:
    """One static URL rule: who serves it, under which URL prefix, from which folder."""

    name: str  # "app" or the blueprint's (or the endpoint's) dotted name
    url_prefix: str  # "admin/static/" (no leading "/"; "" for a root static_url_path)
    folder: str | None  # None: unknown, so not published
    rule: str  # the URL rule, e.g. "/admin/static/<path:filename>"

    @property
    def publishable(self) -> bool:
        """Whether the collector can publish it: a known folder, no URL variable before
        the file name (whether the folder exists on this machine is not asked)."""
        return self.folder is not None and "<" not in self.url_prefix

    def unresolved_message(self) -> str:
        """Why it is not published, for the log and the run's report."""
        endpoint = "static" if self.name == "app" else f"{self.name}.static"
        why = "its folder is unknown" if self.folder is None else "URL variables come first"
        return (
            f"static endpoint {endpoint} ({self.rule}): {why}, so it is not published "
            "and url_for keeps its app URL"
        )


def is_static_endpoint(endpoint: str) -> bool:
    """True for ``static`` and ``<name>.static``."""
    return endpoint == "static" or endpoint.endswith(".static")


def static_sources(app: Flask) -> list[StaticSource]:
    """Static rules of ``app`` in ``url_map`` order, the order in which Flask matches them.

    That is the app first (Flask adds its static rule at construction), then blueprints
    and extensions in registration order, a nested blueprint after its parent.
    """
    found: dict[tuple[str, str], StaticSource] = {}
    for rule in app.url_map.iter_rules():
        if is_static_endpoint(rule.endpoint):
            source = _source(app, rule)
            found.setdefault((source.name, source.url_prefix), source)
    return list(found.values())


def _source(app: Flask, rule: Rule) -> StaticSource:
    endpoint = rule.endpoint
    path = rule.rule.removesuffix(FILENAME_VARIABLE)
    name = "app" if endpoint == "static" else endpoint[: -len(".static")]
    return StaticSource(name, path.lstrip("/"), static_folder(app, endpoint), rule.rule)


def static_folder(app: Flask, endpoint: str) -> str | None:
    """The folder behind static ``endpoint``, or None (see the module docstring)."""
    if endpoint == "static":
        return app.static_folder
    blueprint = app.blueprints.get(endpoint[: -len(".static")])
    if blueprint is not None:
        return blueprint.static_folder
    view = app.view_functions.get(endpoint)
    folder = _view_folder(view, app.root_path) if view is not None else None
    return None if folder is None else os.path.join(app.root_path, folder)


def _view_folder(view: Callable[..., Any], root: str) -> str | None:
    view = inspect.unwrap(view)
    owner = getattr(view, "__self__", None)
    folder = getattr(owner, "static_folder", None)
    if isinstance(folder, (str, os.PathLike)):
        return os.fspath(folder)
    function = getattr(view, "__func__", view)
    code = getattr(function, "__code__", None)
    if code is None or "send_from_directory" not in code.co_names:
        return None
    folders = {os.fspath(v) for v in _values_read(function, owner) if _is_directory(v, root)}
    return folders.pop() if len(folders) == 1 else None


def _values_read(function: Any, owner: Any) -> Iterator[Any]:
    """The values ``function`` may read by name: attributes of ``owner`` (of its class
    too; read without running properties), closure variables and module globals."""
    code = function.__code__
    for name in code.co_names:
        if owner is not None:
            yield inspect.getattr_static(owner, name, None)
        yield function.__globals__.get(name)
    for cell in function.__closure__ or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell
            continue


def _is_directory(value: Any, root: str) -> bool:
    """Whether ``value`` names a directory (a relative one from ``root``)."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        return False
    return os.path.isdir(os.path.join(root, value))


class StaticEndpoints:
    """Which static endpoints of one app the url_for switch rewrites: those whose source
    is publishable. Resolved per endpoint on first use and kept; an unresolved one is
    logged once (also by :meth:`warn_unresolved`, for the rules registered so far)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._known: dict[str, tuple[str, ...] | None] = {}  # None: not switched
        self._lock = threading.Lock()

    def url_prefixes(self, endpoint: str) -> tuple[str, ...] | None:
        """The URL prefixes of static ``endpoint``'s rules when url_for points it at the
        storage (``("admin/static/",)``), else None. An endpoint with no rule (yet) is
        not kept: Flask reports it, or it is registered later."""
        if endpoint in self._known:
            return self._known[endpoint]
        try:
            rules = list(self.app.url_map.iter_rules(endpoint))
        except KeyError:
            return None
        sources = [_source(self.app, rule) for rule in rules]
        with self._lock:
            if endpoint not in self._known:
                switched = all(source.publishable for source in sources)
                prefixes = tuple(source.url_prefix for source in sources)
                self._known[endpoint] = prefixes if switched else None
                for source in sources:
                    if not source.publishable:
                        logger.warning("%s", source.unresolved_message())
            return self._known[endpoint]

    def warn_unresolved(self) -> None:
        """Resolve (and log once) every static endpoint registered so far."""
        for rule in list(self.app.url_map.iter_rules()):
            if is_static_endpoint(rule.endpoint):
                self.url_prefixes(rule.endpoint)
