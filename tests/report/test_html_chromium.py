"""report.html in a real headless Chromium: no console errors, nothing fetched, the gate table
matches report.json, and the status filters hide and show the right rows.

Debian's ``chromium`` and ``chromium-driver`` are driven through selenium with both paths given
explicitly; Selenium Manager (which would download a browser or driver) is disabled.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from battletest.report import html as report_html
from battletest.results import Status

from .test_html import sample_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian chromium and chromium-driver (make system-deps)",
    ),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    def no_download(*args: object, **kwargs: object) -> dict[str, str]:
        raise AssertionError("Selenium Manager must not run: paths are given explicitly")

    saved_env = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "1"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selenium_manager.SeleniumManager, "binary_paths", no_download)
        profile = tmp_path_factory.mktemp("chromium-profile")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--window-size=1280,1600",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        try:
            yield driver
        finally:
            driver.quit()
            if saved_env is None:
                os.environ.pop("SE_OFFLINE", None)
            else:
                os.environ["SE_OFFLINE"] = saved_env
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    report = sample_report()
    (tmp_path / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    report_html.write(report, tmp_path)
    return tmp_path


def _open(browser: Any, path: Path) -> list[dict[str, Any]]:
    """Load a file and return the console entries it produced."""
    browser.get_log("browser")  # drain anything left from the previous page
    browser.get(path.as_uri())
    browser.find_element("tag name", "body")
    entries: list[dict[str, Any]] = browser.get_log("browser")
    return entries


def test_console_errors_are_caught_by_this_check(browser: Any, tmp_path: Path) -> None:
    # the console check below is only worth something if a broken page trips it
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><script>console.error("boom"); undefinedThing();</script>')
    entries = _open(browser, page)
    assert any(e["level"] == "SEVERE" and "boom" in e["message"] for e in entries)


def test_page_loads_without_console_errors_or_fetches(browser: Any, run_folder: Path) -> None:
    entries = _open(browser, run_folder / "report.html")
    assert [e for e in entries if e["level"] in ("SEVERE", "WARNING")] == []
    assert browser.title.startswith("battletest FAIL")
    resources = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0


def test_gate_table_matches_report_json(browser: Any, run_folder: Path) -> None:
    _open(browser, run_folder / "report.html")
    data = json.loads((run_folder / "report.json").read_text())
    rows = browser.find_elements("css selector", "#gate-table tbody tr")
    shown = [[td.text for td in row.find_elements("tag name", "td")] for row in rows]
    expected = []
    for gate in data["gates"]:
        verdict = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[gate["passed"]]
        expected.append(
            [
                gate["name"],
                report_html.format_value(gate["limit"]),
                report_html.format_value(gate["measured"]),
                verdict,
                gate["reason"] + (f"\n→ {gate['advice']}" if gate["advice"] else ""),
            ]
        )
    assert shown == expected
    verdict = browser.find_element("id", "verdict").get_attribute("data-verdict")
    assert verdict == data["summary"]["verdict"]


def _visible_statuses(suite: Any) -> list[str]:
    rows = suite.find_elements("css selector", "table.cases tbody tr")
    return [r.get_attribute("data-status") for r in rows if r.is_displayed()]


def test_status_filters_show_only_the_chosen_status(browser: Any, run_folder: Path) -> None:
    _open(browser, run_folder / "report.html")
    report = sample_report()
    contract = browser.find_element("css selector", '.suite[data-suite="contract"]')
    all_contract = [c.status.value for c in report.suites[0].cases]
    assert _visible_statuses(contract) == all_contract

    contract.find_element("css selector", '.filters button[data-filter="failed"]').click()
    assert _visible_statuses(contract) == [Status.FAILED.value]
    assert (
        contract.find_element("css selector", ".shown").text == f"showing 1 of {len(all_contract)}"
    )
    # the other suites are untouched by one suite's filter
    pytest_suite = browser.find_element("css selector", '.suite[data-suite="pytest"]')
    assert len(_visible_statuses(pytest_suite)) == len(report.suites[1].cases)

    contract.find_element("css selector", '.filters button[data-filter="all"]').click()
    assert _visible_statuses(contract) == all_contract

    # the page-wide filter applies to every suite
    browser.find_element(
        "css selector", '.filters[data-scope="all"] button[data-filter="passed"]'
    ).click()
    for suite in browser.find_elements("css selector", ".suite"):
        assert set(_visible_statuses(suite)) <= {"passed"}
    assert len(browser.find_elements("css selector", "table.cases tbody tr.hidden")) == sum(
        1 for c in report.test_results if c.status is not Status.PASSED
    )


def test_big_passing_suite_is_folded_until_asked_for(browser: Any, tmp_path: Path) -> None:
    from battletest.results import Case, Report, SuiteResult

    base = sample_report()
    big = SuiteResult.from_cases(
        "auth",
        [Case(name=f"identity check {i}", status=Status.PASSED, duration_ms=2) for i in range(40)],
        duration_s=1.0,
    )
    report_html.write(Report.build(base.run, [*base.suites, big], base.gates), tmp_path)
    _open(browser, tmp_path / "report.html")
    auth = browser.find_element("css selector", '.suite[data-suite="auth"]')
    assert _visible_statuses(auth) == []  # folded: 40 passing cases would bury the failures
    contract = browser.find_element("css selector", '.suite[data-suite="contract"]')
    assert len(_visible_statuses(contract)) == 5  # suites with failures stay open
    auth.find_element("css selector", '.filters button[data-filter="passed"]').click()
    assert _visible_statuses(auth) == ["passed"] * 40


def test_dashboard_charts_are_drawn_with_data_points(browser: Any, tmp_path: Path) -> None:
    from .test_html_dashboard import dashboard_report

    report = dashboard_report(tmp_path / "baselines")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    report_html.write(report, folder)
    entries = _open(browser, folder / "report.html")
    assert [e for e in entries if e["level"] in ("SEVERE", "WARNING")] == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0

    # every line chart polyline has as many drawn points as it declares, inside its chart
    drawn = browser.execute_script(
        """
        return Array.from(document.querySelectorAll('#load svg.chart polyline.series')).map(
          function (p) {
            var box = p.getBBox(), svg = p.ownerSVGElement.viewBox.baseVal;
            return [p.getAttribute('data-series'), p.points.numberOfItems,
                    Number(p.getAttribute('data-points')), box.width > 0 && box.height > 0,
                    box.x >= 0 && box.x + box.width <= svg.width];
          });
        """
    )
    series = report.suites[1].metrics["series"]
    assert [d[0] for d in drawn] == ["rps", "p50", "p95", "p99", "errors"]
    for name, points, declared, visible, inside in drawn:
        assert points == declared == len(series), name
        assert visible and inside, name
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('#load rect.dist-bar')).map("
        "function (r) { return [r.getAttribute('data-label'), r.getBBox().height]; });"
    )
    assert [b[0] for b in bars] == ["min", "p50", "p90", "p95", "p99", "p99.9", "max"]
    assert all(h > 0 for _, h in bars) and bars[-1][1] > bars[1][1]  # max drawn taller than p50

    # the gate table shows report.json's gates, the regression gate failed
    data = json.loads((folder / "report.json").read_text())
    rows = browser.find_elements("css selector", "#gate-table tbody tr")
    assert [r.get_attribute("data-gate") for r in rows] == [g["name"] for g in data["gates"]]
    results = {r.get_attribute("data-gate"): r.get_attribute("data-result") for r in rows}
    assert results["perf_regression"] == "failed"
    regressed = browser.find_elements(
        "css selector", '#baseline-table tr[data-verdict="regression"]'
    )
    assert regressed and all(r.is_displayed() for r in regressed)
    assert browser.find_element("css selector", "#trend svg.chart").is_displayed()


def test_chart_titles_show_and_axis_labels_never_overlap(browser: Any, tmp_path: Path) -> None:
    from .test_html_dashboard import dashboard_report, run_folder_with_histogram

    report = dashboard_report(tmp_path / "baselines")
    counts = [(310, 40), (900, 500), (1500, 300), (12_000, 150), (250_000, 50), (2_900_000, 3)]
    folder = run_folder_with_histogram(tmp_path, counts)
    report_html.write(report, folder)
    _open(browser, folder / "report.html")
    charts = browser.execute_script(
        """
        function boxes(svg, sel) {
          return Array.from(svg.querySelectorAll(sel)).map(function (t) {
            var b = t.getBoundingClientRect(); return [b.left, b.right, b.top, b.bottom]; });
        }
        return Array.from(document.querySelectorAll('svg.chart')).map(function (svg) {
          var title = svg.querySelector('text.chart-title');
          return {chart: svg.getAttribute('data-chart'),
                  title: title ? title.textContent : null,
                  titleShown: title ? title.getBoundingClientRect().width > 0 : false,
                  ticks: boxes(svg, 'text.tick'), labels: boxes(svg, 'text.bar-label')};
        });
        """
    )
    names = [c["chart"] for c in charts]
    assert "Latency histogram (every request)" in names and "Error rate over time" in names
    for c in charts:
        assert c["title"] == c["chart"] and c["titleShown"], c["chart"]
        labels = sorted(c["labels"])
        for (_, right, _, _), (left, _, _, _) in itertools.pairwise(labels):
            assert right <= left, f"{c['chart']}: bar labels overlap"
    histogram = next(c for c in charts if c["chart"].startswith("Latency histogram"))
    assert 2 <= len(histogram["labels"]) < 16


def test_each_gate_row_that_did_not_pass_shows_its_advice(browser: Any, tmp_path: Path) -> None:
    from .test_console import advice_report

    report = advice_report()
    report_html.write(report, tmp_path)
    entries = _open(browser, tmp_path / "report.html")
    assert [e for e in entries if e["level"] in ("SEVERE", "WARNING")] == []
    for gate in report.gates:
        row = browser.find_element("css selector", f'#gate-table tr[data-gate="{gate.name}"]')
        shown = row.find_elements("css selector", ".advice")
        if gate.passed is True:
            assert shown == [], gate.name
            continue
        assert gate.advice, gate.name  # every state but a pass has a line
        assert len(shown) == 1 and shown[0].is_displayed(), gate.name
        assert shown[0].text == f"→ {gate.advice}", gate.name
    exercised = browser.find_element(
        "css selector", '#gate-table tr[data-gate="exercised_operations"] .advice'
    ).text
    assert "GET /b (3× 401)" in exercised and "security scheme bearerAuth" in exercised
    # a failed row's advice is also a recommendation, naming the gate it comes from
    rec = browser.find_element(
        "css selector", '#recommendations .rec[data-source="gates.exercised_operations"]'
    )
    assert rec.text.startswith("Gate exercised_operations failed: 1 operation(s) never got")
