"""The resilience suite: passes on the secure demo, fails naming the property on each switch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from battletest.chaos.mock import MockServer
from battletest.chaos.resilience import ResilienceConfig, run_resilience_suite
from battletest.errors import ConfigError, TargetUnreachable
from battletest.netutil import free_port
from battletest.results import Status

# The PMS as a mock: one known reservation, 404 for every other id (probes use unique ids).
R1001 = {
    "id": "r-1001",
    "hotel_id": "h1",
    "guest_id": "g1",
    "guest_name": "Ada Lovelace",
    "guest_phone": "+15550100001",
    "guest_email": "guest1@demo.test",
    "confirmation_code": "HV7Q2K",
    "room": "301",
    "check_in": "2026-12-01",
    "check_out": "2026-12-04",
    "status": "confirmed",
}
PMS_STUBS = [
    {"name": "health", "method": "GET", "path": "/health", "response": {"json": {"status": "ok"}}},
    {
        "name": "r-1001",
        "method": "GET",
        "path": "/reservations/r-1001",
        "priority": 1,
        "response": {"json": R1001},
    },
    {
        "name": "unknown reservation",
        "method": "GET",
        "path": "/reservations/{id}",
        "priority": 9,
        "response": {"status": 404, "json": {"error": "reservation not found"}},
    },
    {
        "name": "search",
        "method": "GET",
        "path": "/reservations",
        "response": {"json": {"items": []}},
    },
]


@contextmanager
def demo_behind_mock(**switches: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """The demo with its PMS replaced by a mock; yields (base URL, resilience config)."""
    import battletest.demo as demo

    with (
        MockServer(PMS_STUBS, admin_port=0, name="pms") as pms,
        demo.start(
            pms_url=pms.url,
            breaker_reset_s=1.0,
            dependency_timeout_s=0.3,
            rate_limit_per_client=10,
            rate_window_s=3.0,
            service_quota=100_000,
            **switches,
        ) as handle,
    ):
        yield (
            handle.base_url,
            {
                "headers": {"X-API-Key": handle.options.service_api_key},
                "timeout_s": 5,
                "dependencies": [
                    {
                        "name": "pms",
                        "mock_url": pms.admin_url,
                        "path": "/v1/reservations/bt-{n}",
                        "cached_path": "/v1/reservations/r-1001",
                        "breaker_reset_s": 1.0,
                        "max_attempts": 4,
                        "fail_fast_s": 2.0,
                        "samples": 10,  # jittered gaps: enough attempts to tell growth apart
                    }
                ],
                "rate_limit": {"path": "/version", "headers": {}, "limit": 10, "window_s": 3.0},
                "unrelated": {"path": "/health"},
                "overload": {
                    "path": "/version",
                    "headers": {},
                    "rate": 200,
                    "duration_s": 1.5,
                    "p99_ms": 1000,
                },
            },
        )


@pytest.mark.slow
@pytest.mark.network
def test_secure_demo_passes_every_property() -> None:
    with demo_behind_mock() as (url, config):
        seen: list[str] = []
        result = run_resilience_suite(url, config, on_case=lambda c: seen.append(c.name))
    by_name = {c.name: c for c in result.cases}
    assert result.status is Status.PASSED, [c.message for c in result.cases if c.status != "passed"]
    assert (
        seen
        == list(by_name)
        == [
            "correlation_id[pms]",
            "circuit_breaker[pms]",
            "retry_backoff[pms]",
            "fail_fast[pms]",
            "degraded_response[pms]",
            "no_cascade[pms]",
            "rate_limit",
            "load_shedding",
        ]
    )
    assert by_name["circuit_breaker[pms]"].details["half_open_calls"] >= 1
    assert by_name["retry_backoff[pms]"].details["median_gap_ms"] >= 25
    assert max(by_name["retry_backoff[pms]"].details["attempts_per_request"]) <= 4
    assert by_name["load_shedding"].details["failed_or_shed"] > 0


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize(
    ("switch", "prop", "message"),
    [
        ("breaker", "circuit_breaker[pms]", "circuit breaker: the circuit did not open"),
        ("backoff", "retry_backoff[pms]", "retry backoff: retries do not back off"),
        ("rate_limit", "rate_limit", "rate limit: no 429 after 10 requests in 3s"),
    ],
)
def test_each_disabled_switch_fails_its_property(switch: str, prop: str, message: str) -> None:
    with demo_behind_mock(**{switch: False}) as (url, config):
        config["properties"] = [prop.split("[")[0], "correlation_id"]
        result = run_resilience_suite(url, config)
    by_name = {c.name: c for c in result.cases}
    assert result.status is Status.FAILED
    assert by_name[prop].status is Status.FAILED and by_name[prop].message.startswith(message)
    assert by_name["correlation_id[pms]"].status is Status.PASSED
    assert set(by_name) == {prop, "correlation_id[pms]"}  # only the selected properties ran


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dependencies": [{"name": "pms", "mock_url": "x", "path": "/r/1"}]}, "path needs {n}"),
        ({"properties": ["speed"]}, "unknown property 'speed'"),
        ({"retries": 3}, "retries: Extra inputs are not permitted"),
        ({"rate_limit": {"path": "/x", "limit": 1, "window_s": 1}}, "rate_limit.limit"),
    ],
)
def test_bad_config_is_one_clear_error(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        ResilienceConfig.parse(raw)
    assert message in str(err.value) and str(err.value).startswith("[resilience]")


def test_unreachable_target() -> None:
    with pytest.raises(TargetUnreachable, match="is not reachable"):
        run_resilience_suite(f"http://127.0.0.1:{free_port()}", {})


@pytest.mark.network
def test_unreachable_mock_admin_api() -> None:
    from battletest.netutil import serve_app

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = {
        "dependencies": [
            {"name": "pms", "mock_url": f"http://127.0.0.1:{free_port()}", "path": "/r/{n}"}
        ]
    }
    with serve_app(app) as url, pytest.raises(TargetUnreachable, match="mock admin API"):
        run_resilience_suite(url, config)


def test_nothing_configured_skips_with_the_key_to_add() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    result = run_resilience_suite("http://target.test", {}, http_transport=transport)
    assert result.status is Status.SKIPPED
    assert {c.message for c in result.cases} == {
        "not configured: add [[resilience.dependencies]]",
        "not configured: add [resilience.rate_limit]",
        "not configured: add [resilience.overload]",
        "not configured: add [resilience.unrelated]",
    }


def test_suite_context_adapter_reads_the_resilience_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from battletest.config import Config
    from battletest.suites.resilience import resilience_suite

    events: list[str] = []
    progress = SimpleNamespace(
        suite_started=lambda name, total: events.append(f"start {name}"),
        case_done=lambda suite, case: events.append(f"case {case.name}"),
        suite_done=lambda result: events.append(f"done {result.status.value}"),
    )
    config = Config.model_validate({"resilience": {"properties": ["rate_limit"]}})
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    ctx = SimpleNamespace(
        config=config, target=SimpleNamespace(base_url="http://target.test"), progress=progress
    )
    import battletest.chaos.resilience as resilience

    original = resilience.run_resilience_suite

    def with_mock_transport(base_url, config, **kwargs):
        return original(base_url, config, http_transport=transport, **kwargs)

    monkeypatch.setattr(resilience, "run_resilience_suite", with_mock_transport)
    result = resilience_suite(ctx)
    assert result.cases[0].message == "not configured: add [resilience.rate_limit]"
    assert events == ["start resilience"]  # run.py reports the suite done


def test_a_read_only_run_sends_no_write_probe_and_says_what_it_did_not_run() -> None:
    """LIVE_SMOKE: a dependency probed by POST and a POST rate-limit path are not sent (each
    property is "not run" with the policy's reason, never passed or failed) and no overload is
    sent; the GET probes still are."""
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if "/__admin" not in request.url.path:
            sent.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json={"requests": []})

    config = {
        "dependencies": [
            {"name": "pms", "mock_url": "http://mock.test", "path": "/orders/{n}", "method": "POST"}
        ],
        "rate_limit": {"path": "/login", "method": "POST", "limit": 4, "window_s": 1},
        "overload": {"path": "/", "rate": 50, "duration_s": 1},
        "properties": ["correlation_id", "rate_limit", "load_shedding"],
    }
    result = run_resilience_suite(
        "http://target.test", config, read_only=True, http_transport=httpx.MockTransport(answer)
    )
    by_name = {c.name: c for c in result.cases}
    assert {n: c.status for n, c in by_name.items()} == {
        "correlation_id[pms]": Status.SKIPPED,
        "rate_limit": Status.SKIPPED,
        "load_shedding": Status.SKIPPED,
    }
    assert "LIVE_SMOKE is read-only: POST /orders/" in by_name["correlation_id[pms]"].message
    assert "LIVE_SMOKE is read-only: POST /login" in by_name["rate_limit"].message
    assert "not part of the read-only subset" in by_name["load_shedding"].message
    assert sent == ["GET /"]  # the reachability probe only
