from __future__ import annotations

import json
import math

import pytest

from battletest.errors import UsageError
from battletest.perf import attach_comparison, intervals
from battletest.perf.baseline import from_report, load, save
from battletest.perf.compare import MARGIN_SHARE, compare, parse_thresholds, usable
from battletest.perf.stats import holm, shift_test
from battletest.quality.gates import GatesConfig, evaluate_gates

from .helpers import SHAPE, load_metrics, load_report


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
    # the margin a change must be shown to exceed is a third of the threshold: +30 % is
    # within a third of 150 %
    result = compare(_b(10, 1), _b(13, 2), thresholds={"p50": 150, "p95": 150, "p99": 150})
    assert result.passed
    assert {r.verdict for r in result.rows if r.metric != "rps"} == {"ok"}


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


# --- per-endpoint samples, old baselines, refusals ---------------------------------------


def _two(p_a: float, p_b: float, seed: int, **kw: object):  # type: ignore[no-untyped-def]
    metrics = load_metrics(10, seed=seed, endpoints={"GET /a": p_a, "GET /b": p_b}, **kw)  # type: ignore[arg-type]
    return from_report(load_report(metrics, f"run{seed}"), "default")


def test_each_endpoint_is_judged_on_its_own_samples() -> None:
    # /a 30 % slower, /b unchanged, the whole run unchanged
    result = compare(_two(10, 10, 1), _two(13, 10, 2))
    verdicts = {(r.scope, r.metric): r.verdict for r in result.rows}
    assert verdicts[("GET /a", "p50")] == "regression"
    assert verdicts[("GET /b", "p50")] == "ok" and verdicts[("total", "p50")] == "ok"
    p = {(r.scope, r.metric): r.p_value for r in result.rows}
    assert p[("GET /a", "p50")] != p[("GET /b", "p50")]
    assert {r.test for r in result.rows} <= {"exact-permutation", "block-welch"}


def test_the_old_method_reuses_the_run_p_value_for_every_endpoint() -> None:
    result = compare(_two(10, 10, 1), _two(13, 10, 2), method="mann-whitney")
    p = {(r.scope, r.metric): r.p_value for r in result.rows}
    assert p[("GET /a", "p50")] == p[("GET /b", "p50")] == p[("total", "p50")]
    assert result.method == "mann-whitney"


def test_holm_adjusts_across_every_row() -> None:
    base, cur = _two(10, 10, 1, jitter=0.3), _two(11, 10.5, 2, jitter=0.3)
    result = compare(base, cur)
    raw = []
    for r in result.rows:
        b = usable(base.samples if r.scope == "total" else base.endpoint_samples[r.scope])
        c = usable(cur.samples if r.scope == "total" else cur.endpoint_samples[r.scope])
        xs, ys = [getattr(s, r.metric) for s in b], [getattr(s, r.metric) for s in c]
        margin = math.log1p(r.threshold_pct * MARGIN_SHARE / 100)
        alternative = "less" if r.metric == "rps" else "greater"
        raw.append(shift_test(xs, ys, alternative, margin=margin).p_value)
    assert len(raw) == 12
    expected = [round(p, 6) for p in holm(raw)]  # type: ignore[arg-type]
    assert [r.p_value for r in result.rows] == expected
    assert any(r.p_value != round(p, 6) for r, p in zip(result.rows, raw, strict=True))


def test_partial_intervals_are_left_out_by_their_span() -> None:
    metrics = load_metrics(10, seed=2)
    # a last interval of 0.05 s with a wild p95: not part of the test
    metrics["series"].append(
        {"t": 20.05, "span": 0.05, "rps": 40.0, "p50": 90.0, "p95": 95.0, "p99": 99.0}
    )
    current = from_report(load_report(metrics), "default")
    kept = usable(current.samples)
    assert len(kept) == 20 and all(s.span == 1.0 for s in kept)
    assert compare(_b(10, 1), current).passed


def test_a_format_1_baseline_is_read_with_totals_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    old = _two(10, 10, 1).model_dump(mode="json")
    for key in ("target_id", "endpoint_names", "shape", "endpoint_samples"):
        old.pop(key)
    old["version"] = 1
    for s in old["samples"]:
        s.pop("span")
    (tmp_path / "default.json").write_text(json.dumps(old))
    base = load(tmp_path)
    assert base.version == 1 and base.endpoint_samples == {}
    result = compare(base, _two(13, 10, 2))
    rows = {(r.scope, r.metric): r for r in result.rows}
    assert rows[("GET /a", "p50")].verdict == "noise" and rows[("GET /a", "p50")].p_value is None
    assert rows[("total", "p50")].p_value is not None
    assert any(
        "format 1" in n and "endpoint rows are shown without a test" in n for n in result.notes
    )


def test_a_newer_format_is_refused_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _b(10, 1).model_dump(mode="json")
    data["version"] = 99
    (tmp_path / "default.json").write_text(json.dumps(data))
    with pytest.raises(UsageError, match="baseline format 99; this battletest reads up to 3"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"target_id": "http://10.0.0.1:8000"}, "target http://127.0.0.1:1 (baseline) vs http"),
        ({"endpoint_names": ["GET /a", "GET /z"]}, "endpoints GET /a (baseline) vs GET /a, GET /z"),
        ({"shape": {**SHAPE, "rate": 50.0}}, "load shape rate 200.0 (baseline) vs 50.0"),
        ({"shape": {"executor": "constant-vus", "vus": 5}}, "executor 'constant-arrival-rate'"),
    ],
)
def test_a_baseline_of_another_setup_is_refused_unless_forced(
    change: dict[str, object], text: str
) -> None:
    base = _b(10, 1)
    other = _b(10, 2).model_copy(update=change)
    with pytest.raises(UsageError, match="was recorded with another") as err:
        compare(base, other)
    assert text in str(err.value) and "--force" in str(err.value)
    forced = compare(base, other, force=True)
    assert any(n.startswith("compared anyway (--force):") and text in n for n in forced.notes)


# --- run-level percentiles from per-interval histograms (baseline format 3) ---------------


def _h(p50: float, seed: int, **kw: object):  # type: ignore[no-untyped-def]
    metrics = load_metrics(p50, seed=seed, seconds=60, rps=100.0, histograms=True, **kw)  # type: ignore[arg-type]
    return from_report(load_report(metrics, f"run{seed}"), "default")


def _scaled(b, factor: float):  # type: ignore[no-untyped-def]
    """The same run with every request ``factor`` times slower."""
    from battletest.load import histogram

    def slow(s):  # type: ignore[no-untyped-def]
        hist = histogram.new_histogram()
        counts = intervals.decode(s.hist)
        for value, count in zip(counts.values, counts.counts, strict=True):
            hist.record_value(round(value * factor), count)
        return s.model_copy(
            update={
                "hist": histogram.encode(hist),
                **{m: getattr(s, m) * factor for m in ("p50", "p95", "p99")},
            }
        )

    return b.model_copy(
        update={
            "run_id": f"{b.run_id}x{factor}",
            "total": b.total.model_copy(
                update={m: getattr(b.total, m) * factor for m in ("p50", "p95", "p99")}
            ),
            "samples": [slow(s) for s in b.samples],
            "endpoint_samples": {k: [slow(s) for s in v] for k, v in b.endpoint_samples.items()},
        }
    )


def test_a_saved_baseline_keeps_each_intervals_histogram(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = save(_h(10, 1), tmp_path)
    data = json.loads(path.read_text())
    assert data["version"] == 3
    assert all(s["hist"].startswith("HIST") for s in data["samples"])
    assert all(s["hist"] for rows in data["endpoint_samples"].values() for s in rows)


def test_percentile_rows_are_tested_on_blocks_of_merged_histograms() -> None:
    result = compare(_h(10, 1), _h(10, 2))
    tests = {(r.metric, r.test) for r in result.rows if r.scope == "total"}
    assert ("p95", "block-welch+histograms") in tests or (
        "p95",
        "exact-permutation+histograms",
    ) in tests
    assert next(r for r in result.rows if r.metric == "rps").test.endswith("histograms") is False
    assert result.passed and not any("histograms" in n for n in result.notes)


def test_every_request_15_percent_slower_is_a_regression_and_3_percent_is_not() -> None:
    base = _h(10, 1)
    slow = compare(base, _scaled(base, 1.15))
    rows = {(r.scope, r.metric): r for r in slow.rows}
    for metric in ("p50", "p95"):  # beyond their thresholds (p99's is 20 %)
        assert rows[("total", metric)].verdict == "regression", rows[("total", metric)]
        assert rows[("GET /a", metric)].verdict == "regression"
    assert rows[("total", "p95")].change_pct == pytest.approx(15.0, abs=0.2)
    # shown to be worse than 5 % (a third of p95's 15 %), but not beyond the margin at +3 %
    near = compare(base, _scaled(base, 1.03))
    assert near.passed and {r.verdict for r in near.rows} == {"ok"}
    faster = compare(base, _scaled(base, 0.8))
    assert {r.verdict for r in faster.rows if r.metric != "rps"} == {"improvement"}


@pytest.mark.slow
def test_runs_of_one_build_are_not_regressions() -> None:
    alarms = [compare(_h(10, seed), _h(10, seed + 100)).regressions for seed in range(1, 4)]
    assert alarms == [[]] * 3


def test_a_format_2_baseline_is_tested_on_per_interval_percentiles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    old = _h(10, 1).model_dump(mode="json")
    old["version"] = 2
    for rows in [old["samples"], *old["endpoint_samples"].values()]:
        for s in rows:
            s.pop("hist")
    (tmp_path / "default.json").write_text(json.dumps(old))
    base = load(tmp_path)
    assert base.version == 2 and not any(s.hist for s in base.samples)
    result = compare(base, _h(10, 2))
    assert not any(r.test.endswith("histograms") for r in result.rows)
    assert result.passed
    assert any("the baseline kept no per-interval latency histograms" in n for n in result.notes)
