"""``battletest gate | flaky | impact | history``: thin commands over the quality library."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from battletest.errors import ExitCode, UsageError

DB_HELP = "History store (SQLAlchemy URL); default .battletest/history.db here."


def _open_store(db: str | None, *, must_exist: bool = False) -> Any:
    from battletest.quality.settings import load_settings
    from battletest.quality.store import ENV_URL, HistoryStore, default_url

    url = (
        db
        or os.environ.get(ENV_URL)
        or load_settings(Path.cwd()).history.url
        or default_url(Path.cwd())
    )
    if must_exist and url.startswith("sqlite:///") and not Path(url[10:]).exists():
        return None
    return HistoryStore(url)


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


# -- gate -------------------------------------------------------------------------------------


@click.command("gate")
@click.argument("run_folder", type=click.Path(path_type=Path))
@click.option("--db", default=None, help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the gate rows as JSON.")
def gate(run_folder: Path, db: str | None, as_json: bool) -> None:
    """Re-evaluate the quality gates of RUN_FOLDER/report.json; exit 0 (pass) or 1 (fail)."""
    from battletest.quality.gates import evaluate_report

    rows = evaluate_report(run_folder, history=_open_store(db, must_exist=True), policy=_policy())
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
    else:
        click.echo(f"{'gate':<24}{'limit':>12}{'measured':>12}  result")
        for r in rows:
            verdict = {True: "pass", False: "FAIL", None: "n/a"}[r.passed]
            measured = "-" if r.measured is None else str(r.measured)
            click.echo(f"{r.name:<24}{r.limit!s:>12}{measured:>12}  {verdict}  {r.reason}")
            if r.advice:
                click.echo(f"{'':<24}→ {r.advice}")
    failed = [r.name for r in rows if r.passed is False]
    if failed:
        click.echo(f"gates failed: {', '.join(failed)}", err=True)
        raise click.exceptions.Exit(int(ExitCode.FAILED))


# -- flaky ------------------------------------------------------------------------------------


@click.group("flaky")
def flaky() -> None:
    """Flaky tests from the history: list, report, quarantine, release."""


def _policy() -> Any:
    from battletest.quality.settings import load_settings

    return load_settings(Path.cwd()).flaky


@flaky.command("list")
@click.option("--db", default=None, help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def flaky_list(db: str | None, as_json: bool) -> None:
    """Broken, flaky and quarantined tests in the window ([flaky] window_days, default 14).

    Broken tests (failed every run since a commit) are listed first and apart: they are never
    quarantined, so they fail the build until fixed."""
    from battletest.quality.flaky import analyse, short_commit

    store = _open_store(db, must_exist=True)
    found = analyse(store, _policy()) if store is not None else []
    if as_json:
        click.echo(json.dumps([_health_dict(h) for h in found], indent=2))
        return
    broken = [h for h in found if h.broken]
    flaky = [h for h in found if not h.broken]
    if broken:
        click.echo(f"broken ({len(broken)}): failed every run since a commit; they fail the build")
        click.echo(f"{'since':<14}{'runs':>6}  {'first failed':<16}  test")
        for h in broken:
            since = short_commit(h.broken_since)
            click.echo(f"{since:<14}{h.broken_runs:>6}  {_when(h.broken_at):<16}  {h.test_id}")
    if not flaky:
        click.echo("no flaky tests")
        return
    if broken:
        click.echo("")
    click.echo(f"flaky ({len(flaky)}): passed and failed on the same code")
    click.echo(f"{'status':<12}{'rate':>6}{'runs':>6}  test")
    for h in flaky:
        click.echo(f"{h.status:<12}{h.rate:>6.0%}{h.runs:>6}  {h.test_id}")


@flaky.command("report")
@click.option("--weeks", type=click.IntRange(1, 520), default=2, show_default=True)
@click.option("--db", default=None, help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def flaky_report(weeks: int, db: str | None, as_json: bool) -> None:
    """Flaky tests over the last WEEKS: rate, first seen, last flip, file, why."""
    from battletest.quality.flaky import analyse

    store = _open_store(db, must_exist=True)
    found = analyse(store, _policy(), window_days=weeks * 7) if store is not None else []
    if as_json:
        click.echo(json.dumps([_health_dict(h) for h in found], indent=2))
        return
    broken = sum(1 for h in found if h.broken)
    head = f"flaky tests, last {weeks} week(s): {len(found) - broken}"
    click.echo(head + (f"; broken tests: {broken}" if broken else ""))
    for h in found:
        click.echo(
            f"- {h.test_id} [{h.status}] rate {h.rate:.0%} ({h.failures}/{h.runs}), "
            f"first seen {_when(h.first_seen)}, last flip {_when(h.last_flip)}, "
            f"file {h.file or '-'}; {'; '.join(h.reasons)}"
        )


def _health_dict(h: Any) -> dict[str, Any]:
    return {
        "test": h.test_id,
        "file": h.file,
        "status": h.status,
        "broken_since": h.broken_since,
        "broken_runs": h.broken_runs,
        "rate": round(h.rate, 4),
        "runs": h.runs,
        "failures": h.failures,
        "mixed_commits": h.mixed_commits,
        "first_seen": _when(h.first_seen),
        "last_flip": _when(h.last_flip),
        "reasons": h.reasons,
    }


@flaky.command("quarantine")
@click.argument("test")
@click.option("--reason", default="", help="Why (shown in reports).")
@click.option("--db", default=None, help=DB_HELP)
def flaky_quarantine(test: str, reason: str, db: str | None) -> None:
    """Quarantine TEST (a pytest node id): it still runs but cannot fail the build."""
    from battletest.quality.flaky import quarantine

    _check_test_id(test)
    quarantine(_open_store(db), test, reason)
    click.echo(f"quarantined {test}")


@flaky.command("release")
@click.argument("test")
@click.option("--db", default=None, help=DB_HELP)
def flaky_release(test: str, db: str | None) -> None:
    """Release TEST from quarantine; its rate is judged afresh from now on."""
    from battletest.quality.flaky import release

    _check_test_id(test)
    release(_open_store(db), test)
    click.echo(f"released {test}")


def _check_test_id(test: str) -> None:
    if not test.strip() or test != test.strip():
        raise UsageError(
            f"{test!r} is not a test id", hint="pass a pytest node id such as tests/test_x.py::t"
        )


# -- impact -----------------------------------------------------------------------------------


@click.command("impact")
@click.option("--since", default=None, metavar="REF", help="Git ref the change is made against.")
@click.option("--changed-files", default=None, metavar="A,B", help="Comma-separated paths.")
@click.option("--db", default=None, help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the selection as JSON.")
def impact(since: str | None, changed_files: str | None, db: str | None, as_json: bool) -> None:
    """The tests a change needs: run them with pytest --bt-impact REF."""
    from battletest.quality.impact import select
    from battletest.quality.settings import load_settings

    if since is None and changed_files is None:
        raise UsageError("impact needs a change", hint="pass --since REF or --changed-files a,b")
    changed = changed_files.split(",") if changed_files is not None else None
    settings = load_settings(Path.cwd()).impact
    sel = select(_open_store(db), Path.cwd(), since=since, changed=changed, settings=settings)
    if as_json:
        click.echo(json.dumps(sel.to_dict(), indent=2))
        return
    if sel.full_run:
        click.echo(f"full run: {sel.reason}")
        return
    click.echo(sel.reason)
    for test, why in sorted(sel.tests.items()):
        click.echo(f"{test}  ({why})")
    for pat, why in sel.patterns.items():
        click.echo(f"{pat}  ({why})")
    click.echo("tests not in the impact map (new tests) always run")


# -- history ----------------------------------------------------------------------------------


@click.group("history")
def history() -> None:
    """The history store."""


@history.command("prune")
@click.option("--keep", required=True, metavar="AGE", help="Keep this much history: 90d, 12w, 36h.")
@click.option("--db", default=None, help=DB_HELP)
def history_prune(keep: str, db: str | None) -> None:
    """Delete runs older than AGE (and their cases, metrics, findings, gate rows)."""
    from battletest.quality.store import parse_keep

    seconds = parse_keep(keep)
    store = _open_store(db, must_exist=True)
    if store is None:
        click.echo("no history store yet: nothing to prune")
        return
    removed = store.prune(time.time() - seconds)
    click.echo(
        f"pruned {removed.get('bt_runs', 0)} run(s) and {removed.get('bt_cases', 0)} case "
        f"result(s) older than {keep}"
    )


@history.command("stats")
@click.option("--db", default=None, help=DB_HELP)
def history_stats(db: str | None) -> None:
    """Row counts per table and the schema version."""
    store = _open_store(db, must_exist=True)
    if store is None:
        click.echo("no history store yet")
        return
    click.echo(f"schema version {store.version()}")
    for table, n in store.counts().items():
        click.echo(f"{table:<20}{n:>10}")


@history.command("gaps")
@click.option(
    "--data-file",
    type=click.Path(path_type=Path),
    default=Path(".coverage"),
    show_default=True,
    help="coverage.py data from your test suite.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Source folder whose files count even when no test imports them (repeatable; "
    "default: ./src, else the project's package folders).",
)
@click.option("--churn-days", type=click.IntRange(1, 3650), default=90, show_default=True)
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows (as in report.json).")
def history_gaps(
    data_file: Path, sources: tuple[str, ...], churn_days: int, limit: int, as_json: bool
) -> None:
    """Functions and branches no test covers, ranked by complexity and recent churn — files no
    test imports included."""
    from battletest.quality.coverage_gaps import (
        find_gaps,
        gaps_for_report,
        project_sources,
        unimported_files,
    )

    chosen = list(sources) or project_sources(Path.cwd())
    gaps = find_gaps(data_file, Path.cwd(), churn_days=churn_days, limit=limit, sources=chosen)
    if as_json:
        click.echo(json.dumps(gaps_for_report(gaps), indent=2))
        return
    where = ", ".join(_shown_path(s) for s in chosen) or "none found (pass --source)"
    unseen = unimported_files(data_file, chosen) if chosen else []
    click.echo(
        f"source: {where} — {len(unseen)} file(s) there no test imports count as uncovered"
        + ("" if sources else " (the project's packages; --source to choose)")
    )
    if not gaps:
        click.echo("no coverage gaps")
        return
    click.echo(f"{'score':>7} {'cc':>3} {'churn':>6} {'missing':>9}  function")
    for g in gaps:
        missing = f"{g.missing_lines}/{g.statements}" + (
            f"+{g.missing_branches}b" if g.missing_branches else ""
        )
        click.echo(
            f"{g.score:>7.2f} {g.complexity:>3} {g.churn:>6} {missing:>9}  "
            f"{g.file}:{g.first_line} {g.function} ({g.kind})"
        )


def _shown_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return path
