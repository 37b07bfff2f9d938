"""Gates: each row's limit, measured value and verdict; `battletest gate` exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from battletest.cli import cli
from battletest.errors import UsageError
from battletest.quality.gates import GatesConfig, evaluate_gates, evaluate_report
from battletest.quality.store import CaseRecord, HistoryStore, RunRecord, sqlite_url
from battletest.results import (
    Case,
    Finding,
    GateResult,
    Report,
    RunInfo,
    Severity,
    Status,
    SuiteResult,
)


def _suite(name: str, statuses: list[Status], **extra: object) -> SuiteResult:
    cases = [Case(name=f"t{i}", status=s) for i, s in enumerate(statuses)]
    return SuiteResult.from_cases(name, cases, 0.1, **extra)  # type: ignore[arg-type]


def _rows(rows: list[GateResult]) -> dict[str, GateResult]:
    return {r.name: r for r in rows}


def test_nothing_measurable_is_null_never_a_failure() -> None:
    rows = _rows(evaluate_gates([], GatesConfig()))
    assert set(rows) == {
        "suite_results",
        "no_failed_cases",
        "success_rate",
        "exercised_operations",
        "line_coverage",
        "branch_coverage",
        "max_severity",
        "security_conclusive",
        "flakiness_budget",
        "load_error_rate",
        "load_thresholds",
    }
    assert all(r.passed is None and r.reason for r in rows.values())


def _errored(name: str, message: str) -> SuiteResult:
    case = Case(name=f"{name} suite", status=Status.ERROR, message=message)
    return SuiteResult(name=name, status=Status.ERROR, cases=[case], message=message)


def test_a_security_suite_that_errored_fails_its_gates_never_passes() -> None:
    rows = _rows(evaluate_gates([_errored("security", "spec unreadable")], GatesConfig()))
    for name in ("max_severity", "security_conclusive", "suite_results"):
        assert rows[name].passed is False, name
    assert "the security suite errored: spec unreadable" in rows["max_severity"].reason


def test_a_gate_whose_suite_was_not_enabled_fails_only_when_required() -> None:
    contract = _suite("contract", [Status.PASSED])
    rows = _rows(evaluate_gates([contract], GatesConfig()))
    assert rows["max_severity"].passed is None
    assert "did not run" in rows["max_severity"].reason
    required = GatesConfig.model_validate(
        {"required": ["line_coverage"], "max_severity": {"limit": "high", "required": True}}
    )
    assert required.max_severity is Severity.HIGH
    rows = _rows(evaluate_gates([contract], required))
    assert rows["max_severity"].passed is False and rows["line_coverage"].passed is False
    assert rows["max_severity"].reason.startswith("required but not measured")
    assert rows["branch_coverage"].passed is None


def test_unknown_required_gates_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown gate max_sevrity"):
        GatesConfig.model_validate({"required": ["max_sevrity"]})


def test_a_suite_whose_every_case_was_skipped_or_inconclusive_fails_the_run() -> None:
    cases = [
        Case(name="p1", status=Status.SKIPPED, message="not configured: add [resilience]"),
        Case(name="p2", status=Status.SKIPPED, details={"outcome": "inconclusive"}),
    ]
    resilience = SuiteResult.from_cases("resilience", cases, 0.1)
    row = _rows(evaluate_gates([resilience], GatesConfig()))["suite_results"]
    assert row.passed is False
    assert "every case of the resilience suite was skipped or inconclusive" in row.reason
    assert "1 inconclusive, 1 skipped" in row.reason
    # a suite the run did not start (no cases) is not measured, and listed
    not_started = SuiteResult(name="load", status=Status.SKIPPED, message="not run: prod")
    row = _rows(evaluate_gates([_suite("contract", [Status.PASSED]), not_started], GatesConfig()))
    assert row["suite_results"].passed is True and "not run: load" in row["suite_results"].reason
    assert row["load_error_rate"].passed is None


def _scan(conclusive: int, inconclusive: int) -> SuiteResult:
    cases = [
        Case(name=f"c{i}", status=Status.PASSED, details={"check": "x", "conclusive": True})
        for i in range(conclusive)
    ] + [
        Case(name=f"i{i}", status=Status.SKIPPED, details={"check": "x", "conclusive": False})
        for i in range(inconclusive)
    ]
    return SuiteResult.from_cases("security", cases, 0.1)


def test_security_conclusive_below_the_floor_fails_and_no_findings_is_not_a_pass() -> None:
    rows = _rows(evaluate_gates([_scan(63, 174)], GatesConfig()))
    assert rows["security_conclusive"].passed is False
    assert rows["security_conclusive"].measured == 26.58
    assert rows["security_conclusive"].reason.startswith("63/237 check runs conclusive")
    assert rows["max_severity"].passed is None and "63/237" in rows["max_severity"].reason
    rows = _rows(evaluate_gates([_scan(95, 5)], GatesConfig()))
    assert rows["security_conclusive"].passed is True and rows["max_severity"].passed is True
    lenient = GatesConfig(min_conclusive_percent=20)
    assert _rows(evaluate_gates([_scan(63, 174)], lenient))["security_conclusive"].passed


def _ops(tried: list[str], exercised: list[str], not_run: dict[str, str] | None = None) -> Any:
    return {
        "operations": {
            "tried_operations": tried,
            "exercised_operations": exercised,
            "not_run": not_run or {},
        }
    }


def test_exercised_operations_is_the_union_over_suites_without_what_policy_refused() -> None:
    ops = [f"GET /o{i}" for i in range(10)]
    contract = _suite(
        "contract",
        [Status.PASSED],
        metrics=_ops(ops, ops[:7], {"DELETE /o/{id}": "not run: destructive"}),
    )
    auth = _suite("auth", [Status.PASSED], metrics=_ops(ops[:9], ops[7:8]))
    row = _rows(evaluate_gates([contract, auth], GatesConfig()))["exercised_operations"]
    assert (row.passed, row.measured) == (True, 80)
    assert row.reason.startswith("8/10 operations tried got a documented success")
    assert "never: GET /o8, GET /o9" in row.reason
    assert "not run by the write policy (left out): DELETE /o/{id}" in row.reason
    row = _rows(evaluate_gates([contract], GatesConfig()))["exercised_operations"]
    assert (row.passed, row.measured) == (False, 70)


def test_coverage_gates_read_the_pytest_suite_metrics() -> None:
    suite = _suite("pytest", [Status.PASSED], metrics={"coverage": {"line": 91.5, "branch": 70}})
    rows = _rows(evaluate_gates([suite], GatesConfig()))
    assert rows["line_coverage"].passed is True and rows["line_coverage"].measured == 91.5
    assert rows["branch_coverage"].passed is False and rows["branch_coverage"].measured == 70


def test_severity_gate_fails_above_the_allowed_severity() -> None:
    high = Finding(check_id="sqli", title="SQL injection", severity=Severity.HIGH)
    low = Finding(check_id="hdr", title="header", severity=Severity.LOW)
    clean = _suite("security", [Status.PASSED])
    dirty = _suite("security", [Status.FAILED], findings=[high, low])
    assert _rows(evaluate_gates([clean], GatesConfig()))["max_severity"].passed is True
    row = _rows(evaluate_gates([dirty], GatesConfig()))["max_severity"]
    assert (row.passed, row.measured, row.limit) == (False, "high", "medium")
    lenient = GatesConfig(max_severity=Severity.CRITICAL)
    assert _rows(evaluate_gates([dirty], lenient))["max_severity"].passed is True


def test_load_gates_read_error_rate_and_thresholds() -> None:
    load = _suite(
        "load",
        [Status.PASSED],
        metrics={
            "requests": 1000,
            "error_rate": 0.08,
            "threshold_results": [
                {"threshold": "p95<300ms", "passed": True, "measured": 120, "line": ""},
                {"threshold": "rps>500", "passed": False, "measured": 300, "line": ""},
            ],
        },
    )
    rows = _rows(evaluate_gates([load], GatesConfig()))
    assert (rows["load_error_rate"].measured, rows["load_error_rate"].passed) == (8, False)
    assert rows["load_thresholds"].passed is False
    assert "rps>500" in rows["load_thresholds"].reason


def test_flakiness_budget_counts_known_flaky_tests_of_this_run() -> None:
    suite = _suite("pytest", [Status.PASSED] * 10)
    rows = _rows(evaluate_gates([suite], GatesConfig(), flaky_tests={"t1"}))
    assert (rows["flakiness_budget"].measured, rows["flakiness_budget"].passed) == (10, False)
    rows = _rows(evaluate_gates([suite], GatesConfig(max_flaky_percent=10), flaky_tests={"t1"}))
    assert rows["flakiness_budget"].passed is True


@given(
    passed=st.integers(0, 50),
    failed=st.integers(0, 50),
    limit=st.floats(0, 100, allow_nan=False),
)
def test_success_rate_gate_matches_its_definition(passed: int, failed: int, limit: float) -> None:
    suite = _suite("api", [Status.PASSED] * passed + [Status.FAILED] * failed)
    row = _rows(evaluate_gates([suite], GatesConfig(min_success_rate=limit)))["success_rate"]
    if passed + failed == 0:
        assert row.passed is None
    else:
        assert row.passed is (round(100 * passed / (passed + failed), 2) >= limit)


def _write_run(
    folder: Path, statuses: list[Status], gates: dict[str, object] | None = None
) -> Path:
    suite = _suite("pytest", statuses)
    run = RunInfo(
        id="r1",
        started_at=datetime.now(UTC),
        version="0",
        config={"gates": gates} if gates is not None else {},
    )
    report = Report.build(run, [suite], [])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report.model_dump_json())
    return folder


def test_gate_command_exits_0_when_every_gate_holds(tmp_path: Path) -> None:
    folder = _write_run(tmp_path / "run", [Status.PASSED] * 3)
    result = CliRunner().invoke(cli, ["gate", str(folder), "--db", sqlite_url(tmp_path / "h.db")])
    assert result.exit_code == 0, result.output
    assert "success_rate" in result.output and "pass" in result.output


def test_gate_command_exits_1_when_a_gate_fails(tmp_path: Path) -> None:
    folder = _write_run(tmp_path / "run", [Status.PASSED, Status.FAILED])
    result = CliRunner().invoke(cli, ["gate", str(folder), "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert {r["name"]: r["passed"] for r in rows}["success_rate"] is False


def test_gate_command_uses_the_limits_the_run_recorded(tmp_path: Path) -> None:
    folder = _write_run(
        tmp_path / "run",
        [Status.PASSED, Status.FAILED],
        gates={"min_success_rate": 40, "max_failed_cases": 1},
    )
    assert CliRunner().invoke(cli, ["gate", str(folder)]).exit_code == 0


def test_flaky_tests_from_history_count_against_the_budget(tmp_path: Path) -> None:
    folder = _write_run(tmp_path / "run", [Status.PASSED] * 4)
    store = HistoryStore(sqlite_url(tmp_path / "h.db"))
    for outcome in ("passed", "failed"):
        rid = store.start_run(RunRecord(commit="c"))
        store.add_cases(rid, [CaseRecord("t0", outcome)], commit="c")
    rows = _rows(evaluate_report(folder, history=store))
    store.close()
    assert rows["flakiness_budget"].measured == 25.0
    assert rows["flakiness_budget"].passed is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        ('{"schema_version": "1.0"}', "is not a battletest report"),
    ],
)
def test_bad_run_folders_are_usage_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    if content is not None:
        (folder / "report.json").write_text(content)
    with pytest.raises(UsageError, match=message):
        evaluate_report(folder)


def test_gate_command_prints_one_line_and_exits_2_on_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from battletest.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["gate", str(tmp_path / "nope")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("battletest: error:")


# -- advice: every row that did not pass says what its state means and what to change -------


def test_every_row_that_did_not_pass_carries_advice_and_a_pass_none() -> None:
    contract = _suite("contract", [Status.PASSED])
    rows = evaluate_gates([contract, _errored("security", "spec unreadable")], GatesConfig())
    assert rows and all(bool(r.advice) == (r.passed is not True) for r in rows), [
        (r.name, r.passed, r.advice) for r in rows
    ]


def test_advice_for_a_gate_whose_suite_was_not_enabled_and_when_it_is_required() -> None:
    contract = _suite("contract", [Status.PASSED])
    rows = _rows(evaluate_gates([contract], GatesConfig(required=["line_coverage"])))
    assert rows["branch_coverage"].advice.startswith('Add "pytest" to [suites] enabled')
    assert "fails the run unless [gates] required names it" in rows["branch_coverage"].advice
    line = rows["line_coverage"].advice
    assert line.startswith("[gates] required names line_coverage, so not measuring it fails")
    assert line.endswith("or take it out of required.")
    assert rows["load_thresholds"].advice.startswith('Add "load" to [suites] enabled')
    assert "history store" in rows["flakiness_budget"].advice


def test_advice_for_no_input_names_the_error_and_the_first_skip_reason() -> None:
    rows = _rows(evaluate_gates([_errored("security", "spec unreadable")], GatesConfig()))
    assert rows["max_severity"].advice.startswith(
        "The security suite errored, so max_severity has nothing to judge"
    )
    assert "errors.log" in rows["max_severity"].advice
    cases = [Case(name="p1", status=Status.SKIPPED, message="not configured: add [resilience]")]
    resilience = SuiteResult.from_cases("resilience", cases, 0.1)
    row = _rows(evaluate_gates([resilience], GatesConfig()))["suite_results"]
    assert row.advice.startswith("No case of the resilience suite decided anything")
    assert 'add "resilience" to [suites] enabled and describe its probes in [resilience]' in (
        row.advice
    )


def test_exercised_operations_advice_groups_the_operations_by_what_they_got() -> None:
    ops = ["GET /a", "GET /b", "GET /c/{id}", "POST /d", "GET /e"]
    metrics = _ops(ops, ["GET /a"])
    metrics["operations"]["answers"] = {
        "GET /b": {"401": 3},
        "GET /c/{id}": {"404": 2},
        "POST /d": {"422": 4},
        "GET /e": {"500": 1},
    }
    metrics["operations"]["schemes"] = {"GET /b": ["bearerAuth"], "GET /c/{id}": ["bearerAuth"]}
    row = _rows(
        evaluate_gates([_suite("contract", [Status.PASSED], metrics=metrics)], GatesConfig())
    )["exercised_operations"]
    assert row.passed is False
    advice = row.advice
    assert advice.startswith("4 operation(s) never got a documented success.")
    assert (
        "refused (401/403): GET /b (3× 401) — add an [[identities]] entry with credentials for "
        "security scheme bearerAuth" in advice
    )
    assert "not found (404): GET /c/{id} (2× 404) — give ids that exist" in advice
    assert "rejected as invalid (4xx): POST /d (4× 422)" in advice
    assert "server errors (5xx): GET /e (1× 500) — fix the handler" in advice


def test_security_conclusive_advice_names_the_commonest_reasons() -> None:
    scan = _scan(5, 0)
    scan.cases += [
        Case(
            name=f"bola GET /r/{i}",
            status=Status.SKIPPED,
            message=f"inconclusive: needs a second identity of role guest for GET /r/{i}",
            details={"check": "bola", "conclusive": False},
        )
        for i in range(4)
    ] + [
        Case(
            name="sqli POST /x",
            status=Status.SKIPPED,
            message="inconclusive: every probe was rate limited (HTTP 429)",
            details={"check": "sqli", "conclusive": False},
        )
    ]
    row = _rows(evaluate_gates([scan], GatesConfig()))["security_conclusive"]
    assert row.passed is False
    assert row.advice.startswith("5 check run(s) decided nothing; the commonest reasons: 4× “needs")
    assert "1× “every probe was rate limited (HTTP 429)”" in row.advice
    assert "Add [[identities]]: two per role" in row.advice
    assert "[rate_limits]" in row.advice
    assert row.advice.endswith("only if that share is expected for this API.")
