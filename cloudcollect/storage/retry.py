"""The one retry policy of both transports: botocore's ``standard`` mode, 429 included.

Built from ``botocore.retries.standard``'s public classes, so the retried error codes are
botocore's own, never a copy: ``StandardRetryConditions`` (connection errors and timeouts,
HTTP 500/502/503/504, the transient and throttling codes such as ``SlowDown``,
``RequestTimeout``, ``InternalError``), ``ExponentialBackoff`` (full jitter, 1 s base for
throttling and 50 ms otherwise, at most 20 s, ``x-amz-retry-after`` honoured) and
``RetryQuotaChecker`` (a retry costs 5 tokens of a 500-token bucket for throttling, 14
otherwise, refunded by successes: a store that fails everything stops being retried).
On top: an HTTP 429 is always retried as throttling (older botocore versions do not),
and a 2xx answer whose body is an ``<Error>`` document is retried as a 500 (except an
object's content), as botocore does. TLS verification failures, a missing CA bundle and a
file that changed while being sent are never retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from . import s3wire
from .transport import OBJECT_BODIES, Request, Response, TransportError

#: Total attempts when the caller does not say (``CLOUDCOLLECT_MAX_ATTEMPTS``'s default).
DEFAULT_MAX_ATTEMPTS = 5


class Retryable(TransportError):
    """A failed attempt that the policy may retry: a connection error or timeout."""


class _Answer:
    """What botocore's retry checkers read of an HTTP answer."""

    def __init__(self, status: int, headers: Mapping[str, str]) -> None:
        self.status_code = status
        self.headers = headers


class _ServiceModel:
    service_name = "s3"


class _OperationModel:
    """What botocore's checkers read of an operation: S3, no modeled retryable errors
    (S3's model has none)."""

    service_model = _ServiceModel()
    error_shapes: list[Any] = []


class RetryPolicy:
    """Runs attempts of one request until one succeeds or the policy gives up.

    Thread-safe; one per transport (the quota is shared by its requests, as botocore's is
    per client). ``sleep`` and ``jitter`` are injectable for tests.
    """

    def __init__(
        self,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        from botocore.retries import quota, standard

        self.max_attempts = max(1, max_attempts)
        detector = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
        self._conditions = standard.StandardRetryConditions(max_attempts=self.max_attempts)
        self._backoff = standard.ExponentialBackoff(random=jitter, throttling_detector=detector)
        self._quota = standard.RetryQuotaChecker(quota.RetryQuota(), detector)
        self._context_type: Any = standard.RetryContext
        self._sleep = sleep

    def run(self, request: Request, attempt: Callable[[], Response]) -> Response:
        """``attempt()`` until it gives a 2xx answer; TransportError with the retries made
        when it fails for good. Errors that are not TransportErrors propagate at once."""
        request_context: dict[str, Any] = {}
        number = 0
        while True:
            number += 1
            try:
                response = attempt()
            except Retryable as lost:
                context = self._context(number, request_context, exception=lost)
                self._retry_or_raise(context, lost, number)
                continue
            except TransportError as fatal:
                fatal.retries = number - 1
                raise
            failure = answer_failure(request, response)
            if failure is None:
                answer = _Answer(response.status, response.headers)
                # botocore's stub types the request context as a RetryContext; it is a dict.
                self._quota.release_retry_quota(request_context, answer)  # type: ignore[arg-type]
                return response if number == 1 else replace(response, retries=number - 1)
            status = 500 if 200 <= response.status < 300 else response.status
            answer = _Answer(status, response.headers)
            context = self._context(number, request_context, answer=answer, code=failure.code)
            self._retry_or_raise(context, failure, number)

    def _context(
        self,
        number: int,
        request_context: dict[str, Any],
        *,
        exception: Exception | None = None,
        answer: _Answer | None = None,
        code: str | None = None,
    ) -> Any:
        from botocore.exceptions import ConnectionError as BotoConnectionError

        parsed = {"Error": {"Code": code}} if code else None
        caught = BotoConnectionError(error=exception) if exception is not None else None
        return self._context_type(
            attempt_number=number,
            operation_model=_OperationModel(),
            parsed_response=parsed,
            http_response=answer,
            caught_exception=caught,
            request_context=request_context,
        )

    def _retry_or_raise(self, context: Any, failure: TransportError, number: int) -> None:
        """Sleep before the next attempt, or raise ``failure`` with its retry count."""
        answer = context.http_response
        throttled = answer is not None and answer.status_code == 429
        retryable = self._conditions.is_retryable(context) or (
            throttled and number < self.max_attempts
        )
        if not retryable or not self._quota.acquire_retry_quota(context):
            raise TransportError(
                failure.code,
                failure.message,
                status=failure.status,
                request_id=failure.request_id,
                retries=number - 1,
            ) from None
        self._sleep(self._backoff.delay_amount(context))


def answer_failure(request: Request, response: Response) -> TransportError | None:
    """The error an HTTP answer means, or None for a success (see the module docstring)."""
    status = response.status
    plain = request.operation in OBJECT_BODIES or not s3wire.is_error_document(response.body)
    if 200 <= status < 300 and plain:
        return None
    code, message, request_id = s3wire.parse_error(status, response.body)
    request_id = request_id or response.headers.get("x-amz-request-id")
    return TransportError(code, message, status=status, request_id=request_id)
