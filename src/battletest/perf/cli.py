"""``battletest baseline save | compare | show``: thin commands over ``battletest.perf``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from battletest.cli_options import stacked
from battletest.errors import ExitCode

_DIR_HELP = "Baselines folder (default .battletest/baselines)."
_RUN_HELP = "Run folder to read (default: OUT/latest)."
_OUT_HELP = "Parent folder of run folders (default battletest-reports)."


def _run_folder(run: Path | None, out: Path) -> Path:
    from battletest.perf.baseline import latest_run_folder

    return run if run is not None else latest_run_folder(out)


# which run and which baseline: ``save`` and ``compare`` read both
_run_and_baseline_options = stacked(
    click.option("--run", "run", type=click.Path(path_type=Path), default=None, help=_RUN_HELP),
    click.option(
        "--out", type=click.Path(path_type=Path), default=Path("battletest-reports"), help=_OUT_HELP
    ),
    click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path),
        default=Path(".battletest/baselines"),
        help=_DIR_HELP,
    ),
    click.option("--scenario", default="default", show_default=True, help="Scenario name."),
)


@click.group("baseline")
def baseline() -> None:
    """Performance baselines: save the latest load run, compare against it."""


@baseline.command("save")
@_run_and_baseline_options
def save_command(run: Path | None, out: Path, directory: Path, scenario: str) -> None:
    """Save the load measurements of the latest run as the scenario's baseline."""
    from battletest.perf.baseline import from_run_folder, save

    folder = _run_folder(run, out)
    saved = from_run_folder(folder, scenario)
    path = save(saved, directory)
    click.echo(
        f"saved baseline {scenario!r} from run {saved.run_id}: {saved.total.requests} requests, "
        f"{len(saved.samples)} intervals, {len(saved.endpoints)} endpoints → {path}"
    )


@baseline.command("compare")
@_run_and_baseline_options
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="METRIC=PCT",
    help="Override a threshold: p50=10, p95=15, p99=20, rps=5 (repeatable).",
)
@click.option(
    "--alpha",
    type=float,
    default=0.01,
    show_default=True,
    help="Significance level: the chance of any false regression in the comparison.",
)
@click.option(
    "--method",
    type=click.Choice(["block", "mann-whitney"]),
    default="block",
    show_default=True,
    help="block: blocks of intervals, Holm-adjusted (calibrated); mann-whitney: the old test.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Compare even with a baseline of another target, endpoints or load shape.",
)
@click.option(
    "--cost-per-hour",
    type=float,
    default=None,
    help="What the target costs per hour (for cost per 1,000 requests).",
)
@click.option(
    "--max-cost-per-1k",
    type=float,
    default=None,
    help="Cost ceiling per 1,000 requests (needs --cost-per-hour).",
)
@click.option(
    "--trend",
    "trend",
    type=int,
    default=0,
    help="Also show the load figures of the last N recorded runs.",
)
@click.option("--db", default=None, help="History store URL (for --trend).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(
    run: Path | None,
    out: Path,
    directory: Path,
    scenario: str,
    thresholds: tuple[str, ...],
    alpha: float,
    cost_per_hour: float | None,
    max_cost_per_1k: float | None,
    method: str,
    force: bool,
    trend: int,
    db: str | None,
    as_json: bool,
) -> None:
    """Compare the latest run with the baseline; exit 1 on a regression or over the cost."""
    from battletest.perf.baseline import from_run_folder, load
    from battletest.perf.compare import compare, parse_thresholds
    from battletest.perf.trend import TrendPoint, read_trend, trend_dicts

    limits = parse_thresholds(thresholds)
    base = load(directory, scenario)
    current = from_run_folder(_run_folder(run, out), scenario)
    result = compare(
        base,
        current,
        thresholds=limits,
        alpha=alpha,
        cost_per_hour=cost_per_hour,
        max_cost_per_1k=max_cost_per_1k,
        method="mann-whitney" if method == "mann-whitney" else "block",
        force=force,
    )
    points = read_trend(db, last=trend) if trend else []
    if trend and current.run_id not in {p.run_id for p in points}:
        # the compared run itself, last, when the history store does not hold it (yet)
        t = current.total
        values = {
            "rps": t.rps,
            "p50": t.p50,
            "p95": t.p95,
            "p99": t.p99,
            "error_rate": t.error_rate,
        }
        earlier = points[max(len(points) - (trend - 1), 0) :]
        points = [*earlier, TrendPoint(current.run_id, time.time(), None, values)]
    if as_json:
        data = result.to_dict()
        data["trend"] = trend_dicts(points)
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(render_table(result))
        if points:
            click.echo(f"\ntrend over the last {len(points)} runs:")
            click.echo(f"{'run':<12}{'rps':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
            for p in points:
                v = p.values
                click.echo(
                    f"{p.run_id[:10]:<12}{v.get('rps', 0):>10.1f}{v.get('p50', 0):>10.2f}"
                    f"{v.get('p95', 0):>10.2f}{v.get('p99', 0):>10.2f}"
                )
    if not result.passed:
        raise click.exceptions.Exit(int(ExitCode.FAILED))


def render_table(result: object) -> str:
    """The comparison as a plain-text table (one row per scope and metric)."""
    from battletest.perf.compare import Comparison

    assert isinstance(result, Comparison)
    lines = [
        f"scenario {result.scenario}: run {result.current_run} vs baseline {result.baseline_run}"
        f" (test: {result.method}, alpha {result.alpha:g}"
        + (
            ", a regression must be shown beyond a third of its limit)"
            if result.method == "block"
            else ")"
        ),
        f"{'scope':<24}{'metric':<8}{'baseline':>12}{'current':>12}{'change':>10}"
        f"{'limit':>8}{'p':>10}  verdict",
    ]
    for r in result.rows:
        change = "-" if r.change_pct is None else f"{r.change_pct:+.1f}%"
        limit = f"{'-' if r.metric == 'rps' else '+'}{r.threshold_pct:g}%"
        p = "-" if r.p_value is None else f"{r.p_value:.4f}"
        lines.append(
            f"{r.scope[:23]:<24}{r.metric:<8}{r.baseline:>12.3f}{r.current:>12.3f}{change:>10}"
            f"{limit:>8}{p:>10}  {r.verdict.upper() if r.verdict == 'regression' else r.verdict}"
        )
    lines.extend(f"note: {n}" for n in result.notes)
    lines.append(f"performance score: {result.score}/100")
    if result.cost_per_1k is not None:
        ceiling = (
            f" (ceiling {result.max_cost_per_1k:g}: {'OVER' if result.over_cost else 'ok'})"
            if result.max_cost_per_1k is not None
            else ""
        )
        lines.append(f"cost per 1,000 requests: {result.cost_per_1k:.6g}{ceiling}")
    n = len(result.regressions)
    lines.append("verdict: " + (f"{n} regression(s)" if n else "no regression"))
    return "\n".join(lines)


__all__ = ["baseline", "render_table"]
