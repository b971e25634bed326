"""CloudFront invalidation after a sync (``CLOUDCOLLECT_CLOUDFRONT_DISTRIBUTION_ID``).

The one exception to "only ``storage/s3.py`` imports boto3": this module creates a
CloudFront client, and is itself imported only when a distribution is configured (boto3
is already a dependency, so the "extra" is the setting). Errors go through the same
:func:`~cloudcollect.storage.s3.translate_error` as S3's.

What is invalidated: after a run that succeeded (exit 0, not a dry run or a check), the
keys that were *replaced* (uploaded with a reason other than "new") or deleted. New keys,
fingerprinted names included, were never cached. Paths are URL paths on the
distribution: the path of ``CLOUDCOLLECT_BASE_URL`` (``/`` when unset) + the key,
percent-encoded per segment exactly as ``url_for`` builds it. One CreateInvalidation
carries up to 3,000 paths (CloudFront's limit of paths in progress per distribution);
beyond that, one wildcard path for the prefix replaces them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import boto3
import botocore.exceptions as bce
from botocore.config import Config

from ..baseurl import object_url
from ..config import Settings
from ..keys import quote_key
from ..report import DELETED, UPLOADED, Report
from .s3errors import storage_error, translate_error
from .transport import credentials_error

MAX_PATHS = 3000


def changed_keys(report: Report) -> list[str]:
    """Keys a CDN may hold an old copy of: replaced or deleted in this run."""
    replaced = {o.key for o in report.with_status(UPLOADED) if o.reason != "new"}
    deleted = {o.key for o in report.with_status(DELETED)}
    return sorted(replaced | deleted)


def invalidation_paths(keys: Iterable[str], settings: Settings) -> list[str]:
    """URL paths to invalidate for ``keys``; one wildcard when there are too many."""
    base_path = urlsplit(settings.base_url or "/").path or "/"
    if not base_path.endswith("/"):
        base_path += "/"
    paths = [urlsplit(object_url(base_path, key)).path for key in keys]
    if len(paths) > MAX_PATHS:
        return [base_path + quote_key(settings.prefix) + "*"]
    return paths


def invalidate(report: Report, settings: Settings) -> None:
    """Create one invalidation for the run's changed keys; record its id in ``report``."""
    distribution = settings.cloudfront_distribution_id
    keys = changed_keys(report)
    if not distribution or not keys:
        return
    paths = invalidation_paths(keys, settings)
    config = Config(retries={"mode": "standard", "total_max_attempts": settings.max_attempts})
    try:  # the client loads the credentials as it is made
        session = boto3.session.Session(profile_name=settings.profile)
        client = session.client("cloudfront", config=config)
    except bce.BotoCoreError as error:
        raise translate_error(error, "CreateInvalidation", distribution) from None
    except Exception as error:  # a credential provider's own (see credentials_error)
        failure = credentials_error(error)
        raise storage_error(failure, "CreateInvalidation", distribution) from None
    try:
        answer = client.create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": f"cloudcollect-{time.time_ns()}",
            },
        )
    except (bce.BotoCoreError, bce.ClientError) as error:
        raise translate_error(error, "CreateInvalidation", distribution) from None
    finally:
        client.close()
    report.invalidations.append({"id": answer["Invalidation"]["Id"], "paths": len(paths)})
