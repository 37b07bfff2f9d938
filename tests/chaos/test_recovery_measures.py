"""What a time-to-recover measures: the dependency's side, read from a mock's journal rows
(socket-free: the rows are the admin API's ``/__admin/requests`` entries)."""

from __future__ import annotations

from battletest.chaos.experiment import ExperimentResult, dependency_recovery

REMOVED = 1_000.0


def _row(at: float, status: int | None, **extra: object) -> dict[str, object]:
    return {"timestamp": REMOVED + at, "status": status, "fault": None, "scenario": None, **extra}


def test_the_first_normal_answer_after_the_removal_is_the_dependency_recovery() -> None:
    rows = [
        _row(-0.5, 200),  # before the removal: not a recovery
        _row(0.2, None, fault="timeout"),  # the fault still shaped it
        _row(0.4, 503, scenario="outage"),
        _row(0.9, 500),  # a server error is no recovery
        _row(1.25, 200),
        _row(2.0, 200),
    ]
    assert dependency_recovery(rows, REMOVED, REMOVED + 5) == 1.25


def test_a_dependency_never_reached_again_has_no_recovery_time() -> None:
    # a stale cache answered every client: the journal shows nothing after the removal
    rows = [_row(-2.0, 200), _row(-1.0, None, fault="reset")]
    assert dependency_recovery(rows, REMOVED, REMOVED + 5) is None
    assert dependency_recovery([_row(6.0, 200)], REMOVED, REMOVED + 5) is None


def test_the_suite_result_names_both_figures() -> None:
    result = ExperimentResult(
        title="PMS outage",
        verdict="pass",
        time_to_recover_s=0.0,
        dependency_recovery={"pms": None},
        observed_after_s=4.0,
    )
    cases = {c.name: c for c in result.to_suite_result().cases}
    recovery = cases["PMS outage: recovery"]
    assert recovery.message.startswith("client-visible recovery in 0.00s")
    dep = cases["PMS outage: dependency pms reached again"]
    assert dep.status.value == "skipped" and dep.details["outcome"] == "inconclusive"
    assert "pms was not reached again in the 4.0s observed" in dep.message
