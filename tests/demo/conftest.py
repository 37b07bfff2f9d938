from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from battletest.demo import DemoHandle, start

# Fast knobs for tests: cheap KDF, generous limits on the shared instances (tests that exhaust
# a limit or stop a process start their own instance).
FAST: dict[str, Any] = {
    "kdf_time_cost": 1,
    "kdf_memory_kib": 64,
    "rate_limit_per_client": 100_000,
    "service_quota": 100_000,
}


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoHandle]:
    with start(**FAST) as handle:
        yield handle


@pytest.fixture(scope="session")
def insecure_demo() -> Iterator[DemoHandle]:
    with start(insecure=True, **FAST) as handle:
        yield handle


@pytest.fixture(scope="session")
def short_ttl_demo() -> Iterator[DemoHandle]:
    """Access tokens live 2 s (expiry tests)."""
    with start(token_ttl_s=2, **FAST) as handle:
        yield handle


@pytest.fixture(scope="session")
def short_ttl_insecure_demo() -> Iterator[DemoHandle]:
    with start(token_ttl_s=2, insecure=True, **FAST) as handle:
        yield handle


def login(demo: DemoHandle, name: str) -> str:
    ident = demo.identity(name)
    r = httpx.post(
        demo.base_url + "/v1/auth/login",
        json={"username": ident.username, "password": ident.password},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def headers(demo: DemoHandle, name: str) -> dict[str, str]:
    ident = demo.identity(name)
    return ident.auth_headers(None if ident.api_key else login(demo, name))


@pytest.fixture
def client(demo: DemoHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base_url, timeout=15) as c:
        yield c
