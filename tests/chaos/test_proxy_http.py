"""HTTP-aware toxics over real sockets: status injection, 429, first N, delay by path, bodies."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from battletest.chaos.proxy import FaultProxy

pytestmark = pytest.mark.chaos


@pytest.fixture
def web(faults: FaultProxy, http_upstream: str) -> str:
    faults.add("web", http_upstream)
    return faults.url("web")


def test_plain_requests_pass_unchanged_on_a_keep_alive_connection(
    faults: FaultProxy, web: str
) -> None:
    with faults.fault("web", "http_status", status=503, path="^/never$"), httpx.Client() as c:
        for i in range(5):
            r = c.post(f"{web}/items/{i}", content=b"payload-%d" % i)
            assert r.status_code == 200
            assert r.json() == {
                "path": f"/items/{i}",
                "method": "POST",
                "body": f"payload-{i}",
                "ok": True,
            }
        assert c.get(f"{web}/chunked").json()["path"] == "/chunked"
    stats = faults.get("web")["stats"]
    assert stats["http_requests"] == 6 and stats["http_injected"] == 0


def test_status_for_a_share_of_requests(web: str, http_upstream: str) -> None:
    with FaultProxy(seed=11) as faults:
        faults.add("web", http_upstream)
        url = faults.url("web")
        faults.toxic("web", "http_status", status=503, toxicity=0.2)
        with httpx.Client() as c:
            codes = [c.get(f"{url}/r").status_code for _ in range(200)]
        failed = codes.count(503)
        assert 20 <= failed <= 60  # 20% of 200, seeded
        assert set(codes) == {200, 503}
        toxic = faults.toxics("web")[0]
        assert toxic["stats"]["applied"] == failed and toxic["stats"]["matched"] == 200


def test_429_with_retry_after(faults: FaultProxy, web: str) -> None:
    with faults.fault("web", "http_throttle", retry_after=7), httpx.Client() as c:
        r = c.get(f"{web}/x")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.headers["x-battletest-fault"] == "http_throttle_downstream"
    assert r.json()["status"] == 429


def test_fail_first_n_then_pass(faults: FaultProxy, web: str) -> None:
    with (
        faults.fault("web", "http_status", status=500, first=3, body="boom"),
        httpx.Client() as c,
    ):
        results = [c.get(f"{web}/r") for _ in range(6)]
    assert [r.status_code for r in results] == [500, 500, 500, 200, 200, 200]
    assert results[0].text == "boom"


def test_injected_answers_keep_order_on_a_pipelined_connection(
    faults: FaultProxy, web: str
) -> None:
    import socket

    faults.toxic("web", "http_status", status=418, path="^/b")
    host, port = faults.listen("web").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 ") < 3 and time.monotonic() < deadline:
            data += sock.recv(65536)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", data)
    assert statuses == [b"200", b"418", b"200"]
    assert data.index(b'"/a"') < data.index(b"418") < data.index(b'"/c"')


@pytest.mark.slow
def test_delay_by_path_pattern(faults: FaultProxy, web: str) -> None:
    with faults.fault("web", "http_delay", delay=300, path=r"^/slow/"), httpx.Client() as c:
        t0 = time.perf_counter()
        assert c.get(f"{web}/slow/1").status_code == 200
        slow = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert c.get(f"{web}/fast/1").status_code == 200
        fast = time.perf_counter() - t0
    assert slow >= 0.29
    assert fast < 0.29


def test_header_matched_faults_target_single_requests(faults: FaultProxy, web: str) -> None:
    with (
        faults.fault("web", "http_status", status=502, header="X-Tenant: ^acme$"),
        httpx.Client() as c,
    ):
        assert c.get(f"{web}/x", headers={"X-Tenant": "acme"}).status_code == 502
        assert c.get(f"{web}/x", headers={"X-Tenant": "acme-2"}).status_code == 200
        assert c.get(f"{web}/x").status_code == 200


def test_method_match(faults: FaultProxy, web: str) -> None:
    with faults.fault("web", "http_status", status=503, method="POST"), httpx.Client() as c:
        assert c.get(f"{web}/x").status_code == 200
        assert c.post(f"{web}/x", content=b"body").status_code == 503
        assert c.get(f"{web}/y").status_code == 200  # the swallowed body did not leak


def test_truncated_body(faults: FaultProxy, web: str) -> None:
    with faults.fault("web", "http_body", mode="truncate"), httpx.Client() as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(f"{web}/x")
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(f"{web}/chunked")


def test_malformed_body_keeps_status_and_length(faults: FaultProxy, web: str) -> None:
    with faults.fault("web", "http_body", mode="malformed", path="^/m"), httpx.Client() as c:
        r = c.get(f"{web}/m")
        assert r.status_code == 200
        assert len(r.content) == int(r.headers["content-length"])
        with pytest.raises(ValueError):
            r.json()
        assert c.get(f"{web}/ok").json()["ok"] is True
        chunked = c.get(f"{web}/m-chunked-not")
        assert chunked.status_code == 200


def test_empty_body(faults: FaultProxy, web: str) -> None:
    with (
        faults.fault("web", "http_body", mode="empty"),
        httpx.Client() as c,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        c.get(f"{web}/x")


def test_status_and_byte_toxics_combine(faults: FaultProxy, web: str) -> None:
    faults.toxic("web", "latency", latency=5)
    faults.toxic("web", "http_status", status=503, first=1)
    with httpx.Client() as c:
        assert c.get(f"{web}/a").status_code == 503
        assert c.get(f"{web}/b").json()["path"] == "/b"


def test_counters_by_status(faults: FaultProxy, web: str) -> None:
    faults.toxic("web", "http_delay", delay=0)
    with httpx.Client() as c:
        c.get(f"{web}/status/404")
        c.get(f"{web}/status/201")
        c.get(f"{web}/status/404")
    stats: dict[str, Any] = faults.get("web")["stats"]
    assert stats["http_status"] == {"201": 1, "404": 2}
    assert stats["http_requests"] == 3


def test_head_requests_keep_faults_working_on_the_connection(faults: FaultProxy, web: str) -> None:
    with faults.fault("web", "http_status", status=503, path="^/fail"), httpx.Client() as c:
        for _ in range(3):
            head = c.head(f"{web}/x")
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["content-length"]) > 0
            assert c.get(f"{web}/fail").status_code == 503
            assert c.get(f"{web}/ok").json()["path"] == "/ok"
    stats = faults.get("web")["stats"]
    assert stats["connections_total"] == 1 and stats["http_injected"] == 3
    assert stats["http_status"] == {"200": 6}
