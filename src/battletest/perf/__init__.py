"""Performance baselines, regression detection, the performance score and trends.

- ``baseline``: ``.battletest/baselines/<scenario>.json`` built from a run folder's load suite;
- ``compare``: latest vs baseline, per metric and endpoint, a verdict per row (a change shown
  beyond a margin of a third of the threshold by a one-sided test over blocks of intervals —
  percentiles from merged interval histograms, ``intervals`` — Holm-adjusted, ``stats``), a
  0–100 score and an optional cost ceiling; a baseline of another target, endpoints or load
  shape is refused;
- ``trend``: the load figures of the last N runs from the history store, and the current run;
- ``attach_comparison``: puts a comparison into the ``load`` suite's ``metrics["baseline"]``,
  which the ``perf_regression`` gate and the dashboard read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from battletest.perf.baseline import (
    DEFAULT_DIR,
    DEFAULT_SCENARIO,
    Baseline,
    from_report,
    from_run_folder,
    latest_run_folder,
    load,
    save,
)
from battletest.perf.compare import DEFAULT_THRESHOLDS, Comparison, Row, compare
from battletest.perf.stats import mann_whitney_u, shift_test
from battletest.results import Report, RunInfo, SuiteResult


def attach_comparison(
    suites: list[SuiteResult],
    baselines: Path = DEFAULT_DIR,
    scenario: str = DEFAULT_SCENARIO,
    *,
    trend_last: int = 0,
    history_url: str | None = None,
    run: RunInfo | None = None,
    **options: Any,
) -> Comparison | None:
    """Compare the ``load`` suite in ``suites`` with its saved baseline and record the result in
    its ``metrics["baseline"]``; None (nothing recorded) without a load suite or a baseline.

    ``run`` describes the current run (its id, target and resolved config: what the baseline's
    target is checked against). With ``trend_last`` the load figures of that many recorded
    runs, and then the current one, go into ``metrics["trend"]`` (read from the history store
    at ``history_url``, default the project's), which the dashboard draws. ``options`` go to
    ``compare`` (thresholds, alpha, cost_per_hour, max_cost_per_1k, method, force).
    """
    from battletest.results import utcnow

    load_suite = next((s for s in suites if s.name == "load" and s.metrics.get("requests")), None)
    if load_suite is None:
        return None
    run = run or RunInfo(id="current", started_at=utcnow(), version="")
    if trend_last:
        from battletest.perf.trend import current_point, read_trend, trend_dicts

        earlier = [p for p in read_trend(history_url, last=trend_last) if p.run_id != run.id]
        points = earlier[max(len(earlier) - (trend_last - 1), 0) :]
        points.append(current_point(run.id, run.started_at.timestamp(), load_suite.metrics))
        load_suite.metrics["trend"] = trend_dicts(points)
    path = baselines / f"{scenario}.json"
    if not path.is_file():
        return None
    current = from_report(Report.build(run, [load_suite], []), scenario)
    result = compare(load(baselines, scenario), current, **options)
    load_suite.metrics["baseline"] = result.to_dict()
    return result


__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_SCENARIO",
    "DEFAULT_THRESHOLDS",
    "Baseline",
    "Comparison",
    "Row",
    "attach_comparison",
    "compare",
    "from_report",
    "from_run_folder",
    "latest_run_folder",
    "load",
    "mann_whitney_u",
    "save",
    "shift_test",
]
