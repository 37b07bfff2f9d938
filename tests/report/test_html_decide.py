"""report.html helps decide: failures grouped by cause, recommendations that say what to change
and which measurement shows it, readable titled charts, an error-rate chart, intervals drawn at
their real length, case durations only where cases have them, this run marked in the trend,
broken tests apart, and an interrupted run said so (rendered without a browser)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from battletest.report import html as report_html
from battletest.report.svg import bar_chart, line_chart
from battletest.results import Case, GateResult, Report, RunInfo, Status, SuiteResult, utcnow

from .test_html_dashboard import dashboard_report, load_metrics

FORMAT = "error is application/json, not application/problem+json (RFC 7807)"
CHECKS = ("malformed JSON", "wrong types", "special characters", "unknown id")


def error_format_report() -> Report:
    """94 errors cases failing on one error-format mismatch (four checks over 24 operations,
    less two), and one unrelated server error."""
    cases = []
    for i in range(24):
        for check in CHECKS:
            if len(cases) == 94:
                break
            cases.append(
                Case(
                    name=f"{check}: POST /things/{i}",
                    status=Status.FAILED,
                    message=FORMAT,
                    reproduce=f"curl -X POST 'http://127.0.0.1:8000/things/{i}' -d '{{'",
                )
            )
    cases.append(
        Case(
            name="unknown id: GET /boom",
            status=Status.FAILED,
            message="expected a 4xx, got 500",
            reproduce="curl 'http://127.0.0.1:8000/boom'",
        )
    )
    cases.append(Case(name="correlation id", status=Status.PASSED))
    suite = SuiteResult.from_cases("errors", cases, 3.0)
    from battletest.quality.gates import GatesConfig, evaluate_gates

    gates = evaluate_gates([suite], GatesConfig())
    return Report.build(RunInfo(id="r", started_at=utcnow(), version="t"), [suite], gates)


def test_failures_with_one_cause_are_one_group_with_its_count_and_one_reproduction() -> None:
    report = error_format_report()
    groups = report_html.failure_groups(report)
    assert [(g.check, g.count) for g in groups] == [
        ("malformed JSON", 24),
        ("wrong types", 24),
        ("special characters", 23),
        ("unknown id", 23),
        ("unknown id", 1),
    ]
    page = report_html.render(report)
    failures = page.split('<section id="failures">')[1].split("</section>")[0]
    assert "Failures (95) · 5 causes" in failures
    assert re.findall(r'data-group-size="(\d+)"', failures) == ["24", "24", "23", "23", "1"]
    assert failures.count('class="repro"') == 5  # one reproduction per group
    assert failures.count("data-member=") == 94  # every member, folded away
    assert 'data-member="errors::wrong types: POST /things/7"' in failures
    assert failures.count(FORMAT.replace("/", "/")) == 4  # the problem once per group


def test_one_cause_is_one_recommendation_that_says_what_to_change() -> None:
    recs = report_html.recommendations(error_format_report())
    about_format = [r for r in recs if "error-format mismatch" in r.text]
    assert len(about_format) == 1
    (rec,) = about_format
    assert rec.text.startswith("94 errors case(s) fail on one error-format mismatch")
    assert "application/problem+json (RFC 7807)" in rec.text
    assert '[suites.errors] error_format = "any"' in rec.text  # the config key
    assert rec.source.startswith("failures: 94 errors case(s)")
    server = next(r for r in recs if "server error" in r.text)
    assert "1 errors case(s)" in server.text and "Fix the handler" in server.text
    gate = next(r for r in recs if r.source == "gates.no_failed_cases")
    assert "95 failed case(s) come down to 2 problem(s)" in gate.text  # not the gate row again
    assert "the same failed cases" in next(r.text for r in recs if r.source == "gates.success_rate")


def test_a_failed_latency_threshold_names_the_slowest_endpoint() -> None:
    metrics = load_metrics(10)
    slow = {**metrics["endpoints"]["GET /rooms"]}
    slow["latency_ms"] = {**slow["latency_ms"], "p95": 900.0}
    metrics["endpoints"]["GET /reports"] = slow
    suite = SuiteResult(name="load", status=Status.FAILED, metrics=metrics)
    gate = GateResult(name="load: p95<300ms", limit="p95<300ms", measured=512.0, passed=False)
    report = Report.build(RunInfo(id="x", started_at=utcnow(), version="t"), [suite], [gate])
    (rec,) = [r for r in report_html.recommendations(report) if r.source == "gates.load: p95<300ms"]
    assert rec.text.startswith("Threshold p95<300ms failed at 512 ms")
    assert "slowest endpoint is GET /reports (p95 900 ms over 6000 requests)" in rec.text


def test_error_rate_chart_and_the_short_last_interval_drawn_at_its_length() -> None:
    metrics = load_metrics(10, seconds=5)
    for i, row in enumerate(metrics["series"]):
        row["span"] = 1.0
        row["requests"] = 400
        row["errors"] = 40 if i == 2 else 0
    metrics["series"][-1].update(t=4.4, span=0.4, requests=160, rps=400.0)
    suite = SuiteResult(name="load", status=Status.PASSED, metrics=metrics)
    page = report_html.render(
        Report.build(RunInfo(id="x", started_at=utcnow(), version="t"), [suite], [])
    )
    load = page.split('<section id="load">')[1].split("</section>")[0]
    assert 'data-chart="Error rate over time"' in load and ">Error rate over time</text>" in load
    errors = re.search(r'data-series="errors" data-points="5" points="([^"]+)"', load)
    assert errors is not None
    heights = [float(p.split(",")[1]) for p in errors.group(1).split()]
    assert min(heights) < max(heights)  # the bad second (10% failed) stands out
    rps = re.search(r'data-series="rps" data-points="5" points="([^"]+)"', load)
    assert rps is not None
    xs = [float(p.split(",")[0]) for p in rps.group(1).split()]
    steps = [b - a for a, b in zip(xs[::2], xs[1::2], strict=True)]
    assert len(steps) == 5
    assert abs(steps[-1] / steps[0] - 0.4) < 0.02  # 0.4 s drawn 0.4 as wide as a whole second


def test_charts_show_their_title_and_both_axes() -> None:
    svg = line_chart({"rps": [(1.0, 2.0), (2.0, 3.0)]}, title="Throughput", unit="req/s")
    assert '<text class="chart-title" x="4" y="14">Throughput</text>' in svg
    assert ">req/s</text>" in svg and ">seconds since the start</text>" in svg


def test_histogram_labels_never_overlap() -> None:
    bars = [(f"≤{1.7**i:.1f} ms", float(i)) for i in range(16)]
    svg = bar_chart(bars, title="Latency histogram", unit="requests", x_label="latency", width=720)
    xs = [float(x) for x in re.findall(r'class="tick bar-label" x="([\d.]+)"', svg)]
    widest = max(len(label) for label, _ in bars) * 6.2
    assert 2 <= len(xs) < 16
    assert all(b - a >= widest for a, b in itertools.pairwise(xs))
    assert svg.count('class="dist-bar"') == 16 and svg.count("<title>≤") == 16  # all named
    assert ">≤" + f"{1.7**15:.1f} ms</text>" in svg  # the last bar is labelled


def test_case_durations_only_where_cases_have_durations() -> None:
    thresholds = [Case(name="p95<300ms", status=Status.PASSED, message="ok")]
    load = SuiteResult.from_cases("load", thresholds, 3.0, metrics=load_metrics(10))
    run = RunInfo(id="x", started_at=utcnow(), version="t")
    assert "Case durations" not in report_html.render(Report.build(run, [load], []))
    timed = [Case(name="GET /x", status=Status.PASSED, duration_ms=12.0)]
    contract = SuiteResult.from_cases("contract", timed, 1.0)
    assert "Case durations" in report_html.render(Report.build(run, [contract], []))


def test_this_run_is_marked_in_the_trend(tmp_path: Path) -> None:
    report = dashboard_report(tmp_path)
    report.suites[1].metrics["trend"][-1]["run_id"] = report.run.id  # the trend holds this run
    trend = report_html.render(report).split('<section id="trend">')[1].split("</section>")[0]
    assert trend.count('data-current="true"') == 1 and "this run" in trend


def test_broken_tests_are_shown_apart_with_a_recommendation() -> None:
    case = Case(
        name="tests/test_a.py::test_answer",
        status=Status.FAILED,
        details={
            "broken": True,
            "broken_since": "c7a2c66fb790",
            "broken_reason": "broken since c7a2c66fb790: failed all 5 run(s)",
        },
    )
    suite = SuiteResult.from_cases("pytest", [case], 1.0)
    report = Report.build(RunInfo(id="x", started_at=utcnow(), version="t"), [suite], [])
    page = report_html.render(report)
    assert 'data-state="broken"' in page and "Broken, flaky and quarantined tests" in page
    (rec,) = [r for r in report_html.recommendations(report) if r.source == "cases[details.broken]"]
    assert "broken, not flaky" in rec.text and "c7a2c66fb790" in rec.text


def test_an_interrupted_run_says_so_in_the_banner() -> None:
    run = RunInfo(id="x", started_at=utcnow(), version="t", interrupted=True)
    page = report_html.render(Report.build(run, [], []))
    assert 'data-verdict="interrupted"' in page and ">INTERRUPTED<" in page
