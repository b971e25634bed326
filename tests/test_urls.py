"""The url_for switch: bucket URLs for static endpoints, in Python and Jinja, and nothing else.

The expected URLs are written out by hand or taken from a twin app without cloudcollect, so
the tests do not share code with the implementation. The SeaweedFS tests upload at the
key ``url_for`` links to and fetch the URL anonymously, through a prefix-scoped bucket policy
(the setup docs/serving.md recommends).
"""

from __future__ import annotations

import html
import json
import ssl
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import flask
import pytest
from flask import Blueprint, Flask, render_template_string
from flask_bootstrap import Bootstrap5
from werkzeug.routing import BuildError

from cloudcollect.baseurl import derive_base_url
from cloudcollect.config import settings_from_config
from cloudcollect.discovery import discover
from cloudcollect.errors import ConfigError
from cloudcollect.extension import CloudCollect, app_settings
from cloudcollect.pipeline import publish
from tests.conftest import Bucket, write_tree

BASE = "https://cdn.example.com/assets/"
ON = {"CLOUDCOLLECT_SERVE_FROM_BUCKET": True, "CLOUDCOLLECT_BASE_URL": BASE}

FILES: dict[str, bytes | str] = {
    "static/css/site.css": "body { color: rgb(1, 2, 3); }",
    "admin_static/admin.css": ".admin {}",
    "child_static/child.js": "console.log('child');",
}

# (endpoint, filename, key without prefix): one of each endpoint kind.
ENDPOINTS = [
    ("static", "css/site.css", "static/css/site.css"),
    ("admin.static", "admin.css", "admin/static/admin.css"),
    ("parent.child.static", "child.js", "parent/child/static/child.js"),
    ("bootstrap.static", "css/bootstrap.min.css", "bootstrap/static/css/bootstrap.min.css"),
]


def make_app(root: Path, config: dict[str, Any] | None, extension: bool = True) -> Flask:
    """App static, ``admin`` at /admin, ``parent.child`` at /parent/child, Bootstrap-Flask,
    one ordinary view per level; cloudcollect last (the Jinja env exists by then)."""
    write_tree(root, FILES)
    app = Flask("urlapp", root_path=str(root), static_folder=str(root / "static"))
    admin = Blueprint(
        "admin", "urlapp.admin", static_folder=root / "admin_static", static_url_path="/static"
    )
    parent = Blueprint("parent", "urlapp.parent")
    child = Blueprint(
        "child", "urlapp.child", static_folder=root / "child_static", static_url_path="/static"
    )

    @app.route("/")
    def index() -> str:
        return "index"

    @admin.route("/page/<name>")
    def page(name: str) -> str:
        return name

    @admin.route("/relative")
    def relative() -> dict[str, str]:
        template = "{{ url_for('.static', filename='admin.css') }}"
        return {
            "python": flask.url_for(".static", filename="admin.css"),
            "jinja": render_template_string(template),
            "page": flask.url_for(".page", name="x"),
        }

    parent.register_blueprint(child, url_prefix="/child")
    app.register_blueprint(admin, url_prefix="/admin")  # prefix given at registration
    app.register_blueprint(parent, url_prefix="/parent")
    app.config["BOOTSTRAP_SERVE_LOCAL"] = True
    Bootstrap5(app)
    app.config.update(config or {})
    if extension:
        CloudCollect(app)
    return app


def both(app: Flask, endpoint: str, **values: Any) -> tuple[str, str]:
    """``flask.url_for`` and the Jinja global's URL (HTML-unescaped), in a request to ``/``."""
    with app.test_request_context("/"):
        python = flask.url_for(endpoint, **values)
        jinja = render_template_string("{{ url_for(e, **v) }}", e=endpoint, v=values)
    return python, html.unescape(jinja)


@pytest.mark.parametrize(("endpoint", "filename", "key"), ENDPOINTS)
def test_python_and_jinja_give_base_url_plus_key(
    tmp_path: Path, endpoint: str, filename: str, key: str
) -> None:
    app = make_app(tmp_path, ON | {"CLOUDCOLLECT_PREFIX": "/v1/"})

    assert both(app, endpoint, filename=filename) == (BASE + "v1/" + key,) * 2


def test_relative_static_inside_a_blueprint_request(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)

    urls = app.test_client().get("/admin/relative").get_json()

    assert urls == {
        "python": BASE + "admin/static/admin.css",
        "jinja": BASE + "admin/static/admin.css",
        "page": "/admin/page/x",
    }


def test_relative_static_outside_a_blueprint_is_the_app_static(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)

    assert both(app, ".static", filename="a.css") == (BASE + "static/a.css",) * 2


OTHER_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("index", {}),
    ("index", {"q": "a b+c", "_anchor": "top"}),
    ("index", {"_external": True}),
    ("admin.page", {"name": "x y", "_scheme": "https", "_external": True}),
    ("admin.relative", {}),
]


@pytest.mark.parametrize(("endpoint", "values"), OTHER_CALLS)
def test_other_endpoints_never_change(
    tmp_path: Path, endpoint: str, values: dict[str, Any]
) -> None:
    switched = make_app(tmp_path / "a", ON)
    plain = make_app(tmp_path / "b", None, extension=False)

    assert both(switched, endpoint, **values) == both(plain, endpoint, **values)


STATIC_CALLS: list[tuple[str, dict[str, Any]]] = [
    *((endpoint, {"filename": filename}) for endpoint, filename, _ in ENDPOINTS),
    ("static", {"filename": "a b+c%.css", "v": "1 2", "_anchor": "x y"}),
    ("static", {"filename": "x.css", "_external": True}),
    ("admin.static", {"filename": "x.css", "_scheme": "https", "_external": True}),
]


@pytest.mark.parametrize(("endpoint", "values"), STATIC_CALLS)
def test_switch_off_gives_flasks_own_urls(
    tmp_path: Path, endpoint: str, values: dict[str, Any]
) -> None:
    plain = make_app(tmp_path / "b", None, extension=False)
    expected = both(plain, endpoint, **values)

    assert both(make_app(tmp_path / "a", None), endpoint, **values) == expected
    off = {"CLOUDCOLLECT_SERVE_FROM_BUCKET": False, "CLOUDCOLLECT_BUCKET": "bkt"}
    assert both(make_app(tmp_path / "c", off), endpoint, **values) == expected


@pytest.mark.parametrize("config", [ON, None], ids=["switch-on", "switch-off"])
def test_cloudcollect_false_gives_the_local_url_for_one_call(
    tmp_path: Path, config: dict[str, Any] | None
) -> None:
    app = make_app(tmp_path, config)

    local = both(app, "admin.static", filename="a.css", _cloudcollect=False)

    assert local == ("/admin/static/a.css",) * 2
    if config:
        assert both(app, "admin.static", filename="a.css")[0].startswith(BASE)


def test_query_arguments_and_anchor_are_kept(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)

    urls = both(app, "static", filename="a.css", v="1 2&3", tags=["x", "y"], _anchor="top x")

    assert urls == (BASE + "static/a.css?v=1+2%263&tags=x&tags=y#top%20x",) * 2


def test_external_and_scheme_with_an_absolute_base(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)

    assert both(app, "static", filename="a.css", _external=False)[0] == BASE + "static/a.css"
    assert both(app, "static", filename="a.css", _external=True)[0] == BASE + "static/a.css"
    http = both(app, "static", filename="a.css", _scheme="http", _external=True)
    assert http == ("http://cdn.example.com/assets/static/a.css",) * 2
    with pytest.raises(ValueError, match="_external"), app.test_request_context("/"):
        flask.url_for("static", filename="a.css", _scheme="http", _external=False)


def test_outside_a_request_an_absolute_base_needs_no_server_name(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)

    with app.app_context():
        assert flask.url_for("admin.static", filename="a.css") == BASE + "admin/static/a.css"
        assert render_template_string("{{ url_for('static', filename='b.css') }}") == (
            BASE + "static/b.css"
        )


def test_a_path_base_on_the_apps_own_host(tmp_path: Path) -> None:
    """The filesystem storage: CLOUDCOLLECT_ROOT served by nginx at /collected/."""
    config = {
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        "CLOUDCOLLECT_STORAGE": "filesystem",
        "CLOUDCOLLECT_ROOT": str(tmp_path / "collected"),
        "CLOUDCOLLECT_BASE_URL": "/collected",
        "SERVER_NAME": "example.org",
    }
    app = make_app(tmp_path, config)

    assert both(app, "static", filename="a.css") == ("/collected/static/a.css",) * 2
    external = both(app, "static", filename="a.css", _external=True)
    assert external == ("http://example.org/collected/static/a.css",) * 2
    https = both(app, "static", filename="a.css", _scheme="https", _external=True)
    assert https[0] == "https://example.org/collected/static/a.css"
    with app.app_context():  # outside a request URLs are external, as in Flask
        assert flask.url_for("static", filename="a.css") == (
            "http://example.org/collected/static/a.css"
        )


def test_a_protocol_relative_base(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON | {"CLOUDCOLLECT_BASE_URL": "//cdn.example.com"})

    assert both(app, "static", filename="a.css")[0] == "//cdn.example.com/static/a.css"
    external = both(app, "static", filename="a.css", _external=True)
    assert external[0] == "http://cdn.example.com/static/a.css"
    scheme = both(app, "static", filename="a.css", _scheme="https", _external=True)
    assert scheme[0] == "https://cdn.example.com/static/a.css"


def test_init_app_before_the_jinja_environment_exists(tmp_path: Path) -> None:
    write_tree(tmp_path, FILES)
    app = Flask("early", root_path=str(tmp_path))
    app.config.update(ON)
    CloudCollect(app)
    assert "jinja_env" not in app.__dict__  # so the env is created with the switch in place

    assert both(app, "static", filename="a.css") == (BASE + "static/a.css",) * 2


def test_init_app_after_a_template_was_rendered(tmp_path: Path) -> None:
    app = Flask("late", root_path=str(tmp_path))
    app.config.update(ON)
    with app.test_request_context("/"):
        before = render_template_string("{{ url_for('static', filename='a.css') }}")
    assert before == "/static/a.css"

    CloudCollect().init_app(app)

    assert both(app, "static", filename="a.css") == (BASE + "static/a.css",) * 2


def test_unicode_filenames_are_nfc_and_encoded_once(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)
    nfd = unicodedata.normalize("NFD", "café/ü 1+1=2%#?.css")

    urls = both(app, "static", filename=nfd)

    assert urls == (BASE + "static/caf%C3%A9/%C3%BC%201%2B1=2%25%23%3F.css",) * 2


def test_every_discovered_file_is_where_url_for_links(tmp_path: Path) -> None:
    """The collector and url_for agree on every key, odd names and NFD files included."""
    write_tree(
        tmp_path, {"static/a b+c%.css": "a", unicodedata.normalize("NFD", "static/é.css"): "b"}
    )
    app = make_app(tmp_path, ON | {"CLOUDCOLLECT_PREFIX": "v1"})
    found = discover(app, app_settings(app))
    folders = {source.name: source.folder for source in found.sources}
    assert len(found.files) > 100  # Bootstrap-Flask's files are among them

    with app.test_request_context("/"):
        for file in found.files:
            endpoint = "static" if file.source == "app" else f"{file.source}.static"
            filename = file.path.relative_to(Path(str(folders[file.source])).resolve())
            url = flask.url_for(endpoint, filename=filename.as_posix())
            assert url.startswith(BASE)
            assert urllib.parse.unquote(url[len(BASE) :]) == file.key


def test_filesystem_storage_urls_point_at_the_collected_files(tmp_path: Path) -> None:
    root = tmp_path / "collected"
    config = {
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        "CLOUDCOLLECT_STORAGE": "filesystem",
        "CLOUDCOLLECT_ROOT": str(root),
        "CLOUDCOLLECT_BASE_URL": "/collected/",
    }
    app = make_app(tmp_path / "site", config)
    assert publish(app).exit_code == 0

    for endpoint, filename, key in ENDPOINTS:
        url = both(app, endpoint, filename=filename)[0]
        assert url == "/collected/" + key
        served = root / urllib.parse.unquote(url[len("/collected/") :])
        assert served.read_bytes() == (root / key).read_bytes()
    assert (root / "static/css/site.css").read_bytes() == b"body { color: rgb(1, 2, 3); }"


def test_a_missing_static_endpoint_is_flasks_build_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, ON)

    with app.test_request_context("/"), pytest.raises(BuildError):
        flask.url_for("parent.static", filename="x.css")  # parent has no static folder


# Base URL derivation ----------------------------------------------------------------

VIRTUAL = {"ADDRESSING_STYLE": "virtual"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"BUCKET": "assets", "REGION": "eu-west-1"}, "https://assets.s3.eu-west-1.amazonaws.com/"),
        ({"BUCKET": "assets"}, "https://assets.s3.amazonaws.com/"),
        (
            {"BUCKET": "assets", "REGION": "eu-west-1", "ADDRESSING_STYLE": "path"},
            "https://s3.eu-west-1.amazonaws.com/assets/",
        ),
        (
            {"BUCKET": "static.example.com", "REGION": "eu-west-1"},
            "https://s3.eu-west-1.amazonaws.com/static.example.com/",
        ),
        ({"BUCKET": "bkt", "ENDPOINT_URL": "http://127.0.0.1:8333"}, "http://127.0.0.1:8333/bkt/"),
        ({"BUCKET": "bkt", "ENDPOINT_URL": "https://gw.example.com/s3/"}, "https://gw.example.com/s3/bkt/"),
        (
            {"BUCKET": "bkt", "ENDPOINT_URL": "https://minio.example.com", **VIRTUAL},
            "https://bkt.minio.example.com/",
        ),
        (
            {"BUCKET": "a.b", "ENDPOINT_URL": "https://minio.example.com", **VIRTUAL},
            "https://minio.example.com/a.b/",
        ),
        (
            {"BUCKET": "a.b", "ENDPOINT_URL": "http://minio.local:9000", **VIRTUAL},
            "http://a.b.minio.local:9000/",
        ),
        ({"BUCKET": "bkt", "BASE_URL": "https://cdn.example.com/assets"}, "https://cdn.example.com/assets/"),
        ({"BASE_URL": "https://cdn.example.com/assets/"}, "https://cdn.example.com/assets/"),
    ],
)  # fmt: skip
def test_base_url(config: dict[str, str], expected: str) -> None:
    settings = settings_from_config({f"CLOUDCOLLECT_{k}": v for k, v in config.items()})

    assert derive_base_url(settings) == expected


@pytest.mark.parametrize(
    "base_url", ["cdn.example.com/assets", "ftp://cdn.example.com/", "https://cdn/?v=1", "/a#b"]
)
def test_unusable_base_url_is_a_config_error(tmp_path: Path, base_url: str) -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_BASE_URL") as error:
        make_app(tmp_path, ON | {"CLOUDCOLLECT_BASE_URL": base_url})
    assert error.value.key == "CLOUDCOLLECT_BASE_URL"


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({}, "CLOUDCOLLECT_BUCKET"),
        ({"CLOUDCOLLECT_STORAGE": "filesystem"}, "CLOUDCOLLECT_BASE_URL"),
    ],
)
def test_switch_on_without_a_base_url_fails_at_init_app(
    tmp_path: Path, config: dict[str, Any], key: str
) -> None:
    config = {"CLOUDCOLLECT_SERVE_FROM_BUCKET": True, **config}

    with pytest.raises(ConfigError, match=key) as error:
        make_app(tmp_path, config)
    assert error.value.key == key


def test_switch_off_needs_no_base_url(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"CLOUDCOLLECT_SERVE_FROM_BUCKET": False})

    assert both(app, "static", filename="a.css") == ("/static/a.css",) * 2


# Against the real SeaweedFS ----------------------------------------------------------

PREFIX = "site/v1/"
ODD_NAMES = [
    "a b.css",
    "a+b.css",
    "100%.css",
    "a#b.css",
    "a?b.css",
    "a~b (1).css",
    "café.css",
    "日本/語.css",
]


def allow_anonymous_read(bucket: Bucket, prefix: str) -> None:
    """The prefix-scoped public-read bucket policy of docs/serving.md."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket.name}/{prefix}*",
            }
        ],
    }
    bucket.client.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(policy))


def fetch(url: str, context: ssl.SSLContext | None = None) -> bytes:
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        body: bytes = response.read()
    return body


@pytest.mark.seaweedfs
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_generated_urls_fetch_the_uploaded_bytes(
    tmp_path: Path, bucket: Bucket, https: bool
) -> None:
    server = bucket.server
    endpoint = server.https_endpoint if https else server.endpoint
    files: dict[str, bytes | str] = {f"static/{name}": f"/* {name} */" for name in ODD_NAMES}
    files["admin_static/x y+z.css"] = "/* admin */"
    write_tree(tmp_path / "site", files)
    config = {
        "CLOUDCOLLECT_SERVE_FROM_BUCKET": True,
        "CLOUDCOLLECT_BUCKET": bucket.name,
        "CLOUDCOLLECT_ENDPOINT_URL": endpoint,
        "CLOUDCOLLECT_PREFIX": PREFIX,
    }
    app = make_app(tmp_path / "site", config)
    calls = [("static", name, f"static/{name}") for name in ODD_NAMES]
    calls.append(("admin.static", "x y+z.css", "admin_static/x y+z.css"))
    for _, _, relative in calls:  # the keys publish uses: prefix + Flask's URL path
        key = PREFIX + relative.replace("admin_static/", "admin/static/")
        bucket.client.put_object(
            Bucket=bucket.name, Key=key, Body=(tmp_path / "site" / relative).read_bytes()
        )
    allow_anonymous_read(bucket, PREFIX)
    context = ssl.create_default_context(cafile=str(server.ca_file)) if https else None

    for endpoint_name, filename, relative in calls:
        python, jinja = both(app, endpoint_name, filename=unicodedata.normalize("NFD", filename))
        assert python == jinja
        assert python.startswith(f"{endpoint}/{bucket.name}/{PREFIX}")
        assert fetch(python, context) == (tmp_path / "site" / relative).read_bytes(), python


@pytest.mark.seaweedfs
def test_the_public_read_policy_is_scoped_to_the_prefix(bucket: Bucket) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key=PREFIX + "public.css", Body=b"ok")
    bucket.client.put_object(Bucket=bucket.name, Key="private/secret.txt", Body=b"no")
    allow_anonymous_read(bucket, PREFIX)
    base = f"{bucket.server.endpoint}/{bucket.name}/"

    assert fetch(base + PREFIX + "public.css") == b"ok"
    with pytest.raises(urllib.error.HTTPError) as denied:
        fetch(base + "private/secret.txt")
    assert denied.value.code == 403
    denied.value.close()


def test_the_example_app_reads_its_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from examples.exampleapp import create_app

    monkeypatch.setenv("CLOUDCOLLECT_SERVE_FROM_BUCKET", "true")  # JSON for non-strings
    monkeypatch.setenv("CLOUDCOLLECT_BUCKET", "123")  # strings stay strings
    monkeypatch.setenv("CLOUDCOLLECT_WORKERS", "4")
    app = create_app({"CLOUDCOLLECT_REGION": "eu-west-1"})

    assert app_settings(app).workers == 4
    page = app.test_client().get("/admin/").text
    base = "https://123.s3.eu-west-1.amazonaws.com/"
    for key in ("static/css/site.css", "bootstrap/static/css/bootstrap.min.css"):
        assert f'href="{base}{key}"' in page
    assert f'href="{base}admin/static/admin.css"' in page  # relative '.static'
    assert f'href="{base}admin/reports/static/reports.css"' in page
