"""Anonymous reads for a bucket prefix, as a browser needs them."""

from __future__ import annotations

import json

from tests.conftest import Bucket


def allow_public_read(bucket: Bucket, prefix: str) -> None:
    """The prefix-scoped bucket policy docs/serving.md recommends."""
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket.name}/{prefix}*",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    bucket.client.put_bucket_policy(Bucket=bucket.name, Policy=policy)
