"""cloudcollect: publish a Flask app's static files to S3-compatible storage, serve them there.

Public API::

    CloudCollect(app)            # the Flask extension (url_for switch, settings check)
    publish(app) -> Report       # what `flask cloudcollect` runs
    MemoryStorage()              # in-memory storage for tests
    static_integrity(endpoint, filename)  # SRI value (also a Jinja global)
"""

from .config import Settings, settings_from_config
from .errors import (
    CloudCollectError,
    ConfigError,
    DeletionRefused,
    FatalStorageError,
    FingerprintError,
    Interrupted,
    InvalidKeyError,
    StorageError,
)
from .extension import CloudCollect
from .integrity import static_integrity
from .pipeline import publish
from .report import Outcome, Report
from .storage.base import DeleteFailure, RemoteObject, Storage
from .storage.memory import MemoryStorage

__all__ = [
    "CloudCollect",
    "CloudCollectError",
    "ConfigError",
    "DeleteFailure",
    "DeletionRefused",
    "FatalStorageError",
    "FingerprintError",
    "Interrupted",
    "InvalidKeyError",
    "MemoryStorage",
    "Outcome",
    "RemoteObject",
    "Report",
    "Settings",
    "Storage",
    "StorageError",
    "publish",
    "settings_from_config",
    "static_integrity",
]
