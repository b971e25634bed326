"""Listing a bucket: ListObjectsV2 (continuation tokens) or V1 (markers, for GCS), each
page's XML parsed with ElementTree, and the bound that ends a listing that never ends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NoReturn
from urllib.parse import unquote_plus

from ..errors import FatalStorageError
from ..hashing import plain_md5_from_etag
from .base import RemoteObject

#: Truncated listing pages without one object, in a row, after which a listing is
#: taken for one that never ends.
EMPTY_PAGES_MAX = 100

#: Sends one listing request (operation, query) and returns the answer's XML.
FetchPage = Callable[[str, dict[str, str]], bytes]


@dataclass(frozen=True)
class Page:
    """One parsed listing page. ``resume`` is where the next page starts (V2: the
    continuation token; V1: ``NextMarker``, else the last key), None on the last page."""

    objects: list[RemoteObject]
    resume: str | None


def list_objects(
    fetch: FetchPage, prefix: str, version: int, trust_etag: bool
) -> Iterator[RemoteObject]:
    """Every object under ``prefix``, page by page (see :func:`parse_page`)."""
    operation = "ListObjectsV2" if version == 2 else "ListObjects"
    bound = ListingBound(f"{operation} {prefix!r}")
    resume: str | None = None
    while True:
        query = {"prefix": prefix, "encoding-type": "url"}
        if resume is not None:
            query["continuation-token" if version == 2 else "marker"] = resume
        page = parse_page(fetch(operation, query), trust_etag, version)
        yield from page.objects
        if page.resume is None:
            return
        bound.next_page(page.resume, page.objects)
        resume = page.resume


def parse_listing(body: bytes, trust_etag: bool) -> tuple[list[RemoteObject], str | None]:
    """One ListObjectsV2 page: its objects and the next continuation token."""
    page = parse_page(body, trust_etag)
    return page.objects, page.resume


def parse_page(body: bytes, trust_etag: bool, version: int = 2) -> Page:
    """Parse one ListObjectsV2 or ListObjects XML page (namespace-agnostic).

    Keys (and V1's ``NextMarker``) are URL-decoded (``unquote_plus``, as botocore does)
    only when the page says ``<EncodingType>url</EncodingType>``. A truncated V1 page
    without ``NextMarker`` resumes after its last key (as without a delimiter); a
    truncated V2 page without a token ends the listing.
    """
    raw: list[tuple[str, str, str | None, str | None]] = []
    marks: dict[str, str] = {}
    encoded = truncated = False
    for element in ET.fromstring(body):  # the tree is built in C: the loop is per object
        tag = element.tag.rpartition("}")[2]
        text = element.text or ""
        if tag == "Contents":
            fields = {field.tag.rpartition("}")[2]: field.text or "" for field in element}
            raw.append(
                (fields["Key"], fields["Size"], fields.get("ETag"), fields.get("LastModified"))
            )
        elif tag == "EncodingType":
            encoded = text == "url"
        elif tag in ("NextContinuationToken", "NextMarker"):
            marks[tag] = text
        elif tag == "IsTruncated":
            truncated = text == "true"

    def decoded(text: str) -> str:
        return unquote_plus(text) if encoded and ("%" in text or "+" in text) else text

    objects = [
        RemoteObject(
            decoded(key),
            int(size),
            md5=plain_md5_from_etag(etag) if trust_etag else None,
            etag=etag,
            last_modified=_timestamp(modified),
        )
        for key, size, etag, modified in raw
    ]
    if not truncated:
        return Page(objects, None)
    if version == 2:
        return Page(objects, marks.get("NextContinuationToken") or None)
    if marks.get("NextMarker"):
        return Page(objects, decoded(marks["NextMarker"]))
    return Page(objects, objects[-1].key if objects else None)


def _timestamp(text: str | None) -> datetime | None:
    """A listing's ``LastModified`` (ISO 8601, ``Z`` for UTC) as an aware datetime."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class ListingBound:
    """Ends a listing that would never end: a continuation token seen before (a loop of
    any length), a page that starts with the same key as an earlier one (the same page
    served again under a new token), or :data:`EMPTY_PAGES_MAX` truncated pages in a row
    without one object, is a FatalStorageError (code ``ListingLoop``, exit 3)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.tokens: set[str] = set()
        self.first_keys: set[str] = set()
        self.empty = 0

    def next_page(self, token: str, objects: Sequence[RemoteObject]) -> None:
        """Check a truncated page (its ``objects``) and the token of the next one."""
        self.empty = 0 if objects else self.empty + 1
        first = objects[0].key if objects else None
        if token in self.tokens:
            self._fail("repeated a continuation token")
        if first is not None and first in self.first_keys:
            self._fail(f"returned a page starting at {first!r} twice")
        if self.empty >= EMPTY_PAGES_MAX:
            self._fail(f"returned {self.empty} empty truncated pages in a row")
        self.tokens.add(token)
        if first is not None:
            self.first_keys.add(first)

    def _fail(self, problem: str) -> NoReturn:
        raise FatalStorageError(
            f"{self.where}: the listing {problem}; the store's listing never ends",
            code="ListingLoop",
        )
