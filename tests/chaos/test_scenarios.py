"""Named failure scenarios: effects, schedules (fake clock), user-defined ones, durations."""

from __future__ import annotations

import random

import pytest

from battletest.chaos.scenarios import (
    BUILTIN_SCENARIOS,
    FailureSchedule,
    ScenarioRegistry,
    define_scenario,
)
from battletest.durations import parse_duration
from battletest.errors import ScenarioError, UsageError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def schedule(registry: ScenarioRegistry | None = None) -> tuple[FailureSchedule, FakeClock]:
    clock = FakeClock()
    return FailureSchedule(registry or ScenarioRegistry(), clock=clock, rng=random.Random(0)), clock


def test_all_issue_scenarios_are_built_in() -> None:
    assert set(BUILTIN_SCENARIOS) == {
        "throttling",
        "timeout",
        "service_failure",
        "quota_exceeded",
        "auth_failure",
        "slow",
        "flapping",
        "outage",
    }


@pytest.mark.parametrize(
    ("name", "status", "header"),
    [
        ("throttling", 429, ("retry-after", "1")),
        ("auth_failure", 401, ("www-authenticate", 'Bearer error="invalid_token"')),
        ("quota_exceeded", 429, ("x-ratelimit-remaining", "0")),
    ],
)
def test_status_scenarios(name: str, status: int, header: tuple[str, str]) -> None:
    sched, _ = schedule()
    sched.activate(name, 30)
    _, eff = sched.effect_for("/anything")
    assert eff.status == status
    assert header in eff.headers


def test_quota_retry_after_counts_down_to_the_end() -> None:
    sched, clock = schedule()
    sched.activate("quota_exceeded", 30)
    clock.now += 19.5
    _, eff = sched.effect_for("/x")
    assert ("retry-after", "11") in eff.headers


def test_service_failure_alternates_500_and_503() -> None:
    sched, _ = schedule()
    sched.activate("service_failure", 5)
    assert [sched.effect_for("/x")[1].status for _ in range(4)] == [503, 500, 503, 500]


def test_timeout_hangs_and_slow_adds_latency() -> None:
    sched, _ = schedule()
    sched.activate("timeout", 5)
    assert sched.effect_for("/x")[1].hang_s >= 30
    sched.activate("slow", 5)  # newest wins
    eff = sched.effect_for("/x")[1]
    assert eff.latency_ms == 2000 and eff.status is None


def test_flapping_alternates_windows() -> None:
    sched, clock = schedule()
    sched.activate("flapping", 10)
    seen = []
    for _ in range(4):
        hit = sched.effect_for("/x")
        seen.append(hit[1].status if hit else None)
        clock.now += 1.0
    assert seen == [503, None, 503, None]


def test_outage_refuses_and_expires() -> None:
    sched, clock = schedule()
    sched.activate("outage", 2)
    assert sched.refusing() is not None
    assert sched.effect_for("/x") is None  # refusing is the listener's job
    clock.now += 2.01
    assert sched.refusing() is None
    assert sched.active() == []


def test_expiry_and_deactivate() -> None:
    sched, clock = schedule()
    sched.activate("throttling", 1)
    sched.activate("auth_failure", 5)
    clock.now += 1.5
    assert [a.scenario.name for a in sched.active()] == ["auth_failure"]
    assert sched.deactivate("auth_failure") == 1
    assert sched.effect_for("/x") is None


def test_paths_restrict_a_scenario() -> None:
    sched, _ = schedule()
    sched.activate("throttling", 5, paths=["/tts"])
    assert sched.effect_for("/reservations/1") is None
    assert sched.effect_for("/tts/speak")[1].status == 429
    assert sched.describe()[0]["requests_affected"] == 1


def test_unknown_name_lists_the_known_ones() -> None:
    sched, _ = schedule()
    with pytest.raises(
        ScenarioError, match=r"unknown failure scenario 'throtling'; known: auth_failure"
    ):
        sched.activate("throtling", 5)


def test_bad_duration() -> None:
    sched, _ = schedule()
    with pytest.raises(UsageError, match="positive number of seconds"):
        sched.activate("throttling", 0)


def test_user_defined_scenario_from_config() -> None:
    reg = ScenarioRegistry(
        {
            "maintenance": {
                "like": "service_failure",
                "status": 503,
                "headers": {"Retry-After": "{remaining_s}"},
                "body": '{"error": "maintenance"}',
            },
            "lossy": {"fault": "connection_reset", "probability": 0.5},
        }
    )
    sched, clock = schedule(reg)
    sched.activate("maintenance", 10)
    clock.now += 2.2
    _, eff = sched.effect_for("/x")
    assert (eff.status, eff.body) == (503, '{"error": "maintenance"}')
    assert ("retry-after", "8") in eff.headers
    sched.deactivate()
    sched.activate("lossy", 10)
    hits = [sched.effect_for("/x") for _ in range(400)]
    faults = sum(1 for h in hits if h and h[1].fault == "connection_reset")
    assert 140 < faults < 260


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"like": "nope", "status": 500}, "not a known scenario"),
        ({"stauts": 500}, "unknown key(s) ['stauts']"),
        ({"status": "500"}, "wrong type"),
        ({"status": 700}, "not an HTTP status"),
        ({"fault": "boom"}, "unknown fault 'boom'"),
        ({"latency_ms": -1}, "must not be negative"),
        ({"probability": 1.5, "status": 500}, "between 0 and 1"),
        ({"description": "nothing"}, "does nothing"),
    ],
)
def test_bad_user_defined_scenario(table: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        define_scenario("mine", table)
    assert message in str(err.value) and "scenario 'mine'" in str(err.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("500ms", 0.5), ("2m", 120), ("1h", 3600), ("1.5", 1.5), (3, 3), ("1m30s", 90)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text, positive=True) == seconds


@pytest.mark.parametrize("text", ["", "abc", "30 sec", "-1s", "0s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text, positive=True)
