"""Provider presets (``CLOUDCOLLECT_PROVIDER``): what each S3-compatible store needs. Pure.

A preset only fills what you did not set: ``CLOUDCOLLECT_ADDRESSING_STYLE`` left at
``auto``, ``CLOUDCOLLECT_REGION`` unset, ``CLOUDCOLLECT_CHECKSUM_POLICY`` unset and
``CLOUDCOLLECT_LIST_VERSION`` at 0. :func:`effective` applies it; the S3 storage calls it
once, where settings become the botocore client. :func:`problems` lists settings that
contradict the provider (an ACL on R2, ``when_supported`` checksums off AWS); the settings
check turns them into a ConfigError at ``init_app``.

Where the choices come from (see the README for the sources):

- **Checksums**: ``when_required`` everywhere. botocore >= 1.36 defaults to
  ``when_supported``, which sends aws-chunked CRC32 trailers over HTTPS that R2, MinIO,
  Ceph, GCS and SeaweedFS reject or store verbatim. Only AWS itself may opt in.
- **ACLs**: R2 has none (an ``x-amz-acl`` header is not implemented there).
- **ListObjects**: GCS's S3 interoperability documents listing with the V1 ListObjects
  call only (fluxcd/source-controller#240 quotes the GCS docs); the others use V2.
- **ETags**: a single-part, non-KMS PUT has an MD5 ETag on every preset store; multipart
  ETags are never an MD5 anywhere (R2's are not even S3's MD5-of-MD5s, GCS's XML
  multipart and composite objects have none), so cloudcollect never derives an MD5 from
  them and relies on the MD5 it records in metadata and in the state object.
- **Region**: R2 and GCS sign with ``auto``; MinIO, SeaweedFS and Ceph accept
  ``us-east-1``; on AWS the default chain decides.
- **gzip**: R2 decompresses ``Content-Encoding: gzip`` objects when serving them, and GCS
  transcodes them, unless ``Cache-Control`` has ``no-transform``; those presets add it to
  every object stored gzip-encoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings

CHECKSUM_POLICIES = ("when_required", "when_supported")


@dataclass(frozen=True)
class Preset:
    """What one provider needs; see the module docstring for why."""

    addressing_style: str  # "auto": path style with an endpoint, botocore's choice on AWS
    region: str | None
    acls: bool  # whether the store implements canned ACLs
    list_version: int  # 1 or 2
    no_transform_gzip: bool  # add Cache-Control: no-transform to gzip-encoded objects
    when_supported_allowed: bool = False


PRESETS: Mapping[str, Preset] = {
    "aws": Preset("auto", None, True, 2, False, when_supported_allowed=True),
    "minio": Preset("path", "us-east-1", True, 2, False),
    "r2": Preset("path", "auto", False, 2, True),
    "seaweedfs": Preset("path", "us-east-1", True, 2, False),
    "ceph": Preset("path", "us-east-1", True, 2, False),
    "gcs": Preset("path", "auto", True, 1, True),
    "other": Preset("auto", None, True, 2, False),
}
PROVIDERS = tuple(PRESETS)


def preset(settings: Settings) -> Preset:
    """The preset of ``settings.provider`` (validated by the settings check)."""
    return PRESETS[settings.provider]


def effective(settings: Settings) -> Settings:
    """``settings`` with the provider's defaults filled in where nothing was set."""
    chosen = preset(settings)
    return replace(
        settings,
        addressing_style=(
            chosen.addressing_style
            if settings.addressing_style == "auto"
            else settings.addressing_style
        ),
        region=settings.region if settings.region is not None else chosen.region,
        checksum_policy=settings.checksum_policy or "when_required",
        list_version=settings.list_version or chosen.list_version,
    )


def problems(settings: Settings) -> list[tuple[str, str]]:
    """(setting name, message) for every setting that contradicts the provider."""
    chosen = preset(settings)
    found: list[tuple[str, str]] = []
    if settings.acl and not chosen.acls:
        found.append(("ACL", f"must be unset: {settings.provider} has no ACLs"))
    if settings.checksum_policy == "when_supported" and not chosen.when_supported_allowed:
        message = "when_supported is only allowed with CLOUDCOLLECT_PROVIDER = 'aws'"
        found.append(("CHECKSUM_POLICY", message))
    return found


def with_no_transform(cache_control: str | None) -> str:
    """``cache_control`` with ``no-transform`` added (once)."""
    if not cache_control:
        return "no-transform"
    directives = [part.strip().lower() for part in cache_control.split(",")]
    return cache_control if "no-transform" in directives else f"{cache_control}, no-transform"
