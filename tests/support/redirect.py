"""A loopback HTTP(S) server that answers every request with 301 Moved Permanently.

Stands for an endpoint that redirects everything (an http:// URL whose site moved to
https://, a website in front of the store): no ``x-amz-bucket-region`` header, no body.
"""

from __future__ import annotations

import http.server
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.serving import in_thread


class _Redirect(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(301)
        self.send_header("Location", "https://example.invalid/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's
        pass


@contextmanager
def redirect_server(certs: Path | None = None) -> Iterator[str]:
    """Serve on 127.0.0.1 (HTTPS with ``certs``/server.pem and server.key); yield the
    ``host:port`` it listens on."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    if certs is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certs / "server.pem", certs / "server.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with in_thread(server):
        yield f"127.0.0.1:{server.server_address[1]}"
