"""HTTP for the suites: one client factory, host-only requests, pacing, curl reproduction.

Every suite request goes through a client from ``HttpClientFactory``: it talks only to the
target's host (redirects are never followed automatically; ``follow_same_host`` follows them on
the same host and notes the ones that leave it), and it paces itself by the target's declared
rate limits, per client key (an identity, or the anonymous client), so a well-protected
service does not fail its own run. A 429 is waited out once (bounded by ``max_retry_wait_s``).
"""

from __future__ import annotations

import shlex
import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import httpx

from battletest.config import RateLimits

ANONYMOUS = "anonymous"


class Pacer:
    """A sliding-window budget per client key: at most ``limit`` requests per ``window_s``."""

    def __init__(
        self,
        limits: RateLimits,
        service_keys: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        headroom: float = 0.97,
    ) -> None:
        self.limits = limits
        self.service_keys = service_keys
        self._clock = clock
        self._sleep = sleep
        self._headroom = headroom
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def limit_for(self, key: str) -> int | None:
        if key in self.service_keys and self.limits.service_quota:
            return max(1, self.limits.service_quota - self._margin(self.limits.service_quota))
        if self.limits.per_client:
            return max(1, self.limits.per_client - self._margin(self.limits.per_client))
        return None

    def _margin(self, limit: int) -> int:
        return max(1, round(limit * (1 - self._headroom)))

    def remaining(self, key: str) -> int:
        """Requests ``key`` may still send in the current window (a large number if unlimited)."""
        limit = self.limit_for(key)
        if limit is None:
            return 1_000_000
        with self._lock:
            now = self._clock()
            sent = self._sent.get(key, deque())
            return limit - sum(1 for t in sent if t > now - self.limits.window_s)

    def acquire(self, key: str) -> None:
        limit = self.limit_for(key)
        if limit is None:
            return
        window = self.limits.window_s
        while True:
            with self._lock:
                now = self._clock()
                sent = self._sent.setdefault(key, deque())
                while sent and sent[0] <= now - window:
                    sent.popleft()
                if len(sent) < limit:
                    sent.append(now)
                    return
                wait = sent[0] + window - now
            self.waited_s += wait
            self._sleep(max(wait, 0.001))


class PacedTransport(httpx.BaseTransport):
    """Waits for the pacer before each request; waits out one 429 (bounded)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        pacer: Pacer | None,
        key: str,
        max_retry_wait_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.pacer = pacer
        self.key = key
        self.max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.pacer is not None:
            self.pacer.acquire(self.key)
        response = self.inner.handle_request(request)
        if response.status_code == 429 and self.max_retry_wait_s > 0:
            try:
                wait = float(response.headers.get("retry-after", "1"))
            except ValueError:
                wait = 1.0
            if wait <= self.max_retry_wait_s:
                response.read()
                response.close()
                self._sleep(wait)
                response = self.inner.handle_request(request)
        return response

    def close(self) -> None:
        self.inner.close()


class HttpClientFactory:
    """Makes clients bound to the target's base URL; one per client key, closed together."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        rate_limits: RateLimits | None = None,
        service_keys: frozenset[str] = frozenset(),
        transport: httpx.BaseTransport | None = None,
        max_retry_wait_s: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.pacer = Pacer(rate_limits, service_keys) if rate_limits else None
        self._transport = transport
        self._max_retry_wait_s = max_retry_wait_s
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self.notes: list[str] = []

    def __call__(self, key: str = ANONYMOUS) -> httpx.Client:
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                inner = self._transport or httpx.HTTPTransport()
                client = httpx.Client(
                    base_url=self.base_url,
                    timeout=self.timeout,
                    follow_redirects=False,
                    transport=PacedTransport(inner, self.pacer, key, self._max_retry_wait_s),
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def note_redirect(self, response: httpx.Response) -> None:
        """Note a redirect that leaves the target's host (it is never followed)."""
        if not response.is_redirect:
            return
        nxt = urljoin(str(response.request.url), response.headers.get("location", ""))
        if urlsplit(nxt).netloc != urlsplit(self.base_url).netloc:
            note = (
                f"redirect off the target host not followed: {response.request.method} "
                f"{response.request.url.path} → {nxt}"
            )
            if note not in self.notes:
                self.notes.append(note)

    def follow_same_host(
        self, client: httpx.Client, response: httpx.Response, max_hops: int = 5
    ) -> httpx.Response:
        """Follow redirects that stay on the target's host; note (not follow) the others."""
        host = urlsplit(self.base_url).netloc
        for _ in range(max_hops):
            if not response.is_redirect:
                return response
            location = response.headers.get("location", "")
            nxt = urljoin(str(response.request.url), location)
            if urlsplit(nxt).netloc != host:
                self.note_redirect(response)
                return response
            response = client.get(nxt)
        return response


def curl(request: httpx.Request) -> str:
    """A curl command reproducing ``request`` (redact it before it reaches a report)."""
    parts = ["curl", "-X", request.method]
    for name, value in request.headers.items():
        if name.lower() in {
            "host",
            "content-length",
            "accept-encoding",
            "connection",
            "user-agent",
            "accept",
        }:
            continue
        parts += ["-H", f"{name}: {value}"]
    body = request.content
    if body:
        parts += ["--data-binary", body.decode("utf-8", errors="replace")]
    parts.append(str(request.url))
    return shlex.join(parts)


__all__ = ["ANONYMOUS", "HttpClientFactory", "PacedTransport", "Pacer", "curl"]
