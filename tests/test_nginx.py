"""The filesystem storage served by a real nginx with examples/nginx/cloudcollect.conf.

Publishes the example app into a directory, serves it with Debian's nginx on loopback
(the recipe's ``location`` blocks, pointed at that directory) and fetches what
``url_for`` links to. Skipped with a reason when nginx is not installed (``.ci/run``
installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import url_for

from cloudcollect import publish
from tests.support.seaweed import free_ports

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "nginx" / "cloudcollect.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists() or not Path("/etc/nginx/mime.types").exists(),
    reason="Debian's nginx is not installed (apt-get install nginx-light)",
)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """nginx on 127.0.0.1 serving ``<tmp>/collected`` at ``/collected/``; (base URL, root)."""
    collected = tmp_path / "collected"
    collected.mkdir()
    port = free_ports(1)[0]
    locations = RECIPE.read_text().replace("/srv/myapp/collected/", f"{collected}/")
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    # As root, nginx's workers would run as nobody and not read pytest's 0700 tmp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""
{user}
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/json map; }}
    access_log {tmp_path}/logs/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"""
    )
    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)])
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base, collected
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert process.poll() is None, "nginx exited"
        try:
            urllib.request.urlopen(base + "/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # answering (404 for /)
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nginx did not answer")


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, b"", ""


def test_nginx_serves_the_collected_files_where_url_for_points(
    nginx: tuple[str, Path],
) -> None:
    from examples.exampleapp import create_app

    base, collected = nginx
    app = create_app(
        {
            "CLOUDCOLLECT_STORAGE": "filesystem",
            "CLOUDCOLLECT_ROOT": str(collected),
            "CLOUDCOLLECT_BASE_URL": base + "/collected/",
            "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        }
    )
    report = publish(app)
    assert report.exit_code == 0, report.to_dict()
    with app.test_request_context():
        urls = {
            "static/css/site.css": url_for("static", filename="css/site.css"),
            "admin/static/admin.css": url_for("admin.static", filename="admin.css"),
            "bootstrap/static/css/bootstrap.min.css": url_for(
                "bootstrap.static", filename="css/bootstrap.min.css"
            ),
        }
    for key, url in urls.items():
        assert url == f"{base}/collected/{key}"
        status, body, content_type = fetch(url)
        assert status == 200, url
        assert body == (collected / key).read_bytes()
        assert content_type.startswith("text/css")
    (collected / ".secret").write_text("never served")
    assert fetch(base + "/collected/.secret")[0] == 404
