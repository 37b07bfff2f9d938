"""Pacing: keep within what the target declares, and slow down when it says so.

A ``Pacer`` holds one budget per client key (an identity, or the anonymous client): a sliding
window from ``[rate_limits]`` (what the target declares, minus a small headroom) from the first
request, and an adaptive minimum interval that each 429/503 answer lengthens (at least half the
rate the client was actually sending at, at most one request per 2 s) and each other answer
relaxes by 5%. ``retry_after`` reads the header in both forms
(delta-seconds or an HTTP date). Clock and sleep are injectable: the unit tests use a fake
clock and never sleep.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

ANONYMOUS = "anonymous"
DEFAULT_BACKOFF_S = 1.0  # wait after a 429/503 that gives no Retry-After (doubles per retry)
MAX_INTERVAL_S = 2.0  # the slowest a throttled client is paced: one request per 2 s


def retry_after(value: str | None, now_epoch: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now_epoch is None else now_epoch
    return max(0.0, when.timestamp() - now)


@dataclass
class _Budget:
    sent: deque[float] = field(default_factory=deque)
    interval: float = 0.0  # adaptive minimum seconds between two requests (0: none)
    last: float = float("-inf")
    throttled: int = 0  # 429/503 answers seen


class Pacer:
    """Per-key budgets: the declared sliding window plus the adaptive interval."""

    def __init__(
        self,
        per_client: int | None = None,
        window_s: float = 60.0,
        *,
        service_quota: int | None = None,
        service_keys: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        headroom: float = 0.97,
        max_rps: float | None = None,
    ) -> None:
        self.per_client = per_client or None
        self.max_rps = max_rps or None  # one rate over every key (the scanner's --max-rps)
        self._next_any = float("-inf")
        self.window_s = window_s
        self.service_quota = service_quota or None
        self.service_keys = service_keys
        self._clock = clock
        self._sleep = sleep
        self._headroom = headroom
        self._budgets: dict[str, _Budget] = {}
        self._lock = threading.Lock()
        self.waited_s = 0.0

    @classmethod
    def from_limits(
        cls, limits: object | None, service_keys: frozenset[str] = frozenset(), **kw: object
    ) -> Pacer:
        """A pacer from a config ``RateLimits`` (or None: only adaptive pacing)."""
        return cls(
            getattr(limits, "per_client", None),
            float(getattr(limits, "window_s", 60.0) or 60.0),
            service_quota=getattr(limits, "service_quota", None),
            service_keys=service_keys,
            **kw,  # type: ignore[arg-type]
        )

    def limit_for(self, key: str) -> int | None:
        if key in self.service_keys and self.service_quota:
            return max(1, self.service_quota - self._margin(self.service_quota))
        if self.per_client:
            return max(1, self.per_client - self._margin(self.per_client))
        return None

    def _margin(self, limit: int) -> int:
        return max(1, round(limit * (1 - self._headroom)))

    def _budget(self, key: str) -> _Budget:
        return self._budgets.setdefault(key, _Budget())

    def remaining(self, key: str) -> int:
        """Requests ``key`` may still send in the current window (a large number if unlimited)."""
        limit = self.limit_for(key)
        if limit is None:
            return 1_000_000
        with self._lock:
            now = self._clock()
            sent = self._budget(key).sent
            return limit - sum(1 for t in sent if t > now - self.window_s)

    def interval(self, key: str) -> float:
        with self._lock:
            return self._budget(key).interval

    def acquire(self, key: str) -> float:
        """Wait until ``key`` may send; the seconds waited."""
        limit = self.limit_for(key)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                b = self._budget(key)
                while b.sent and b.sent[0] <= now - max(self.window_s, 1.0):
                    b.sent.popleft()
                wait = 0.0
                if b.interval and now < b.last + b.interval:
                    wait = b.last + b.interval - now
                if limit is not None:
                    in_window = [t for t in b.sent if t > now - self.window_s]
                    if len(in_window) >= limit:
                        wait = max(wait, in_window[0] + self.window_s - now)
                if self.max_rps and now < self._next_any:
                    wait = max(wait, self._next_any - now)
                if wait <= 0:
                    b.sent.append(now)
                    b.last = now
                    if self.max_rps:
                        self._next_any = now + 1.0 / self.max_rps
                    return waited
            waited += wait
            self.waited_s += wait
            self._sleep(max(wait, 0.001))

    def throttled(self, key: str) -> float:
        """A 429/503 for ``key``: halve the rate it was sending at (at least double the
        interval). The new interval."""
        with self._lock:
            now = self._clock()
            b = self._budget(key)
            b.throttled += 1
            recent = sum(1 for t in b.sent if t > now - 1.0)
            observed = 1.0 / max(recent, 1)  # seconds per request over the last second
            b.interval = min(max(b.interval * 1.5, observed * 2, 0.05), MAX_INTERVAL_S)
            return b.interval

    def answered(self, key: str) -> None:
        """An answer that was not a 429/503: the adaptive interval relaxes by 5%."""
        with self._lock:
            b = self._budgets.get(key)
            if b is not None and b.interval:
                b.interval = b.interval * 0.95 if b.interval > 0.01 else 0.0

    def sleep(self, seconds: float) -> None:
        self.waited_s += seconds
        self._sleep(seconds)


__all__ = ["ANONYMOUS", "DEFAULT_BACKOFF_S", "Pacer", "retry_after"]
