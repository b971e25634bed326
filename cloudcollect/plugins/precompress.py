"""Plug-in: precompression (``CLOUDCOLLECT_PRECOMPRESS``, ``cloudcollect.compress``).

``start``: ConfigError when the storage keeps no headers (a variant needs its
Content-Encoding). ``derive``: adds each compressible asset's ``.gz``/``.br`` variants (a
file on disk with a variant's key wins). ``upload_work``: a variant is compressed into a
temporary file just before its upload. With the setting empty every hook is a no-op.
"""

from __future__ import annotations

from ..compress import add_variants, check_storage, compressing
from ..plan import LocalAsset
from ..run import Found, Plugin, RunContext, Work


class Precompression(Plugin):
    def start(self, run: RunContext) -> None:
        check_storage(run.settings, run.storage.stores_headers)

    def derive(self, run: RunContext, found: Found, assets: list[LocalAsset]) -> list[LocalAsset]:
        on_disk = (file.key for file in found.discovery.files)
        return add_variants(assets, run.settings, run.report.warn, on_disk)

    def upload_work(self, run: RunContext, work: Work) -> Work:
        return compressing(work, run.settings)
