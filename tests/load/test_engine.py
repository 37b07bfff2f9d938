"""The engine over real loopback sockets: counts, coordinated omission, errors, the end."""

from __future__ import annotations

import pytest

from battletest.errors import TargetUnreachable
from battletest.load import histogram
from battletest.load.coordinator import HISTOGRAM_FILE, LiveStats, run
from battletest.load.executors import ExecutorSpec, Stage
from battletest.load.scenario import Endpoint
from battletest.load.suite import run_load_suite, thresholds_to_gates
from battletest.netutil import free_port
from battletest.results import Status

from .servers import serve

pytestmark = [pytest.mark.network]


@pytest.mark.slow
def test_constant_vus_counts_every_request_the_target_saw() -> None:
    live: list[LiveStats] = []
    with serve("ok") as (url, server):
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=3, duration=1.0),
            endpoints=[Endpoint("/a", name="a", weight=3), Endpoint("/b", name="b")],
            workers=1,
            snapshot_interval=0.5,
            progress=live.append,
        )
    assert result.requests == server.requests - 1  # the preflight is the one extra
    assert live and live[-1].requests <= result.requests and live[0].vus == 3
    assert result.failed == 0 and result.errors == {}
    assert result.endpoints["a"].requests > result.endpoints["b"].requests > 0
    assert set(server.paths[1:]) == {"/a", "/b"}
    assert 0 < result.latency_ms.p50 <= result.latency_ms.p99 <= result.latency_ms.max
    assert len(result.series) >= 2 and result.series[0].vus == 3
    assert result.client_cpu_s > 0 and result.bytes_in > 0 and result.bytes_out > 0
    # per-endpoint per-second series on the same clock as the total one
    assert set(result.endpoint_series) == {"a", "b"}
    for samples in result.endpoint_series.values():
        assert [s.t for s in samples] == [s.t for s in result.series]
    assert sum(s.requests for s in result.series) == sum(
        s.requests for samples in result.endpoint_series.values() for s in samples
    )
    assert all(s.span > 0 for s in result.series)
    assert sum(s.span for s in result.series) == pytest.approx(result.series[-1].t, abs=0.01)
    metrics = result.metrics()
    assert metrics["endpoint_series"]["a"][0]["span"] == result.endpoint_series["a"][0].span


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (ExecutorSpec("per-vu-iterations", vus=3, iterations=7), 21),
        (ExecutorSpec("shared-iterations", vus=4, iterations=25), 25),
    ],
)
def test_iteration_executors_send_exactly_the_iterations(spec: ExecutorSpec, expected: int) -> None:
    with serve("ok") as (url, server):
        result = run(url, executor=spec, workers=2)
    assert result.requests == expected == server.requests - 1
    assert result.intended_iterations == expected


@pytest.mark.slow
def test_a_stalled_target_shows_in_the_percentiles_and_every_request_is_sent() -> None:
    # 100/s for 3 s; the target freezes all responses for 0.6 s once, 1 s into the run
    with serve("stall", freeze_s=0.6, period_s=30.0, first_freeze_s=1.0) as (url, server):
        result = run(
            url, executor=ExecutorSpec("constant-arrival-rate", rate=100, duration=3.0), workers=1
        )
    assert result.intended_iterations == 300
    assert result.requests == 300 == server.requests - 1
    assert result.dropped_iterations == 0
    assert result.latency_ms.p99 >= 300.0  # at least half the stall
    assert result.latency_ms.p50 < 50.0


@pytest.mark.slow
def test_rate_beyond_max_vus_drops_iterations_and_warns() -> None:
    with serve("slow", delay_s=0.1) as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("constant-arrival-rate", rate=100, duration=1.0, max_vus=2),
            workers=1,
        )
    assert result.dropped_iterations > 50
    assert result.requests + result.dropped_iterations == 100
    assert any("raise --max-vus" in w for w in result.warnings)


@pytest.mark.slow
def test_connections_closed_by_the_target_are_counted_and_reopened() -> None:
    with serve("close", close_every=2) as (url, server):
        result = run(url, executor=ExecutorSpec("constant-vus", vus=2, duration=1.0), workers=1)
    assert server.connections > 3
    assert 0 < result.failed < result.requests
    assert set(result.errors) <= {"closed", "reset"} and result.errors


@pytest.mark.slow
def test_request_timeouts_are_errors_of_their_own_kind() -> None:
    with serve("ok", hang_after=1) as (url, _):  # answers the preflight, then hangs
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=2, duration=0.5),
            workers=1,
            timeout=0.2,
        )
    assert result.errors.get("timeout", 0) >= 2
    assert result.failed == result.requests


@pytest.mark.slow
def test_ramping_vus_follows_its_stages() -> None:
    with serve("ok") as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("ramping-vus", vus=0, stages=(Stage(1.0, 4), Stage(1.0, 0))),
            workers=1,
            think_time=(0.01, 0.01),
            snapshot_interval=0.5,
        )
    peak = max(s.vus for s in result.series)
    assert 3 <= peak <= 4
    assert result.requests > 0 and result.failed == 0


def test_garbage_target_is_not_http() -> None:
    with (
        serve("garbage") as (url, _),
        pytest.raises(TargetUnreachable, match="does not speak HTTP"),
    ):
        run(url, executor=ExecutorSpec("constant-vus", vus=1, duration=1.0))


def test_refused_and_unresolvable_targets_are_unreachable() -> None:
    with pytest.raises(TargetUnreachable, match="connection refused"):
        run(f"http://127.0.0.1:{free_port()}", executor=ExecutorSpec(duration=1.0))
    with pytest.raises(TargetUnreachable, match="cannot resolve host"):
        run("http://no-such-host.invalid", executor=ExecutorSpec(duration=1.0))


@pytest.mark.slow
def test_load_suite_reports_metrics_thresholds_gates_and_the_histogram(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with serve("ok") as (url, _):
        suite = run_load_suite(
            url,
            {
                "vus": 2,
                "duration": "1s",
                "workers": 1,
                "thresholds": ["p99<10s", "error_rate<1%", "rps>1000000000"],
            },
            run_dir=tmp_path,
        )
    assert suite.name == "load" and suite.status is Status.FAILED
    assert [c.status for c in suite.cases] == [Status.PASSED, Status.PASSED, Status.FAILED]
    for key in (
        "requests",
        "failed",
        "error_rate",
        "rps",
        "dropped_iterations",
        "latency_ms",
        "endpoints",
        "errors",
        "bytes_in",
        "bytes_out",
        "series",
        "client_cpu_s",
    ):
        assert key in suite.metrics
    assert set(suite.metrics["latency_ms"]) == {
        "min",
        "mean",
        "p50",
        "p90",
        "p95",
        "p99",
        "p999",
        "max",
    }
    gates = thresholds_to_gates(suite)
    assert [g.passed for g in gates] == [True, True, False]
    assert gates[2].name == "load: rps>1000000000" and gates[2].measured > 0
    saved = histogram.decode((tmp_path / HISTOGRAM_FILE).read_text().strip())
    assert saved.get_total_count() == suite.metrics["requests"]


@pytest.mark.slow
def test_abort_on_fail_stops_the_run_early() -> None:
    with serve("ok") as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=1, duration=20.0),
            thresholds=["p99<0.001ms"],
            abort_on_fail=True,
            workers=1,
            snapshot_interval=0.5,
        )
    assert result.aborted and not result.passed
    assert result.duration_s < 10


@pytest.mark.slow
def test_expected_status_mismatch_is_a_failed_check() -> None:
    with serve("ok") as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("per-vu-iterations", vus=1, iterations=5),
            endpoints=[Endpoint("/", expect=(201,))],
            workers=1,
        )
    assert result.requests == result.failed == 5
    assert result.errors == {"check_failed": 5}
    assert result.latency_ms.p50 > 0  # a response arrived, so its latency counts


@pytest.mark.slow
def test_graceful_ramp_down_interrupts_iterations_that_take_too_long() -> None:
    with serve("ok", hang_after=1) as (url, _):  # after the preflight, no answers
        result = run(
            url,
            executor=ExecutorSpec(
                "ramping-vus",
                vus=2,
                stages=(Stage(0.2, 2), Stage(0.1, 0), Stage(1.5, 0)),
                graceful_ramp_down=0.3,
                graceful_stop=30.0,
            ),
            workers=1,
            timeout=30.0,
        )
    # without the ramp-down limit the run would wait for the 30 s graceful stop
    assert result.interrupted_iterations == 2
    assert result.duration_s < 5.0


@pytest.mark.slow
def test_ramping_arrival_rate_sends_the_integral_of_its_rate() -> None:
    spec = ExecutorSpec("ramping-arrival-rate", rate=0, stages=(Stage(1.0, 100), Stage(0.5, 100)))
    with serve("ok") as (url, server):
        result = run(url, executor=spec, workers=2)
    assert result.intended_iterations == 100  # 50 on the ramp, 50 at 100/s
    assert result.requests == 100 == server.requests - 1
    assert result.dropped_iterations == 0
