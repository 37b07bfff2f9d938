"""A suite that crashes (a battletest bug): one line on the console, its traceback kept in the
run folder's errors.log with the run's secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from tests.run.conftest import make_config

from battletest.report.console import print_summary
from battletest.results import Status, SuiteResult
from battletest.run import SUITES, execute
from battletest.suites.base import SuiteContext

pytestmark = pytest.mark.network

PLANTED = "pw-planted-in-a-crash-7781"


def _crashing_suite(ctx: SuiteContext) -> SuiteResult:
    ctx.redactor.add_secret(PLANTED)
    return _deeper(PLANTED)


def _deeper(secret: str) -> SuiteResult:
    raise RuntimeError(f"boom while holding {secret}")


def test_a_crashed_suite_keeps_its_traceback_in_errors_log(api_url: str, tmp_path: Path) -> None:
    table = {**SUITES, "contract": _crashing_suite}
    out = execute(make_config(api_url, tmp_path), only=["contract"], suites_table=table)
    suite = out.report.suites[0]
    assert suite.status is Status.ERROR and out.exit_code == 1
    assert suite.message is not None and "errors.log" in suite.message
    assert out.folder is not None
    log = (out.folder / "errors.log").read_text()
    assert "Traceback (most recent call last)" in log and "in _deeper" in log
    assert "the contract suite crashed" in log and PLANTED not in log and "***" in log
    console = Console(force_terminal=False, no_color=True, width=300, record=True)
    print_summary(console, out.report, out.folder)
    text = console.export_text()
    assert "Traceback" not in text and PLANTED not in text
    for written in out.folder.rglob("*"):
        if written.is_file():
            assert PLANTED.encode() not in written.read_bytes(), written
