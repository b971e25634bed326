"""Multipart uploads: parts sent in parallel under one memory bound.

The file is read once, in order, by the thread that called ``put``: each part is read
into memory, the whole file's MD5 is updated from the same bytes, and the part goes to a
sender thread, which computes its Content-MD5 and sends it. So the bytes stored are the
bytes hashed: a file that changes during the upload is refused (BadDigest) and leaves
nothing. Parts in memory at once are bounded by one :class:`ByteBudget` per storage
(:data:`PART_BUFFER` bytes, at least one part), shared by every concurrent multipart
upload; a 2 GiB file with ``--workers 8`` and 16 MiB parts holds 4 parts at a time.

When the hash stage left the part digests of this content (``cloudcollect.partdigests``),
no MD5 is computed and nothing is held in memory: every sender reads its own part from
the file (positional reads under one lock) and sends the remembered Content-MD5, which
the store checks, so a file changed since it was hashed is refused (BadDigest) as well.

On any failure (a part, a cancellation raised by the file's reads, the final MD5 check)
the upload is aborted. A CompleteMultipartUpload whose answer was lost and whose retry
says NoSuchUpload counts as done when the stored object carries our MD5.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import BinaryIO

from ..config import MIB
from ..errors import StorageError
from ..partdigests import Digests, recall
from .s3wire import child_text
from .transport import FileSlice, Request, Response

#: Bytes of parts held in memory at once, over all multipart uploads of a storage.
PART_BUFFER = 64 * MIB


class ByteBudget:
    """A counting bound on bytes in memory; an amount above the whole budget is let in
    when nothing else holds any (so one huge part never waits forever)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._condition = threading.Condition()

    def acquire(self, amount: int) -> None:
        with self._condition:
            while self.used and self.used + amount > self.limit:
                self._condition.wait()
            self.used += amount

    def release(self, amount: int) -> None:
        with self._condition:
            self.used -= amount
            self._condition.notify_all()


@dataclass
class Upload:
    """One multipart upload: where, and how requests are sent (``send`` raises the
    translated StorageError; it is thread-safe), in parts of ``part_size`` bytes (the
    storage's ``multipart_part_size``)."""

    key: str
    send: Callable[[Request], Response]
    budget: ByteBudget
    workers: int
    part_size: int

    def run(
        self, file: BinaryIO, size: int, md5: str, headers: dict[str, str]
    ) -> tuple[str | None, int]:
        """Upload ``size`` bytes of ``file``; (ETag, retries of every request)."""
        created = self.send(Request("CreateMultipartUpload", self.key, headers=headers))
        retries = created.retries
        upload_id = child_text(created.body, "UploadId") or ""
        digests = recall(md5, size, self.part_size)
        try:
            if digests is None:
                parts, part_retries = self._parts(upload_id, file, size, md5)
            else:
                parts, part_retries = self._streamed_parts(upload_id, file, size, digests)
            done, final = self._complete(upload_id, parts, md5)
        except BaseException:
            self._abort(upload_id)
            raise
        return done, retries + part_retries + final

    def _parts(
        self, upload_id: str, file: BinaryIO, size: int, md5: str
    ) -> tuple[list[dict[str, object]], int]:
        part_size = self.part_size
        count = max(1, -(-size // part_size))
        whole = hashlib.md5(usedforsecurity=False)
        futures: list[Future[Response]] = []
        with ThreadPoolExecutor(min(self.workers, count), "cloudcollect-part") as pool:
            try:
                for number in range(1, count + 1):
                    length = min(part_size, size - (number - 1) * part_size)
                    if any(f.done() and f.exception() for f in futures):
                        break  # a part failed: read no more
                    self.budget.acquire(length)
                    try:
                        data = _read_exactly(file, length, self.key)
                    except BaseException:
                        self.budget.release(length)
                        raise
                    whole.update(data)
                    future = pool.submit(self._send_part, upload_id, number, data)
                    future.add_done_callback(self._releaser(length))
                    futures.append(future)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        answers = [future.result() for future in futures]  # the first failure is raised
        if whole.hexdigest() != md5:
            message = f"UploadPart {self.key!r}: BadDigest (content does not match its MD5)"
            raise StorageError(message, key=self.key, code="BadDigest")
        return _listed(answers)

    def _streamed_parts(
        self, upload_id: str, file: BinaryIO, size: int, digests: Digests
    ) -> tuple[list[dict[str, object]], int]:
        part_size = self.part_size
        start, shared = file.tell(), threading.Lock()
        with ThreadPoolExecutor(min(self.workers, len(digests)), "cloudcollect-part") as pool:
            futures = []
            for number, digest in enumerate(digests, 1):
                offset = (number - 1) * part_size
                body = FileSlice(file, start + offset, min(part_size, size - offset), shared)
                futures.append(pool.submit(self._send_part, upload_id, number, body, digest))
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.cancel()  # after a failure, the parts not started yet
        return _listed([future.result() for future in futures])

    def _releaser(self, amount: int) -> Callable[[Future[Response]], None]:
        """Gives a part's bytes back to the budget when it is done, failed or cancelled."""
        return lambda _future: self.budget.release(amount)

    def _send_part(
        self, upload_id: str, number: int, data: bytes | FileSlice, digest: bytes | None = None
    ) -> Response:
        if digest is None:
            assert isinstance(data, bytes)
            digest = hashlib.md5(data, usedforsecurity=False).digest()
        headers = {"content-md5": base64.b64encode(digest).decode("ascii")}
        query = {"uploadId": upload_id, "partNumber": str(number)}
        return self.send(Request("UploadPart", self.key, query, headers, data))

    def _complete(
        self, upload_id: str, parts: list[dict[str, object]], md5: str
    ) -> tuple[str | None, int]:
        request = Request(
            "CompleteMultipartUpload",
            self.key,
            {"uploadId": upload_id},
            document={"Parts": parts},
        )
        try:
            answer = self.send(request)
        except StorageError as failure:
            if failure.code == "NoSuchUpload" and self._stored_md5() == md5:
                return None, failure.retries  # a retried Complete whose answer was lost
            raise
        return child_text(answer.body, "ETag"), answer.retries

    def _stored_md5(self) -> str | None:
        try:
            answer = self.send(Request("HeadObject", self.key))
        except StorageError:
            return None
        return answer.headers.get("x-amz-meta-cloudcollect-md5")

    def _abort(self, upload_id: str) -> None:
        """Best effort: a failed abort is left to the bucket's lifecycle rule."""
        with contextlib.suppress(StorageError):
            self.send(Request("AbortMultipartUpload", self.key, {"uploadId": upload_id}))


def _listed(answers: list[Response]) -> tuple[list[dict[str, object]], int]:
    """The parts as CompleteMultipartUpload lists them, and the retries of all of them."""
    parts: list[dict[str, object]] = [
        {"PartNumber": number, "ETag": answer.headers.get("etag", "")}
        for number, answer in enumerate(answers, 1)
    ]
    return parts, sum(answer.retries for answer in answers)


def _read_exactly(file: BinaryIO, count: int, key: str) -> bytes:
    data = file.read(count)
    if len(data) != count:
        message = f"UploadPart {key!r}: file ended early ({len(data)} of {count} bytes)"
        raise StorageError(message, key=key, code="SourceChanged")
    return data
