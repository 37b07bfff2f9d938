"""k6's semantics over real loopback sockets: failures and timeouts in the latency
distribution, dropped iterations as a gated metric, one failure rule for every way of
describing requests, and a reachability check that does not use the request timeout.

Short phases (1–3 s); the assertions are about verdicts and counts, never about timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from battletest.cli import main
from battletest.load.coordinator import run
from battletest.load.executors import ExecutorSpec
from battletest.load.flow import parse_scenario
from battletest.load.options import LoadSettings
from battletest.load.scenario import Endpoint
from battletest.load.suite import run_load_suite, thresholds_to_gates
from battletest.results import Status

from .servers import serve

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _rows(result: object) -> dict[str, tuple[bool | None, str]]:
    return {r.threshold: (r.passed, r.line) for r in result.thresholds}  # type: ignore[attr-defined]


def test_timed_out_requests_are_in_the_percentiles_and_fail_latency_thresholds() -> None:
    # /slow answers after 2 s, the timeout is 0.5 s: half the requests time out
    with serve("paths", delay_s=2.0) as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("constant-arrival-rate", rate=20, duration=2.0),
            endpoints=[Endpoint("/fast"), Endpoint("/slow")],
            thresholds=["p95<1s", "max<1s", "p50{name=/fast}<1s", "http_req_failed: rate<0.95"],
            timeout=0.5,
            workers=1,
        )
    slow = result.endpoints["/slow"]
    assert slow.requests > 0 and slow.failed == slow.requests
    assert result.errors.get("timeout") == slow.requests
    # the timeouts sit at the timeout in the distribution (not left out of it)
    assert slow.latency_ms.p50 == pytest.approx(500.0, rel=0.01)
    assert result.latency_ms.max == pytest.approx(500.0, rel=0.01)
    rows = _rows(result)
    assert rows["p95<1s"][0] is False and "timed out" in rows["p95<1s"][1]
    assert rows["max<1s"][0] is False
    assert rows["p50{name=/fast}<1s"][0] is True  # the fast endpoint's own figure holds
    assert rows["http_req_failed: rate<0.95"][0] is True
    assert result.rps_ok < result.rps


def test_dropped_iterations_fail_the_default_threshold_and_reach_the_gate_table() -> None:
    # the target freezes 1.5 s of every 2 s: 10 connections cannot carry 100/s through that
    with serve("stall", freeze_s=1.5, period_s=2.0, first_freeze_s=0.2) as (url, _):
        suite = run_load_suite(
            url,
            {"rate": 100, "max_vus": 10, "duration": "2s", "workers": 1, "graceful_stop": "3s"},
        )
    assert suite.metrics["dropped_iterations"] > 0
    gates = {g.name: g for g in thresholds_to_gates(suite)}
    gate = gates["load: dropped_iterations==0"]
    assert gate.passed is False and gate.measured == suite.metrics["dropped_iterations"]
    assert suite.status is Status.FAILED


def test_the_dropped_iterations_threshold_is_configurable() -> None:
    spec = ExecutorSpec("constant-arrival-rate", rate=100, duration=1.5, max_vus=5)
    with serve("stall", freeze_s=1.0, period_s=2.0, first_freeze_s=0.2) as (url, _):
        relaxed = run(url, executor=spec, workers=1, dropped_iterations_threshold=10_000)
        off = run(url, executor=spec, workers=1, dropped_iterations_threshold=False)
        own = run(url, executor=spec, workers=1, thresholds=["dropped_iterations: count<100000"])
    assert relaxed.dropped_iterations > 0
    assert [r.threshold for r in relaxed.thresholds] == ["dropped_iterations<=10000"]
    assert relaxed.passed
    assert off.thresholds == [] and off.dropped_iterations > 0
    assert [r.threshold for r in own.thresholds] == ["dropped_iterations: count<100000"]
    with serve("ok") as (url, _):
        closed = run(url, executor=ExecutorSpec("constant-vus", vus=1, duration=0.5), workers=1)
    assert closed.thresholds == []  # closed model: nothing is dropped, no default row


def test_a_slow_but_up_target_fails_its_threshold_with_exit_1_not_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve("slow", delay_s=1.0) as (url, _), pytest.raises(SystemExit) as info:
        main(
            [
                "load",
                "--target",
                url,
                "--vus",
                "2",
                "--duration",
                "2s",
                "--timeout",
                "300ms",
                "--threshold",
                "p95<250ms",
                "--workers",
                "1",
            ]
        )
    out, err = capsys.readouterr()
    assert info.value.code == 1, err
    assert "p95<250ms: >= 300" in out and "(FAILED)" in out
    assert "timeout=" in out


SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "status codes", "version": "1"},
    "paths": {
        "/fast": {"get": {"operationId": "fast", "responses": {"200": {"description": "ok"}}}},
        "/status/500": {
            "get": {"operationId": "broken", "responses": {"200": {"description": "ok"}}}
        },
        "/status/401": {
            "get": {"operationId": "locked", "responses": {"200": {"description": "ok"}}}
        },
    },
}


def test_from_spec_scenarios_and_paths_share_one_failure_rule(tmp_path: Path) -> None:
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(json.dumps(SPEC))
    closed = ExecutorSpec("constant-vus", vus=2, duration=1.0)
    with serve("paths") as (url, _):
        kwargs = LoadSettings(from_spec=str(spec_file)).run_kwargs(url)
        kwargs.update(
            executor=closed, workers=1, thresholds=["rps>1", "rps_ok{name=GET /status/500}>1"]
        )
        from_spec = run(url, **kwargs)
        paths = run(
            url,
            executor=closed,
            workers=1,
            endpoints=[Endpoint("/fast"), Endpoint("/status/500"), Endpoint("/status/401")],
        )
        # a 401 is a success only where the scenario expects it; a 5xx never is
        expected = parse_scenario(
            {
                "requests": [
                    {"name": "locked", "path": "/status/401", "expected_statuses": [401]},
                    {"name": "plain", "path": "/status/401"},
                ]
            }
        )
        flow = run(url, executor=closed, workers=1, scenario=expected)
    by_op = {name.split(" ")[-1]: ep for name, ep in from_spec.endpoints.items()}
    by_path = paths.endpoints
    for path in ("/status/500", "/status/401"):
        assert by_op[path].requests > 0 and by_op[path].failed == by_op[path].requests
        assert by_path[path].requests > 0 and by_path[path].failed == by_path[path].requests
    assert by_op["/fast"].failed == 0 and by_path["/fast"].failed == 0
    rows = _rows(from_spec)
    assert rows["rps>1"][0] is True  # every request counts in rps…
    assert rows["rps_ok{name=GET /status/500}>1"][0] is False  # …only good ones in rps_ok
    assert flow.endpoints["locked"].failed == 0 and flow.endpoints["locked"].requests > 0
    assert flow.endpoints["plain"].failed == flow.endpoints["plain"].requests > 0


def test_a_k6_object_threshold_with_abort_on_fail_stops_the_run() -> None:
    with serve("slow", delay_s=0.05) as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=2, duration=30.0),
            thresholds=[
                {"threshold": "p95<1ms", "abortOnFail": True, "delayAbortEval": "0.5s"},
                "p99<10s",
            ],
            workers=1,
            snapshot_interval=0.25,
        )
    assert result.aborted and not result.interrupted
    assert result.duration_s < 30.0  # stopped by the threshold, not by the planned end
    assert [r.passed for r in result.thresholds] == [False, True]
