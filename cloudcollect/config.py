"""The one table of ``CLOUDCOLLECT_*`` settings and the frozen ``Settings`` built from it.

Unknown ``CLOUDCOLLECT_*`` keys and values of the wrong type are a ConfigError that names
the key (with the closest known key for a typo). Nothing here imports Flask or boto3.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import providers
from .configtypes import HeaderRule, convert
from .errors import ConfigError
from .keys import normalize_prefix
from .values import CANNED_ACLS, problems

PREFIX = "CLOUDCOLLECT_"


def _setting(
    default: Any,
    kind: str,
    doc: str,
    *,
    choices: tuple[Any, ...] | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> Any:
    """A Settings field: its default, its kind (how config values are checked), its
    meaning, and optionally the values it may take or its smallest and largest value."""
    metadata = {
        "kind": kind,
        "doc": doc,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
    }
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


STORAGE_CHOICES = ("s3", "filesystem", "memory")
PRECOMPRESS_CODECS = ("gzip", "br")
MIB = 1024 * 1024
GIB = 1024 * MIB
#: The longest grace period: 100 years (longer ones overflow date arithmetic).
MAX_GRACE_SECONDS = 100 * 366 * 24 * 3600


@dataclass(frozen=True)
class Settings:
    """Validated settings: the one table of every ``CLOUDCOLLECT_<FIELD>`` key.

    Field ``bucket`` is config key ``CLOUDCOLLECT_BUCKET``, and so on. Kinds: ``str``,
    ``str?`` (may be None), ``bool``, ``int``, ``globs`` (list of glob strings), ``rules``
    (list of (glob, {header: value})), ``map`` (dict of str to str).
    """

    storage: str = _setting("s3", "str", "Backend: s3, filesystem, memory, or 'module:Class'.")
    bucket: str | None = _setting(None, "str?", "Bucket name (required for s3).")
    prefix: str = _setting(
        "", "str", "Key prefix, normalised to end in '/'; unset: the bucket root."
    )
    endpoint_url: str | None = _setting(None, "str?", "S3-compatible endpoint URL.")
    region: str | None = _setting(None, "str?", "Region; the AWS default chain when unset.")
    addressing_style: str = _setting(
        "auto", "str", "auto, path or virtual.", choices=("auto", "path", "virtual")
    )
    profile: str | None = _setting(None, "str?", "Named AWS profile for credentials.")
    ca_bundle: str | None = _setting(None, "str?", "CA bundle for the endpoint's TLS.")
    root: str | None = _setting(None, "str?", "Target directory of the filesystem storage.")
    serve_from_bucket: bool = _setting(False, "bool", "url_for('static') returns bucket URLs.")
    base_url: str | None = _setting(None, "str?", "Public base URL (CDN); derived if unset.")
    include: tuple[str, ...] = _setting((), "globs", "Only keys matching these globs.")
    exclude: tuple[str, ...] = _setting((), "globs", "Keys matching these globs are skipped.")
    hashed: tuple[str, ...] = _setting(
        (), "globs", "Paths already content-hashed (besides bundler manifests): kept, immutable."
    )
    workers: int = _setting(
        16, "int", "Parallel transfers and hashing threads.", minimum=1, maximum=1024
    )
    headers: tuple[HeaderRule, ...] = _setting((), "rules", "Ordered header rules.")
    cache_control: str | None = _setting("public, max-age=3600", "str?", "Default Cache-Control.")
    mime_types: Mapping[str, str] = _setting({}, "map", "{'.ext': 'type/subtype'} overrides.")
    acl: str | None = _setting(
        None, "str?", "Canned ACL, only for legacy ACL buckets.", choices=CANNED_ACLS
    )
    delete: bool = _setting(False, "bool", "Remove objects under the prefix with no source.")
    max_delete: int = _setting(1000, "int", "Refuse (exit 4) to delete more objects.", minimum=0)
    multipart_threshold: int = _setting(
        64 * MIB, "int", "Files above this use multipart.", minimum=1, maximum=5 * GIB
    )
    multipart_chunksize: int = _setting(
        16 * MIB, "int", "Multipart part size (min 5 MiB).", minimum=5 * MIB, maximum=5 * GIB
    )
    trust_etag: bool = _setting(True, "bool", "Trust plain-MD5 ETags (off for SSE-KMS).")
    hash_cache: bool = _setting(True, "bool", "Reuse MD5s of unchanged local files (user cache).")
    max_attempts: int = _setting(
        5, "int", "Attempts per request, the first included.", minimum=1, maximum=100
    )
    connect_timeout: int = _setting(
        10, "int", "Seconds to wait for a connection, per attempt.", minimum=1, maximum=3600
    )
    read_timeout: int = _setting(
        60,
        "int",
        "Seconds to wait for each read of an answer, per attempt.",
        minimum=1,
        maximum=3600,
    )
    fingerprint: bool = _setting(False, "bool", "Also publish content-hashed names + manifest.")
    manifest_path: str | None = _setting(
        None, "str?", "Local manifest file; default <instance_path>/cloudcollect-manifest.json."
    )
    manifest_source: str = _setting(
        "file", "str", "Where url_for reads it: file or bucket.", choices=("file", "bucket")
    )
    manifest_strict: bool = _setting(True, "bool", "Unknown files and references are errors.")
    rewrite_js_imports: bool = _setting(False, "bool", "Rewrite static ES-module imports too.")
    fingerprint_exclude: tuple[str, ...] = _setting(
        (), "globs", "Files kept under their plain name only: no hashed copy, not rewritten."
    )
    keep_manifests: int = _setting(
        2, "int", "Previous releases whose files cleanup keeps.", minimum=0, maximum=10_000
    )
    grace_seconds: int = _setting(
        3600,
        "int",
        "Cleanup keeps objects younger than this.",
        minimum=0,
        maximum=MAX_GRACE_SECONDS,
    )
    provider: str = _setting(
        "other",
        "str",
        "Preset: aws, minio, r2, seaweedfs, ceph, gcs, other.",
        choices=providers.PROVIDERS,
    )
    transport: str = _setting(
        "auto",
        "str",
        "S3 transport: auto, fast or botocore (see the README).",
        choices=("auto", "fast", "botocore"),
    )
    checksum_policy: str | None = _setting(
        None,
        "str?",
        "botocore checksums: when_required (preset) or when_supported (aws only).",
        choices=providers.CHECKSUM_POLICIES,
    )
    list_version: int = _setting(
        0, "int", "ListObjects version 1 or 2; 0: the provider's.", choices=(0, 1, 2)
    )
    precompress: tuple[str, ...] = _setting((), "globs", "Precompressed variants: gzip, br.")
    precompress_mode: str = _setting(
        "siblings",
        "str",
        "siblings (.gz/.br keys) or in-place.",
        choices=("siblings", "in-place"),
    )
    cors_origins: tuple[str, ...] = _setting(
        (),
        "globs",
        "Origins whose pages load fonts and module scripts from the bucket (bucket CORS).",
    )
    cloudfront_distribution_id: str | None = _setting(
        None, "str?", "Invalidate changed paths in this CloudFront distribution after a sync."
    )

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` (Settings field names) validated and applied."""
        raw = {f"{PREFIX}{name.upper()}": value for name, value in changes.items()}
        return _checked(dataclasses.replace(self, **_converted(raw)))


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    """Build Settings from a Flask config (or any mapping); other keys are ignored."""
    ours = {key: value for key, value in config.items() if key.startswith(PREFIX)}
    return _checked(Settings(**_converted(ours)))


def config_keys() -> dict[str, dataclasses.Field[Any]]:
    """Map every ``CLOUDCOLLECT_*`` key to its Settings field (default, kind, doc)."""
    return {PREFIX + field.name.upper(): field for field in dataclasses.fields(Settings)}


def _converted(config: Mapping[str, Any]) -> dict[str, Any]:
    known = config_keys()
    values: dict[str, Any] = {}
    for key, value in config.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown setting {key}{hint}", key=key)
        values[known[key].name] = convert(key, known[key].metadata["kind"], value)
    if isinstance(values.get("prefix"), str) and not normalize_prefix(values["prefix"]):
        raise ConfigError(
            f"{PREFIX}PREFIX {values['prefix']!r} is empty: leave it unset to publish at the "
            "bucket root",
            key=PREFIX + "PREFIX",
        )
    return values


def _checked(settings: Settings) -> Settings:
    def fail(name: str, message: str) -> None:
        raise ConfigError(f"{PREFIX}{name} {message}", key=PREFIX + name)

    for field in dataclasses.fields(Settings):
        value, meta = getattr(settings, field.name), field.metadata
        choices, minimum, maximum = meta["choices"], meta["minimum"], meta["maximum"]
        if choices is not None and value is not None and value not in choices:
            fail(field.name.upper(), f"must be one of {', '.join(map(str, choices))}")
        if minimum is not None and value < minimum:
            fail(field.name.upper(), f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            fail(field.name.upper(), f"must be at most {maximum}")
    for name, message in problems(settings, (f.name for f in dataclasses.fields(Settings))):
        fail(name, message)
    if settings.storage not in STORAGE_CHOICES and ":" not in settings.storage:
        fail("STORAGE", f"must be one of {', '.join(STORAGE_CHOICES)} or 'module:Class'")
    for ext in settings.mime_types:
        if not ext.startswith("."):
            fail("MIME_TYPES", f"keys must be extensions starting with '.', got {ext!r}")
    _check_provider(settings, fail)
    codecs = _check_precompress(settings, fail)
    return dataclasses.replace(
        settings, prefix=normalize_prefix(settings.prefix), precompress=codecs
    )


def _check_provider(settings: Settings, fail: Callable[[str, str], None]) -> None:
    for name, message in providers.problems(settings):
        fail(name, message)


def _check_precompress(settings: Settings, fail: Callable[[str, str], None]) -> tuple[str, ...]:
    """The codecs, normalised (``brotli`` -> ``br``), unique, in the given order."""
    codecs: list[str] = []
    for codec in settings.precompress:
        codec = {"brotli": "br"}.get(codec.lower(), codec.lower())
        if codec not in PRECOMPRESS_CODECS:
            fail("PRECOMPRESS", f"knows {', '.join(PRECOMPRESS_CODECS)}, not {codec!r}")
        if codec not in codecs:
            codecs.append(codec)
    if settings.precompress_mode == "in-place" and len(codecs) > 1:
        fail("PRECOMPRESS", "in-place mode stores one variant: choose gzip or br")
    if "br" in codecs and importlib.util.find_spec("brotli") is None:
        fail("PRECOMPRESS", "br needs the brotli package: pip install 'cloudcollect[brotli]'")
    return tuple(codecs)


def require(settings: Settings, name: str) -> Any:
    """Return setting ``name`` (a field name) or raise ConfigError when it is unset."""
    value = getattr(settings, name)
    if value in (None, ""):
        raise ConfigError(f"{PREFIX}{name.upper()} is required", key=PREFIX + name.upper())
    return value
