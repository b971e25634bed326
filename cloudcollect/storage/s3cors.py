"""Bucket CORS on S3: GetBucketCors and PutBucketCors over the :class:`~.transport.Transport`.

Both are bucket requests with the ``cors`` sub-resource. PutBucketCors replaces the whole
configuration and needs a Content-MD5 (both transports send one); callers merge first
(``cloudcollect.cors.merged``). Answers:

- GetBucketCors ``NoSuchCORSConfiguration`` (404): no rules, an empty list;
- ``NotImplemented`` or HTTP 501 (a store without bucket CORS):
  :class:`~cloudcollect.cors.CorsUnsupported` (exit 3);
- ``AccessDenied`` and a missing bucket: FatalStorageError (exit 3); any other failure a
  StorageError with the code and request id.

S3's limits, checked before anything is sent (:func:`check_limits`, also by a dry run):
at most :data:`MAX_RULES` rules and :data:`MAX_BYTES` bytes of XML as sent; over either
is a ConfigError (exit 2) naming ``CLOUDCOLLECT_CORS_ORIGINS`` and the limit, and nothing
is written (AWS refuses such a configuration; SeaweedFS stores it).

The XML is S3's ``CORSConfiguration`` document; the botocore transport gets the same
rules in botocore's parameter shape (:func:`document`), the fast one serialises them with
``s3wire.document_xml``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..cors import CorsRule, CorsUnsupported
from ..errors import ConfigError, FatalStorageError, StorageError
from .s3wire import document_xml
from .transport import Request, Transport, TransportError

#: S3's limits on a bucket CORS configuration: rules, and bytes of the XML document.
MAX_RULES = 100
MAX_BYTES = 64 * 1024

_UNSUPPORTED = frozenset({"NotImplemented", "501"})
_FATAL = frozenset({"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


#: CORSRule child element -> (botocore member, whether it repeats)
def read(transport: Transport, where: str) -> list[CorsRule]:
    """The bucket's CORS rules (empty when it has no configuration)."""
    try:
        answer = transport.send(Request("GetBucketCors"))
    except TransportError as error:
        if error.code == "NoSuchCORSConfiguration":
            return []
        raise _error(error, "GetBucketCors", where) from None
    return parse(answer.body)


def write(transport: Transport, rules: Sequence[CorsRule], where: str) -> None:
    """Replace the bucket's CORS configuration with ``rules`` (at least one)."""
    if not rules:
        raise ValueError("PutBucketCors needs at least one rule")
    check_limits(rules)
    try:
        transport.send(Request("PutBucketCors", document=document(rules)))
    except TransportError as error:
        raise _error(error, "PutBucketCors", where) from None


def check_limits(rules: Sequence[CorsRule]) -> None:
    """ConfigError (exit 2) when ``rules`` exceed S3's :data:`MAX_RULES` rules or
    :data:`MAX_BYTES` bytes of ``CORSConfiguration`` XML (as the fast transport sends it;
    botocore's serialisation differs by a few bytes of whitespace at most)."""
    if len(rules) > MAX_RULES:
        raise ConfigError(
            f"CLOUDCOLLECT_CORS_ORIGINS: the bucket CORS configuration would hold "
            f"{len(rules)} rules, over S3's limit of {MAX_RULES} rules: nothing written "
            "(remove rules the bucket no longer needs first)"
        )
    size = len(document_xml("PutBucketCors", document(rules)))
    if size > MAX_BYTES:
        raise ConfigError(
            f"CLOUDCOLLECT_CORS_ORIGINS: the bucket CORS configuration would be {size:,} "
            f"bytes, over S3's limit of {MAX_BYTES:,} bytes (64 KB): nothing written "
            "(list fewer origins, or one wildcard origin such as https://*.example.com)"
        )


def _error(error: TransportError, operation: str, where: str) -> StorageError:
    request = f" (request id {error.request_id})" if error.request_id else ""
    text = f"{operation} on {where}: {error.code}: {error.message}{request}"
    if error.code in _UNSUPPORTED or error.status == 501:
        message = f"{where} does not support bucket CORS ({operation} answered {error.code})"
        return CorsUnsupported(message, code=error.code, request_id=error.request_id)
    kind = FatalStorageError if error.code in _FATAL else StorageError
    return kind(text, code=error.code, request_id=error.request_id, retries=error.retries)


def parse(body: bytes) -> list[CorsRule]:
    """The rules of a ``CORSConfiguration`` document (any namespace)."""
    root = ET.fromstring(body)
    return [_rule(element) for element in root if _name(element) == "CORSRule"]


def _rule(element: ET.Element) -> CorsRule:
    values: dict[str, list[str]] = {}
    for child in element:
        values.setdefault(_name(child), []).append((child.text or "").strip())
    age = values.get("MaxAgeSeconds", [])
    return CorsRule(
        allowed_origins=tuple(values.get("AllowedOrigin", [])),
        allowed_methods=tuple(values.get("AllowedMethod", [])),
        allowed_headers=tuple(values.get("AllowedHeader", [])),
        expose_headers=tuple(values.get("ExposeHeader", [])),
        max_age_seconds=int(age[0]) if age and age[0] else None,
        id=values["ID"][0] if values.get("ID") else None,
    )


def _name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def document(rules: Sequence[CorsRule]) -> dict[str, Any]:
    """PutBucketCors's payload in botocore's parameter shape (``{"CORSRules": [...]}``)."""
    shaped = []
    for rule in rules:
        item: dict[str, Any] = {
            "AllowedOrigins": list(rule.allowed_origins),
            "AllowedMethods": list(rule.allowed_methods),
        }
        if rule.id:
            item["ID"] = rule.id
        if rule.allowed_headers:
            item["AllowedHeaders"] = list(rule.allowed_headers)
        if rule.expose_headers:
            item["ExposeHeaders"] = list(rule.expose_headers)
        if rule.max_age_seconds is not None:
            item["MaxAgeSeconds"] = rule.max_age_seconds
        shaped.append(item)
    return {"CORSRules": shaped}


@contextmanager
def transport_of(storage: Any) -> Iterator[Transport]:
    """The storage's own transport (``storage.transport``), else one opened from its
    effective settings for these requests and closed after them."""
    own: Transport | None = getattr(storage, "transport", None)
    if own is not None:
        yield own
        return
    from .opentransport import open_transport

    settings = storage.settings
    opened = open_transport(settings, getattr(settings, "transport", "auto"))
    try:
        yield opened
    finally:
        opened.close()
