"""The console: live progress and the final summary, rich on a terminal, plain lines in CI.

``ConsoleProgress`` implements the suites' progress interface. On a TTY it draws a rich
progress bar per suite; otherwise (CI, pipes, ``--json``) it writes one plain line per suite
and per failed case. ``print_summary`` prints the verdict, the suite table and the gates;
``summary_json`` is what ``--json`` prints on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from battletest.results import Case, Report, Status, SuiteResult

_MARK = {
    Status.PASSED: "ok",
    Status.FAILED: "FAIL",
    Status.ERROR: "ERROR",
    Status.SKIPPED: "skip",
}
_STYLE = {
    Status.PASSED: "green",
    Status.FAILED: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIPPED: "yellow",
}


def make_console(stream: IO[str] | None = None, *, force_plain: bool = False) -> Console:
    stream = stream or sys.stderr
    if force_plain:
        return Console(
            file=stream,
            force_terminal=False,
            no_color=True,
            highlight=False,
            soft_wrap=True,
        )
    console = Console(file=stream, highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True  # plain lines in CI: never wrapped mid-message
    return console


class ConsoleProgress:
    """Progress on the console: live on a terminal, plain lines otherwise."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.live = console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ConsoleProgress:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def suite_started(self, name: str, total: int | None) -> None:
        if self._progress is not None:
            # the description is rich markup (the column styles it): the name is text
            self._tasks[name] = self._progress.add_task(escape(name), total=total, failed=0)
        else:
            size = f" ({total} cases)" if total else ""
            self.console.print(f"[{name}] started{size}", markup=False)

    def case_done(self, suite: str, case: Case) -> None:
        if self._progress is not None and suite in self._tasks:
            task = self._tasks[suite]
            failed = case.status in (Status.FAILED, Status.ERROR)
            current = self._progress.tasks[self._tasks_index(task)].fields.get("failed", 0)
            self._progress.update(task, advance=1, failed=current + (1 if failed else 0))
        if case.status in (Status.FAILED, Status.ERROR) or self.verbose:
            line = f"[{suite}] {_MARK[case.status]} {case.name}"
            if case.message:
                line += f" — {case.message}"
            self.console.print(line, markup=False)

    def _tasks_index(self, task: TaskID) -> int:
        assert self._progress is not None
        return next(i for i, t in enumerate(self._progress.tasks) if t.id == task)

    def suite_done(self, result: SuiteResult) -> None:
        if self._progress is not None and result.name in self._tasks:
            task = self._tasks[result.name]
            self._progress.update(task, completed=len(result.cases), total=len(result.cases))
        passed = sum(c.status is Status.PASSED for c in result.cases)
        self.console.print(
            f"[{result.name}] {result.status.value}: {passed}/{len(result.cases)} passed "
            f"in {result.duration_s:.1f}s",
            markup=False,
        )

    def note(self, message: str) -> None:
        self.console.print(f"note: {message}", markup=False)


def print_summary(console: Console, report: Report, folder: Path | None) -> None:
    """The final table: suites, gates, verdict, and where the reports are."""
    s = report.summary
    table = Table(title=None, show_edge=False, pad_edge=False)
    for col in ("suite", "status", "passed", "failed", "skipped", "time"):
        table.add_column(col, justify="left" if col in ("suite", "status") else "right")
    for suite in report.suites:
        counts = {st: sum(1 for c in suite.cases if c.status is st) for st in Status}
        table.add_row(
            escape(suite.name),
            f"[{_STYLE[suite.status]}]{suite.status.value}[/]",
            str(counts[Status.PASSED]),
            str(counts[Status.FAILED] + counts[Status.ERROR]),
            str(counts[Status.SKIPPED]),
            f"{suite.duration_s:.1f}s",
        )
    console.print(table)
    for gate in report.gates:
        mark = {
            True: "[green]pass[/]",
            False: "[bold red]FAIL[/]",
            None: "[yellow]not measured[/]",
        }[gate.passed]
        console.print(f"gate {escape(gate.name)}: {mark} ({escape(gate.reason)})")
        if gate.advice:
            console.print(f"  → {gate.advice}", markup=False)
    for note in report.run.notes:
        console.print(f"note: {note}", markup=False)
    verdict = {
        "pass": "[bold green]PASS[/]",
        "fail": "[bold red]FAIL[/]",
        "interrupted": "[bold yellow]INTERRUPTED[/]",
    }[s.verdict]
    interrupted = " (interrupted: partial results)" if report.run.interrupted else ""
    console.print(
        f"verdict: {verdict}{interrupted} — {s.passed}/{s.total_tests} passed, {s.failed} failed, "
        f"{s.errors} errors, {s.skipped} skipped, success rate {s.success_rate:g}% "
        f"in {s.total_duration_ms / 1000:.1f}s (seed {report.run.seed})"
    )
    if folder is not None:
        console.print(f"reports: {folder}", markup=False)


def summary_json(report: Report, folder: Path | None) -> str:
    """The ``--json`` document: summary, gates, suites at a glance, and the run folder."""
    data: dict[str, Any] = {
        "run_id": report.run.id,
        "seed": report.run.seed,
        "interrupted": report.run.interrupted,
        "summary": report.summary.model_dump(mode="json"),
        "gates": [g.model_dump(mode="json") for g in report.gates],
        "suites": [
            {"name": s.name, "status": s.status.value, "cases": len(s.cases)} for s in report.suites
        ],
        "run_folder": str(folder) if folder else None,
    }
    return json.dumps(data, indent=2)


__all__ = ["ConsoleProgress", "make_console", "print_summary", "summary_json"]
