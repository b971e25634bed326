"""Names: the hashed name of a file and where cloudcollect's own objects live in the bucket.

- ``hashed_name("css/app.css", md5)`` is ``css/app.<first 12 hex of md5>.css`` (appended
  when the name has no extension: ``LICENSE.<12 hex>``).
- Own objects live under ``<prefix>.cloudcollect/``: the current manifest and the history
  of releases (``manifests/<release>.json``). Pure; imports nothing of cloudcollect.
"""

from __future__ import annotations

HASH_LENGTH = 12
OWN_FOLDER = ".cloudcollect/"
CURRENT_MANIFEST = OWN_FOLDER + "manifest.json"
HISTORY_FOLDER = OWN_FOLDER + "manifests/"
#: Precompressed siblings (cloudcollect.compress): kept while the file they belong to is.
VARIANT_SUFFIXES = (".gz", ".br")


def hashed_name(path: str, md5: str) -> str:
    """``path`` with ``.<12 hex>`` before its last extension (appended when it has none)."""
    folder, slash, name = path.rpartition("/")
    stem, dot, extension = name.rpartition(".")
    digest = md5[:HASH_LENGTH]
    hashed = f"{stem}.{digest}.{extension}" if dot and stem else f"{name}.{digest}"
    return f"{folder}{slash}{hashed}"


def current_manifest_key(prefix: str) -> str:
    return prefix + CURRENT_MANIFEST


def history_key(prefix: str, release: str) -> str:
    return f"{prefix}{HISTORY_FOLDER}{release}.json"


def release_of(key: str, prefix: str) -> str | None:
    """The release id of a history key, or None for any other key."""
    folder = prefix + HISTORY_FOLDER
    if key.startswith(folder) and key.endswith(".json") and "/" not in key[len(folder) :]:
        return key[len(folder) : -len(".json")]
    return None
