from __future__ import annotations

import httpx
import pytest

from battletest.demo import DemoHandle

from .conftest import headers

pytestmark = [pytest.mark.network]


def test_handle_describes_the_running_demo(demo: DemoHandle) -> None:
    assert demo.base_url.startswith("http://127.0.0.1:")
    assert set(demo.dependencies) == {"pms", "tts"}
    assert {i.name for i in demo.identities} == {
        "admin",
        "staff_h1",
        "staff_h2",
        "guest1",
        "guest2",
        "service",
    }
    assert demo.identity("service").api_key
    assert httpx.get(demo.base_url + "/health").json() == {"status": "ok"}
    assert httpx.get(demo.pms_url + "/health").json()["service"] == "pms"
    assert httpx.get(demo.tts_url + "/health").json()["service"] == "tts"


def test_reservation_through_the_pms(demo: DemoHandle, client: httpx.Client) -> None:
    r = client.get("/v1/reservations/r-1001", headers=headers(demo, "admin"))
    assert r.status_code == 200
    assert r.json()["confirmation_code"] == "HV7Q2K" and r.json()["stale"] is False


def test_handle_headers_log_users_in(demo: DemoHandle) -> None:
    me = httpx.get(demo.base_url + "/v1/me", headers=demo.headers("staff_h2")).json()
    assert me["email"] == "staff.h2@demo.test" and me["hotel_id"] == "h2"
    assert demo.headers("service") == {"X-API-Key": demo.identity("service").api_key}
