"""Latest run against its baseline: one row per metric with a verdict, a score, a cost.

A row is a **regression** only when both hold:

1. the relative change is worse than the metric's threshold (defaults: p50 +10 %, p95 +15 %,
   p99 +20 %, throughput −5 %), and
2. a one-sided Mann-Whitney U test over the per-interval samples says the current samples are
   worse with p < ``alpha`` (default 0.05; see ``perf.stats``).

A change beyond the threshold without that evidence is **noise**; a significant change the
other way beyond the threshold is an **improvement**; anything else is **ok**. Per-endpoint
rows compare the endpoints' summaries (the series is per run, not per endpoint), so they are
judged with the run's test of the same metric.

Performance score (0–100)::

    penalty(m) = clamp(worsening(m) / (2 × threshold(m)), 0, 1)    for m in p50, p95, p99, rps
    score      = round(100 × (1 − mean(penalty)) × (1 − error_rate))

where ``worsening`` is the relative change in the bad direction (latency up, throughput down),
so a run exactly at a threshold scores 50 on that metric, twice the threshold or more scores 0,
and any improvement scores 100. Cost per 1,000 requests = ``cost_per_hour / (rps × 3600) ×
1000``; with ``max_cost_per_1k`` set, a higher figure fails the comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from battletest.errors import UsageError
from battletest.perf.baseline import Baseline, Sample
from battletest.perf.stats import Alternative, mann_whitney_u

Metric = Literal["p50", "p95", "p99", "rps"]
Verdict = Literal["regression", "noise", "improvement", "ok"]
METRICS: tuple[Metric, ...] = ("p50", "p95", "p99", "rps")
DEFAULT_THRESHOLDS: dict[str, float] = {"p50": 10.0, "p95": 15.0, "p99": 20.0, "rps": 5.0}
DEFAULT_ALPHA = 0.01


@dataclass(frozen=True, slots=True)
class Row:
    scope: str  # "total" or an endpoint name
    metric: str
    baseline: float
    current: float
    change_pct: float | None  # relative change, None when the baseline is 0
    threshold_pct: float
    p_value: float | None
    verdict: Verdict


@dataclass(slots=True)
class Comparison:
    scenario: str
    baseline_run: str
    current_run: str
    rows: list[Row]
    score: int | None
    alpha: float
    cost_per_1k: float | None = None
    max_cost_per_1k: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "regression"]

    @property
    def over_cost(self) -> bool:
        return (
            self.cost_per_1k is not None
            and self.max_cost_per_1k is not None
            and self.cost_per_1k > self.max_cost_per_1k
        )

    @property
    def passed(self) -> bool:
        return not self.regressions and not self.over_cost

    def to_dict(self) -> dict[str, Any]:
        """Plain data for report.json (the ``load`` suite's ``metrics["baseline"]``)."""
        data = asdict(self)
        data["regressions"] = len(self.regressions)
        data["passed"] = self.passed
        return data


def _worse(metric: str) -> Alternative:
    return "less" if metric == "rps" else "greater"


def _change(before: float, after: float) -> float | None:
    return None if before == 0 else round(100.0 * (after - before) / before, 2)


def _worsening(metric: str, change: float | None) -> float:
    if change is None:
        return 0.0
    return -change if metric == "rps" else change


def _verdict(
    metric: str,
    change: float | None,
    limit: float,
    p_worse: float | None,
    p_better: float | None,
    alpha: float,
) -> Verdict:
    worse = _worsening(metric, change)
    if worse > limit:
        return "regression" if p_worse is not None and p_worse < alpha else "noise"
    if -worse > limit and p_better is not None and p_better < alpha:
        return "improvement"
    return "ok"


def _usable(samples: list[Sample]) -> list[Sample]:
    """Intervals that saw traffic, without the last one (usually a partial interval)."""
    busy = [s for s in samples if s.rps > 0]
    return busy[:-1] if len(busy) > 3 else busy


def compare(
    baseline: Baseline,
    current: Baseline,
    *,
    thresholds: dict[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    cost_per_hour: float | None = None,
    max_cost_per_1k: float | None = None,
) -> Comparison:
    """Compare ``current`` (built from the latest run) with ``baseline``."""
    limits = dict(DEFAULT_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in limits:
            raise UsageError(
                f"unknown regression threshold {key!r}", hint=f"use one of {', '.join(METRICS)}"
            )
        if value < 0:
            raise UsageError(f"threshold {key} must not be negative", hint="e.g. p95=15")
        limits[key] = float(value)
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha} is not a probability", hint="e.g. --alpha 0.05")
    before, after = _usable(baseline.samples), _usable(current.samples)
    tests: dict[str, tuple[float | None, float | None]] = {}
    for metric in METRICS:
        xs = [float(getattr(s, metric)) for s in before]
        ys = [float(getattr(s, metric)) for s in after]
        worse = _worse(metric)
        better: Alternative = "greater" if worse == "less" else "less"
        tests[metric] = (
            mann_whitney_u(xs, ys, worse).p_value,
            mann_whitney_u(xs, ys, better).p_value,
        )
    notes: list[str] = []
    if min(len(before), len(after)) < 5:
        notes.append(
            f"only {len(before)} baseline and {len(after)} current intervals: too few for the "
            "significance test, so no change is called a regression (run longer)"
        )
    rows: list[Row] = []
    scopes: list[tuple[str, Any, Any]] = [("total", baseline.total, current.total)]
    scopes += [
        (name, stats, current.endpoints[name])
        for name, stats in sorted(baseline.endpoints.items())
        if name in current.endpoints
    ]
    for scope, b, c in scopes:
        for metric in METRICS:
            x, y = float(getattr(b, metric)), float(getattr(c, metric))
            change = _change(x, y)
            p_worse, p_better = tests[metric]
            verdict = _verdict(metric, change, limits[metric], p_worse, p_better, alpha)
            rows.append(
                Row(
                    scope,
                    metric,
                    x,
                    y,
                    change,
                    limits[metric],
                    None if p_worse is None else round(p_worse, 6),
                    verdict,
                )
            )
    missing = sorted(set(baseline.endpoints) - set(current.endpoints))
    if missing:
        notes.append(f"endpoints in the baseline but not in this run: {', '.join(missing)}")
    penalties = [
        min(max(_worsening(r.metric, r.change_pct) / (2 * r.threshold_pct), 0.0), 1.0)
        if r.threshold_pct > 0
        else (1.0 if _worsening(r.metric, r.change_pct) > 0 else 0.0)
        for r in rows
        if r.scope == "total"
    ]
    score = round(
        100 * (1 - sum(penalties) / len(penalties)) * (1 - min(current.total.error_rate, 1.0))
    )
    cost = None
    if cost_per_hour is not None:
        if cost_per_hour < 0:
            raise UsageError("--cost-per-hour must not be negative", hint="e.g. 0.68")
        rps = current.total.rps
        cost = round(cost_per_hour / (rps * 3600) * 1000, 6) if rps > 0 else None
    elif max_cost_per_1k is not None:
        raise UsageError(
            "a cost ceiling needs the target's cost", hint="add --cost-per-hour (e.g. 0.68)"
        )
    return Comparison(
        scenario=current.scenario,
        baseline_run=baseline.run_id,
        current_run=current.run_id,
        rows=rows,
        score=score,
        alpha=alpha,
        cost_per_1k=cost,
        max_cost_per_1k=max_cost_per_1k,
        notes=notes,
    )


def parse_thresholds(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``("p95=20", "rps=3")`` → ``{"p95": 20.0, "rps": 3.0}`` (percent)."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value.strip().rstrip("%"))
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(
                f"--threshold {item!r} is not METRIC=PERCENT", hint="e.g. --threshold p95=20"
            )
    return out


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_THRESHOLDS",
    "METRICS",
    "Comparison",
    "Row",
    "compare",
    "parse_thresholds",
]
