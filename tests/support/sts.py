"""Temporary credentials issued by SeaweedFS's own STS (``SeaweedServer(sts=True)``).

SeaweedFS (4.4x) runs an STS beside its S3 API when ``-s3.iam.config`` names a file with an
``sts`` section (issuer, token lifetimes, the key that signs its session tokens), IAM
``policies`` and ``roles``. ``AssumeRole``, signed by the server's static identity and sent
to the S3 endpoint itself, then returns an access key id (``ASIA...``), a secret and a
session token (a JWT signed with that key). The S3 API accepts requests signed with the
three together, and answers InvalidAccessKeyId to a session token it did not sign, to an
altered one, and to the key id and secret without their token.

The signing key is random per server: a token from one server means nothing to another.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.seaweed import SeaweedServer

#: The one role of the config: every S3 action on every bucket, assumable by any identity
#: the server knows (the static test identity is the only one).
ROLE_ARN = "arn:aws:iam::role/CloudCollectPublisher"
POLICY = "CloudCollectPublish"
#: The longest session the config allows (12 hours), so a long benchmark never outlives it.
MAX_SECONDS = 12 * 3600


def iam_config(signing_key: bytes) -> dict[str, Any]:
    """The ``-s3.iam.config`` document: STS on, one policy, one role that trusts everyone
    the server authenticates. ``signing_key`` must be at least 32 bytes."""
    allow_all = {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}
    trust = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole"]}
    return {
        "sts": {
            "tokenDuration": "1h",
            "maxSessionLength": f"{MAX_SECONDS}s",
            "issuer": "cloudcollect-test-sts",
            "signingKey": base64.b64encode(signing_key).decode("ascii"),
        },
        "policies": [
            {"name": POLICY, "document": {"Version": "2012-10-17", "Statement": [allow_all]}}
        ],
        "roles": [
            {
                "roleName": ROLE_ARN.rsplit("/", 1)[1],
                "roleArn": ROLE_ARN,
                "attachedPolicies": [POLICY],
                "trustPolicy": {"Version": "2012-10-17", "Statement": [trust]},
            }
        ],
    }


def write_iam_config(directory: Path) -> Path:
    """Write the config with a fresh random signing key under ``directory`` (readable by
    its owner only); return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "iam.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(iam_config(secrets.token_bytes(32)), indent=2))
    return path


def session_credentials(
    server: SeaweedServer, *, seconds: int = 3600, session: str = "cloudcollect"
) -> dict[str, str]:
    """Assume :data:`ROLE_ARN` on ``server`` (started with ``sts=True``) with its static
    identity; return the environment a client needs: ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` and ``AWS_DEFAULT_REGION``.

    ``seconds``: the session's lifetime, 900 to :data:`MAX_SECONDS`. Raises botocore's
    ClientError (AccessDenied / InvalidAccessKeyId) when the server has no STS.
    """
    import boto3
    from botocore.config import Config

    static = server.env()
    client = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        aws_access_key_id=static["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=static["AWS_SECRET_ACCESS_KEY"],
        region_name=static["AWS_DEFAULT_REGION"],
        config=Config(retries={"total_max_attempts": 3}),
    )
    answer = client.assume_role(RoleArn=ROLE_ARN, RoleSessionName=session, DurationSeconds=seconds)
    issued = answer["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
        "AWS_SESSION_TOKEN": issued["SessionToken"],
        "AWS_DEFAULT_REGION": static["AWS_DEFAULT_REGION"],
    }
