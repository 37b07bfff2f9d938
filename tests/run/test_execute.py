"""`execute` as a library: pytest suite, parallel contract, prod profile, Ctrl-C, timeouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from tests.run.conftest import make_config

from battletest.report.console import ConsoleProgress, print_summary, summary_json
from battletest.results import Case, Status, SuiteResult
from battletest.run import SUITES, execute
from battletest.suites.base import CaseRecorder, SuiteContext

pytestmark = pytest.mark.network


def test_without_a_path_the_pytest_suite_asked_for_by_name_fails(
    api_url: str, tmp_path: Path
) -> None:
    out = execute(make_config(api_url, tmp_path), only=["pytest"], write_reports=False)
    assert out.report.suites[0].status is Status.SKIPPED
    gates = {g.name: g for g in out.report.gates}
    assert gates["success_rate"].passed is None
    assert gates["suite_results"].passed is False
    assert "every case of the pytest suite was skipped" in gates["suite_results"].reason
    assert gates["line_coverage"].passed is False and out.exit_code == 1


def test_on_the_default_list_a_pytest_suite_without_a_path_is_not_run(
    api_url: str, tmp_path: Path
) -> None:
    from battletest.run import unconfigured

    skipped = SuiteResult.from_cases(
        "pytest", [Case(name="pytest", status=Status.SKIPPED, message="not run: no path")], 0.0
    )
    result = unconfigured(skipped, explicit=set())
    assert result.cases == [] and result.message.startswith("not run: no path")
    assert unconfigured(skipped, explicit={"pytest"}) is skipped
    inconclusive = SuiteResult.from_cases(
        "contract",
        [Case(name="c", status=Status.SKIPPED, details={"outcome": "inconclusive"})],
        0.0,
    )
    assert unconfigured(inconclusive, explicit=set()) is inconclusive


@pytest.mark.slow
def test_the_contract_suite_in_parallel(api_url: str, tmp_path: Path) -> None:
    out = execute(
        make_config(api_url, tmp_path, parallel=3), only=["contract"], write_reports=False
    )
    assert out.report.summary.total_tests == 8 and out.report.summary.failed == 0


def _fake_load(ctx: SuiteContext) -> SuiteResult:
    return SuiteResult.from_cases("load", [Case(name="ran", status=Status.PASSED)], 0.0)


def test_a_prod_profile_refuses_destructive_suites_unless_allowed(
    api_url: str, tmp_path: Path
) -> None:
    table = {**SUITES, "load": _fake_load}
    cfg = make_config(api_url, tmp_path, profile="prod")
    out = execute(cfg, only=["load"], suites_table=table, write_reports=False)
    assert out.report.suites[0].status is Status.SKIPPED
    assert any("profile 'prod' forbids destructive" in n for n in out.report.run.notes)
    allowed = make_config(api_url, tmp_path, profile="prod", allow_destructive=True)
    out = execute(allowed, only=["load"], suites_table=table, write_reports=False)
    assert out.report.suites[0].cases[0].name == "ran"


def _interrupted_suite(ctx: SuiteContext) -> SuiteResult:
    rec = CaseRecorder(ctx, "contract")
    rec.add(Case(name="first", status=Status.PASSED))
    raise KeyboardInterrupt


def test_ctrl_c_keeps_the_partial_suite_and_writes_the_reports(
    api_url: str, tmp_path: Path
) -> None:
    table = {**SUITES, "contract": _interrupted_suite}
    out = execute(make_config(api_url, tmp_path), only=["contract", "errors"], suites_table=table)
    assert out.exit_code == 130 and out.report.run.interrupted
    assert [c.name for c in out.report.test_results] == ["first"]
    assert out.folder is not None
    saved = json.loads((out.folder / "report.json").read_text())
    assert saved["run"]["interrupted"] is True


def _crashing_suite(ctx: SuiteContext) -> SuiteResult:
    raise RuntimeError("boom")


def test_a_crashing_suite_is_an_errored_suite_not_a_traceback(api_url: str, tmp_path: Path) -> None:
    table = {**SUITES, "contract": _crashing_suite}
    out = execute(
        make_config(api_url, tmp_path), only=["contract"], suites_table=table, write_reports=False
    )
    suite = out.report.suites[0]
    assert suite.status is Status.ERROR and "RuntimeError: boom" in suite.cases[0].message
    assert out.exit_code == 1


def test_an_exhausted_timeout_skips_the_remaining_suites(api_url: str, tmp_path: Path) -> None:
    cfg = make_config(api_url, tmp_path, timeout_s=0.001)
    out = execute(cfg, only=["errors", "pytest"], write_reports=False)
    assert all(s.status is Status.SKIPPED for s in out.report.suites)
    assert any("timeout" in n for n in out.report.run.notes)


def test_console_summary_live_and_plain(api_url: str, tmp_path: Path) -> None:
    live = Console(force_terminal=True, width=100, record=True)
    with ConsoleProgress(live) as progress:
        out = execute(make_config(api_url, tmp_path), only=["contract"], progress=progress)
        progress.suite_done(out.report.suites[0])
    plain = Console(force_terminal=False, no_color=True, width=400, record=True)
    print_summary(plain, out.report, out.folder)
    text = plain.export_text()
    assert "verdict: PASS" in text and "contract" in text and f"seed {out.report.run.seed}" in text
    assert str(out.folder) in text
    doc = json.loads(summary_json(out.report, out.folder))
    assert doc["summary"]["verdict"] == "pass" and doc["suites"][0]["name"] == "contract"
