"""Executors: request counts, arrival timing and the split across workers (no sockets)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.errors import ConfigError, UsageError
from battletest.load.executors import (
    ExecutorSpec,
    Stage,
    arrival_offsets,
    intended_iterations,
    local_vus,
    share,
    vus_at,
    worker_offsets,
)
from battletest.load.options import LoadSettings
from battletest.load.runtime import ArrivalDriver, Recorder, WorkerConfig
from battletest.load.scenario import Endpoint, Target


def test_constant_arrival_rate_is_evenly_spaced_and_complete() -> None:
    spec = ExecutorSpec("constant-arrival-rate", rate=200, duration=15)
    offsets = list(arrival_offsets(spec))
    assert len(offsets) == 3000
    assert offsets[0] == 0.0
    assert offsets[1] == pytest.approx(0.005)
    assert offsets[-1] == pytest.approx(14.995)
    assert intended_iterations(spec) == 3000


def test_ramping_arrival_rate_follows_the_integral_of_the_rate() -> None:
    # 0 → 100/s over 2 s then 100/s for 1 s: 100 + 100 iterations
    spec = ExecutorSpec("ramping-arrival-rate", rate=0, stages=(Stage(2, 100), Stage(1, 100)))
    offsets = list(arrival_offsets(spec))
    assert len(offsets) == 200
    # during the ramp N(t) = 25 t², so iteration 25 starts at t = 1 s
    assert offsets[25] == pytest.approx(1.0)
    assert offsets[100] == pytest.approx(2.0)
    assert offsets[150] == pytest.approx(2.5)
    assert offsets == sorted(offsets)


def test_ramping_down_rate_ends_on_time() -> None:
    spec = ExecutorSpec("ramping-arrival-rate", rate=100, stages=(Stage(1, 0),))
    offsets = list(arrival_offsets(spec))
    assert len(offsets) == 50
    assert max(offsets) < 1.0
    # the gaps grow as the rate falls
    assert offsets[1] - offsets[0] < offsets[-1] - offsets[-2]


@given(
    total=st.integers(min_value=0, max_value=5000),
    workers=st.integers(min_value=1, max_value=16),
)
def test_shares_add_up(total: int, workers: int) -> None:
    parts = [share(total, workers, i) for i in range(workers)]
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


@pytest.mark.parametrize(
    "spec",
    [
        ExecutorSpec("constant-arrival-rate", rate=77, duration=3),
        ExecutorSpec("ramping-arrival-rate", rate=10, stages=(Stage(2, 90), Stage(1, 5))),
    ],
)
def test_worker_offsets_partition_the_schedule(spec: ExecutorSpec) -> None:
    merged = sorted(o for k in range(3) for o in worker_offsets(spec, 3, k))
    assert merged == list(arrival_offsets(spec))


def test_ramping_vus_interpolates_and_splits() -> None:
    spec = ExecutorSpec("ramping-vus", vus=0, stages=(Stage(10, 10), Stage(10, 10), Stage(5, 0)))
    assert [vus_at(spec, t) for t in (0, 5, 10, 15, 22.5, 25)] == [0, 5, 10, 10, 5, 0]
    assert sum(local_vus(7, 2, k) for k in range(2)) == 7
    assert spec.planned_duration == 25
    assert spec.peak_vus == 10


def test_default_max_vus_and_worker_count() -> None:
    spec = ExecutorSpec("constant-arrival-rate", rate=500, duration=1)
    assert spec.effective_max_vus == 500
    assert ExecutorSpec("constant-arrival-rate", rate=20, duration=1).effective_max_vus == 100
    assert ExecutorSpec("constant-vus", vus=1).worker_count(4) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ExecutorSpec("ramping-vus"), "needs stages"),
        (ExecutorSpec("constant-vus", vus=0), "--vus must be at least 1"),
        (ExecutorSpec("constant-arrival-rate", rate=0), "--rate must be positive"),
        (ExecutorSpec("constant-vus", duration=0), "--duration must be positive"),
        (ExecutorSpec("shared-iterations", iterations=0), "--iterations"),
    ],
)
def test_bad_executor_settings_are_usage_errors(spec: ExecutorSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec.validate()


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        ({}, "constant-vus"),
        ({"vus": 5, "duration": "2s"}, "constant-vus"),
        ({"rate": 50}, "constant-arrival-rate"),
        ({"stages": "1s:5,1s:0"}, "ramping-vus"),
        ({"rate": 10, "stages": "1s:50"}, "ramping-arrival-rate"),
        ({"vus": 2, "iterations": 10}, "shared-iterations"),
        (
            {"concurrent_users": 50, "requests_per_user": 100, "test_duration": 300},
            "per-vu-iterations",
        ),
    ],
)
def test_flags_choose_the_executor(settings: dict[str, object], kind: str) -> None:
    assert LoadSettings.coerce(settings).executor_spec().kind == kind


def test_legacy_flags_map_to_per_vu_iterations() -> None:
    spec = LoadSettings.coerce(
        {"concurrent_users": 50, "requests_per_user": 100, "test_duration": 300}
    ).executor_spec()
    assert (spec.vus, spec.iterations, spec.max_duration) == (50, 100, 300.0)
    assert intended_iterations(spec) == 5000


def test_conflicting_flags_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="different executors"):
        LoadSettings.coerce({"vus": 5, "rate": 10}).executor_spec()
    with pytest.raises(UsageError, match="cannot be mixed"):
        LoadSettings.coerce({"vus": 5, "concurrent_users": 10}).executor_spec()
    with pytest.raises(UsageError, match="invalid duration"):
        LoadSettings.coerce({"duration": "ten seconds"}).executor_spec()
    with pytest.raises(UsageError, match="invalid stage"):
        LoadSettings.coerce({"stages": "30s"}).executor_spec()


class FakeRuntime:
    """Just enough of ``Runtime`` for the arrival driver: a recorder, a clock, a timer list."""

    def __init__(self) -> None:
        self.rec = Recorder(1)
        self.t0 = 100.0
        self.timers: list[float] = []
        self.fired: list[tuple[int, float]] = []

    def pick(self) -> int:
        return 0

    def call_later(self, delay: float, fn: object) -> None:
        self.timers.append(delay)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _driver(
    rate: float, duration: float, max_vus: int
) -> tuple[ArrivalDriver, FakeRuntime, FakeClock]:
    spec = ExecutorSpec("constant-arrival-rate", rate=rate, duration=duration, max_vus=max_vus)
    cfg = WorkerConfig(0, 1, Target("http", "127.0.0.1", 80), "127.0.0.1", (Endpoint(),), spec)
    rt = FakeRuntime()
    clock = FakeClock(rt.t0)
    driver = ArrivalDriver(rt, cfg, clock)  # type: ignore[arg-type]
    driver.t0 = rt.t0
    return driver, rt, clock


def test_arrival_driver_starts_each_iteration_at_its_intended_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver, rt, clock = _driver(rate=100, duration=1, max_vus=1000)
    starts: list[float] = []
    monkeypatch.setattr(
        "battletest.load.runtime.User.fire", lambda self, ep, start: starts.append(start)
    )
    clock.now = rt.t0 + 0.2501  # 26 iterations are due (0, 10 ms, …, 250 ms)
    delay = driver.dispatch()
    assert len(starts) == 26
    assert starts[-1] == pytest.approx(rt.t0 + 0.25)  # latency is measured from here
    assert delay == pytest.approx(0.0099, abs=1e-6)
    clock.now = rt.t0 + 5.0  # a long stall in the loop: every late iteration still starts
    assert driver.dispatch() is None
    assert len(starts) == 100
    assert starts == sorted(starts)


def test_arrival_driver_drops_iterations_when_all_slots_are_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver, rt, clock = _driver(rate=100, duration=1, max_vus=10)
    monkeypatch.setattr("battletest.load.runtime.User.fire", lambda self, ep, start: None)
    clock.now = rt.t0 + 0.5  # 51 due, 10 slots that never finish
    driver.dispatch()
    assert len(driver.users) == 10
    assert rt.rec.dropped == 41
    driver.finished(driver.users[0], error=False, now=0.0)  # one slot frees up
    clock.now = rt.t0 + 0.515  # the 510 ms iteration takes the freed slot
    driver.dispatch()
    assert rt.rec.dropped == 41
    assert driver.active() == 10
    assert math.isclose(driver.next_offset or 0, 0.52)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"vu": 5}, "unknown [load] setting 'vu'"),
        ({"vus": "five"}, "invalid [load] setting 'vus': expected an integer"),
        ({"abort_on_fail": 1}, "expected true or false"),
        ({"thresholds": 5}, "expected thresholds like"),
        ({"thresholds": ["p95<1s", {"threshold": "p95<1s", "abortOnFail": "yes"}]}, "abortOnFail"),
        ({"endpoints": [{"path": "/a", "wieght": 2}]}, "unknown [load] setting endpoints.'wieght'"),
    ],
)
def test_bad_load_tables_are_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        LoadSettings.coerce(table)
    assert message in str(info.value)


def test_load_table_with_weighted_endpoints() -> None:
    settings = LoadSettings.coerce(
        {
            "rate": 50,
            "duration": "2s",
            "endpoints": [
                {"path": "/a", "weight": 3, "expect": [200]},
                {"path": "/b", "name": "b"},
            ],
        }
    )
    eps = settings.endpoint_list()
    assert [(e.label, e.weight, e.expect) for e in eps] == [("/a", 3, (200,)), ("b", 1.0, ())]
    assert settings.executor_spec().kind == "constant-arrival-rate"
