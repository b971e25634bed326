"""Fingerprinting (content-hashed names and the manifest), split by job; each module
imports only the ones listed before it (and modules outside this package):

- ``names``: ``hashed_name`` and where own objects live (``.cloudcollect/...``).
- ``manifest``: the manifest format and where its local copy is written.
- ``refgraph``: the references between stylesheets/scripts and their dependency order.
- ``copies``: ``fingerprint_assets``, the hashed copies (rewritten where they refer to others).
- ``cleanup``: which old objects a release-aware cleanup may remove.
- ``resolver``: the url_for side, ``ManifestResolver``.

The names below are re-exported, on first use, for callers that import from
``cloudcollect.fingerprint``.
"""

from typing import TYPE_CHECKING

from ..lazyexports import lazy_exports

if TYPE_CHECKING:
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

#: Imported on first use: importing ``names`` or ``manifest`` does not import ``copies``.
if not TYPE_CHECKING:  # mypy reads the imports above; a __getattr__ would hide typos
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "CURRENT_MANIFEST": ".names",
            "HASH_LENGTH": ".names",
            "HISTORY_FOLDER": ".names",
            "IMMUTABLE": "..headers",
            "LOCAL_MANIFEST_NAME": ".manifest",
            "MANIFEST_HEADERS": ".manifest",
            "MANIFEST_VERSION": ".manifest",
            "Manifest": ".manifest",
            "ManifestResolver": ".resolver",
            "OWN_FOLDER": ".names",
            "REWRITE_LIMIT": ".refgraph",
            "VARIANT_SUFFIXES": ".names",
            "check_manifest_path": ".manifest",
            "current_manifest_key": ".names",
            "decode_manifest": ".manifest",
            "encode_manifest": ".manifest",
            "fingerprint_assets": ".copies",
            "hashed_name": ".names",
            "history_key": ".names",
            "kept_releases": ".cleanup",
            "local_manifest_path": ".manifest",
            "new_manifest": ".manifest",
            "release_of": ".names",
            "removable": ".cleanup",
        },
    )
