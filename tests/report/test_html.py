"""report.html rendered from a Report: content, escaping, self-containment (no browser)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from battletest.report import html as report_html
from battletest.report import write_run_folder
from battletest.results import (
    Case,
    Confidence,
    Finding,
    GateResult,
    Report,
    RunInfo,
    Severity,
    Status,
    SuiteResult,
)

HOSTILE = '<script>alert("x")</script>'


def sample_report(*, failing: bool = True) -> Report:
    """A report with every part the page shows: gates of each result, suites, findings."""
    started = datetime(2026, 11, 29, 14, 0, 0, tzinfo=UTC)
    contract = SuiteResult.from_cases(
        "contract",
        [
            Case(name="GET /health returns 200", status=Status.PASSED, duration_ms=3.2),
            Case(
                name="GET /reservations/{id} matches schema", status=Status.PASSED, duration_ms=12.5
            ),
            Case(
                name="POST /calls rejects an empty body",
                status=Status.FAILED if failing else Status.PASSED,
                duration_ms=8.1,
                message="expected 422, got 500",
                reproduce="curl -X POST 'http://127.0.0.1:8000/calls' -H 'content-type: application/json' -d '{}'",
                details={"status": 500, "body": {"error": "internal"}},
            ),
            Case(
                name="DELETE /calls/{id} (destructive)", status=Status.SKIPPED, message="LIVE_SMOKE"
            ),
            Case(name=f"hostile name {HOSTILE}", status=Status.PASSED, duration_ms=1.0),
        ],
        duration_s=0.42,
    )
    pytest_suite = SuiteResult.from_cases(
        "pytest",
        [
            Case(name="tests/test_api.py::test_login", status=Status.PASSED, duration_ms=41.0),
            Case(
                name="tests/test_api.py::test_transfer",
                status=Status.ERROR if failing else Status.PASSED,
                duration_ms=2.0,
                message="fixture 'pms' not found",
                reproduce="pytest 'tests/test_api.py::test_transfer'",
            ),
        ],
        duration_s=1.3,
    )
    load = SuiteResult(
        name="load",
        status=Status.PASSED,
        duration_s=10.0,
        metrics={
            "requests": 8123,
            "rps": 812.3,
            "p95_ms": 41.5,
            "error_rate": 0.001,
            "timeline": [
                {"t": i, "rps": 780 + (i * 7) % 60, "p95_ms": 35 + (i * 3) % 11} for i in range(10)
            ],
        },
    )
    security = SuiteResult(
        name="security",
        status=Status.FAILED if failing else Status.PASSED,
        duration_s=3.0,
        cases=[Case(name="bola on GET /reservations/{id}", status=Status.PASSED, duration_ms=30)],
        findings=[
            Finding(
                check_id="sqli.boolean",
                title="SQL injection in the search parameter",
                severity=Severity.HIGH,
                confidence=Confidence.CONFIRMED,
                owasp="API8:2023",
                cwe="CWE-89",
                method="GET",
                path="/reservations",
                parameter="q",
                evidence={"true_payload": "' OR '1'='1", "false_payload": "' AND '1'='2"},
                reproduce="curl 'http://127.0.0.1:8000/reservations?q=%27%20OR%20%271%27%3D%271'",
                remediation="Use bound parameters in the query.",
            ),
            Finding(
                check_id="headers.hsts",
                title="No Strict-Transport-Security header",
                severity=Severity.LOW,
                cwe="CWE-319",
            ),
        ]
        if failing
        else [],
    )
    gates = [
        GateResult(
            name="pass_rate",
            limit=95.0,
            measured=80.0 if failing else 100.0,
            passed=not failing,
            reason="percent of executed cases that passed",
        ),
        GateResult(
            name="max_severity",
            limit="medium",
            measured="high" if failing else None,
            passed=not failing,
        ),
        GateResult(name="coverage", limit=80, passed=None, reason="no coverage data"),
        GateResult(name="load.p95_ms", limit=300, measured=41.5, passed=True),
    ]
    run = RunInfo(
        id="20261129-140000-ab12",
        started_at=started,
        finished_at=started + timedelta(seconds=15.2),
        version="0.1.0",
        target="http://127.0.0.1:8000",
        profile="staging",
        mode="LIVE_SMOKE",
        seed=1234,
        config={"target": {"url": "http://127.0.0.1:8000"}, "auth": {"password": "***"}},
        notes=["security: 2 active checks skipped by the staging profile"],
    )
    return Report.build(run, [contract, pytest_suite, load, security], gates)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_verdict_and_gate_table_come_first() -> None:
    page = report_html.render(sample_report())
    assert 'data-verdict="fail"' in page
    assert page.index('id="gate-table"') < page.index('id="summary"') < page.index('id="suites"')
    rows = re.findall(r'data-gate="([^"]+)" data-result="([^"]+)"', page)
    assert rows == [
        ("pass_rate", "failed"),
        ("max_severity", "failed"),
        ("coverage", "unmeasured"),
        ("load.p95_ms", "passed"),
    ]


def test_passing_report_says_pass() -> None:
    page = report_html.render(sample_report(failing=False))
    assert 'data-verdict="pass"' in page
    assert ">PASS<" in page
    assert "Nothing failed." in page


def test_failures_carry_their_reproduce_commands() -> None:
    report = sample_report()
    page = report_html.render(report)
    text = _text(page)
    for case in report.failed_tests:
        assert case.reproduce is not None
        assert case.reproduce in text
    assert "Failures (2)" in text
    # an error (the tool could not run the case) is listed before a failure
    failures = _text(page[page.index('id="failures"') : page.index('id="findings"')])
    assert failures.index("fixture 'pms' not found") < failures.index("expected 422, got 500")


def test_findings_sorted_by_severity_with_fix_and_evidence() -> None:
    text = _text(report_html.render(sample_report()))
    assert "Security findings (2)" in text
    assert text.index("SQL injection") < text.index("No Strict-Transport-Security")
    assert "Use bound parameters in the query." in text
    assert "API8:2023" in text and "CWE-89" in text


def test_untrusted_text_is_escaped() -> None:
    page = report_html.render(sample_report())
    assert HOSTILE not in page
    assert (
        html.escape(HOSTILE, quote=False).replace('"', "&#34;") in page or "&lt;script&gt;" in page
    )
    # exactly one script element: the page's own
    assert page.count("<script>") == 1


def test_secrets_in_cases_and_findings_are_redacted(tmp_path: Path) -> None:
    report = sample_report()
    leaky = Case(
        name="login as alice",
        status=Status.FAILED,
        message="got 500 for alice@example.com",
        reproduce="curl -H 'Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl' http://x/v1/me",
        details={"password": "hunter2-secret", "status": 500},
    )
    report.suites[0].cases.append(leaky)
    report = Report.build(report.run, report.suites, report.gates)
    folder = write_run_folder(report, tmp_path)  # every format is written from one redacted copy
    page = (folder / "report.html").read_text(encoding="utf-8")
    for secret in ("hunter2-secret", "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", "alice@example.com"):
        for written in folder.iterdir():
            assert secret not in written.read_text(encoding="utf-8"), written.name
    assert "Bearer ***" in html.unescape(page)
    # measured values are not touched
    assert 'data-gate="pass_rate"' in page


def test_page_is_self_contained() -> None:
    page = report_html.render(sample_report())
    # nothing that would fetch: no external src/href, no @import, no url(http…)
    assert not re.search(r'(?:src|href)\s*=\s*"(?!#|data:)', page)
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert "default-src 'none'" in page


def test_numeric_series_become_sparklines() -> None:
    page = report_html.render(sample_report())
    labels = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert labels == ["timeline.rps", "timeline.p95_ms"]


def test_case_rows_carry_status_for_filters() -> None:
    page = report_html.render(sample_report())
    statuses = re.findall(r'<tr data-status="(\w+)">', page)
    report = sample_report()
    assert statuses == [c.status.value for c in report.test_results]


def test_empty_report_renders() -> None:
    run = RunInfo(id="empty", started_at=datetime(2026, 1, 1, tzinfo=UTC), version="0.1.0")
    text = _text(report_html.render(Report.build(run, [], [])))
    assert "No gates configured" in text
    assert "No suite ran." in text
    assert "the security suite did not run" in text


def test_write_creates_report_html(tmp_path: Path) -> None:
    path = report_html.write(sample_report(), tmp_path / "run")
    assert path == tmp_path / "run" / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (None, "–"),
        (0, "0 ms"),
        (0.25, "250 µs"),
        (12.34, "12.3 ms"),
        (250.0, "250 ms"),
        (4200, "4.20 s"),
        (185_000, "3 min 05 s"),
    ],
)
def test_format_duration(ms: float | None, expected: str) -> None:
    assert report_html.format_duration_ms(ms) == expected


def test_format_value() -> None:
    assert report_html.format_value(None) == "–"
    assert report_html.format_value(True) == "yes"
    assert report_html.format_value(0.123456) == "0.1235"
    assert report_html.format_value({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_duration_histogram_counts_every_case() -> None:
    values = [0.5, 1, 2, 4, 8, 16, 32, 64, 500]
    buckets = report_html.duration_histogram(values)
    assert sum(b.count for b in buckets) == len(values)
    assert max(b.height_pct for b in buckets) == 100.0
    assert report_html.duration_histogram([]) == []
    assert sum(b.count for b in report_html.duration_histogram([3.0, 3.0])) == 2


def test_sparklines_ignore_non_series() -> None:
    assert report_html.series_sparklines("x", [1]) == []
    assert report_html.series_sparklines("x", ["a", "b"]) == []
    assert report_html.series_sparklines("x", {"a": 1}) == []
    (line,) = report_html.series_sparklines("x", [1, 3, 2])
    assert (line.low, line.high, line.count) == (1, 3, 3)


def test_every_run_folder_gets_a_report_html(tmp_path: Path) -> None:
    from battletest.report import write_run_folder

    folder = write_run_folder(sample_report(), tmp_path)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'data-verdict="fail"' in page


def test_interrupted_run_says_its_results_are_partial() -> None:
    report = sample_report(failing=False)
    report.run.interrupted = True
    text = _text(report_html.render(report))
    assert "interrupted: partial results" in text
    assert "yes: partial results" in text


def test_per_interval_histograms_stay_out_of_the_page() -> None:
    report = sample_report()
    suite = report.suites[0]
    encoded = "HISTFAAAACl4nJNpmSzMwMDAxQABzFCaEUzOmT3JDsIH8ZkYmACzYgYo"
    suite.metrics["series"] = [{"t": 1.0, "rps": 10.0, "p95": 2.0, "hist": encoded}]
    page = report_html.render(report)
    assert encoded not in page
    assert '"rps": 10.0' in html.unescape(page)  # the rest of the series is shown
