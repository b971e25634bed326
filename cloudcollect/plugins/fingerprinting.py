"""Plug-in: fingerprinting (``CLOUDCOLLECT_FINGERPRINT``); the release itself is
``cloudcollect.release.Release``.

- ``start``: ConfigError when the local manifest path cannot be written.
- ``derive``: the hashed copies join the assets (the release is dated by the run's clock).
- ``remote``: cloudcollect's own objects (manifests) leave the view the plan compares with.
- ``plan``: the manifest is settled (the SRI plug-in recorded its digests in ``remote``);
  with ``--delete``, the deletions are cut to what no kept release uses.
- ``uploaded``: verify the hashed keys, then publish the manifest last.
- ``close``: remove the work directory; after a real run, url_for reads the new manifest.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..fingerprint.manifest import check_manifest_path, local_manifest_path
from ..plan import LocalAsset, Plan
from ..release import Release
from ..remote import RemoteView, listing_roots
from ..run import Found, Plugin, RunContext


class Fingerprinting(Plugin):
    def __init__(self) -> None:
        self.release: Release | None = None

    def start(self, run: RunContext) -> None:
        check_manifest_path(self._local(run))

    def derive(self, run: RunContext, found: Found, assets: list[LocalAsset]) -> list[LocalAsset]:
        settings = run.settings.replace(manifest_path=str(self._local(run)))
        roots = listing_roots(found.discovery.sources, settings.prefix)
        self.release = Release(settings, run.storage, run.report, run.now(), found.hashed, roots)
        return self.release.derive(assets)

    def remote(self, run: RunContext, remote: RemoteView) -> RemoteView:
        assert self.release is not None
        return replace(remote, objects=self.release.take_own(remote.objects, remote.listed))

    def plan(self, run: RunContext, plan: Plan, remote: RemoteView) -> Plan:
        assert self.release is not None
        self.release.settle()
        return self.release.cleanup(plan, remote.objects) if run.settings.delete else plan

    def uploaded(self, run: RunContext) -> None:
        assert self.release is not None
        self.release.finish(run.before_write)  # verify, then the manifest last

    def close(self, run: RunContext) -> None:
        if self.release is None:
            return
        self.release.close()
        if not run.dry_run:
            from ..urls import reload_manifest  # the app's url_for, above the run

            reload_manifest(run.app)

    @staticmethod
    def _local(run: RunContext) -> Path:
        """``CLOUDCOLLECT_MANIFEST_PATH``, else ``<instance_path>/cloudcollect-manifest.json``."""
        return local_manifest_path(run.settings.manifest_path, run.app.instance_path)
