"""The request journal: every request a mock received, and assertions over it.

Entries are recorded when a request arrives (so a request the mock is still hanging on is
already visible) and completed with the outcome once answered. ``verify`` is the assertion
tests use for retries, backoff and correlation-id propagation::

    mock.verify("GET", "/reservations/{id}", count=3, headers={"x-correlation-id": cid})
    gaps = mock.journal.intervals("GET", "/reservations/{id}")   # backoff: gaps grow
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict, Unpack

from battletest.chaos.mock.stubs import Matcher, compile_path


@dataclass(slots=True)
class JournalEntry:
    seq: int
    timestamp: float  # seconds since the epoch, when the request arrived
    monotonic: float  # time.monotonic() at arrival, for intervals
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: str
    client: str = ""
    stub: str | None = None  # name of the stub that answered
    status: int | None = None  # status sent; None for a fault or a request still pending
    fault: str | None = None
    scenario: str | None = None  # named failure scenario that shaped the answer
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Match(TypedDict, total=False):
    """Which requests, beside method and path: header matchers (``{"x-id": "c1"}``,
    ``{"x-id": {"present": True}}``)."""

    headers: Mapping[str, Any] | None


class Expectation(Match, total=False):
    """What a verification expects (keywords of ``verify``); none given: at least once."""

    count: int | None
    at_least: int | None
    at_most: int | None


@dataclass(slots=True)
class RequestPattern:
    """Which journal entries a verification is about."""

    method: str | None = None
    path: str | None = None  # exact path or template (/reservations/{id})
    headers: dict[str, Matcher] = field(default_factory=dict)

    @classmethod
    def build(
        cls, method: str | None = None, path: str | None = None, **match: Unpack[Match]
    ) -> RequestPattern:
        headers = match.get("headers") or {}
        return cls(
            method.upper() if method else None,
            path,
            {k.lower(): Matcher.parse(v, f"verify header {k!r}") for k, v in headers.items()},
        )

    def test(self, entry: JournalEntry) -> bool:
        if self.method and entry.method != self.method:
            return False
        if self.path and compile_path(self.path).match(entry.path) is None:
            return False
        return all(m.test(entry.headers.get(k)) for k, m in self.headers.items())

    def describe(self) -> str:
        parts = [self.method or "ANY", self.path or "*"]
        parts += [f"{k}={m.to_raw()}" for k, m in self.headers.items()]
        return " ".join(parts)


class Journal:
    """Thread-safe, bounded list of journal entries (oldest dropped beyond ``limit``)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._entries: deque[JournalEntry] = deque(maxlen=limit)
        self._seq = 0
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> JournalEntry:
        with self._lock:
            self._seq += 1
            entry.seq = self._seq
            self._entries.append(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(
        self, method: str | None = None, path: str | None = None, **match: Unpack[Match]
    ) -> list[JournalEntry]:
        pattern = RequestPattern.build(method, path, **match)
        with self._lock:
            snapshot = list(self._entries)
        return [e for e in snapshot if pattern.test(e)]

    def count(
        self, method: str | None = None, path: str | None = None, **match: Unpack[Match]
    ) -> int:
        return len(self.entries(method, path, **match))

    def intervals(self, method: str | None = None, path: str | None = None) -> list[float]:
        """Seconds between consecutive matching requests (retry backoff shows as growing gaps)."""
        times = [e.monotonic for e in self.entries(method, path)]
        return [b - a for a, b in itertools.pairwise(times)]

    def verify(
        self, method: str | None = None, path: str | None = None, **expect: Unpack[Expectation]
    ) -> list[JournalEntry]:
        """Assert how often matching requests arrived; returns them. Default: at least once."""
        count, at_least, at_most = (
            expect.get("count"),
            expect.get("at_least"),
            expect.get("at_most"),
        )
        match = Match(headers=expect.get("headers"))
        found = self.entries(method, path, **match)
        n = len(found)
        if count is None and at_least is None and at_most is None:
            at_least = 1
        ok = (
            (count is None or n == count)
            and (at_least is None or n >= at_least)
            and (at_most is None or n <= at_most)
        )
        if not ok:
            want = (
                f"exactly {count}"
                if count is not None
                else " and ".join(
                    s
                    for s in (
                        f"at least {at_least}" if at_least is not None else "",
                        f"at most {at_most}" if at_most is not None else "",
                    )
                    if s
                )
            )
            with self._lock:
                last = list(self._entries)[-10:]
            seen = ", ".join(f"{e.method} {e.path}" for e in last) or "nothing"
            pattern = RequestPattern.build(method, path, **match)
            raise AssertionError(
                f"mock journal: expected {want} request(s) matching {pattern.describe()}, "
                f"got {n}; last requests: {seen}"
            )
        return found
