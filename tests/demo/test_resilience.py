"""Graceful degradation with the PMS process stopped, recovery, and the resilience switches."""

from __future__ import annotations

import time

import httpx
import pytest

from battletest.demo import start
from battletest.demo.deps import create_pms_app
from battletest.errors import UsageError
from battletest.netutil import serve_app

from .conftest import FAST, headers

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_pms_down_serves_stale_or_503_then_recovers() -> None:
    with start(cache_ttl_s=0.1, breaker_fail_max=2, breaker_reset_s=1, **FAST) as demo:
        admin = headers(demo, "admin")
        with httpx.Client(base_url=demo.base_url, timeout=30) as c:
            assert c.get("/v1/reservations/r-1001", headers=admin).json()["stale"] is False
            demo.stop_dependency("pms")
            time.sleep(0.15)  # the fresh-cache window passes

            stale = c.get("/v1/reservations/r-1001", headers=admin)
            assert stale.status_code == 200 and stale.json()["stale"] is True
            assert "Stale" in stale.headers["warning"]

            down = c.get("/v1/reservations/r-1002", headers=admin)
            assert down.status_code == 503 and int(down.headers["retry-after"]) >= 1
            assert down.headers["content-type"].startswith("application/problem+json")
            assert "pms is unavailable" in down.json()["detail"]

            for _ in range(3):  # the breaker opens: answers come without calling the PMS
                c.get("/v1/reservations/r-1002", headers=admin)
            opened = c.get("/v1/reservations/r-1002", headers=admin)
            assert "circuit open" in opened.json()["detail"]
            assert 'concierge_pms_breaker_open{state="open"} 1' in c.get("/metrics").text

            call = c.post(
                "/v1/calls", headers=admin, json={"caller": "+15550100002", "hotel_id": "h1"}
            )
            assert call.status_code == 201 and call.json()["degraded"] == ["pms"]
            assert call.json()["greeting_url"]  # the TTS still worked

            ready = c.get("/ready")
            assert ready.status_code == 503 and ready.json()["checks"]["pms"] != "ok"

            demo.start_dependency("pms")
            deadline = time.monotonic() + 15
            while True:
                r = c.get("/v1/reservations/r-1002", headers=admin)
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert r.status_code == 200 and r.json()["stale"] is False
            assert c.get("/ready").status_code == 200


def test_without_breaker_backoff_or_rate_limit() -> None:
    """The resilience switches off: every request tries the PMS; with the TTS down too, calls
    are still taken; rate limiting is off."""
    with start(
        breaker=False,
        backoff=False,
        retries=1,
        cache_ttl_s=0.1,
        rate_limit=False,
        **{**FAST, "rate_limit_per_client": 2},
    ) as demo:
        admin = headers(demo, "admin")
        demo.stop_dependency("pms")
        demo.stop_dependency("tts")
        with httpx.Client(base_url=demo.base_url, timeout=30) as c:
            details = [
                c.get("/v1/reservations/r-2002", headers=admin).json()["detail"] for _ in range(8)
            ]
            assert all("ConnectError" in d for d in details), details
            metrics = c.get("/metrics").text
            assert 'concierge_pms_breaker_open{state="disabled"} 0' in metrics
            assert 'concierge_pms_calls_total{kind="attempts"} 16' in metrics  # 8 x (1 + 1 retry)

            call = c.post(
                "/v1/calls", headers=admin, json={"caller": "+15550100001", "hotel_id": "h1"}
            ).json()
            assert call["degraded"] == ["pms", "tts"] and call["greeting_url"] is None
            r = c.post("/v1/tts/synthesize", headers=admin, json={"text": "hello"})
            assert r.status_code == 503 and "retry-after" in r.headers
            assert {c.get("/version").status_code for _ in range(10)} == {200}  # no limit


def test_external_pms_url_is_used() -> None:
    pms_app = create_pms_app()
    with serve_app(pms_app) as pms_url, start(pms_url=pms_url, **FAST) as demo:
        assert demo.pms_url == pms_url and "pms" not in demo.pids
        r = httpx.get(demo.base_url + "/v1/reservations/r-2001", headers=headers(demo, "service"))
        assert r.status_code == 200
        assert any(e["path"] == "/reservations/r-2001" for e in pms_app.entries)
        with pytest.raises(UsageError):
            demo.stop_dependency("pms")
