"""Thresholds in k6 syntax: parsing, units, per-endpoint names, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.errors import UsageError
from battletest.load.thresholds import evaluate, parse_threshold, parse_thresholds


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
        # every k6 form
        ("p99.9<1s", "p99.9", "<", 1000.0, None),
        ("p(95)<300", "p95", "<", 300.0, None),
        ("p(50)<1s", "p50", "<", 1000.0, None),
        ("http_req_duration: p(95)<300", "p95", "<", 300.0, None),
        ("http_req_duration p(99.9)<2s", "p99.9", "<", 2000.0, None),
        ("http_req_duration: avg<200", "mean", "<", 200.0, None),
        ("http_req_duration: med<200", "p50", "<", 200.0, None),
        ("http_req_duration: min>0", "min", ">", 0.0, None),
        ("http_req_duration: max<2s", "max", "<", 2000.0, None),
        ("http_req_duration{endpoint:/x}: p(95)<300", "p95", "<", 300.0, "/x"),
        ("http_req_duration{name:/x} p(95)<300", "p95", "<", 300.0, "/x"),
        ("p95{endpoint:/x}<300", "p95", "<", 300.0, "/x"),
        ("http_req_failed: rate<0.01", "error_rate", "<", 0.01, None),
        ("http_req_failed{name:/x}: rate<=1%", "error_rate", "<=", 0.01, "/x"),
        ("http_req_failed<1%", "error_rate", "<", 0.01, None),
        ("checks: rate>0.99", "checks", ">", 0.99, None),
        ("http_reqs: count>1000", "requests", ">", 1000.0, None),
        ("http_reqs: rate>50", "rps", ">", 50.0, None),
        ("rps_ok>50", "rps_ok", ">", 50.0, None),
        ("iterations: count>=10", "iterations", ">=", 10.0, None),
        ("iterations: rate>1", "iteration_rate", ">", 1.0, None),
        ("dropped_iterations: count==0", "dropped_iterations", "==", 0.0, None),
        ("dropped_iterations: rate<1", "dropped_rate", "<", 1.0, None),
        ("failed===0", "failed", "==", 0.0, None),
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
        ("p050<1s", "ambiguous"),  # never read as p5
        ("p(101)<1s", "out of range"),
        ("rate<0.01", "needs a metric"),
        ("count>10", "needs a metric"),
        ("http_req_duration<300", "needs an aggregation"),
        ("http_req_failed: count<1", "no aggregation 'count'"),
        ("http_reqs: p(95)<1", "no aggregation"),
        ("vus_max: value<10", "unknown k6 metric"),
        ("p95{scenario:x}<1s", "unsupported tag"),
        ("p95{name:/a,scenario:b}<1s", "one tag only"),
        ("dropped_iterations{name=/a}==0", "not per endpoint"),
        ("http_req_duration{name:/a}: p(95){name:/b}<1", "given twice"),
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


def test_k6_object_and_mapping_forms_from_toml() -> None:
    import tomllib

    data = tomllib.loads(
        """
        list = ["p95<300ms", { threshold = "p99<1s", abortOnFail = true, delayAbortEval = "10s" }]
        [mapping]
        http_req_duration = ["p(95)<300", { threshold = "max<2s", abortOnFail = true }]
        "http_req_duration{name:/login}" = "p(99)<500"
        http_req_failed = ["rate<0.01"]
        """
    )
    first, second = parse_thresholds(data["list"])
    assert (first.metric, first.abort_on_fail, first.delay_abort_eval) == ("p95", None, 0.0)
    assert (second.metric, second.abort_on_fail, second.delay_abort_eval) == ("p99", True, 10.0)
    mapped = parse_thresholds(data["mapping"])
    assert [(t.metric, t.endpoint, t.abort_on_fail) for t in mapped] == [
        ("p95", None, None),
        ("max", None, True),
        ("p99", "/login", None),
        ("error_rate", None, None),
    ]
    assert mapped[1].source == "http_req_duration: max<2s"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"threshold": "p95<1s", "abortOnFail": "yes"}, "abortOnFail is true or false"),
        ({"threshold": "p95<1s", "abort": True}, "unknown key 'abort'"),
        ({"abortOnFail": True}, "unknown key|no 'threshold'"),
        ({"threshold": "p95<1s", "delayAbortEval": "soon"}, "delayAbortEval"),
        ([5], "a threshold is a string|thresholds are strings"),
    ],
)
def test_bad_object_forms_are_one_line(spec: object, message: str) -> None:
    from battletest.errors import BattletestError

    with pytest.raises(BattletestError, match=message) as info:
        parse_thresholds(spec)
    assert "\n" not in str(info.value)


_PERCENTILE = st.decimals(min_value="0.1", max_value="100", places=1).map(
    lambda d: format(d.normalize(), "f")
)


@given(value=_PERCENTILE, limit=st.integers(min_value=0, max_value=10**6))
def test_every_percentile_spelling_means_the_same_percentile(value: str, limit: int) -> None:
    canonical = f"p{float(value):g}"
    for text in (
        f"p({value})<{limit}",
        f"p{value}<{limit}ms",
        f"http_req_duration: p({value})<{limit}",
    ):
        t = parse_threshold(text)
        assert t.metric == canonical and t.limit == limit


@given(digits=st.integers(min_value=1, max_value=99))
def test_a_leading_zero_percentile_is_never_read_as_another_percentile(digits: int) -> None:
    text = f"p0{digits}<1s"
    with pytest.raises(UsageError, match="ambiguous"):
        parse_threshold(text)


@given(
    value=st.decimals(min_value=0, max_value=10**5, places=2).map(lambda d: format(d, "f")),
    unit=st.sampled_from(["", "us", "ms", "s", "m"]),
)
def test_latency_units_convert_to_milliseconds(value: str, unit: str) -> None:
    factor = {"": 1.0, "us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    assert parse_threshold(f"p95<{value}{unit}").limit == pytest.approx(float(value) * factor)


@given(text=st.text(alphabet="p()._:{}=<>!%/ 0123456789abdeqrstmu", max_size=30))
def test_anything_is_either_a_threshold_or_one_line_of_usage_error(text: str) -> None:
    try:
        t = parse_threshold(text)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("invalid threshold")
    else:
        assert t.op in ("<", "<=", ">", ">=", "==", "!=") and t.source == text.strip()
