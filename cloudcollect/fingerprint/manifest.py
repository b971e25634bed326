"""The manifest format: one release maps each path (the key without the prefix,
``static/css/app.css``) to its hashed path, with a version, the release id and its time;
and where the local copy of it is written. No Flask, no boto3.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, FingerprintError
from ..jsondoc import load_json

MANIFEST_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
MANIFEST_VERSION = 1
LOCAL_MANIFEST_NAME = "cloudcollect-manifest.json"


@dataclass(frozen=True)
class Manifest:
    """One release: ``files`` maps each path (key without prefix) to its hashed path."""

    files: Mapping[str, str]
    release: str
    created: str  # ISO 8601, UTC
    version: int = MANIFEST_VERSION


def new_manifest(files: Mapping[str, str], now: datetime) -> Manifest:
    """A manifest for ``files``; the release id sorts by time: ``20260102T030405123456Z-<8
    hex of the mapping>``."""
    now = now.astimezone(timezone.utc)
    digest = hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()
    release = now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + digest[:8]
    return Manifest(dict(files), release, now.isoformat().replace("+00:00", "Z"))


def encode_manifest(manifest: Manifest) -> bytes:
    document = {
        "version": manifest.version,
        "release": manifest.release,
        "created": manifest.created,
        "files": dict(sorted(manifest.files.items())),
    }
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def decode_manifest(data: bytes, where: str) -> Manifest:
    """Parse a manifest; FingerprintError naming ``where`` when it is not one we can read."""
    try:
        document = load_json(data)
        if document["version"] != MANIFEST_VERSION:
            raise ValueError(f"version {document['version']!r}")
        files = {str(k): str(v) for k, v in document["files"].items()}
        return Manifest(files, str(document["release"]), str(document["created"]))
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
