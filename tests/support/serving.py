"""A WSGI app served on loopback in a thread, for a browser to load (werkzeug's server)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

WSGIApp = Callable[..., Iterable[bytes]]


class RequestLog:
    """WSGI middleware that records every path the app is asked for."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.paths.append(environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


class LateApp:
    """A WSGI app set after the server is bound (the app's config needs the port)."""

    app: WSGIApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)


@contextmanager
def serving(app: WSGIApp) -> Iterator[str]:
    """Serve ``app`` on loopback in a thread; yield its URL (``http://127.0.0.1:<port>``).
    The server is shut down and closed on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    with in_thread(server):
        yield f"http://127.0.0.1:{server.server_port}"


@contextmanager
def in_thread(server: socketserver.BaseServer) -> Iterator[None]:
    """Run ``server`` in a daemon thread; on exit shut it down, wait for the thread (10 s
    at most) and close its socket."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def serving_logged(app: Flask) -> Iterator[tuple[str, RequestLog]]:
    """Serve ``app`` as ``serving`` does, its ``wsgi_app`` wrapped in a RequestLog; yield
    its URL and the log."""
    log = RequestLog(app.wsgi_app)
    app.wsgi_app = log  # type: ignore[method-assign]
    with serving(app) as url:
        yield url, log


@contextmanager
def serving_late() -> Iterator[tuple[str, LateApp]]:
    """Serve a LateApp; yield its URL and the LateApp, whose ``app`` the caller sets once
    the app is built (before any request is made)."""
    late = LateApp()
    with serving(late) as url:
        yield url, late
