"""The result model: summary derivation and the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.errors import UsageError
from battletest.results import Case, GateResult, Report, RunInfo, Status, SuiteResult, utcnow


def _run() -> RunInfo:
    return RunInfo(id="r1", started_at=utcnow(), version="0")


def test_summary_counts_and_success_rate() -> None:
    cases = [
        Case(name="a", status=Status.PASSED, duration_ms=10),
        Case(name="b", status=Status.FAILED, duration_ms=30),
        Case(name="c", status=Status.SKIPPED),
        Case(name="d", status=Status.PASSED, duration_ms=20),
    ]
    suite = SuiteResult.from_cases("contract", cases, duration_s=0.06)
    report = Report.build(_run(), [suite], [GateResult(name="g", limit=0, passed=True)])
    assert suite.status is Status.FAILED
    s = report.summary
    assert (s.total_tests, s.passed, s.failed, s.skipped) == (4, 2, 1, 1)
    assert s.success_rate == 66.67
    assert [c.name for c in report.failed_tests] == ["b"]
    assert report.test_results[0].suite == "contract"
    assert report.performance_metrics.max_duration_ms == 30


def test_unmeasured_gate_never_fails_the_verdict() -> None:
    gates = [GateResult(name="coverage", limit=80, passed=None, reason="no coverage data")]
    assert Report.build(_run(), [], gates).summary.verdict == "pass"
    gates.append(GateResult(name="success_rate", limit=95, measured=50, passed=False))
    assert Report.build(_run(), [], gates).summary.verdict == "fail"


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_performance_percentiles_are_ordered(durations: list[float]) -> None:
    cases = [
        Case(name=str(i), status=Status.PASSED, duration_ms=d) for i, d in enumerate(durations)
    ]
    pm = Report.build(_run(), [SuiteResult.from_cases("s", cases, 0)], []).performance_metrics
    assert pm.min_duration_ms <= pm.p50_duration_ms <= pm.p95_duration_ms
    assert pm.p95_duration_ms <= pm.p99_duration_ms <= pm.max_duration_ms


def test_load_reads_a_run_folder_or_the_file(tmp_path: Path) -> None:
    report = Report.build(_run(), [], [])
    (tmp_path / "report.json").write_text(report.model_dump_json(), encoding="utf-8")
    assert Report.load(tmp_path) == report
    assert Report.load(tmp_path / "report.json") == report


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "does not exist"),
        ("{oops", "is not a battletest report: it is not JSON"),
        ('{"run": 1}', "is not a battletest report: run:"),
    ],
)
def test_load_names_the_file_and_the_problem(tmp_path: Path, text: str | None, says: str) -> None:
    if text is not None:
        (tmp_path / "report.json").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=says) as info:
        Report.load(tmp_path)
    assert str(tmp_path / "report.json") in info.value.message
