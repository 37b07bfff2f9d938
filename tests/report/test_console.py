"""The console prints measured text as text: ``[security]`` in a message is not rich markup."""

from __future__ import annotations

import io
import re

from rich.console import Console

from battletest.report.console import ConsoleProgress, print_summary
from battletest.results import Case, GateResult, Report, Status, SuiteResult

from .test_html import sample_report

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BRACKETED = "[security] check [bold]x[/bold] on filter[name]"


def _report() -> Report:
    report = sample_report()
    suite = SuiteResult.from_cases(
        "contract", [Case(name=f"GET /items {BRACKETED}", status=Status.FAILED)], 0.1
    )
    gates = [
        GateResult(name="no_failed_cases", limit=0, measured=1, passed=False, reason=BRACKETED)
    ]
    report.run.notes.append(BRACKETED)
    return Report.build(report.run, [*report.suites, suite], gates)


def test_brackets_survive_in_the_summary_on_a_terminal_and_in_ci() -> None:
    for terminal in (True, False):
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=terminal, no_color=True, width=300)
        print_summary(console, _report(), None)
        out = ANSI.sub("", buf.getvalue())
        gate_line = next(line for line in out.splitlines() if line.startswith("gate "))
        assert BRACKETED in gate_line, gate_line
        assert f"note: {BRACKETED}" in out


def test_brackets_survive_in_live_progress() -> None:
    for terminal in (True, False):
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=terminal, no_color=True, width=300)
        case = Case(name="GET /x", status=Status.FAILED, message=BRACKETED)
        with ConsoleProgress(console, verbose=True) as progress:
            progress.suite_started("[security]", 1)
            progress.case_done("[security]", case)
            progress.note(BRACKETED)
            progress.suite_done(SuiteResult.from_cases("[security]", [case], 0.1))
        out = ANSI.sub("", buf.getvalue())
        assert f"FAIL GET /x — {BRACKETED}" in out
        assert f"note: {BRACKETED}" in out
        lines = out.replace("\r", "\n").splitlines()
        if terminal:  # the live bar names the suite as given
            assert any(line.startswith("[security] ") and "━" in line for line in lines), out
        else:
            assert "[[security]] started (1 cases)" in lines, out


def advice_report() -> Report:
    """A run whose gate rows are in every state that carries advice: a security suite that
    errored (no input), operations that never got a success (a refusal: the scheme is named),
    gates whose suites were not enabled (not measured), one of them required."""
    from battletest.quality.gates import GatesConfig, evaluate_gates

    contract = SuiteResult.from_cases(
        "contract",
        [Case(name="GET /a", status=Status.PASSED), Case(name="GET /b", status=Status.SKIPPED)],
        0.1,
        metrics={
            "operations": {
                "tried_operations": ["GET /a", "GET /b"],
                "exercised_operations": ["GET /a"],
                "answers": {"GET /b": {"401": 3}},
                "schemes": {"GET /b": ["bearerAuth"]},
            }
        },
    )
    security = SuiteResult(
        name="security",
        status=Status.ERROR,
        message="could not read the spec",
        cases=[Case(name="security suite", status=Status.ERROR, message="could not read the spec")],
    )
    suites = [contract, security]
    gates = evaluate_gates(suites, GatesConfig(required=["line_coverage"], max_failed_cases=1))
    return Report.build(sample_report().run, suites, gates)


def test_the_summary_prints_each_gate_rows_advice_under_it() -> None:
    buf = io.StringIO()
    print_summary(Console(file=buf, no_color=True, width=300), advice_report(), None)
    lines = ANSI.sub("", buf.getvalue()).splitlines()

    def advice(gate: str) -> str:
        i = next(i for i, line in enumerate(lines) if line.startswith(f"gate {gate}:"))
        assert lines[i + 1].startswith("  → "), lines[i : i + 2]
        return lines[i + 1]

    assert "credentials for security scheme bearerAuth" in advice("exercised_operations")
    assert "GET /b (3× 401)" in advice("exercised_operations")
    assert "The security suite errored, so max_severity has nothing" in advice("max_severity")
    assert "[gates] required names line_coverage" in advice("line_coverage")
    assert 'Add "load" to [suites] enabled' in advice("load_error_rate")
    passed = next(i for i, line in enumerate(lines) if line.startswith("gate no_failed_cases:"))
    assert "pass" in lines[passed] and not lines[passed + 1].startswith("  → ")
