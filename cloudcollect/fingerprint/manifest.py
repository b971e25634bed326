"""The manifest format: one release maps each path (the key without the prefix,
``static/css/app.css``) to its hashed path, with a version, the release id and its time;
and where the local copy of it is written. No Flask, no boto3.

Two optional fields were added without a version bump, so a reader that predates them
(it reads only ``files``, ``release`` and ``created``) still reads new manifests, and a
new reader reads old ones (the fields are then empty):

- ``integrity``: path -> SRI digest (``sha384-<base64>``) of the bytes a browser checks
  for the hashed object: its content as stored before any content coding (a rewritten
  stylesheet's rewritten bytes; with in-place precompression the uncompressed bytes,
  since SRI is computed over the response body after content decoding).
- ``commit``: the source revision the release was built from, when the environment
  named one (``commit_from_env``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, FingerprintError
from ..jsondoc import load_json

MANIFEST_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
MANIFEST_VERSION = 1
LOCAL_MANIFEST_NAME = "cloudcollect-manifest.json"
#: Variables CI services set to the commit being built, read in this order.
COMMIT_VARIABLES = (
    "GITHUB_SHA",  # GitHub Actions
    "CI_COMMIT_SHA",  # GitLab CI, Woodpecker
    "CIRCLE_SHA1",  # CircleCI
    "BUILDKITE_COMMIT",  # Buildkite
    "BITBUCKET_COMMIT",  # Bitbucket Pipelines
    "TRAVIS_COMMIT",  # Travis CI
    "BUILD_SOURCEVERSION",  # Azure Pipelines
    "GIT_COMMIT",  # Jenkins
    "SOURCE_VERSION",  # Heroku, Scalingo
    "COMMIT_REF",  # Netlify
    "RENDER_GIT_COMMIT",  # Render
    "VERCEL_GIT_COMMIT_SHA",  # Vercel
    "SOURCE_COMMIT",  # Coolify, Dokku-style builds
)


@dataclass(frozen=True)
class Manifest:
    """One release: ``files`` maps each path (key without prefix) to its hashed path."""

    files: Mapping[str, str]
    release: str
    created: str  # ISO 8601, UTC
    version: int = MANIFEST_VERSION
    integrity: Mapping[str, str] = field(default_factory=dict)  # path -> "sha384-..."
    commit: str | None = None


def new_manifest(
    files: Mapping[str, str],
    now: datetime,
    integrity: Mapping[str, str] | None = None,
    commit: str | None = None,
) -> Manifest:
    """A manifest for ``files``; the release id sorts by time: ``20260102T030405123456Z-<8
    hex of the mapping>``."""
    now = now.astimezone(timezone.utc)
    digest = hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()
    release = now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + digest[:8]
    created = now.isoformat().replace("+00:00", "Z")
    return Manifest(dict(files), release, created, integrity=dict(integrity or {}), commit=commit)


def sri_digest(data: bytes) -> str:
    """The SRI digest (``sha384-<base64>``) of ``data``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def file_integrity(path: Path) -> str:
    """The SRI digest of a file's bytes, read in chunks."""
    sha = hashlib.sha384()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            sha.update(chunk)
    return "sha384-" + base64.b64encode(sha.digest()).decode("ascii")


def commit_from_env(environ: Mapping[str, str]) -> str | None:
    """The first non-blank value of COMMIT_VARIABLES, stripped; None when none is set."""
    for name in COMMIT_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def encode_manifest(manifest: Manifest) -> bytes:
    document: dict[str, object] = {
        "version": manifest.version,
        "release": manifest.release,
        "created": manifest.created,
        "files": dict(sorted(manifest.files.items())),
    }
    if manifest.integrity:
        document["integrity"] = dict(sorted(manifest.integrity.items()))
    if manifest.commit is not None:
        document["commit"] = manifest.commit
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def decode_manifest(data: bytes, where: str) -> Manifest:
    """Parse a manifest; FingerprintError naming ``where`` when it is not one we can read."""
    try:
        document = load_json(data)
        if document["version"] != MANIFEST_VERSION:
            raise ValueError(f"version {document['version']!r}")
        files = {str(k): str(v) for k, v in document["files"].items()}
        integrity = {str(k): str(v) for k, v in document.get("integrity", {}).items()}
        commit = document.get("commit")
        return Manifest(
            files,
            str(document["release"]),
            str(document["created"]),
            integrity=integrity,
            commit=None if commit is None else str(commit),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise FingerprintError(f"unreadable manifest {where}: {error}", path=where) from None


def local_manifest_path(manifest_path: str | None, instance_path: str) -> Path:
    """``CLOUDCOLLECT_MANIFEST_PATH``, else ``<instance_path>/cloudcollect-manifest.json``."""
    if manifest_path:
        return Path(manifest_path).expanduser()
    return Path(instance_path) / LOCAL_MANIFEST_NAME


def check_manifest_path(path: Path) -> None:
    """ConfigError naming ``CLOUDCOLLECT_MANIFEST_PATH`` when ``path`` cannot be written:
    it is a directory, or its nearest existing ancestor is not a writable directory (a
    file in the way). Creates nothing; a later failure (a full disk) is still possible."""

    def fail(why: str) -> None:
        key = "CLOUDCOLLECT_MANIFEST_PATH"
        raise ConfigError(f"{key} {str(path)!r} {why}", key=key)

    if path.is_dir():
        fail("is a directory")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        fail(f"cannot be created: {str(ancestor)!r} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        fail(f"cannot be written: {str(ancestor)!r} is not writable")
