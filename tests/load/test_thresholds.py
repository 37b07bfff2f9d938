"""Thresholds in k6 syntax: parsing, units, per-endpoint names, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.errors import UsageError
from battletest.load.thresholds import evaluate, parse_threshold


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit", "endpoint"),
    [
        ("p95<300ms", "p95", "<", 300.0, None),
        ("p(99.9) < 1s", "p99.9", "<", 1000.0, None),
        ("p999<2s", "p99.9", "<", 2000.0, None),
        ("p99<=250", "p99", "<=", 250.0, None),  # bare latency numbers are ms, as in k6
        ("mean<100ms", "mean", "<", 100.0, None),
        ("avg<0.1s", "mean", "<", 100.0, None),
        ("med<500us", "p50", "<", 0.5, None),
        ("max<1m", "max", "<", 60000.0, None),
        ("error_rate<1%", "error_rate", "<", 0.01, None),
        ("error_rate<0.05", "error_rate", "<", 0.05, None),
        ("rps>500", "rps", ">", 500.0, None),
        ("rps>=500/s", "rps", ">=", 500.0, None),
        ("dropped_iterations==0", "dropped_iterations", "==", 0.0, None),
        ("p95{name=/login}<500ms", "p95", "<", 500.0, "/login"),
        ("error_rate{name:checkout}<2%", "error_rate", "<", 0.02, "checkout"),
    ],
)
def test_parse(text: str, metric: str, op: str, limit: float, endpoint: str | None) -> None:
    t = parse_threshold(text)
    assert (t.metric, t.op, t.endpoint) == (metric, op, endpoint)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95 300ms", "invalid threshold"),
        ("", "invalid threshold"),
        ("latency<3ms", "unknown threshold metric"),
        ("p95<3%", "needs a time unit"),
        ("error_rate<5ms", "percentage or a fraction"),
        ("error_rate<5", "percentage or a fraction"),
        ("rps>5ms", "plain number"),
        ("p0<1ms", "out of range"),
        ("p95{name=}<1ms", "empty endpoint"),
    ],
)
def test_unparsable_thresholds_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_threshold(text)
    assert "\n" not in str(info.value)


def test_evaluate_marks_pass_fail_and_unmeasured() -> None:
    values = {("p95", None): 250.0, ("error_rate", None): 0.02, ("p95", "/a"): None}
    checks = [
        parse_threshold("p95<300ms"),
        parse_threshold("error_rate<1%"),
        parse_threshold("p95{name=/a}<1ms"),
    ]
    results = evaluate(checks, lambda metric, endpoint: values.get((metric, endpoint)))
    # requests were attempted, so a metric without samples fails rather than passing as n/a
    assert [r.passed for r in results] == [True, False, False]
    assert results[0].line == "p95<300ms: 250.00ms (ok)"
    assert results[1].line == "error_rate<1%: 2.00% (FAILED)"
    assert results[2].line.endswith("no samples although requests were attempted (FAILED)")
    idle = evaluate(checks, lambda metric, endpoint: None, attempted=False)
    assert [r.passed for r in idle] == [None, None, None]
    assert idle[2].line.endswith("no data (n/a)")


@given(
    limit=st.integers(min_value=1, max_value=100_000),
    measured=st.floats(min_value=0, max_value=200_000, allow_nan=False),
    op=st.sampled_from(["<", "<=", ">", ">="]),
)
def test_evaluation_agrees_with_python_comparison(limit: int, measured: float, op: str) -> None:
    t = parse_threshold(f"p99{op}{limit}ms")
    expected = {
        "<": measured < limit,
        "<=": measured <= limit,
        ">": measured > limit,
        ">=": measured >= limit,
    }[op]
    assert t.check(measured) is expected
