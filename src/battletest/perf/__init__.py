"""Performance baselines, regression detection, the performance score and trends.

- ``baseline``: ``.battletest/baselines/<scenario>.json`` built from a run folder's load suite;
- ``compare``: latest vs baseline, per metric and endpoint, a verdict per row (threshold AND a
  one-sided Mann-Whitney U test, ``stats``), a 0–100 score and an optional cost ceiling;
- ``trend``: the load figures of the last N runs from the history store;
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
from battletest.perf.stats import mann_whitney_u
from battletest.results import Report, SuiteResult


def attach_comparison(
    suites: list[SuiteResult],
    baselines: Path = DEFAULT_DIR,
    scenario: str = DEFAULT_SCENARIO,
    *,
    trend_last: int = 0,
    history_url: str | None = None,
    **options: Any,
) -> Comparison | None:
    """Compare the ``load`` suite in ``suites`` with its saved baseline and record the result in
    its ``metrics["baseline"]``; None (nothing recorded) without a load suite or a baseline.

    With ``trend_last`` the load figures of that many recorded runs go into
    ``metrics["trend"]`` (read from the history store at ``history_url``, default the
    project's), which the dashboard draws. ``options`` go to ``compare`` (thresholds, alpha,
    cost_per_hour, max_cost_per_1k).
    """
    load_suite = next((s for s in suites if s.name == "load" and s.metrics.get("requests")), None)
    if load_suite is None:
        return None
    if trend_last:
        from battletest.perf.trend import read_trend, trend_dicts

        load_suite.metrics["trend"] = trend_dicts(read_trend(history_url, last=trend_last))
    path = baselines / f"{scenario}.json"
    if not path.is_file():
        return None
    from battletest.results import RunInfo, utcnow

    run = RunInfo(id="current", started_at=utcnow(), version="")
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
]
