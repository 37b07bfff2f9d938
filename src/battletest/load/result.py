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
from battletest.load.thresholds import WS_COUNTERS, Threshold, ThresholdResult, evaluate


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
    rps_ok: float = 0.0
    latency_ms: LatencyMs = field(default_factory=LatencyMs)


@dataclass(slots=True)
class SecondSample:
    """One interval of the per-second series, keyed by wall time since the run's start.

    ``t`` is the interval's end and ``span`` its real length (seconds): ``rps`` is
    ``requests / span``, so a short last interval is scored at its own length. ``hist`` is the
    interval's latency histogram (µs, HdrHistogram-encoded): a baseline keeps it so that a
    regression test can take run-level percentiles of resampled intervals (``perf.stats``).
    """

    t: float  # seconds since start, end of the interval
    span: float  # real length of the interval in seconds
    rps: float
    p50: float
    p95: float
    p99: float
    errors: int
    vus: int
    requests: int = 0
    hist: str = ""  # "" when the interval had no requests (or the series was merged by time)


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
    endpoint_series: dict[str, list[SecondSample]] = field(default_factory=dict)
    rps_ok: float = 0.0  # successful responses per second (``rps`` counts every request)
    iterations: int = 0
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
    load_shape: dict[str, Any] | None = None  # ExecutorSpec.shape(): what a baseline must match
    cluster: dict[str, Any] | None = None  # a distributed run: scheduler, each worker's share

    timeout_s: float = 0.0  # the per-request timeout: timed-out requests sit at it
    counters: dict[str, int] = field(default_factory=dict)  # ws_msgs_sent, ws_bytes_received...

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


class _Second:
    """One open interval: what every worker reported for it, until all have moved past it."""

    __slots__ = ("end", "endpoints", "total", "vus")

    def __init__(self, endpoints: int) -> None:
        self.total = _Totals()
        self.endpoints: list[_Totals | None] = [None] * endpoints  # made on first data
        self.vus = 0
        self.end = 0.0  # the latest snapshot time that fell into this interval


def _sample(totals: _Totals, end: float, span: float, vus: int) -> SecondSample:
    pct = histogram.percentiles_ms(totals.hist, [50.0, 95.0, 99.0])
    return SecondSample(
        t=round(end, 3),
        span=round(span, 3),
        rps=round(totals.requests / span, 1),
        p50=round(pct[50.0], 3),
        p95=round(pct[95.0], 3),
        p99=round(pct[99.0], 3),
        errors=totals.failed,
        vus=vus,
        requests=totals.requests,
        hist=histogram.encode(totals.hist) if totals.requests else "",
    )


class Aggregator:
    """Merges worker snapshots; nothing here needs to share memory with the workers.

    The per-second series is keyed by time, not by snapshot number: a snapshot taken at
    ``elapsed`` seconds into the run belongs to interval ``floor(elapsed / interval)`` (a
    worker takes one as soon as it can after each multiple of the interval, so a worker whose
    loop stalled merges its late snapshot with the other workers' snapshots of that same
    second, and the seconds it missed hold only the others' figures). A worker's final
    snapshot opens an interval of its own after its last one. An interval is closed — its
    samples computed, its histograms freed — once every worker has reported a later one or
    finished; its ``span`` is its end minus the previous interval's end. The last interval
    of a run is kept at its real length when it lasts at least half an interval; a shorter
    tail (requests still in flight finishing after the stop) stays in the totals and is left
    out of the series and ``endpoint_series`` alike.
    """

    def __init__(
        self, names: list[str], workers: int, interval: float = 1.0, timeout: float | None = None
    ) -> None:
        self.timeout = timeout  # seconds: a latency at or above it is a timed-out request
        self.names = names
        self.workers = workers
        self.interval = interval
        self.total = _Totals()
        self.per_endpoint = {name: _Totals() for name in names}
        # one endpoint: the run's histogram is the endpoint's (and a second's, its slot's), so
        # each snapshot is added twice instead of four times
        self.single = len(names) == 1
        if self.single:
            self.total.hist = self.per_endpoint[names[0]].hist
        self.open: dict[int, _Second] = {}
        self.samples: dict[int, SecondSample] = {}
        self.endpoint_samples: dict[int, list[SecondSample]] = {}
        self.marks = [0] * workers  # the latest interval each worker reported
        self.finished = [False] * workers
        self.last_end = 0.0  # end of the latest closed interval
        self.errors: dict[str, int] = defaultdict(int)
        self.bytes_in = 0
        self.bytes_out = 0
        self.counters: dict[str, int] = defaultdict(int)
        self.dropped = 0
        self.interrupted = 0
        self.iterations = 0
        self.elapsed = 0.0
        self.cpu_s = 0.0

    def _key(self, snap: dict[str, Any]) -> int:
        worker = int(snap.get("worker", 0)) % self.workers
        key = max(int(float(snap["elapsed"]) // self.interval), 1)
        if key <= self.marks[worker]:  # only a final snapshot lands here: its own interval
            key = self.marks[worker] + 1
        self.marks[worker] = key
        if snap.get("final"):
            self.finished[worker] = True
        return key

    def add(self, snap: dict[str, Any]) -> None:
        key = self._key(snap)
        sec = self.open.get(key)
        if sec is None:
            sec = self.open[key] = _Second(len(self.names))
        requests_all = 0
        for i, (name, ep) in enumerate(zip(self.names, snap["endpoints"], strict=True)):
            requests = ep["requests"]
            if not requests:
                continue
            requests_all += requests
            failed = ep["failed"]
            slot = sec.endpoints[i]
            if slot is None:
                slot = sec.endpoints[i] = _Totals()
                if self.single:
                    sec.total.hist = slot.hist
            # decoded once, added four times: decoding allocates a full counts array, the
            # most of a merge's cost (bench/bench_distributed.py: 1,000 workers per second)
            part = histogram.decode(ep["hist"]) if ep["hist"] else None
            for totals in (self.per_endpoint[name], self.total, sec.total, slot):
                totals.requests += requests
                totals.failed += failed
                if part is not None and not (self.single and totals in (self.total, sec.total)):
                    totals.hist.add(part)
        for kind, count in snap["errors"].items():
            self.errors[kind] += count
        self.bytes_in += snap["bytes_in"]
        self.bytes_out += snap["bytes_out"]
        for name, count in snap.get("counters", {}).items():
            self.counters[name] += count
        self.dropped += snap["dropped"]
        self.interrupted += snap["interrupted"]
        iterations = snap.get("iterations", -1)
        self.iterations += requests_all if iterations is None or iterations < 0 else iterations
        sec.vus += snap["vus"]
        sec.end = max(sec.end, float(snap["elapsed"]))
        self.elapsed = max(self.elapsed, float(snap["elapsed"]))

    def close_complete(self) -> list[int]:
        """Close every interval all workers have moved past; return their keys (in order)."""
        horizon = min(
            (1 << 60 if done else mark)
            for mark, done in zip(self.marks, self.finished, strict=True)
        )
        closed = []
        for key in sorted(k for k in self.open if k <= horizon):
            self._close(key)
            closed.append(key)
        return closed

    def _close(self, key: int) -> None:
        sec = self.open.pop(key)
        span = sec.end - self.last_end
        last = all(self.finished) and not self.open
        if last and span < self.interval / 2 and self.samples:
            return  # the stop's short tail: counted in the totals, not in the series
        span = max(span, 1e-3)
        self.last_end = sec.end
        self.samples[key] = _sample(sec.total, sec.end, span, sec.vus)
        self.endpoint_samples[key] = [
            _sample(slot if slot is not None else _Totals(), sec.end, span, sec.vus)
            for slot in sec.endpoints
        ]

    def complete_seconds(self) -> list[int]:
        """Keys of the closed intervals (closing what can be closed first)."""
        self.close_complete()
        return sorted(self.samples)

    def sample(self, k: int) -> SecondSample:
        return self.samples[k]

    def series(self) -> list[SecondSample]:
        self.close_complete()
        for key in sorted(self.open):  # the run is over: whatever is left is closed now
            self.finished = [True] * self.workers
            self._close(key)
        return [self.samples[k] for k in sorted(self.samples)]

    def endpoint_series(self) -> dict[str, list[SecondSample]]:
        keys = sorted(self.endpoint_samples)
        return {
            name: [self.endpoint_samples[k][i] for k in keys] for i, name in enumerate(self.names)
        }

    def attempted(self) -> bool:
        """Were any requests attempted (sent, dropped or cut short)? Decides whether a
        threshold without samples failed (yes) or could not be measured (no)."""
        return bool(self.total.requests or self.dropped or self.interrupted)

    def lookup(self, metric: str, endpoint: str | None) -> float | None:
        """A threshold's current value (ms, fraction, or count), None if nothing measured."""
        totals = self.total if endpoint is None else self.per_endpoint.get(endpoint)
        if totals is None:
            return None
        elapsed = self.elapsed if self.elapsed > 0 else None
        if metric == "dropped_iterations":
            return float(self.dropped) if endpoint is None else None
        if metric == "dropped_rate":
            return self.dropped / elapsed if endpoint is None and elapsed else None
        if metric in WS_COUNTERS:
            return float(self.counters.get(metric, 0)) if self.attempted() else None
        if totals.requests == 0:
            return None
        if metric == "error_rate":
            return totals.failed / totals.requests
        if metric == "checks":
            return 1.0 - totals.failed / totals.requests
        if metric == "requests":
            return float(totals.requests)
        if metric == "failed":
            return float(totals.failed)
        if metric == "iterations":
            return float(self.iterations) if endpoint is None else float(totals.requests)
        if metric in ("rps", "rps_ok", "iteration_rate"):
            if elapsed is None:
                return None
            if metric == "rps_ok":
                return (totals.requests - totals.failed) / elapsed
            if metric == "iteration_rate" and endpoint is None:
                return self.iterations / elapsed
            return totals.requests / elapsed
        return latency_lookup(totals.hist, metric)

    def evaluate(self, thresholds: list[Threshold], final: bool = True) -> list[ThresholdResult]:
        """The verdict of each threshold; while the run goes (``final`` False) a metric
        without samples yet is "not measured", never a failure that could abort the run."""
        return evaluate(
            thresholds,
            self.lookup,
            attempted=final and self.attempted(),
            timeout_ms=self.timeout * 1000.0 if self.timeout else None,
        )

    def endpoint_metrics(self, name: str) -> EndpointMetrics:
        t = self.per_endpoint[name]
        return EndpointMetrics(
            requests=t.requests,
            failed=t.failed,
            error_rate=round(t.failed / t.requests, 6) if t.requests else 0.0,
            rps=round(t.requests / self.elapsed, 2) if self.elapsed else 0.0,
            rps_ok=round((t.requests - t.failed) / self.elapsed, 2) if self.elapsed else 0.0,
            latency_ms=LatencyMs(**histogram.summary_ms(t.hist)),
        )

    @property
    def merged(self) -> HdrHistogram:
        return self.total.hist


def latency_lookup(hist: HdrHistogram, metric: str) -> float | None:
    """``mean``, ``min``, ``max`` or ``pN`` of a histogram in ms; None when it is empty."""
    if hist.get_total_count() == 0:
        return None
    if metric == "mean":
        return histogram.mean_ms(hist)
    if metric == "min":
        return float(hist.get_min_value()) / 1000.0
    if metric == "max":
        return float(hist.get_max_value()) / 1000.0
    if metric.startswith("p"):
        return histogram.value_at_ms(hist, float(metric[1:]))
    return None
