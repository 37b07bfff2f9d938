"""Rate limiting and login lockout, each on its own small-limit demo instance."""

from __future__ import annotations

import time

import httpx
import pytest

from battletest.demo import DemoHandle, start
from battletest.errors import AuthError

from .conftest import FAST

pytestmark = [pytest.mark.network, pytest.mark.slow]
KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 64}


def test_per_client_sliding_window_and_service_quota() -> None:
    with start(rate_limit_per_client=5, rate_window_s=4, service_quota=12, **KDF) as demo:
        svc = demo.identity("service").auth_headers()
        with httpx.Client(base_url=demo.base_url, timeout=10) as c:
            codes = [c.get("/version").status_code for _ in range(6)]
            assert codes == [200] * 5 + [429]
            r = c.get("/version")
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            assert r.headers["content-type"].startswith("application/problem+json")
            # the service API key has its own, higher quota
            svc_codes = [c.get("/v1/calls", headers=svc).status_code for _ in range(13)]
            assert svc_codes == [200] * 12 + [429]
            assert c.get("/health").status_code == 200  # health checks are never limited
            time.sleep(4.1)  # the window slides (generous: the machine may be busy)
            assert c.get("/version").status_code == 200


def test_login_lockout_after_repeated_failures() -> None:
    with start(lockout_threshold=3, lockout_s=3, **FAST) as demo:
        ident = demo.identity("staff_h1")
        good = {"username": ident.username, "password": ident.password}
        bad = {"username": ident.username, "password": "wrong"}
        with httpx.Client(base_url=demo.base_url, timeout=10) as c:
            assert [c.post("/v1/auth/login", json=bad).status_code for _ in range(3)] == [401] * 3
            locked = c.post("/v1/auth/login", json=good)  # right password, still locked
            with pytest.raises(AuthError, match="could not log in: HTTP 429"):
                demo.headers("staff_h1")
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
            other = demo.identity("staff_h2")
            assert (
                c.post(
                    "/v1/auth/login", json={"username": other.username, "password": other.password}
                ).status_code
                == 200
            )
            time.sleep(3.1)
            assert c.post("/v1/auth/login", json=good).status_code == 200


def test_expired_access_token_is_rejected(short_ttl_demo: DemoHandle) -> None:
    ident = short_ttl_demo.identity("guest1")
    with httpx.Client(base_url=short_ttl_demo.base_url, timeout=10) as c:
        pair = c.post(
            "/v1/auth/login", json={"username": ident.username, "password": ident.password}
        ).json()
        assert pair["expires_in"] == 2
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        assert c.get("/v1/me", headers=auth).status_code == 200
        time.sleep(2.2)
        r = c.get("/v1/me", headers=auth)
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        # the refresh token outlives the access token
        fresh = c.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert fresh.status_code == 200
