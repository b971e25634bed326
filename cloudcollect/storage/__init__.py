"""Storage backends and :func:`open_storage`, which picks one from the settings.

``CLOUDCOLLECT_STORAGE`` is ``s3`` (the default), ``filesystem``, ``memory`` or an import
path ``"package.module:Class"``: such a class is built with ``Class.from_settings(settings)``
when it has that class method, else ``Class(settings)``. The s3 backend is imported only
when chosen, so ``import cloudcollect`` does not import boto3.
"""

from __future__ import annotations

import importlib

from ..baseurl import derive_base_url
from ..config import Settings
from ..errors import ConfigError
from .base import DeleteFailure, RemoteObject, Storage
from .memory import MemoryStorage

__all__ = ["DeleteFailure", "MemoryStorage", "RemoteObject", "Storage", "open_storage"]


def open_storage(settings: Settings) -> Storage:
    """Build the storage that ``settings.storage`` names; ConfigError if it cannot."""
    if settings.storage == "s3":
        from .s3 import S3Storage

        return S3Storage.from_settings(settings)
    if settings.storage == "filesystem":
        from .filesystem import FilesystemStorage

        return FilesystemStorage.from_settings(settings)
    if settings.storage == "memory":
        return MemoryStorage(derive_base_url(settings))
    return _custom_storage(settings)


def _custom_storage(settings: Settings) -> Storage:
    module_name, _, class_name = settings.storage.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        message = f"CLOUDCOLLECT_STORAGE {settings.storage!r} cannot be imported: {error}"
        raise ConfigError(message, key="CLOUDCOLLECT_STORAGE") from None
    factory = getattr(cls, "from_settings", None)
    storage = factory(settings) if callable(factory) else cls(settings)
    if not isinstance(storage, Storage):
        message = f"CLOUDCOLLECT_STORAGE {settings.storage!r} does not implement Storage"
        raise ConfigError(message, key="CLOUDCOLLECT_STORAGE")
    return storage
