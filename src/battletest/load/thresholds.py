"""Thresholds in k6 syntax: ``p95<300ms``, ``p(99.9)<1s``, ``mean<100ms``, ``error_rate<1%``,
``rps>500``, and per endpoint ``p95{name=/login}<500ms``.

A threshold is parsed once into a ``Threshold`` and evaluated against any ``lookup(metric,
endpoint) -> value | None`` (the live merged state during a run, the final result after it), so
``--abort-on-fail`` and the final verdict use the same code. Latencies are in milliseconds,
``error_rate`` is a fraction (``1%`` = 0.01), ``rps`` is requests per second.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from battletest.errors import UsageError

LATENCY_ALIASES = {"avg": "mean", "mean": "mean", "min": "min", "max": "max", "med": "p50"}
RATE_METRICS = {"error_rate"}
COUNT_METRICS = {"rps", "requests", "failed", "dropped_iterations"}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_TIME_UNITS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, None: 1.0}
_GRAMMAR = re.compile(
    r"""^\s*
    (?P<metric>p\(\s*\d+(?:\.\d+)?\s*\)|p\d+|[a-z_]+)
    \s*(?:\{\s*name\s*[=:]\s*(?P<name>[^}]*?)\s*\})?
    \s*(?P<op><=|>=|==|!=|<|>)
    \s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|us|µs|s|m|%|/s)?\s*$""",
    re.VERBOSE,
)
_EXAMPLES = "e.g. 'p95<300ms', 'p(99.9)<1s', 'error_rate<1%', 'rps>500', 'p95{name=/login}<500ms'"

Lookup = Callable[[str, "str | None"], "float | None"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed threshold. ``metric`` is canonical: ``p95``, ``p99.9``, ``mean``, ``rps``…"""

    source: str
    metric: str
    op: str
    limit: float  # ms for latencies, fraction for error_rate, plain number otherwise
    endpoint: str | None = None

    def check(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.limit)

    @property
    def is_latency(self) -> bool:
        return self.metric.startswith("p") or self.metric in ("mean", "min", "max")

    def format_value(self, value: float) -> str:
        if self.is_latency:
            return f"{value:.2f}ms"
        if self.metric in RATE_METRICS:
            return f"{value * 100:.2f}%"
        return f"{value:g}"


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    threshold: Threshold
    measured: float | None
    passed: bool | None  # None: could not be measured (no requests to that endpoint yet)

    @property
    def line(self) -> str:
        t = self.threshold
        mark = {True: "ok", False: "FAILED", None: "n/a"}[self.passed]
        if self.measured is None:
            got = (
                "no samples although requests were attempted"
                if self.passed is False
                else ("no data")
            )
        else:
            got = t.format_value(self.measured)
        return f"{t.source}: {got} ({mark})"


def _percentile_name(token: str) -> str:
    if token.startswith("p("):
        value = float(token[2:-1].strip())
    else:
        digits = token[1:]
        value = (
            float(digits)
            if len(digits) <= 2 or digits == "100"
            else float(f"{digits[:2]}.{digits[2:]}")
        )
    if not 0 < value <= 100:
        raise UsageError(f"percentile {token!r} is out of range", hint="use p(0.1)…p(100)")
    return f"p{value:g}"


def parse_threshold(text: str) -> Threshold:
    """Parse one threshold or raise ``UsageError`` with an example of the syntax."""
    m = _GRAMMAR.match(text)
    if m is None:
        raise UsageError(f"invalid threshold {text!r}", hint=f"write METRIC OP VALUE, {_EXAMPLES}")
    token, unit = m.group("metric"), m.group("unit")
    value = float(m.group("value"))
    endpoint = m.group("name")
    if endpoint is not None and not endpoint:
        raise UsageError(f"invalid threshold {text!r}: empty endpoint name", hint=_EXAMPLES)
    if token.startswith("p") and (token.startswith("p(") or token[1:].isdigit()):
        metric = _percentile_name(token)
    elif token in LATENCY_ALIASES:
        metric = LATENCY_ALIASES[token]
    elif token in RATE_METRICS or token in COUNT_METRICS:
        metric = token
    else:
        known = (
            "p95, p(99.9), mean, min, max, error_rate, rps, requests, failed, dropped_iterations"
        )
        raise UsageError(f"unknown threshold metric {token!r} in {text!r}", hint=f"use {known}")
    if metric.startswith("p") or metric in ("mean", "min", "max"):
        if unit in ("%", "/s"):
            raise UsageError(
                f"threshold {text!r}: a latency needs a time unit", hint="e.g. 'p95<300ms'"
            )
        value *= _TIME_UNITS[unit]
    elif metric in RATE_METRICS:
        if unit == "%":
            value /= 100.0
        elif unit is not None or value > 1:
            raise UsageError(
                f"threshold {text!r}: a rate is a percentage or a fraction",
                hint="e.g. 'error_rate<1%' or 'error_rate<0.01'",
            )
    elif unit not in (None, "/s") or (unit == "/s" and metric != "rps"):
        raise UsageError(f"threshold {text!r}: {metric} takes a plain number", hint=_EXAMPLES)
    return Threshold(text.strip(), metric, m.group("op"), value, endpoint)


def parse_thresholds(texts: list[str] | tuple[str, ...]) -> list[Threshold]:
    return [parse_threshold(t) for t in texts]


def evaluate(
    thresholds: list[Threshold], lookup: Lookup, *, attempted: bool = True
) -> list[ThresholdResult]:
    """Evaluate each threshold with ``lookup(metric, endpoint)``.

    A metric without samples fails its threshold when requests were ``attempted`` (every one
    dropped, say, or none to that endpoint): silence is not a pass. Only when nothing was
    attempted at all is it "not measured" (``passed`` None).
    """
    results = []
    for t in thresholds:
        measured = lookup(t.metric, t.endpoint)
        passed = (False if attempted else None) if measured is None else t.check(measured)
        results.append(ThresholdResult(t, measured, passed))
    return results
