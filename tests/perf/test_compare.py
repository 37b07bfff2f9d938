from __future__ import annotations

import pytest

from battletest.errors import UsageError
from battletest.perf import attach_comparison
from battletest.perf.baseline import from_report, save
from battletest.perf.compare import compare, parse_thresholds
from battletest.quality.gates import GatesConfig, evaluate_gates

from .helpers import load_metrics, load_report


def _b(p50: float, seed: int, **kw: float):  # type: ignore[no-untyped-def]
    return from_report(load_report(load_metrics(p50, seed=seed, **kw)), "default")


def test_a_30_percent_slowdown_is_a_regression() -> None:
    result = compare(_b(10, 1), _b(13, 2))
    verdicts = {(r.scope, r.metric): r.verdict for r in result.rows}
    assert verdicts[("total", "p50")] == "regression"
    assert verdicts[("total", "p95")] == "regression"
    assert verdicts[("total", "p99")] == "regression"
    assert verdicts[("GET /a", "p50")] == "regression"
    assert not result.passed
    assert result.score is not None and result.score < 50


def test_the_same_build_is_not_a_regression() -> None:
    result = compare(_b(10, 1), _b(10, 2))
    assert result.passed and not result.regressions
    assert result.score is not None and result.score >= 90


def test_a_change_beyond_the_threshold_without_evidence_is_noise() -> None:
    # the summary moved +30 % but the per-interval samples overlap entirely: no evidence
    cur = load_metrics(10, seed=2, jitter=0.5)
    cur["latency_ms"]["p50"] = 13.0
    result = compare(_b(10, 1, jitter=0.5), from_report(load_report(cur), "default"))
    row = next(r for r in result.rows if r.scope == "total" and r.metric == "p50")
    assert row.change_pct == pytest.approx(30.0)
    assert row.verdict == "noise"


def test_throughput_drop_and_improvement() -> None:
    result = compare(_b(10, 1, rps=200), _b(7, 2, rps=150))
    verdicts = {(r.scope, r.metric): r.verdict for r in result.rows}
    assert verdicts[("total", "rps")] == "regression"
    assert verdicts[("total", "p50")] == "improvement"


def test_thresholds_are_configurable() -> None:
    result = compare(_b(10, 1), _b(13, 2), thresholds={"p50": 50, "p95": 50, "p99": 50})
    assert result.passed


def test_score_formula() -> None:
    # p50/p95/p99 +30 % against 10/15/20 → penalties 1, 1, 0.75; rps unchanged → 0
    result = compare(_b(10, 1), _b(13, 1))
    assert result.score == round(100 * (1 - (1 + 1 + 0.75 + 0) / 4))


def test_too_few_intervals_never_regress() -> None:
    result = compare(_b(10, 1, seconds=3), _b(20, 2, seconds=3))
    assert result.passed
    assert any("too few" in n for n in result.notes)


def test_cost_per_1000_requests_and_ceiling() -> None:
    result = compare(_b(10, 1), _b(10, 2), cost_per_hour=3.6, max_cost_per_1k=0.001)
    assert result.cost_per_1k == pytest.approx(3.6 / (200 * 3600) * 1000)
    assert result.over_cost is True and not result.passed
    ok = compare(_b(10, 1), _b(10, 2), cost_per_hour=3.6, max_cost_per_1k=1.0)
    assert ok.passed


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"thresholds": {"p42": 1}}, "unknown regression threshold"),
        ({"thresholds": {"p50": -1}}, "must not be negative"),
        ({"alpha": 1.5}, "not a probability"),
        ({"max_cost_per_1k": 1.0}, "needs the target's cost"),
        ({"cost_per_hour": -1.0}, "must not be negative"),
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(UsageError, match=text):
        compare(_b(10, 1), _b(10, 2), **kwargs)  # type: ignore[arg-type]


def test_parse_thresholds() -> None:
    assert parse_thresholds(["p95=20", "rps=3%"]) == {"p95": 20.0, "rps": 3.0}
    with pytest.raises(UsageError, match="METRIC=PERCENT"):
        parse_thresholds(["p95"])


def test_the_gate_row_reads_the_attached_comparison(tmp_path) -> None:  # type: ignore[no-untyped-def]
    save(_b(10, 1), tmp_path)
    slow = load_report(load_metrics(13, seed=2)).suites
    assert attach_comparison(slow, tmp_path) is not None
    rows = {g.name: g for g in evaluate_gates(slow, GatesConfig())}
    assert rows["perf_regression"].passed is False
    assert rows["perf_regression"].measured >= 3
    assert "total p50" in rows["perf_regression"].reason

    same = load_report(load_metrics(10, seed=3)).suites
    attach_comparison(same, tmp_path)
    rows = {g.name: g for g in evaluate_gates(same, GatesConfig())}
    assert rows["perf_regression"].passed is True


def test_no_baseline_no_gate_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    suites = load_report(load_metrics(10)).suites
    assert attach_comparison(suites, tmp_path) is None
    assert "perf_regression" not in {g.name for g in evaluate_gates(suites, GatesConfig())}
