"""The url_for switch: static URLs point at the bucket, the CDN or the collected directory.

With ``CLOUDCOLLECT_SERVE_FROM_BUCKET = True``, ``url_for`` returns base URL + key for the
endpoints ``static``, ``<blueprint>.static`` (nested names included) and, inside a
blueprint's request, relative ``.static``. The key is exactly the one ``flask cloudcollect``
uploads: prefix + the URL path of the endpoint's rule in ``app.url_map``, NFC-normalised and
percent-encoded per segment (``+`` -> ``%2B``). Every other endpoint is left to Flask.

Both sides are switched: ``flask.url_for`` (which calls ``current_app.url_for`` since
Flask 2.2, so Python code, JSON APIs, e-mails and other extensions get bucket URLs too) and
the Jinja global ``url_for`` (bound when ``app.jinja_env`` is created, so it is refreshed
when the environment already exists at ``init_app``).

Toggles:

- off by default; the switch is the config bool, read once at ``init_app``. Keep it off in
  development and tests by not setting it, or set it from the environment in production
  (``app.config.from_prefixed_env()`` reads ``FLASK_CLOUDCOLLECT_SERVE_FROM_BUCKET=true``).
- ``url_for("static", filename="x.css", _cloudcollect=False)`` returns Flask's own
  app-local URL for one call, whether the switch is on or off (in Python and in Jinja).

With ``CLOUDCOLLECT_FINGERPRINT`` on as well, the key is the content-hashed one from the
manifest (``static/css/app.3f9a1c2b7d4e.css``), read on first use from the local file
``flask cloudcollect`` writes (``CLOUDCOLLECT_MANIFEST_SOURCE = "file"``, the default) or
from the storage (``"bucket"``). Strict mode (``CLOUDCOLLECT_MANIFEST_STRICT``, default)
raises FingerprintError for a file the manifest does not list, matched case-sensitively;
lenient mode falls back to the plain key.

Arguments keep their Flask meaning: unknown values become the query string, ``_anchor`` the
fragment, ``_method`` selects the rule. An absolute base URL gives absolute URLs whatever
``_external`` says, and ``_scheme`` replaces its scheme. A ``//host/`` base gets the request's
scheme (or ``_scheme``) when the URL is external; a ``/path/`` base gets the app's host
and scheme then, as Flask's own external URLs do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from flask import Flask, has_request_context, request
from werkzeug.routing import BuildError, MapAdapter

from .appstate import app_settings
from .baseurl import derive_base_url, object_url
from .config import Settings
from .errors import ConfigError
from .filters import Filters
from .fingerprint.manifest import local_manifest_path
from .fingerprint.names import current_manifest_key
from .fingerprint.resolver import ManifestResolver
from .keys import normalize
from .sources import StaticEndpoints, is_static_endpoint

LOCAL_FLAG = "_cloudcollect"
"""Pass ``_cloudcollect=False`` to ``url_for`` to get the app-local URL for one call."""

# What Flask's own url_for leaves unquoted in ``_anchor``.
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"
_FLASK_OPTIONS = frozenset({"_anchor", "_method", "_scheme", "_external"})

UrlFor = Callable[..., str]


def install_url_for(app: Flask) -> None:
    """Install the url_for switch on ``app`` (called by ``CloudCollect.init_app``).

    ``app.url_for`` is wrapped on the instance, so ``flask.url_for`` and the Jinja global
    share it; the wrapper is installed even with the switch off, to accept
    ``_cloudcollect=False``. Raises ConfigError when the switch is on and no base URL can
    be made from the settings.
    """
    settings = app_settings(app)
    base_url = serving_base_url(settings) if settings.serve_from_bucket else None
    url_for = _SwitchedUrlFor(app, app.url_for, base_url, settings)
    if base_url is not None and settings.fingerprint:
        url_for.resolver = manifest_resolver(app, settings)
    url_for.endpoints.warn_unresolved()  # those registered so far; later ones on first use
    setattr(app, "url_for", url_for)  # noqa: B010 - an instance attribute shadows the method
    if "jinja_env" in app.__dict__:  # created already: its global holds the old method
        app.jinja_env.globals["url_for"] = url_for


def manifest_resolver(app: Flask, settings: Settings) -> ManifestResolver:
    """Where url_for reads the manifest (``CLOUDCOLLECT_MANIFEST_SOURCE``): the local file
    ``flask cloudcollect`` writes, or the bucket's current manifest. Read on first use
    (so the CLI starts before any release exists) and kept until ``reload_manifest``."""
    if settings.manifest_source == "file":
        path = local_manifest_path(settings.manifest_path, app.instance_path)

        def read_file() -> bytes | None:
            return path.read_bytes() if path.is_file() else None

        return ManifestResolver(read_file, str(path), settings.manifest_strict)
    key = current_manifest_key(settings.prefix)

    def read_bucket() -> bytes | None:
        from .storage import open_storage  # imports boto3 only when s3 is used

        storage = open_storage(settings)
        try:
            return storage.get(key)
        finally:
            storage.close()

    return ManifestResolver(read_bucket, f"{key!r} in the storage", settings.manifest_strict)


def switched_url_for(app: Flask) -> _SwitchedUrlFor | None:
    """``app``'s url_for switch, when ``init_app`` installed one."""
    url_for = app.__dict__.get("url_for")
    return url_for if isinstance(url_for, _SwitchedUrlFor) else None


def reload_manifest(app: Flask) -> None:
    """Make ``app``'s url_for read its manifest again on next use (after a release)."""
    url_for = app.__dict__.get("url_for")
    if isinstance(url_for, _SwitchedUrlFor) and url_for.resolver is not None:
        url_for.resolver.reload()


def public_url(app: Flask, settings: Settings, endpoint: str, filename: str = "") -> str:
    """The URL ``url_for(endpoint, filename=filename)`` returns in a request with the switch
    on, whether ``app`` turns it on or not (``flask cloudcollect url``, the ``base`` of a
    bundler build). A directory (``"dist/"``, ``""``) keeps its trailing slash and is never
    looked up in the fingerprint manifest; a file is, when ``settings.fingerprint`` is on.

    ConfigError when no base URL can be made, or when ``endpoint`` is not a static
    endpoint cloudcollect publishes.
    """
    current = app.__dict__.get("url_for")
    original = current.original if isinstance(current, _SwitchedUrlFor) else app.url_for
    url_for = _SwitchedUrlFor(app, original, serving_base_url(settings), settings)
    if not is_static_endpoint(endpoint) or url_for.endpoints.url_prefixes(endpoint) is None:
        raise ConfigError(f"{endpoint!r} is not a static endpoint that cloudcollect publishes")
    if settings.fingerprint:
        url_for.resolver = manifest_resolver(app, settings)
    with app.test_request_context():
        return url_for(endpoint, filename=filename)


def serving_base_url(settings: Settings) -> str:
    """The base URL static URLs start with; ConfigError naming the missing key."""
    if settings.base_url:
        return derive_base_url(settings)
    if settings.storage != "s3":
        raise ConfigError(
            "CLOUDCOLLECT_SERVE_FROM_BUCKET needs CLOUDCOLLECT_BASE_URL with the "
            f"{settings.storage!r} storage: the URL where its files are served",
            key="CLOUDCOLLECT_BASE_URL",
        )
    if not settings.bucket:
        raise ConfigError(
            "CLOUDCOLLECT_SERVE_FROM_BUCKET needs CLOUDCOLLECT_BUCKET "
            "(or CLOUDCOLLECT_BASE_URL for a CDN or custom domain)",
            key="CLOUDCOLLECT_BUCKET",
        )
    return derive_base_url(settings)


class _SwitchedUrlFor:
    """``app.url_for`` with the switch: bucket URLs for static endpoints, Flask's otherwise."""

    def __init__(
        self, app: Flask, original: UrlFor, base_url: str | None, settings: Settings
    ) -> None:
        self.app = app
        self.original = original
        self.base_url = base_url
        self.prefix = settings.prefix
        self.skipped = Filters(settings.include, settings.exclude).reason
        self.endpoints = StaticEndpoints(app)
        self.__doc__ = original.__doc__
        self._adapter: MapAdapter | None = None
        self.resolver: ManifestResolver | None = None  # set when fingerprinting is on

    def __call__(self, endpoint: str, /, **values: Any) -> str:
        serve = values.pop(LOCAL_FLAG, True)
        if self.base_url is None or not serve:
            return self.original(endpoint, **values)
        absolute_endpoint = _absolute_endpoint(endpoint)
        if not is_static_endpoint(absolute_endpoint):
            return self.original(endpoint, **values)
        url_prefixes = self.endpoints.url_prefixes(absolute_endpoint)
        if url_prefixes is None:  # not published: Flask serves it (or reports the error)
            return self.original(endpoint, **values)
        try:
            local = self._local_url(absolute_endpoint, values)
        except BuildError:
            return self.original(endpoint, **values)  # Flask reports or handles the error
        parts = urlsplit(local)
        path = normalize(unquote(parts.path)).lstrip("/")  # undo werkzeug's quoting first
        if self._filtered_out(path, url_prefixes):
            return self.original(endpoint, **values)
        url = self._bucket_url(path, parts.query, values, endpoint)
        anchor = values.get("_anchor")
        if anchor is not None:
            url += "#" + quote(anchor, safe=_ANCHOR_SAFE)
        return url

    def published_path(self, endpoint: str, filename: str) -> str | None:
        """The path (key without prefix, before the manifest) where ``url_for(endpoint,
        filename=filename)`` points in the storage; None when Flask serves it (switch
        off, not a published endpoint, or filtered out)."""
        absolute = _absolute_endpoint(endpoint)
        if self.base_url is None or not is_static_endpoint(absolute):
            return None
        url_prefixes = self.endpoints.url_prefixes(absolute)
        if url_prefixes is None:
            return None
        try:
            local = self._local_url(absolute, {"filename": filename})
        except BuildError:
            return None
        path = normalize(unquote(urlsplit(local).path)).lstrip("/")
        return None if self._filtered_out(path, url_prefixes) else path

    def _local_url(self, endpoint: str, values: dict[str, Any]) -> str:
        """Flask's own URL of the rule, from the root: ``/static/x.css?v=1``."""
        if self._adapter is None:  # build() refreshes the map: later rules are seen
            self._adapter = self.app.url_map.bind("localhost")
        rule_values = {k: v for k, v in values.items() if k not in _FLASK_OPTIONS}
        self.app.inject_url_defaults(endpoint, rule_values)
        return self._adapter.build(endpoint, rule_values, method=values.get("_method"))

    def _filtered_out(self, path: str, url_prefixes: tuple[str, ...]) -> bool:
        """Whether the collector's filters skip the file at ``path`` (key without prefix):
        then it is not published and keeps its app URL. Names only, no disk access; a
        directory URL (``filename=""``, ``"css/"``) is never filtered out."""
        if not path or path.endswith("/"):
            return False
        url_prefix = max((p for p in url_prefixes if path.startswith(p)), key=len, default="")
        return self.skipped(path, path[len(url_prefix) :]) is not None

    def _bucket_url(self, path: str, query: str, values: dict[str, Any], endpoint: str) -> str:
        assert self.base_url is not None
        scheme: str | None = values.get("_scheme")
        external: bool | None = values.get("_external")
        if external is None:
            external = scheme is not None or not has_request_context()
        if scheme is not None and not external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        if self.resolver is not None and path and not path.endswith("/"):
            path = self.resolver.resolve(path)  # the hashed name from the manifest
        url = object_url(self.base_url, self.prefix + path)
        if external:
            url = self._external(url, scheme, endpoint, values)
        return f"{url}?{query}" if query else url

    def _external(self, url: str, scheme: str | None, endpoint: str, values: Any) -> str:
        if url.startswith("//"):  # protocol-relative base
            return f"{scheme or _current_scheme(self.app)}:{url}"
        if url.startswith("/"):  # a path on the app's own host: take Flask's host
            own = urlsplit(self.original(endpoint, **{**values, "_external": True}))
            return f"{scheme or own.scheme}://{own.netloc}{url}"
        if scheme is not None:
            return scheme + url[url.index(":") :]
        return url


def _absolute_endpoint(endpoint: str) -> str:
    """Resolve ``.static`` against the current request's blueprint, as Flask does."""
    if endpoint[:1] != ".":
        return endpoint
    blueprint = request.blueprint if has_request_context() else None
    return f"{blueprint}{endpoint}" if blueprint else endpoint[1:]


def _current_scheme(app: Flask) -> str:
    if has_request_context():
        return request.scheme
    return str(app.config["PREFERRED_URL_SCHEME"])
