"""The pacer on a fake clock: declared limits from the start, slower after a 429, Retry-After."""

from __future__ import annotations

from email.utils import formatdate

from tests.transport.fakes import FakeClock

from battletest.transport.pacing import Pacer, retry_after


def test_declared_limits_pace_from_the_first_request() -> None:
    clock = FakeClock(1000.0)
    pacer = Pacer(10, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(30):
        pacer.acquire("alice")
    # a declared 10 per second keeps one request of headroom: 9 per window, 30 need 4 windows
    assert clock.now - 1000.0 == 3.0
    assert pacer.remaining("bob") == 9  # per client


def test_a_429_halves_the_rate_the_client_was_sending_at() -> None:
    clock = FakeClock(1000.0)
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    for _ in range(8):
        pacer.acquire("k")
        clock.now += 0.1  # 10 requests per second
    interval = pacer.throttled("k")
    assert 0.2 <= interval <= 0.3  # at most ~5 per second now
    start = clock.now
    for _ in range(5):
        pacer.acquire("k")
    assert clock.now - start >= 4 * interval - 1e-9
    assert pacer.interval("other") == 0


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(" 0 ") == 0.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    when = formatdate(1_000_010.0, usegmt=True)
    assert retry_after(when, now_epoch=1_000_000.0) == 10.0
    assert retry_after(formatdate(1.0, usegmt=True), now_epoch=5.0) == 0.0
