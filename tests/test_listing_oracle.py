"""The listing parser against botocore's, the oracle: for random ListObjectsV2 and
ListObjects pages (any key, URL-encoded or not, with or without the namespace, entities,
owners, checksums, truncated or not), ``parse_page`` finds the objects, sizes, ETags,
dates and the next page that botocore's rest-xml parser and its URL-decoding handler find.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus
from xml.sax.saxutils import escape

import botocore.session
import pytest
from botocore.handlers import decode_list_object, decode_list_object_v2
from botocore.parsers import create_parser

from cloudcollect.storage.s3listing import parse_page

NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
#: Characters keys are drawn from: every kind S3 allows (XML 1.0 cannot carry the rest).
ALPHABET = "abcXYZ019/._-~ +%&<>\"'=?#;:,!*()[]{}@$|^`\\\t日本éßø€😀\u00a0\u2028"
STAMP = datetime(2026, 12, 1, 8, 30, 15, tzinfo=timezone.utc)


def random_key(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24)))


def random_page(rng: random.Random, version: int) -> tuple[bytes, list[str]]:
    """A page as a store could send it, and the keys it holds (decoded)."""
    encoded = rng.random() < 0.6
    keys = sorted({random_key(rng) for _ in range(rng.randint(0, 12))})
    parts = [f"<ListBucketResult{NS if rng.random() < 0.8 else ''}><Name>b</Name>"]
    parts.append("<Prefix></Prefix><MaxKeys>1000</MaxKeys>")
    if encoded:
        parts.append("<EncodingType>url</EncodingType>")
    truncated = rng.random() < 0.5
    parts.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
    for key in keys:
        parts.append(contents(rng, quote_plus(key, safe="/") if encoded else key))
    if truncated and version == 2 and rng.random() < 0.9:
        token = escape("".join(rng.choice("abcXYZ019+/=&<") for _ in range(rng.randint(1, 40))))
        parts.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
    if truncated and version == 1 and keys and rng.random() < 0.5:
        marker = rng.choice(keys)
        marker = quote_plus(marker) if encoded else marker
        parts.append(f"<NextMarker>{escape(marker)}</NextMarker>")
    parts.append("</ListBucketResult>")
    body = "".join(parts)
    if rng.random() < 0.5:
        body = '<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return body.encode("utf-8"), keys


def contents(rng: random.Random, key: str) -> str:
    digest = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    etag = rng.choice([f'"{digest}"', f'"{digest}-{rng.randint(2, 99)}"', digest, ""])
    quote = rng.choice(["&quot;", "&#34;", '"'])
    when = STAMP - timedelta(seconds=rng.randint(0, 10**8), milliseconds=rng.randint(0, 999))
    stamp = when.strftime(rng.choice(["%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"]))
    fields = [
        f"<Key>{escape(key)}</Key>",
        f"<LastModified>{stamp}</LastModified>",
        f"<ETag>{etag.replace(chr(34), quote)}</ETag>" if etag else "",
        f"<Size>{rng.randint(0, 10**12)}</Size>",
        "<Owner><ID>id</ID><DisplayName>Key</DisplayName></Owner>" if rng.random() < 0.5 else "",
        "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>" if rng.random() < 0.3 else "",
        "<StorageClass>STANDARD</StorageClass>",
    ]
    rng.shuffle(fields)
    return "<Contents>" + "".join(fields) + "</Contents>"


@pytest.fixture(scope="module")
def s3_model() -> Any:
    return botocore.session.get_session().get_service_model("s3")


def botocore_parsed(s3_model: Any, body: bytes, version: int) -> dict[str, Any]:
    """What boto3 hands back for the page: the rest-xml parse, then the handler that
    URL-decodes it (botocore asks for ``encoding-type=url`` itself, as cloudcollect does)."""
    operation = s3_model.operation_model("ListObjectsV2" if version == 2 else "ListObjects")
    response = {"body": body, "headers": {}, "status_code": 200}
    parsed: dict[str, Any] = create_parser("rest-xml").parse(response, operation.output_shape)
    decode = decode_list_object_v2 if version == 2 else decode_list_object
    decode(parsed, {"encoding_type_auto_set": parsed.get("EncodingType") == "url"})
    return parsed


@pytest.mark.parametrize("version", [2, 1])
def test_pages_are_read_as_botocore_reads_them(s3_model: Any, version: int) -> None:
    rng = random.Random(20261201 + version)
    for _ in range(400):
        body, keys = random_page(rng, version)
        expected = botocore_parsed(s3_model, body, version)
        page = parse_page(body, trust_etag=True, version=version)

        listed = expected.get("Contents", [])
        assert [o.key for o in page.objects] == [c["Key"] for c in listed] == keys, body
        assert [o.size for o in page.objects] == [c["Size"] for c in listed]
        assert [o.etag for o in page.objects] == [c.get("ETag") for c in listed]
        assert [o.last_modified for o in page.objects] == [c["LastModified"] for c in listed]
        if not expected["IsTruncated"]:
            assert page.resume is None
        elif version == 2:
            assert page.resume == expected.get("NextContinuationToken")
        else:
            assert page.resume == expected.get("NextMarker", keys[-1] if keys else None)
