"""The dashboard parts of report.html: load charts, baseline comparison, trend, flaky and
quarantined tests, coverage gaps, recommendations (rendered without a browser)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from battletest.perf import attach_comparison
from battletest.perf.baseline import from_report, save
from battletest.report import html as report_html
from battletest.report import junit
from battletest.results import (
    Case,
    GateResult,
    Report,
    RunInfo,
    Status,
    SuiteResult,
    utcnow,
)


def load_metrics(p50: float, seconds: int = 30, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    series = [
        {
            "t": float(i + 1),
            "rps": round(400 * (1 + rng.uniform(-0.03, 0.03)), 1),
            "p50": round(p50 * (1 + rng.uniform(-0.03, 0.03)), 3),
            "p95": round(p50 * 1.6 * (1 + rng.uniform(-0.03, 0.03)), 3),
            "p99": round(p50 * 2.2 * (1 + rng.uniform(-0.03, 0.03)), 3),
            "errors": 8 if i == 10 else 0,  # one bad second
            "vus": 10,
        }
        for i in range(seconds)
    ]
    lat = {
        "min": p50 / 3,
        "mean": p50 * 1.1,
        "p50": p50,
        "p90": p50 * 1.4,
        "p95": p50 * 1.6,
        "p99": p50 * 2.2,
        "p999": p50 * 3,
        "max": p50 * 4,
    }
    ep = {"requests": 6000, "failed": 0, "error_rate": 0.0, "rps": 200.0, "latency_ms": lat}
    return {
        "requests": 12000,
        "failed": 0,
        "error_rate": 0.0,
        "rps": 400.0,
        "duration_s": 30.0,
        "executor": "constant-vus",
        "latency_ms": lat,
        "series": series,
        "endpoints": {"GET /rooms": ep, 'POST /calls <b>"x"</b>': ep},
    }


def dashboard_report(tmp_path: Path, *, slower: bool = True) -> Report:
    """A run with a load suite compared against a saved baseline, a trend, flaky and
    quarantined tests and coverage gaps."""
    run = RunInfo(id="base", started_at=utcnow(), version="t", target="http://127.0.0.1:9")
    base_suite = SuiteResult(name="load", status=Status.PASSED, metrics=load_metrics(10, seed=1))
    save(from_report(Report.build(run, [base_suite], []), "default"), tmp_path)
    load = SuiteResult(
        name="load", status=Status.PASSED, metrics=load_metrics(13 if slower else 10, seed=2)
    )
    attach_comparison([load], tmp_path)
    load.metrics["trend"] = [
        {
            "run_id": f"r{i}",
            "started_at": 1.7e9 + i,
            "commit": f"c{i}abcdef0123",
            "rps": 400.0,
            "p50": 10.0 + i,
            "p95": 16.0 + i,
            "p99": 22.0 + i,
        }
        for i in range(5)
    ]
    tests = SuiteResult.from_cases(
        "pytest",
        [
            Case(name="tests/test_a.py::test_ok", status=Status.PASSED),
            Case(
                name="tests/test_a.py::test_wobbly",
                status=Status.PASSED,
                details={"flaky": True, "flaky_reason": "flipped 4 times in 20 runs"},
            ),
            Case(
                name="tests/test_a.py::test_parked",
                status=Status.FAILED,
                details={"quarantined": True, "quarantine_reason": "ticket 42"},
            ),
        ],
        2.0,
        metrics={
            "coverage": {"line": 71.5, "branch": 60.0},
            "coverage_gaps": [
                {
                    "file": "app/pay.py",
                    "function": "refund",
                    "first_line": 40,
                    "last_line": 70,
                    "kind": "uncovered",
                    "statements": 20,
                    "missing_lines": 20,
                    "missing_branches": 6,
                    "complexity": 7,
                    "churn": 5,
                    "score": 9.1,
                }
            ],
        },
    )
    from battletest.quality.gates import GatesConfig, evaluate_gates

    gates = evaluate_gates(
        [tests, load], GatesConfig(min_line_coverage=None, min_branch_coverage=None)
    )
    gates.append(GateResult(name="note", limit=1, passed=None, reason="unmeasured"))
    run = RunInfo(id="cur", started_at=utcnow(), version="t", target="http://127.0.0.1:9")
    return Report.build(run, [tests, load], gates)


def test_load_charts_have_every_interval(tmp_path: Path) -> None:
    page = report_html.render(dashboard_report(tmp_path))
    load = page.split('<section id="load">')[1].split("</section>")[0]
    by_name = dict(re.findall(r'data-series="([^"]+)" data-points="(\d+)"', load))
    assert by_name["rps"] == "30" and by_name["p99"] == "30" and by_name["p50"] == "30"
    assert 'data-chart="Latency distribution"' in page
    assert page.count('class="dist-bar"') == 7  # min, p50 … p99.9, max
    assert 'data-endpoint="GET /rooms"' in page
    assert "<b>" not in page  # endpoint names are escaped in tables and charts
    assert "POST /calls &lt;b&gt;" in page


def test_baseline_section_and_gate_row(tmp_path: Path) -> None:
    report = dashboard_report(tmp_path)
    page = report_html.render(report)
    assert 'id="baseline-table"' in page
    assert page.count('data-verdict="regression"') >= 3
    gate = next(g for g in report.gates if g.name == "perf_regression")
    assert gate.passed is False
    assert 'data-gate="perf_regression" data-result="failed"' in page
    score = report.suites[1].metrics["baseline"]["score"]
    assert f'data-score="{score}"' in page


def test_same_build_has_no_regression_rows(tmp_path: Path) -> None:
    page = report_html.render(dashboard_report(tmp_path, slower=False))
    assert 'data-verdict="regression"' not in page
    assert 'data-gate="perf_regression" data-result="passed"' in page


def test_trend_flaky_quarantined_and_gaps(tmp_path: Path) -> None:
    page = report_html.render(dashboard_report(tmp_path))
    assert 'id="trend-table"' in page and 'data-chart="Latency across runs"' in page
    assert 'data-state="flaky"' in page and "flipped 4 times in 20 runs" in page
    assert 'data-state="quarantined"' in page and "ticket 42" in page
    assert "app/pay.py:40 refund" in page and "20 lines and 6 branches missing" in page


def test_recommendations_name_their_measurement(tmp_path: Path) -> None:
    report = dashboard_report(tmp_path)
    recs = report_html.recommendations(report)
    sources = [r.source for r in recs]
    assert "gates.perf_regression" in sources
    assert "load.baseline.rows" in sources
    assert "pytest.coverage.line" in sources
    assert "cases[details.flaky]" in sources
    assert [r.severity for r in recs] == sorted(
        (r.severity for r in recs), key=["high", "medium", "low"].index
    )
    page = report_html.render(report)
    assert 'data-source="load.baseline.rows"' in page


def test_recommendation_for_tail_latency_and_errors() -> None:
    metrics = load_metrics(10)
    metrics["latency_ms"]["p99"] = 80.0
    metrics["error_rate"] = 0.05
    metrics["errors"] = {"timeout": 3}
    suite = SuiteResult(name="load", status=Status.PASSED, metrics=metrics)
    report = Report.build(RunInfo(id="x", started_at=utcnow(), version="t"), [suite], [])
    recs = {r.source: r.text for r in report_html.recommendations(report)}
    assert "8.0× the median" in recs["load.latency_ms.p99 / load.latency_ms.p50"]
    assert (
        "5.0% of load requests failed" in recs["load.error_rate"]
        and "timeout" in recs["load.error_rate"]
    )
    assert "load.baseline (missing)" in recs


def test_a_report_without_load_has_no_load_sections() -> None:
    report = Report.build(RunInfo(id="x", started_at=utcnow(), version="t"), [], [])
    page = report_html.render(report)
    assert 'id="load"' not in page and 'id="baseline"' not in page
    assert "Nothing to recommend" in page


def test_junit_lists_flaky_and_quarantined_tests(tmp_path: Path) -> None:
    xml = junit.render(dashboard_report(tmp_path)).decode()
    assert '<property name="flaky" value="tests/test_a.py::test_wobbly" />' in xml
    assert '<property name="quarantined" value="tests/test_a.py::test_parked" />' in xml
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(junit.XSD_PATH)))
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log


def test_long_series_are_downsampled_keeping_peaks() -> None:
    from battletest.report.svg import line_chart

    points = [(float(i), 10.0) for i in range(2000)]
    points[1234] = (1234.0, 500.0)  # one stall
    svg = line_chart({"p99": points}, title="t", unit="ms", max_points=600)
    assert 'data-points="600"' in svg
    ys = [float(p.split(",")[1]) for p in svg.split(' points="')[1].split('"')[0].split()]
    assert min(ys) + 100 < max(ys)  # the stall is still drawn, far above the rest
    assert ">500</text>" in svg or ">600</text>" in svg  # the y axis reaches the peak


def test_nothing_to_draw_is_no_chart() -> None:
    from battletest.report.svg import bar_chart, line_chart

    assert line_chart({"rps": [(1.0, 2.0)]}, title="t", unit="x") == ""
    assert bar_chart([], title="t", unit="x") == ""
    assert 'data-value="0"' in bar_chart([("p50", 0.0)], title="t", unit="ms")


def run_folder_with_histogram(tmp_path: Path, counts: list[tuple[int, int]]) -> Path:
    """A run folder holding the load histogram: ``counts`` as (latency µs, requests)."""
    from hdrh.histogram import HdrHistogram

    hist = HdrHistogram(1, 3_600_000_000, 3)
    for us, n in counts:
        hist.record_value(us, n)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / report_html.HISTOGRAM_FILE).write_text(
        bytes(hist.encode()).decode("ascii") + "\n", encoding="ascii"
    )
    return folder


def test_the_run_folder_histogram_is_drawn(tmp_path: Path) -> None:
    report = dashboard_report(tmp_path / "b")
    folder = run_folder_with_histogram(
        tmp_path, [(900, 500), (1500, 300), (12_000, 150), (250_000, 50)]
    )
    page = report_html.write(report, folder).read_text()
    assert 'data-chart="Latency histogram (every request)"' in page
    values = [float(v) for v in re.findall(r'class="dist-bar"[^>]*data-value="([0-9.]+)"', page)]
    assert sum(values[7:]) == 1000  # after the 7 percentile bars: every request in one bucket
    assert values[7] == 500 and values[-1] == 50  # fastest and slowest buckets

    (folder / report_html.HISTOGRAM_FILE).write_text("not a histogram", encoding="ascii")
    page = report_html.write(report, folder).read_text()
    assert "Latency histogram" not in page and 'id="load"' in page
