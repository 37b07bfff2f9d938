"""The demo's PMS behind the fault proxy: latency, 503 injection and disable, each observed
through the demo's retries, circuit breaker and stale cache (real processes, real sockets)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from battletest.chaos.proxy import FaultProxy

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

RETRIES = 2  # the demo makes up to 1 + RETRIES attempts per PMS call
FAIL_MAX = 2  # the breaker opens at the second failed attempt
BREAKER_RESET_S = 1.0


@dataclass
class Rig:
    faults: FaultProxy
    demo: Any
    http: httpx.Client

    def get(self, reservation: str) -> httpx.Response:
        return self.http.get(f"/v1/reservations/{reservation}")

    def metric(self, name: str) -> str:
        text = self.http.get("/metrics").text
        return "\n".join(line for line in text.splitlines() if line.startswith(name))

    def pms_attempts(self) -> int:
        found = re.search(r'concierge_pms_calls_total\{kind="attempts"\} (\d+)', self.metric("c"))
        assert found is not None
        return int(found.group(1))

    def breaker_state(self) -> str:
        found = re.search(r'concierge_pms_breaker_open\{state="(\w+)"\}', self.metric("concierge"))
        return found.group(1) if found else "?"

    def wait_breaker_closed(self) -> None:
        time.sleep(BREAKER_RESET_S + 0.1)  # half-open after the reset timeout


@pytest.fixture(scope="module")
def pms_process() -> Iterator[str]:
    """The demo's PMS as its own process on a loopback socket we bind (host:port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "battletest.demo.deps", "pms", "--fd", str(sock.fileno())],
        pass_fds=(sock.fileno(),),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def rig(pms_process: str) -> Iterator[Rig]:
    from battletest.demo import start

    with FaultProxy(seed=5) as faults:
        faults.add("pms", pms_process)
        with start(
            pms_url=faults.url("pms"),
            retries=RETRIES,
            breaker_fail_max=FAIL_MAX,
            breaker_reset_s=BREAKER_RESET_S,
            dependency_timeout_s=0.3,
            cache_ttl_s=0.05,
            stale_ttl_s=300.0,
            rate_limit=False,
        ) as demo:
            key = demo.identity("service").auth_headers()
            with httpx.Client(base_url=demo.base_url, headers=key, timeout=10) as http:
                yield Rig(faults, demo, http)


@pytest.fixture
def clean(rig: Rig) -> Iterator[Rig]:
    rig.faults.reset()
    rig.wait_breaker_closed()
    assert rig.get("r-2002").status_code == 200  # the breaker closes on a good call
    yield rig
    rig.faults.reset()


def test_latency_slows_lookups_then_timeouts_are_retried(clean: Rig) -> None:
    rig = clean
    with rig.faults.fault("pms", "latency", latency=150):
        t0 = time.perf_counter()
        r = rig.get("r-1001")
        assert r.status_code == 200 and r.json()["stale"] is False
        assert time.perf_counter() - t0 >= 0.15
    # Slower than the demo's 0.3 s dependency timeout: every attempt times out, is retried
    # (seen by the proxy as one HTTP request per attempt), then the demo gives up with 503.
    before = rig.faults.get("pms")["stats"]["http_requests"]
    demo_before = rig.pms_attempts()
    with rig.faults.fault("pms", "http_delay", delay=600, path="^/reservations/r-1002"):
        r = rig.get("r-1002")
        attempts = rig.faults.get("pms")["stats"]["http_requests"] - before
    # The demo retries within 2 x its timeout, so two 0.3 s attempts fit; the proxy saw each.
    assert attempts >= 2
    assert attempts == rig.pms_attempts() - demo_before
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert rig.breaker_state() == "open"


def test_injected_503s_are_retried_open_the_breaker_and_stale_data_is_served(
    clean: Rig,
) -> None:
    rig = clean
    assert rig.get("r-1003").status_code == 200  # now cached: a stale copy exists
    time.sleep(0.1)  # past cache_ttl_s: the next lookup goes to the PMS
    with rig.faults.fault("pms", "http_status", status=503) as toxic:
        r = rig.get("r-1003")
        assert r.status_code == 200 and r.json()["stale"] is True
        assert "Stale" in r.headers["warning"]
        stats = next(t for t in rig.faults.toxics("pms") if t["name"] == toxic.name)["stats"]
        # Each attempt hit the injected 503 until the breaker opened and stopped the retries.
        assert stats["applied"] == FAIL_MAX
        assert rig.breaker_state() == "open"
        # Breaker open: no request reaches the proxy, and an uncached id gets 503 + Retry-After.
        r = rig.get("r-2001")
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "circuit open" in r.text
        after = next(t for t in rig.faults.toxics("pms") if t["name"] == toxic.name)["stats"]
        assert after["matched"] == stats["matched"]
    rig.wait_breaker_closed()
    r = rig.get("r-2001")
    assert r.status_code == 200 and r.json()["stale"] is False


def test_fail_first_n_is_absorbed_by_the_demo_retries(clean: Rig) -> None:
    rig = clean
    with rig.faults.fault("pms", "http_status", status=503, first=FAIL_MAX - 1) as toxic:
        r = rig.get("r-1001")
        stats = next(t for t in rig.faults.toxics("pms") if t["name"] == toxic.name)["stats"]
    assert r.status_code == 200 and r.json()["stale"] is False
    assert stats["applied"] == FAIL_MAX - 1
    assert rig.breaker_state() == "closed"


def test_disabled_pms_gives_503_then_recovers(clean: Rig) -> None:
    rig = clean
    with rig.faults.disabled("pms"):
        r = rig.get("r-1002")
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert rig.breaker_state() == "open"
    rig.wait_breaker_closed()
    r = rig.get("r-1002")
    assert r.status_code == 200
    assert rig.breaker_state() == "closed"
