"""Named failure scenarios carried out by a real fault proxy in front of a mock."""

from __future__ import annotations

import time

import httpx
import pytest

from battletest.chaos.mock import MockServer
from battletest.chaos.proxy import FaultProxy
from battletest.chaos.scenarios import BUILTIN_SCENARIOS, ProxyFailures
from battletest.errors import ScenarioError

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture
def proxied():
    with MockServer([{"path": "/r", "response": {"body": "ok"}}]) as mock, FaultProxy() as proxy:
        proxy.add("pms", upstream=f"127.0.0.1:{mock.port}")
        yield proxy, ProxyFailures(proxy, "pms"), proxy.url("pms")


def get(url: str, timeout: float = 3.0) -> httpx.Response:
    with httpx.Client(timeout=timeout) as c:
        return c.get(url + "/r")


def test_status_scenarios_on_a_proxy(proxied) -> None:
    proxy, failures, url = proxied
    assert get(url).text == "ok"
    failures.activate_failure("throttling", 5)
    r = get(url)
    assert (r.status_code, r.headers["retry-after"]) == (429, "1")
    failures.activate_failure("auth_failure", 5)
    assert failures.active_failures() == ["auth_failure", "throttling"]
    failures.deactivate_failure("throttling")
    assert get(url).status_code == 401
    failures.deactivate_failure()
    assert get(url).text == "ok" and proxy.toxics("pms") == []


def test_outage_disables_the_proxy_until_the_end(proxied) -> None:
    _, failures, url = proxied
    failures.activate_failure("outage", 2.0)
    with pytest.raises(httpx.ConnectError):
        get(url)
    deadline = time.monotonic() + 5
    while True:
        try:
            assert get(url).text == "ok"
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the proxy was not enabled again"
            time.sleep(0.05)


def test_slow_and_timeout(proxied) -> None:
    _, failures, url = proxied
    failures.activate_failure("timeout", 5)
    with pytest.raises(httpx.ReadTimeout):
        get(url, timeout=0.3)
    failures.deactivate_failure("timeout")
    t0 = time.monotonic()
    failures.activate_failure("slow", 5)
    assert get(url).text == "ok" and time.monotonic() - t0 >= 1.9


def test_every_builtin_maps_to_something(proxied) -> None:
    _, failures, _ = proxied
    for scenario in BUILTIN_SCENARIOS.values():
        assert failures.toxics_for(scenario, 10) or scenario.refuse_connections, scenario.name


def test_unknown_scenario_on_a_proxy(proxied) -> None:
    _, failures, _ = proxied
    with pytest.raises(ScenarioError, match="unknown failure scenario 'nope'"):
        failures.activate_failure("nope", 3)
