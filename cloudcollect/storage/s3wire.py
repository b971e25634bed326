"""S3's wire format where both transports need the same answer: query strings, the XML
documents of CompleteMultipartUpload and DeleteObjects, and error answers. Pure.
"""

from __future__ import annotations

import http.client
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from .transport import SUBRESOURCES, Request

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: CORSRule children: (XML tag, botocore member, whether it repeats).
CORS_FIELDS = (
    ("ID", "ID", False),
    ("AllowedHeader", "AllowedHeaders", True),
    ("AllowedMethod", "AllowedMethods", True),
    ("AllowedOrigin", "AllowedOrigins", True),
    ("ExposeHeader", "ExposeHeaders", True),
    ("MaxAgeSeconds", "MaxAgeSeconds", False),
)

#: An answer body whose root element is <Error> (S3 can answer 200 with one).
_ERROR_DOCUMENT = re.compile(rb"\s*(<\?xml[^>]*\?>\s*)?<Error[\s>]")
#: What SigV4 leaves unencoded in a query string (RFC 3986 unreserved).
_QUERY_SAFE = "-_.~"


def query_string(request: Request) -> str:
    """The request's query, sub-resource included, encoded as SigV4 signs it (sorted;
    a bare sub-resource is sent as ``uploads``, without ``=``)."""
    pairs = {**SUBRESOURCES.get(request.operation, {}), **request.query}
    encoded = sorted(
        (quote(name, safe=_QUERY_SAFE), quote(value, safe=_QUERY_SAFE))
        for name, value in pairs.items()
    )
    return "&".join(f"{name}={value}" if value else name for name, value in encoded)


def document_xml(operation: str, document: Mapping[str, Any]) -> bytes:
    """The XML body of CompleteMultipartUpload (``{"Parts": [{"PartNumber", "ETag"}]}``),
    DeleteObjects (``{"Objects": [{"Key"}], "Quiet": bool}``) or PutBucketCors
    (``{"CORSRules": [...]}``, see ``s3cors``)."""
    if operation == "CompleteMultipartUpload":
        parts = "".join(
            f"<Part><PartNumber>{int(part['PartNumber'])}</PartNumber>"
            f"<ETag>{escape(str(part['ETag']))}</ETag></Part>"
            for part in document["Parts"]
        )
        xml = f'<CompleteMultipartUpload xmlns="{S3_XMLNS}">{parts}</CompleteMultipartUpload>'
    elif operation == "DeleteObjects":
        objects = "".join(
            f"<Object><Key>{_xml_text(str(item['Key']))}</Key></Object>"
            for item in document["Objects"]
        )
        quiet = "<Quiet>true</Quiet>" if document.get("Quiet") else ""
        xml = f'<Delete xmlns="{S3_XMLNS}">{objects}{quiet}</Delete>'
    elif operation == "PutBucketCors":
        return _cors_xml(document)
    else:
        raise ValueError(f"{operation} has no XML document")
    return xml.encode("utf-8")


def _cors_xml(shaped: Mapping[str, Any]) -> bytes:
    """The ``CORSConfiguration`` XML of PutBucketCors's payload (``s3cors.document``)."""
    rules = []
    for rule in shaped["CORSRules"]:
        children = []
        for tag, member, repeats in CORS_FIELDS:
            if member not in rule:
                continue
            for value in rule[member] if repeats else [rule[member]]:
                children.append(f"<{tag}>{escape(str(value))}</{tag}>")
        rules.append("<CORSRule>" + "".join(children) + "</CORSRule>")
    xml = f'<CORSConfiguration xmlns="{S3_XMLNS}">{"".join(rules)}</CORSConfiguration>'
    return xml.encode("utf-8")


def _xml_text(text: str) -> str:
    """Escape for XML text, characters XML 1.0 cannot carry as references too (``\\r``
    would otherwise be read back as ``\\n``)."""
    escaped = escape(text)
    return "".join(f"&#{ord(c)};" if c in "\r\t" else c for c in escaped)


def is_error_document(body: bytes) -> bool:
    """Whether a 2xx body is an ``<Error>`` document (botocore retries those as a 500)."""
    return bool(_ERROR_DOCUMENT.match(body))


def parse_error(status: int, body: bytes) -> tuple[str, str, str | None]:
    """(code, message, request id) of an S3 error answer; without an XML body, as botocore
    does: the status as the code and its reason phrase as the message."""
    try:
        root = ET.fromstring(body) if body.strip() else None
    except ET.ParseError:
        root = None
    fields: dict[str, str] = {}
    if root is not None:
        for element in root.iter():
            fields.setdefault(element.tag.rpartition("}")[2], (element.text or "").strip())
    code = fields.get("Code") or str(status)
    message = fields.get("Message") or http.client.responses.get(status, "")
    return code, message, fields.get("RequestId") or None


def child_text(body: bytes, tag: str) -> str | None:
    """The text of the first element named ``tag`` (any namespace) in an XML answer."""
    for element in ET.fromstring(body).iter():
        if element.tag.rpartition("}")[2] == tag:
            return element.text or ""
    return None


def delete_errors(body: bytes) -> list[tuple[str, str, str]]:
    """(key, code, message) of each ``<Error>`` in a DeleteObjects answer."""
    failures: list[tuple[str, str, str]] = []
    for element in ET.fromstring(body).iter():
        if element.tag.rpartition("}")[2] != "Error":
            continue
        fields = {child.tag.rpartition("}")[2]: child.text or "" for child in element}
        failures.append((fields.get("Key", ""), fields.get("Code", ""), fields.get("Message", "")))
    return failures
