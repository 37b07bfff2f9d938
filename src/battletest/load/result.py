"""The outcome of a load run (``LoadResult``) and the coordinator-side merge that builds it.

``Aggregator`` receives the workers' snapshots (plain dicts with encoded histograms), merges
them per endpoint and per second, answers threshold lookups while the run is going (for
``--abort-on-fail`` and the live console) and builds the final ``LoadResult``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from hdrh.histogram import HdrHistogram

from battletest.load import histogram
from battletest.load.thresholds import Threshold, ThresholdResult, evaluate


@dataclass(slots=True)
class LatencyMs:
    min: float = 0.0
    mean: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    max: float = 0.0


@dataclass(slots=True)
class EndpointMetrics:
    requests: int = 0
    failed: int = 0
    error_rate: float = 0.0
    rps: float = 0.0
    latency_ms: LatencyMs = field(default_factory=LatencyMs)


@dataclass(slots=True)
class SecondSample:
    t: float  # seconds since start, end of the interval
    rps: float
    p50: float
    p95: float
    p99: float
    errors: int
    vus: int


@dataclass(slots=True)
class ThresholdRow:
    threshold: str
    measured: float | None
    passed: bool | None
    line: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class LoadResult:
    """Everything a load run measured; ``metrics()`` is what the ``load`` suite reports.

    Plain dataclasses (not pydantic) so that ``battletest load`` starts in a fraction of the
    CPU: start-up is part of the published CPU-per-request figure.
    """

    target: str
    executor: str
    workers: int
    started_at: datetime
    duration_s: float
    requests: int
    failed: int
    error_rate: float
    rps: float
    latency_ms: LatencyMs
    endpoints: dict[str, EndpointMetrics]
    errors: dict[str, int]
    bytes_in: int
    bytes_out: int
    series: list[SecondSample]
    client_cpu_s: float
    intended_iterations: int | None = None
    dropped_iterations: int = 0
    interrupted_iterations: int = 0
    thresholds: list[ThresholdRow] = field(default_factory=list)
    interrupted: bool = False
    aborted: bool = False
    warnings: list[str] = field(default_factory=list)
    histogram: str = ""  # the merged latency histogram (µs), HdrHistogram-encoded
    resources: dict[str, Any] | None = None  # target process tree (--target-pid), see resources
    capacity_rps: float | None = None  # breakpoint: highest rate sustained before a break
    scenarios: dict[str, Any] | None = None  # several scenarios: tags, start time, totals each

    @property
    def passed(self) -> bool:
        return all(row.passed is not False for row in self.thresholds)

    @property
    def cpu_us_per_request(self) -> float:
        return self.client_cpu_s * 1e6 / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, ``started_at`` as ISO 8601."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        return data

    def metrics(self) -> dict[str, Any]:
        """The ``load`` suite's metrics for report.json (the histogram is saved beside it)."""
        data = self.to_dict()
        for key in ("histogram", "thresholds", "started_at"):
            data.pop(key)
        return data


class _Totals:
    __slots__ = ("failed", "hist", "requests")

    def __init__(self) -> None:
        self.hist = histogram.new_histogram()
        self.requests = 0
        self.failed = 0


class Aggregator:
    """Merges worker snapshots; nothing here needs to share memory with the workers."""

    def __init__(self, names: list[str], workers: int) -> None:
        self.names = names
        self.workers = workers
        self.total = _Totals()
        self.per_endpoint = {name: _Totals() for name in names}
        self.seconds: dict[int, dict[str, Any]] = defaultdict(
            lambda: {
                "hist": histogram.new_histogram(),
                "requests": 0,
                "errors": 0,
                "vus": 0,
                "elapsed": 0.0,
                "reported": 0,
            }
        )
        self.errors: dict[str, int] = defaultdict(int)
        self.bytes_in = 0
        self.bytes_out = 0
        self.dropped = 0
        self.interrupted = 0
        self.elapsed = 0.0
        self.cpu_s = 0.0

    def add(self, snap: dict[str, Any]) -> None:
        sec = self.seconds[int(snap["seq"])]
        for name, ep in zip(self.names, snap["endpoints"], strict=True):
            requests = ep["responses"] + ep["lost"]
            totals = self.per_endpoint[name]
            totals.requests += requests
            totals.failed += ep["failed"]
            self.total.requests += requests
            self.total.failed += ep["failed"]
            sec["requests"] += requests
            sec["errors"] += ep["failed"]
            if ep["hist"]:
                histogram.merge(totals.hist, ep["hist"])
                histogram.merge(self.total.hist, ep["hist"])
                histogram.merge(sec["hist"], ep["hist"])
        for kind, count in snap["errors"].items():
            self.errors[kind] += count
        self.bytes_in += snap["bytes_in"]
        self.bytes_out += snap["bytes_out"]
        self.dropped += snap["dropped"]
        self.interrupted += snap["interrupted"]
        sec["vus"] += snap["vus"]
        sec["elapsed"] = max(sec["elapsed"], snap["elapsed"])
        sec["reported"] += 1
        self.elapsed = max(self.elapsed, snap["elapsed"])

    def complete_seconds(self) -> list[int]:
        return sorted(k for k, s in self.seconds.items() if s["reported"] >= self.workers)

    def lookup(self, metric: str, endpoint: str | None) -> float | None:
        """A threshold's current value (ms, fraction, or count), None if nothing measured."""
        totals = self.total if endpoint is None else self.per_endpoint.get(endpoint)
        if totals is None or totals.requests == 0:
            return None
        if metric == "error_rate":
            return totals.failed / totals.requests
        if metric == "requests":
            return float(totals.requests)
        if metric == "failed":
            return float(totals.failed)
        if metric == "rps":
            return totals.requests / self.elapsed if self.elapsed > 0 else None
        if metric == "dropped_iterations":
            return float(self.dropped)
        hist = totals.hist
        if hist.get_total_count() == 0:
            return None
        if metric == "mean":
            return histogram.mean_ms(hist)
        if metric == "min":
            return float(hist.get_min_value()) / 1000.0
        if metric == "max":
            return float(hist.get_max_value()) / 1000.0
        return histogram.value_at_ms(hist, float(metric[1:]))

    def evaluate(self, thresholds: list[Threshold]) -> list[ThresholdResult]:
        return evaluate(thresholds, self.lookup)

    def sample(self, k: int) -> SecondSample:
        sec = self.seconds[k]
        prev = (
            self.seconds[k - 1]["elapsed"]
            if (k - 1) in self.seconds
            else (0.0 if k == 1 else sec["elapsed"] - 1.0)
        )
        span = max(sec["elapsed"] - prev, 1e-6)
        pct = histogram.percentiles_ms(sec["hist"], [50.0, 95.0, 99.0])
        return SecondSample(
            t=round(sec["elapsed"], 3),
            rps=round(sec["requests"] / span, 1),
            p50=round(pct[50.0], 3),
            p95=round(pct[95.0], 3),
            p99=round(pct[99.0], 3),
            errors=sec["errors"],
            vus=sec["vus"],
        )

    def endpoint_metrics(self, name: str) -> EndpointMetrics:
        t = self.per_endpoint[name]
        return EndpointMetrics(
            requests=t.requests,
            failed=t.failed,
            error_rate=round(t.failed / t.requests, 6) if t.requests else 0.0,
            rps=round(t.requests / self.elapsed, 2) if self.elapsed else 0.0,
            latency_ms=LatencyMs(**histogram.summary_ms(t.hist)),
        )

    @property
    def merged(self) -> HdrHistogram:
        return self.total.hist
