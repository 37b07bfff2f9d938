"""Outbound calls to the PMS and TTS dependencies, with the resilience a real service needs.

PMS: per-attempt timeout, retries with exponential backoff and equal jitter (tenacity), a circuit
breaker (pybreaker), a short-lived cache and a stale copy served when the PMS is down. Each of
breaker / backoff can be switched off (``DemoOptions.breaker``, ``.backoff``) so resilience
experiments can show the difference. Every call carries the request's ``X-Correlation-ID``.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import httpx
import pybreaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_none,
    wait_random_exponential,
)

from battletest.demo.options import DemoOptions

CORRELATION_ID: ContextVar[str] = ContextVar("correlation_id", default="")


class DependencyUnavailable(Exception):
    def __init__(self, name: str, reason: str, retry_after: float) -> None:
        super().__init__(f"{name} unavailable: {reason}")
        self.name = name
        self.reason = reason
        self.retry_after = retry_after


class UpstreamError(Exception):
    """The dependency answered 5xx or 429: worth a retry, counts against the breaker."""


def correlation_headers() -> dict[str, str]:
    cid = CORRELATION_ID.get()
    return {"X-Correlation-ID": cid} if cid else {}


class Connector:
    """A client of one dependency: where it is, the service's options, the shared HTTP client."""

    name = ""

    def __init__(self, base_url: str, options: DemoOptions, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.client = client


class PmsClient(Connector):
    name = "pms"

    def __init__(self, base_url: str, options: DemoOptions, client: httpx.AsyncClient) -> None:
        super().__init__(base_url, options, client)
        self.breaker = (
            pybreaker.CircuitBreaker(
                fail_max=options.breaker_fail_max,
                reset_timeout=options.breaker_reset_s,
                name="pms",
            )
            if options.breaker
            else None
        )
        self.cache: dict[str, tuple[float, Any]] = {}
        self.inflight: dict[str, asyncio.Future[Any]] = {}
        self.stats = {
            "calls": 0,
            "attempts": 0,
            "cache_hits": 0,
            "coalesced": 0,
            "stale_served": 0,
            "failures": 0,
        }

    @property
    def breaker_state(self) -> str:
        return self.breaker.current_state if self.breaker else "disabled"

    def _retry_after(self) -> float:
        if self.breaker is not None and self.breaker.current_state == "open":
            opened = self.breaker._state_storage.opened_at
            if opened is not None:
                elapsed = (datetime.now(UTC) - opened).total_seconds()
                return max(1.0, self.options.breaker_reset_s - elapsed)
        return max(1.0, min(self.options.breaker_reset_s, 5.0))

    async def _attempt(self, path: str, params: dict[str, str] | None) -> Any:
        self.stats["attempts"] += 1
        response = await self.client.get(
            self.base_url + path,
            params=params,
            headers=correlation_headers(),
            timeout=self.options.dependency_timeout_s,
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise UpstreamError(f"PMS answered {response.status_code}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    async def _call(self, path: str, params: dict[str, str] | None) -> Any:
        opts = self.options
        retrying = AsyncRetrying(
            stop=stop_after_attempt(opts.retries + 1)
            | stop_after_delay(opts.dependency_timeout_s * 2),
            # equal jitter: half the exponential step fixed, half random (25–50 ms, 50–100 ms, …)
            wait=(
                wait_exponential(multiplier=0.025, max=0.5)
                + wait_random_exponential(multiplier=0.025, max=0.5)
                if opts.backoff
                else wait_none()
            ),
            retry=retry_if_exception_type((httpx.TransportError, UpstreamError)),
            reraise=True,
            sleep=asyncio.sleep,
        )
        async for attempt in retrying:
            with attempt:
                if self.breaker is None:
                    return await self._attempt(path, params)
                with self.breaker.calling():
                    return await self._attempt(path, params)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, path: str, params: dict[str, str] | None = None) -> tuple[Any, bool]:
        """GET a PMS resource as JSON (None for 404); returns (data, stale)."""
        self.stats["calls"] += 1
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        now = time.monotonic()
        cached = self.cache.get(key)
        if cached is not None and now - cached[0] < self.options.cache_ttl_s:
            self.stats["cache_hits"] += 1
            return cached[1], False
        flight = self.inflight.get(key)
        if flight is None:  # single flight: concurrent misses for one key share one PMS call
            flight = asyncio.ensure_future(self._call(path, params))
            self.inflight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        else:
            self.stats["coalesced"] += 1
        try:
            data = await asyncio.shield(flight)
        except (
            httpx.TransportError,
            httpx.HTTPStatusError,
            UpstreamError,
            pybreaker.CircuitBreakerError,
            ValueError,
        ) as exc:
            self.stats["failures"] += 1
            if cached is not None and now - cached[0] < self.options.stale_ttl_s:
                self.stats["stale_served"] += 1
                return cached[1], True
            reason = (
                "circuit open"
                if isinstance(exc, pybreaker.CircuitBreakerError)
                else type(exc).__name__
            )
            raise DependencyUnavailable(self.name, reason, self._retry_after()) from None
        return data, False

    def _landed(self, key: str, done: asyncio.Future[Any]) -> None:
        self.inflight.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        if len(self.cache) > 10_000:
            self.cache.clear()
        self.cache[key] = (time.monotonic(), done.result())

    async def reservation(self, reservation_id: str) -> tuple[dict[str, Any] | None, bool]:
        data, stale = await self.get(f"/reservations/{reservation_id}")
        return data, stale

    async def find(self, **params: str) -> tuple[list[dict[str, Any]], bool]:
        data, stale = await self.get("/reservations", {k: v for k, v in params.items() if v})
        return (list(data["items"]) if data else []), stale


class TtsClient(Connector):
    name = "tts"

    async def synthesize(self, text: str, voice: str) -> bytes:
        last = "no attempt"
        for _ in range(2):
            try:
                response = await self.client.post(
                    self.base_url + "/synthesize",
                    json={"text": text, "voice": voice},
                    headers=correlation_headers(),
                    timeout=self.options.dependency_timeout_s,
                )
            except httpx.TransportError as exc:
                last = type(exc).__name__
                continue
            if response.status_code == 200:
                return response.content
            if response.status_code < 500:
                raise ValueError(response.json().get("error", "rejected by TTS"))
            last = f"TTS answered {response.status_code}"
        raise DependencyUnavailable(self.name, last, 5.0)
