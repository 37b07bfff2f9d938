"""Thresholds in k6 syntax, parsed once and evaluated against live or final figures.

Accepted, as a string (``--threshold``, a TOML list item):

- our short forms: ``p95<300ms``, ``p(99.9)<1s``, ``p99.9<1s``, ``p999<2s``, ``mean<100ms``
  (``avg``, ``med``, ``min``, ``max``), ``error_rate<1%`` (``http_req_failed<1%``),
  ``rps>500`` (every request), ``rps_ok>500`` (successful ones), ``requests>=1000``,
  ``failed==0``, ``iterations>=100``, ``dropped_iterations==0``; of WebSocket scenarios
  ``ws_abnormal_closes==0``, ``ws_sessions>=10``, ``ws_msgs_sent``, ``ws_msgs_received``;
- k6's metric and aggregation, separated by ``:`` or a space: ``http_req_duration: p(95)<300``,
  ``http_req_failed: rate<0.01``, ``http_reqs: count>1000``, ``http_reqs: rate>50``,
  ``iterations: count>10``, ``dropped_iterations: count==0``, ``checks: rate>0.99``;
- a tag selecting one endpoint, on either form: ``p95{name=/login}<500ms``,
  ``http_req_duration{endpoint:/login}: p(95)<500`` (``name``, ``endpoint`` or ``url``).

Latencies take ``us``, ``ms``, ``s``, ``m``; a bare number is milliseconds, as in k6. Rates are
fractions (``0.01``) or percentages (``1%``). In TOML, an item may also be k6's object form
``{ threshold = "p95<300ms", abortOnFail = true, delayAbortEval = "10s" }``, and the whole
``thresholds`` value may be k6's mapping ``{ http_req_duration = ["p(95)<300"] }``. Anything
else is refused with one line.

A parsed ``Threshold`` is evaluated with any ``lookup(metric, endpoint) -> value | None`` (the
live merged state during a run, the final result after it), so ``--abort-on-fail`` and the
verdict use the same code.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from battletest.errors import UsageError

LATENCY = frozenset({"mean", "min", "max"})  # and every pN
RATE_METRICS = frozenset({"error_rate", "checks"})  # fractions of requests
PER_SECOND = frozenset({"rps", "rps_ok", "iteration_rate", "dropped_rate"})
WS_COUNTERS = frozenset({"ws_sessions", "ws_msgs_sent", "ws_msgs_received", "ws_abnormal_closes"})
COUNT_METRICS = frozenset({"requests", "failed", "iterations", "dropped_iterations"}) | WS_COUNTERS
SHORT_FORMS = {
    "avg": "mean",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "med": "p50",
    "error_rate": "error_rate",
    "http_req_failed": "error_rate",
    "checks": "checks",
    **{name: name for name in PER_SECOND | COUNT_METRICS},
}
_TREND = {"avg": "mean", "min": "min", "med": "p50", "max": "max"}
K6_METRICS: dict[str, dict[str, str]] = {
    "http_req_duration": _TREND,  # and p(N)
    "http_req_failed": {"rate": "error_rate"},
    "checks": {"rate": "checks"},
    "http_reqs": {"count": "requests", "rate": "rps"},
    "iterations": {"count": "iterations", "rate": "iteration_rate"},
    "dropped_iterations": {"count": "dropped_iterations", "rate": "dropped_rate"},
    **{name: {"count": name} for name in sorted(WS_COUNTERS)},  # WebSocket scenarios
}
TAG_KEYS = ("name", "endpoint", "url")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "===": operator.eq,
    "!=": operator.ne,
}
_TIME_UNITS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, None: 1.0}
_AGG = r"p\(\s*[0-9]+(?:\.[0-9]+)?\s*\)|p[0-9]+(?:\.[0-9]+)?|[a-z_]+"
_TAGS = r"\{[^{}]*\}"
_GRAMMAR = re.compile(
    rf"""^\s*
    (?:(?P<metric>[a-z_]+)\s*(?P<mtags>{_TAGS})?\s*(?::|\s)\s*)?
    (?P<agg>{_AGG})\s*(?P<tags>{_TAGS})?
    \s*(?P<op>===|==|<=|>=|!=|<|>)
    \s*(?P<value>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<unit>ms|us|µs|s|m|%|/s)?\s*$""",
    re.VERBOSE,
)
_EXAMPLES = (
    "e.g. 'p95<300ms', 'p(99.9)<1s', 'error_rate<1%', 'rps>500', 'p95{name=/login}<500ms', "
    "'http_req_duration: p(95)<300', 'http_req_failed: rate<0.01'"
)
OBJECT_KEYS = {
    "threshold": "threshold",
    "abortOnFail": "abort_on_fail",
    "abort_on_fail": "abort_on_fail",
    "delayAbortEval": "delay_abort_eval",
    "delay_abort_eval": "delay_abort_eval",
}

Lookup = Callable[[str, "str | None"], "float | None"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed threshold. ``metric`` is canonical: ``p95``, ``p99.9``, ``mean``, ``rps``…

    ``abort_on_fail``: stop the run when it fails (None: as ``--abort-on-fail`` says), once
    ``delay_abort_eval`` seconds have passed (k6's ``abortOnFail`` and ``delayAbortEval``).
    """

    source: str
    metric: str
    op: str
    limit: float  # ms for latencies, fraction for rates, plain number otherwise
    endpoint: str | None = None
    abort_on_fail: bool | None = None
    delay_abort_eval: float = 0.0

    def check(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.limit)

    @property
    def is_latency(self) -> bool:
        return is_latency(self.metric)

    def format_value(self, value: float) -> str:
        if self.is_latency:
            return f"{value:.2f}ms"
        if self.metric in RATE_METRICS:
            return f"{value * 100:.2f}%"
        if self.metric in PER_SECOND:
            return f"{value:.1f}/s"
        return f"{value:g}"


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    threshold: Threshold
    measured: float | None
    passed: bool | None  # None: could not be measured (nothing was attempted)
    censored: bool = False  # the value sits on timed-out requests: at least this, maybe more

    @property
    def line(self) -> str:
        t = self.threshold
        mark = {True: "ok", False: "FAILED", None: "n/a"}[self.passed]
        if self.measured is not None:
            got = t.format_value(self.measured)
            if self.censored:
                got = f">= {got} (timed out)"
        elif self.passed is False:
            got = "no samples although requests were attempted"
        else:
            got = "no data"
        return f"{t.source}: {got} ({mark})"


def is_latency(metric: str) -> bool:
    return metric in LATENCY or (metric.startswith("p") and metric[1:2].isdigit())


def _bad(text: str, why: str, hint: str = _EXAMPLES) -> UsageError:
    return UsageError(f"invalid threshold {text!r}: {why}", hint=hint)


def _percentile(token: str, text: str) -> str:
    """``p(99.9)``, ``p99.9``, ``p95`` and our ``p999`` (99.9) to ``p99.9``; ``p050`` refused."""
    if token.startswith("p("):
        value = float(token[2:-1].strip())
    else:
        digits = token[1:]
        if re.match(r"0[0-9]", digits):
            raise _bad(text, f"{token!r} is ambiguous", hint="write p(5) or p50")
        if "." in digits or len(digits) <= 2 or digits == "100":
            value = float(digits)
        else:  # p999 = 99.9, p9999 = 99.99 (HdrHistogram's and Locust's short names)
            value = float(f"{digits[:2]}.{digits[2:]}")
    if not 0 < value <= 100:
        raise _bad(text, f"percentile {token!r} is out of range", hint="use p(0.1)…p(100)")
    return f"p{value:g}"


def _endpoint(tags: str | None, text: str) -> str | None:
    """``{name=/login}``, ``{name:/login}``, ``{endpoint:/login}``, ``{url:/login}``."""
    if tags is None:
        return None
    m = re.fullmatch(r"\s*([a-z_]+)\s*[:=]\s*(.*?)\s*", tags[1:-1])
    if m is not None and m.group(1) in TAG_KEYS and not m.group(2).strip("'\""):
        raise _bad(text, "empty endpoint name", hint="select an endpoint: {name=/login}")
    if m is None or m.group(1) not in TAG_KEYS or not m.group(2).strip("'\""):
        raise _bad(text, f"unsupported tag {tags}", hint="select an endpoint: {name=/login}")
    value = m.group(2).strip("'\"")
    if re.search(r",\s*[a-z_]+\s*[:=]", value):
        raise _bad(text, "one tag only", hint="select an endpoint: {name=/login}")
    return value


def _metric(m: re.Match[str], text: str) -> str:
    prefix, agg = m.group("metric"), m.group("agg")
    if prefix is None:
        if agg.startswith("p(") or (agg.startswith("p") and agg[1:2].isdigit()):
            return _percentile(agg, text)
        if agg in K6_METRICS and agg not in SHORT_FORMS:
            first = "p(95)<300" if agg == "http_req_duration" else "count>100"
            raise _bad(text, f"{agg} needs an aggregation", hint=f"e.g. '{agg}: {first}'")
        if agg in ("rate", "count"):
            raise _bad(
                text,
                f"{agg!r} needs a metric",
                hint="e.g. 'http_req_failed: rate<0.01' or 'http_reqs: count>1000'",
            )
        if agg not in SHORT_FORMS:
            raise _bad(text, f"unknown threshold metric {agg!r}")
        return SHORT_FORMS[agg]
    aggs = K6_METRICS.get(prefix)
    if aggs is None:
        raise _bad(text, f"unknown k6 metric {prefix!r}", hint="use " + ", ".join(K6_METRICS))
    if prefix == "http_req_duration" and (
        agg.startswith("p(") or (agg.startswith("p") and agg[1:2].isdigit())
    ):
        return _percentile(agg, text)
    if agg not in aggs:
        allowed = [*aggs, *(["p(N)"] if prefix == "http_req_duration" else [])]
        raise _bad(text, f"{prefix} has no aggregation {agg!r}", hint="use " + ", ".join(allowed))
    return aggs[agg]


def parse_threshold(
    text: str,
    *,
    abort_on_fail: bool | None = None,
    delay_abort_eval: float = 0.0,
) -> Threshold:
    """Parse one threshold string or raise ``UsageError`` (one line, with examples)."""
    if not isinstance(text, str):
        raise _bad(str(text), "a threshold is a string like 'p95<300ms'")
    m = _GRAMMAR.match(text)
    if m is None:
        raise _bad(text, "write METRIC OP VALUE")
    if m.group("mtags") and m.group("tags"):
        raise _bad(text, "the endpoint tag is given twice")
    metric = _metric(m, text)
    endpoint = _endpoint(m.group("mtags") or m.group("tags"), text)
    unit = m.group("unit")
    value = float(m.group("value"))
    if is_latency(metric):
        if unit in ("%", "/s"):
            raise _bad(text, "a latency needs a time unit", hint="e.g. 'p95<300ms'")
        value *= _TIME_UNITS[unit]
    elif metric in RATE_METRICS:
        if unit == "%":
            value /= 100.0
        elif unit is not None or value > 1:
            raise _bad(
                text,
                "a rate is a percentage or a fraction",
                hint="e.g. 'error_rate<1%' or 'http_req_failed: rate<0.01'",
            )
    elif unit not in (None, "/s") or (unit == "/s" and metric not in PER_SECOND):
        raise _bad(text, f"{metric} takes a plain number")
    if metric in ("dropped_iterations", "dropped_rate") and endpoint is not None:
        raise _bad(text, "dropped iterations are not per endpoint")
    if metric in WS_COUNTERS and endpoint is not None:
        raise _bad(text, f"{metric} counts every socket of the run, not one endpoint")
    return Threshold(
        text.strip(),
        metric,
        "==" if m.group("op") == "===" else m.group("op"),
        value,
        endpoint,
        abort_on_fail,
        delay_abort_eval,
    )


def _parse_object(obj: Mapping[str, Any], metric: str | None) -> Threshold:
    """k6's object form: ``{ threshold = "p95<300ms", abortOnFail = true, delayAbortEval }``."""
    from battletest.durations import parse_duration

    unknown = [k for k in obj if k not in OBJECT_KEYS]
    where = repr(dict(obj))
    if unknown or "threshold" not in obj:
        raise UsageError(
            f"invalid threshold {where}: "
            + (f"unknown key {unknown[0]!r}" if unknown else "no 'threshold' key"),
            hint="{ threshold = 'p95<300ms', abortOnFail = true, delayAbortEval = '10s' }",
        )
    values = {OBJECT_KEYS[k]: v for k, v in obj.items()}
    abort = values.get("abort_on_fail")
    if abort is not None and not isinstance(abort, bool):
        raise UsageError(f"invalid threshold {where}: abortOnFail is true or false")
    delay = values.get("delay_abort_eval")
    delay_s = 0.0 if delay is None else parse_duration(delay, what="delayAbortEval")
    text = values["threshold"]
    if not isinstance(text, str):
        raise UsageError(f"invalid threshold {where}: 'threshold' must be a string")
    full = f"{metric}: {text}" if metric else text
    return parse_threshold(full, abort_on_fail=abort, delay_abort_eval=delay_s)


def parse_thresholds(specs: Any) -> list[Threshold]:
    """Every form this module accepts: a string, k6's object, k6's mapping, or a list of them."""
    if specs is None:
        return []
    if isinstance(specs, Threshold):
        return [specs]
    if isinstance(specs, str):
        return [parse_threshold(specs)]
    if isinstance(specs, Mapping):
        if "threshold" in specs:
            return [_parse_object(specs, None)]
        if any(key in OBJECT_KEYS for key in specs):
            return [_parse_object(specs, None)]  # an object without its 'threshold' key
        out: list[Threshold] = []
        for key, items in specs.items():  # k6: { "http_req_duration{name:/x}": ["p(95)<300"] }
            if not isinstance(items, str | Mapping | list | tuple):
                raise _bad(f"{key}: {items!r}", "give a list of expressions like 'p(95)<300'")
            for item in [items] if isinstance(items, str | Mapping) else items:
                if isinstance(item, Mapping):
                    out.append(_parse_object(item, str(key)))
                elif isinstance(item, str):
                    out.append(parse_threshold(f"{key}: {item}"))
                else:
                    raise _bad(f"{key}: {item!r}", "each item is a string or an object")
        return out
    if isinstance(specs, Sequence):
        return [t for spec in specs for t in parse_thresholds(spec)]
    raise _bad(repr(specs), "thresholds are strings, objects or a k6 mapping")


def evaluate(
    thresholds: list[Threshold],
    lookup: Lookup,
    *,
    attempted: bool = True,
    timeout_ms: float | None = None,
) -> list[ThresholdResult]:
    """Evaluate each threshold with ``lookup(metric, endpoint)``.

    A metric without samples fails its threshold when requests were ``attempted`` (every one
    dropped, say, or none to that endpoint): silence is not a pass. Only when nothing was
    attempted is it "not measured" (``passed`` None); the live check during a run passes
    ``attempted=False`` so that a second without data never aborts it.

    Timed-out requests are in the distribution at the timeout, but their real latency is
    only known to be at least that (right-censored). So a percentile or ``max`` that lands on
    them (``>= timeout_ms``) is at least the timeout, and an upper limit above the timeout
    cannot be shown to hold: the threshold fails. (``mean`` counts them at the timeout: a
    lower bound, documented.)
    """
    results = []
    for t in thresholds:
        measured = lookup(t.metric, t.endpoint)
        if measured is None:
            results.append(ThresholdResult(t, None, False if attempted else None))
            continue
        censored = bool(
            timeout_ms is not None
            and t.is_latency
            and t.metric != "mean"
            and measured >= timeout_ms * (1 - 1e-3)  # HdrHistogram: 3 significant digits
        )
        passed = t.check(measured)
        if censored and t.op in ("<", "<="):
            passed = False
        results.append(ThresholdResult(t, measured, passed, censored))
    return results
