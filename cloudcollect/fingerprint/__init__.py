"""Fingerprinting (content-hashed names and the manifest), split by job; each module
imports only the ones listed before it (and modules outside this package):

- ``names``: ``hashed_name`` and where own objects live (``.cloudcollect/...``).
- ``manifest``: the manifest format and where its local copy is written.
- ``refgraph``: the references between stylesheets/scripts and their dependency order.
- ``copies``: ``fingerprint_assets``, the hashed copies (rewritten where they refer to others).
- ``cleanup``: which old objects a release-aware cleanup may remove.
- ``resolver``: the url_for side, ``ManifestResolver``.

The names below are re-exported for callers that import from ``cloudcollect.fingerprint``.
"""

from ..headers import IMMUTABLE
from .cleanup import kept_releases, removable
from .copies import fingerprint_assets
from .manifest import (
    LOCAL_MANIFEST_NAME,
    MANIFEST_HEADERS,
    MANIFEST_VERSION,
    Manifest,
    check_manifest_path,
    decode_manifest,
    encode_manifest,
    local_manifest_path,
    new_manifest,
)
from .names import (
    CURRENT_MANIFEST,
    HASH_LENGTH,
    HISTORY_FOLDER,
    OWN_FOLDER,
    VARIANT_SUFFIXES,
    current_manifest_key,
    hashed_name,
    history_key,
    release_of,
)
from .refgraph import REWRITE_LIMIT
from .resolver import ManifestResolver

__all__ = [
    "CURRENT_MANIFEST",
    "HASH_LENGTH",
    "HISTORY_FOLDER",
    "IMMUTABLE",
    "LOCAL_MANIFEST_NAME",
    "MANIFEST_HEADERS",
    "MANIFEST_VERSION",
    "OWN_FOLDER",
    "REWRITE_LIMIT",
    "VARIANT_SUFFIXES",
    "Manifest",
    "ManifestResolver",
    "check_manifest_path",
    "current_manifest_key",
    "decode_manifest",
    "encode_manifest",
    "fingerprint_assets",
    "hashed_name",
    "history_key",
    "kept_releases",
    "local_manifest_path",
    "new_manifest",
    "release_of",
    "removable",
]
