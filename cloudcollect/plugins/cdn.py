"""Plug-in: one CloudFront invalidation (``CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID``) for
the keys a real run changed, once everything else finished with exit code 0. boto3 is
imported only when it runs (``cloudcollect.storage.cloudfront``).
"""

from __future__ import annotations

from ..plan import LocalAsset
from ..remote import RemoteView
from ..run import Plugin, RunContext


class CloudFrontInvalidation(Plugin):
    def finished(self, run: RunContext, assets: list[LocalAsset], remote: RemoteView) -> None:
        if run.report.exit_code != 0:
            return
        from ..storage.cloudfront import invalidate  # imports boto3

        invalidate(run.report, run.settings)
