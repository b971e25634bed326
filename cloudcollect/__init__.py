"""cloudcollect: publish a Flask app's static files to S3-compatible storage, serve them there.

Public API::

    CloudCollect(app)            # the Flask extension (url_for switch, settings check)
    publish(app) -> Report       # what `flask cloudcollect` runs
    MemoryStorage()              # in-memory storage for tests
    static_integrity(endpoint, filename)  # SRI value (also a Jinja global)
"""

from typing import TYPE_CHECKING

from .lazyexports import lazy_exports

if TYPE_CHECKING:
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

#: Imported on first use: ``flask`` imports this package for every command it runs.
if not TYPE_CHECKING:  # mypy reads the imports above; a __getattr__ would hide typos
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "CloudCollect": ".extension",
            "CloudCollectError": ".errors",
            "ConfigError": ".errors",
            "DeleteFailure": ".storage.base",
            "DeletionRefused": ".errors",
            "FatalStorageError": ".errors",
            "FingerprintError": ".errors",
            "Interrupted": ".errors",
            "InvalidKeyError": ".errors",
            "MemoryStorage": ".storage.memory",
            "Outcome": ".report",
            "RemoteObject": ".storage.base",
            "Report": ".report",
            "Settings": ".config",
            "Storage": ".storage.base",
            "StorageError": ".errors",
            "publish": ".pipeline",
            "settings_from_config": ".config",
            "static_integrity": ".integrity",
        },
    )
