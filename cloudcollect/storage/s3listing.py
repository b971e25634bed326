"""Listing a bucket: ListObjectsV2 (continuation tokens) or V1 (markers, for GCS), each
page's XML parsed with ElementTree, and the bound that ends a listing that never ends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
    """Every object under ``prefix``, page by page (see :func:`parse_page`).

    The next page is asked for, on a helper thread, as soon as a page's resume point is
    read and checked (:class:`ListingBound`): building a page's objects (about 10 ms for
    1,000) overlaps the next page's round trip. A failure of that request is raised after
    the page before it was yielded, as it would be without the helper.
    """
    operation = "ListObjectsV2" if version == 2 else "ListObjects"
    bound = ListingBound(f"{operation} {prefix!r}")

    def request(resume: str | None) -> bytes:
        query = {"prefix": prefix, "encoding-type": "url"}
        if resume is not None:
            query["continuation-token" if version == 2 else "marker"] = resume
        return fetch(operation, query)

    with ThreadPoolExecutor(1, "cloudcollect-page") as helper:
        body = request(None)
        while True:
            page = _RawPage(body, version)
            following: Future[bytes] | None = None
            if page.resume is not None:
                bound.next_page(page.resume, page.first_key, page.count)
                following = helper.submit(request, page.resume)
            yield from page.objects(trust_etag)
            if following is None:
                return
            body = following.result()


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
    page = _RawPage(body, version)
    return Page(page.objects(trust_etag), page.resume)


class _RawPage:
    """A page's XML tree, read in two steps: where the next page starts, its first key and
    its number of objects at once (``resume``, ``first_key``, ``count``), its objects when
    asked (:meth:`objects`)."""

    def __init__(self, body: bytes, version: int) -> None:
        self._entries: list[ET.Element] = []
        marks: dict[str, str] = {}
        self._encoded = truncated = False
        for element in ET.fromstring(body):  # the tree is built in C
            tag = element.tag.rpartition("}")[2]
            if tag == "Contents":
                self._entries.append(element)
            elif tag == "EncodingType":
                self._encoded = element.text == "url"
            elif tag in ("NextContinuationToken", "NextMarker"):
                marks[tag] = element.text or ""
            elif tag == "IsTruncated":
                truncated = element.text == "true"
        self.count = len(self._entries)
        self.first_key = self._key(self._entries[0]) if self._entries else None
        self.resume: str | None = None
        if truncated and version == 2:
            self.resume = marks.get("NextContinuationToken") or None
        elif truncated and marks.get("NextMarker"):
            self.resume = self._decoded(marks["NextMarker"])
        elif truncated and self._entries:
            self.resume = self._key(self._entries[-1])

    def objects(self, trust_etag: bool) -> list[RemoteObject]:
        objects = []
        for element in self._entries:
            fields = {field.tag.rpartition("}")[2]: field.text or "" for field in element}
            etag = fields.get("ETag")
            objects.append(
                RemoteObject(
                    self._decoded(fields["Key"]),
                    int(fields["Size"]),
                    md5=plain_md5_from_etag(etag) if trust_etag else None,
                    etag=etag,
                    last_modified=_timestamp(fields.get("LastModified")),
                )
            )
        return objects

    def _key(self, entry: ET.Element) -> str:
        for field in entry:
            if field.tag.rpartition("}")[2] == "Key":
                return self._decoded(field.text or "")
        raise KeyError("Key")

    def _decoded(self, text: str) -> str:
        return unquote_plus(text) if self._encoded and ("%" in text or "+" in text) else text


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

    def next_page(self, token: str, first: str | None, count: int) -> None:
        """Check a truncated page (its first key and number of objects) and the token of
        the next one."""
        self.empty = 0 if count else self.empty + 1
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
