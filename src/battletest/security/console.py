"""The console table of a scan: findings by severity, then what was (not) concluded."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from battletest.results import Severity
from battletest.security.framework import ScanOutcome

STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render(outcome: ScanOutcome, console: Console, fail_on: Severity) -> None:
    if outcome.findings:
        table = Table(title="Security findings", show_lines=False)
        for column in ("severity", "check", "owasp", "operation", "parameter", "finding"):
            table.add_column(column, overflow="fold")
        for f in outcome.findings:
            table.add_row(
                f"[{STYLES[f.severity]}]{f.severity.value}[/]",
                # measured text is not markup: "filter[name]" must print as given
                escape(f.check_id),
                f.owasp or "",
                escape(f"{f.method} {f.path}") if f.path else "whole target",
                escape(f.parameter or ""),
                escape(f.title),
            )
        console.print(table)
    inconclusive = outcome.inconclusive
    if inconclusive:
        table = Table(title="Inconclusive (nothing can be said about these)")
        for column in ("check", "operation", "reason"):
            table.add_column(column, overflow="fold")
        for run in inconclusive:
            table.add_row(escape(run.check_id), escape(run.target), escape(run.reason))
        console.print(table)
    for check_id, reason in outcome.not_run.items():
        console.print(f"not run: {check_id}: {reason}", markup=False)
    for f, reason in outcome.suppressed:
        console.print(
            f"suppressed: {f.check_id} {f.method or ''} {f.path or ''}: {reason}", markup=False
        )
    for note in outcome.notes:
        console.print(f"note: {note}", markup=False)
    if outcome.unreachable:
        console.print(f"stopped early: {outcome.unreachable}", markup=False)
    failing = outcome.failing(fail_on)
    paced = (
        f" ({outcome.paced_s:.1f}s of it paced by rate limits)" if outcome.paced_s >= 0.1 else ""
    )
    console.print(
        f"{len(outcome.findings)} findings ({len(failing)} at or above {fail_on.value}), "
        f"{len(outcome.accepted)} accepted by the baseline, {len(outcome.suppressed)} suppressed; "
        f"{len(outcome.runs) - len(inconclusive)}/{len(outcome.runs)} check runs conclusive; "
        f"{outcome.requests} requests in {outcome.duration_s:.1f}s{paced}"
    )
