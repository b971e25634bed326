"""A memory storage that writes the collector's thresholds, as its run sees them when the
listing starts, to the file named by ``GC_PROBE_FILE``: how a test observes what a
command or ``publish()`` set for the run, also in a ``flask`` subprocess."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from pathlib import Path

from cloudcollect.baseurl import derive_base_url
from cloudcollect.config import Settings
from cloudcollect.storage import MemoryStorage, RemoteObject


class GcProbeStorage(MemoryStorage):
    @classmethod
    def from_settings(cls, settings: Settings) -> GcProbeStorage:
        return cls(derive_base_url(settings))

    def list(self, prefix: str) -> Iterator[RemoteObject]:
        Path(os.environ["GC_PROBE_FILE"]).write_text(json.dumps(gc.get_threshold()))
        return super().list(prefix)
