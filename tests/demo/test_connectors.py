"""The PMS connector without sockets (httpx.MockTransport): cache, single flight, stale, breaker."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from battletest.demo.connectors import (
    CORRELATION_ID,
    DependencyUnavailable,
    PmsClient,
)
from battletest.demo.options import DemoOptions


class FakePms:
    def __init__(self) -> None:
        self.up = True
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.up:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def client(pms: FakePms, **options: object) -> PmsClient:
    opts = DemoOptions.build(backoff=False, retries=1, **options)
    return PmsClient("http://pms", opts, httpx.AsyncClient(transport=httpx.MockTransport(pms)))


def test_concurrent_misses_share_one_call_and_then_hit_the_cache() -> None:
    pms = FakePms()
    pc = client(pms)

    async def scenario() -> list[tuple[object, bool]]:
        CORRELATION_ID.set("cid-1")
        first = await asyncio.gather(*(pc.reservation("r-1") for _ in range(20)))
        again = await pc.reservation("r-1")
        return [*first, again]

    results = run(scenario())
    assert all(r == ({"id": "r-1"}, False) for r in results)
    assert len(pms.requests) == 1 and pc.stats["coalesced"] == 19
    assert pc.stats["cache_hits"] == 1
    assert pms.requests[0].headers["x-correlation-id"] == "cid-1"


def test_stale_copy_then_unavailable_then_breaker_opens() -> None:
    pms = FakePms()
    pc = client(pms, cache_ttl_s=0.0001, breaker_fail_max=2, breaker_reset_s=60)

    async def scenario() -> None:
        await pc.reservation("r-1")
        pms.up = False
        await asyncio.sleep(0.001)
        assert await pc.reservation("r-1") == ({"id": "r-1"}, True)  # stale copy
        with pytest.raises(DependencyUnavailable) as first:
            await pc.reservation("r-2")
        assert first.value.reason in ("ConnectError", "circuit open")
        with pytest.raises(DependencyUnavailable) as later:
            await pc.reservation("r-2")
        assert later.value.reason == "circuit open" and later.value.retry_after > 50

    run(scenario())
    assert pc.breaker_state == "open"
    calls_when_open = len(pms.requests)

    async def more() -> None:
        for _ in range(5):
            with pytest.raises(DependencyUnavailable):
                await pc.reservation("r-3")

    run(more())
    assert len(pms.requests) == calls_when_open  # an open breaker sends nothing


def test_upstream_5xx_is_retried() -> None:
    answers = iter([503, 200])
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        code = next(answers)
        seen.append(code)
        return httpx.Response(code, json={"id": "r-9"})

    opts = DemoOptions.build(backoff=False, retries=2)
    pc = PmsClient("http://pms", opts, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    assert run(pc.reservation("r-9")) == ({"id": "r-9"}, False)
    assert seen == [503, 200]
