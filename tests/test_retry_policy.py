"""The retry policy's own promises (``cloudcollect/storage/retry.py``): botocore's backoff
(1 s base for throttling, 50 ms otherwise, at most 20 s, ``x-amz-retry-after`` honoured)
and its retry quota (a store that fails everything stops being retried). The attempts are
real S3 error answers; only the sleeping is recorded instead of done."""

from __future__ import annotations

import pytest

from cloudcollect.storage.retry import RetryPolicy
from cloudcollect.storage.transport import Request, Response, TransportError

PUT = Request("PutObject", "k")


def answer(status: int, code: str, **headers: str) -> Response:
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    return Response(status, {"x-amz-request-id": "r", **headers}, body)


def delays_until_failure(status: int, code: str, attempts: int, **headers: str) -> list[float]:
    delays: list[float] = []
    policy = RetryPolicy(attempts, sleep=delays.append, jitter=lambda: 1.0)  # no jitter
    with pytest.raises(TransportError) as failed:
        policy.run(PUT, lambda: answer(status, code, **headers))
    assert (failed.value.code, failed.value.retries) == (code, attempts - 1)
    return delays


def test_backoff_doubles_from_1_s_for_throttling_and_from_50_ms_otherwise_up_to_20_s() -> None:
    assert delays_until_failure(503, "SlowDown", 8) == [1, 2, 4, 8, 16, 20, 20]
    assert delays_until_failure(500, "InternalError", 8) == pytest.approx(
        [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2]
    )


def test_x_amz_retry_after_raises_the_delay_by_at_most_5_s() -> None:
    assert delays_until_failure(503, "SlowDown", 2, **{"x-amz-retry-after": "3000"}) == [3]
    assert delays_until_failure(503, "SlowDown", 2, **{"x-amz-retry-after": "60000"}) == [6]


def test_a_store_that_fails_everything_stops_being_retried() -> None:
    """500 tokens, 14 per retry of a 500: after 35 retries, none; each success gives one
    token back."""
    policy = RetryPolicy(5, sleep=lambda _: None)
    retries = []
    for _ in range(20):
        with pytest.raises(TransportError) as failed:
            policy.run(PUT, lambda: answer(500, "InternalError"))
        retries.append(failed.value.retries)
    assert retries[0] == 4
    assert sum(retries) == 500 // 14
    assert retries[-5:] == [0] * 5
    for _ in range(14):  # 10 tokens left + 14: one more retry
        policy.run(PUT, lambda: Response(200, {}))
    with pytest.raises(TransportError) as failed:
        policy.run(PUT, lambda: answer(500, "InternalError"))
    assert failed.value.retries == 1
