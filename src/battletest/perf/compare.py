"""Latest run against its baseline: one row per metric with a verdict, a score, a cost.

A row is a **regression** when that scope's per-interval samples (the whole run, or that
endpoint) show a change the bad way beyond the row's **margin**, a third of the metric's
threshold (defaults: p50 +10 %, p95 +15 %, p99 +20 %, throughput −5 %; margins 3.3 / 5 / 6.7 /
1.7 %): ``perf.stats.shift_test`` over blocks of consecutive intervals tests "the shift is at
most the margin" one-sided, and the p-values of all rows are Holm-adjusted so that alpha
(default 0.01) bounds the chance of any false regression in the comparison. A block's p50, p95
or p99 is read from the merge of its intervals' histograms when both runs kept them (baseline
format 3); otherwise it is the mean of the intervals' log percentiles.

Why not "the observed change beyond the threshold and p < alpha" (the rule before): the observed
change of a run whose true change equals the threshold is below it about half the time, so that
rule caught a true +15 % slowdown at most half the time. A lower confidence bound above a
margin well below the threshold catches it nearly always where the samples are tight, and still
flags a run of the same build at most alpha of the time.

The same evidence the other way is an **improvement**; a change beyond the threshold without
evidence either way is **noise**; anything else is **ok**. Intervals with no traffic and partial
intervals (shorter than half the median interval: the last one of a run, usually) are left out of
the test.

``method="mann-whitney"`` is the previous detector, kept so the benchmark can show both: one
Mann-Whitney U test per metric over the whole run's intervals as independent samples, its
p-value reused for every endpoint's row, no adjustment, and the old rule (threshold AND p).

A baseline is compared only with a run of the same target, endpoints and load shape; anything
else is a ``UsageError`` naming the difference, unless ``force=True`` (then a note says what
differs).

Performance score (0–100)::

    penalty(m) = clamp(worsening(m) / (2 × threshold(m)), 0, 1)    for m in p50, p95, p99, rps
    score      = round(100 × (1 − mean(penalty)) × (1 − error_rate))

where ``worsening`` is the relative change in the bad direction (latency up, throughput down),
so a run exactly at a threshold scores 50 on that metric, twice the threshold or more scores 0,
and any improvement scores 100. Cost per 1,000 requests = ``cost_per_hour / (rps × 3600) ×
1000``; with ``max_cost_per_1k`` set, a higher figure fails the comparison.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from battletest.errors import UsageError
from battletest.perf import intervals
from battletest.perf.baseline import Baseline, Sample
from battletest.perf.stats import Alternative, BlockStatistic, holm, mann_whitney_u, shift_test

Metric = Literal["p50", "p95", "p99", "rps"]
Verdict = Literal["regression", "noise", "improvement", "ok"]
Method = Literal["block", "mann-whitney"]
METRICS: tuple[Metric, ...] = ("p50", "p95", "p99", "rps")
METHODS: tuple[Method, ...] = ("block", "mann-whitney")
DEFAULT_THRESHOLDS: dict[str, float] = {"p50": 10.0, "p95": 15.0, "p99": 20.0, "rps": 5.0}
DEFAULT_ALPHA = 0.01
DEFAULT_METHOD: Method = "block"
# the change a regression must be shown to exceed, as a share of the metric's threshold: a
# third (p95: 5 %), so that a +15 % slowdown can be told from the drift a baseline tolerates
MARGIN_SHARE = 1 / 3
PERCENTILE = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
PARTIAL = 0.5  # an interval shorter than this share of the median interval is partial


@dataclass(frozen=True, slots=True)
class Row:
    scope: str  # "total" or an endpoint name
    metric: str
    baseline: float
    current: float
    change_pct: float | None  # relative change, None when the baseline is 0
    threshold_pct: float
    p_value: float | None  # bad direction, Holm-adjusted (block method); None: not tested
    verdict: Verdict
    test: str = ""  # how p_value was reached ("exact-permutation", "block-welch", …)
    block: int = 1  # intervals per block (the unit of evidence)


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
    method: str = DEFAULT_METHOD

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


def _better(metric: str) -> Alternative:
    return "greater" if metric == "rps" else "less"


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
    method: Method,
) -> Verdict:
    worse = _worsening(metric, change)
    if method == "mann-whitney":  # the previous rule: beyond the threshold AND p < alpha
        if worse > limit:
            return "regression" if p_worse is not None and p_worse < alpha else "noise"
        if -worse > limit and p_better is not None and p_better < alpha:
            return "improvement"
        return "ok"
    # shown to be worse than the margin (the test's null is "at most the margin worse")
    if p_worse is not None and p_worse < alpha:
        return "regression"
    if p_better is not None and p_better < alpha:
        return "improvement"
    return "noise" if worse > limit else "ok"


def usable(samples: list[Sample]) -> list[Sample]:
    """Intervals that saw traffic and lasted a whole interval, in time order.

    An interval's length is its ``span`` (format 2) or the time since the previous one; one
    shorter than half the median is partial (the run's last, or a stalled worker's) and left out.
    """
    spans: list[float] = []
    previous = 0.0
    for s in samples:
        spans.append(s.span if s.span is not None else s.t - previous)
        previous = s.t
    busy = [(s, span) for s, span in zip(samples, spans, strict=True) if s.rps > 0 and span > 0]
    if not busy:
        return []
    typical = statistics.median(span for _, span in busy)
    return [s for s, span in busy if span >= PARTIAL * typical]


def _usable_old(samples: list[Sample]) -> list[Sample]:
    """The previous rule: intervals with traffic, without the last one."""
    busy = [s for s in samples if s.rps > 0]
    return busy[:-1] if len(busy) > 3 else busy


def comparability(baseline: Baseline, current: Baseline) -> list[str]:
    """What differs between the baseline's run and this one (target, endpoints, load shape)."""
    out: list[str] = []
    b_target = baseline.target_id or baseline.target
    c_target = current.target_id if baseline.target_id else current.target
    if b_target and c_target and b_target.rstrip("/") != c_target.rstrip("/"):
        out.append(f"target {b_target} (baseline) vs {c_target} (this run)")
    b_names, c_names = baseline.endpoint_names, current.endpoint_names
    if b_names is not None and c_names is not None and sorted(b_names) != sorted(c_names):
        out.append(
            f"endpoints {', '.join(sorted(b_names)) or '-'} (baseline) vs "
            f"{', '.join(sorted(c_names)) or '-'} (this run)"
        )
    if baseline.shape is not None and current.shape is not None:
        keys = sorted(set(baseline.shape) | set(current.shape))
        diff = [k for k in keys if baseline.shape.get(k) != current.shape.get(k)]
        if diff:
            out.append(
                "load shape "
                + ", ".join(
                    f"{k} {baseline.shape.get(k)!r} (baseline) vs {current.shape.get(k)!r}"
                    for k in diff
                )
            )
    return out


def _limits(thresholds: dict[str, float] | None) -> dict[str, float]:
    limits = dict(DEFAULT_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in limits:
            raise UsageError(
                f"unknown regression threshold {key!r}", hint=f"use one of {', '.join(METRICS)}"
            )
        if value < 0:
            raise UsageError(f"threshold {key} must not be negative", hint="e.g. p95=15")
        limits[key] = float(value)
    return limits


_Tested = tuple[float | None, float | None, str, int]  # p worse, p better, test, block


def has_histograms(samples: list[Sample]) -> bool:
    """Every interval kept its latency histogram (baseline format 3)."""
    return bool(samples) and all(s.hist for s in samples)


class _Blocks:
    """The merged histograms of blocks of both runs' intervals, each merged once for every
    percentile row of a scope."""

    def __init__(self, before: list[Sample], after: list[Sample]) -> None:
        self.sides = [[intervals.decode(s.hist) for s in run] for run in (before, after)]
        self.merged: dict[tuple[int, int, int], intervals.Counts] = {}

    def percentile(self, percentile: float) -> BlockStatistic:
        """A block's log percentile, read from the merge of its intervals' histograms."""

        def statistic(side: int, start: int, stop: int) -> float:
            key = (side, start, stop)
            merged = self.merged.get(key)
            if merged is None:
                merged = self.merged[key] = intervals.merge(self.sides[side][start:stop])
            return math.log(max(intervals.percentile_ms(merged, percentile), 1e-6))

        return statistic


def _block_tests(
    before: list[Sample], after: list[Sample], limits: dict[str, float]
) -> dict[str, _Tested]:
    blocks = _Blocks(before, after) if has_histograms(before) and has_histograms(after) else None
    out: dict[str, _Tested] = {}
    for metric in METRICS:
        xs = [float(getattr(s, metric)) for s in before]
        ys = [float(getattr(s, metric)) for s in after]
        margin = math.log1p(limits[metric] * MARGIN_SHARE / 100.0)
        statistic = (
            blocks.percentile(PERCENTILE[metric])
            if blocks is not None and metric in PERCENTILE
            else None
        )
        worse = shift_test(xs, ys, _worse(metric), margin=margin, statistic=statistic)
        better = shift_test(xs, ys, _better(metric), margin=margin, statistic=statistic)
        test = worse.method + ("+histograms" if statistic is not None else "")
        out[metric] = (worse.p_value, better.p_value, test, worse.block)
    return out


def _mann_whitney_tests(before: list[Sample], after: list[Sample]) -> dict[str, _Tested]:
    out: dict[str, _Tested] = {}
    for metric in METRICS:
        xs = [float(getattr(s, metric)) for s in before]
        ys = [float(getattr(s, metric)) for s in after]
        out[metric] = (
            mann_whitney_u(xs, ys, _worse(metric)).p_value,
            mann_whitney_u(xs, ys, _better(metric)).p_value,
            "mann-whitney",
            1,
        )
    return out


def compare(
    baseline: Baseline,
    current: Baseline,
    *,
    thresholds: dict[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    cost_per_hour: float | None = None,
    max_cost_per_1k: float | None = None,
    method: Method = DEFAULT_METHOD,
    force: bool = False,
) -> Comparison:
    """Compare ``current`` (built from the latest run) with ``baseline``."""
    limits = _limits(thresholds)
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha} is not a probability", hint="e.g. --alpha 0.05")
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    notes: list[str] = []
    differences = comparability(baseline, current)
    if differences and not force:
        raise UsageError(
            f"baseline {baseline.scenario!r} (run {baseline.run_id}) was recorded with another "
            f"{'; '.join(differences)}",
            hint="save a baseline from this setup (battletest baseline save), or pass --force",
        )
    notes += [f"compared anyway (--force): {d}" for d in differences]
    if baseline.version < 2:
        notes.append(
            f"baseline format {baseline.version}: it has no per-endpoint samples, so endpoint "
            "rows are shown without a test, and its endpoints and load shape were not recorded, "
            "so they are not checked (save it again to get both)"
        )

    scopes: list[tuple[str, Any, Any]] = [("total", baseline.total, current.total)]
    scopes += [
        (name, stats, current.endpoints[name])
        for name, stats in sorted(baseline.endpoints.items())
        if name in current.endpoints
    ]
    tested: dict[str, dict[str, _Tested]] = {}
    if method == "mann-whitney":
        before, after = _usable_old(baseline.samples), _usable_old(current.samples)
        run_tests = _mann_whitney_tests(before, after)
        tested = {scope: run_tests for scope, _, _ in scopes}
    else:
        before, after = usable(baseline.samples), usable(current.samples)
        tested["total"] = _block_tests(before, after, limits)
        for scope, _, _ in scopes[1:]:
            b_eps = baseline.endpoint_samples.get(scope)
            c_eps = current.endpoint_samples.get(scope)
            if b_eps and c_eps:
                tested[scope] = _block_tests(usable(b_eps), usable(c_eps), limits)
        if before and after and not (has_histograms(before) and has_histograms(after)):
            which = "the baseline" if not has_histograms(before) else "this run"
            notes.append(
                f"{which} kept no per-interval latency histograms (baseline format "
                f"{baseline.version if which == 'the baseline' else current.version} or a "
                "merged scenario run): latency rows are tested on per-interval percentiles, "
                "which detect far less (save the baseline again to get them)"
            )
    if min(len(before), len(after)) < 5:
        notes.append(
            f"only {len(before)} baseline and {len(after)} current intervals: too few for the "
            "significance test, so no change is called a regression (run longer)"
        )
    untested = [scope for scope, _, _ in scopes if scope not in tested]
    if untested and baseline.version >= 2:
        notes.append(
            f"no per-endpoint samples for {', '.join(untested)}: those rows are not tested"
        )

    keys = [(scope, metric) for scope, _, _ in scopes for metric in METRICS]
    none: _Tested = (None, None, "none", 1)
    raw = [tested.get(scope, {}).get(metric, none) for scope, metric in keys]
    if method == "block":
        worse_p = holm([t[0] for t in raw])
        better_p = holm([t[1] for t in raw])
    else:
        worse_p, better_p = [t[0] for t in raw], [t[1] for t in raw]
    values = {scope: (b, c) for scope, b, c in scopes}
    rows: list[Row] = []
    for (scope, metric), t, pw, pb in zip(keys, raw, worse_p, better_p, strict=True):
        b, c = values[scope]
        x, y = float(getattr(b, metric)), float(getattr(c, metric))
        change = _change(x, y)
        rows.append(
            Row(
                scope,
                metric,
                x,
                y,
                change,
                limits[metric],
                None if pw is None else round(pw, 6),
                _verdict(metric, change, limits[metric], pw, pb, alpha, method),
                t[2],
                t[3],
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
        method=method,
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
    "DEFAULT_METHOD",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "METRICS",
    "Comparison",
    "Method",
    "Row",
    "comparability",
    "compare",
    "parse_thresholds",
    "usable",
]
