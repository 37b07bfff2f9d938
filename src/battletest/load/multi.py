"""Several scenarios at once, as k6 ``scenarios``: each with its own executor, start time and tags.

    # examples: a file whose top level is a [scenarios] table
    [scenarios.guests]
    scenario = "auth_load.toml"          # relative to this file; or paths/endpoints as in [load]
    executor = "constant-vus"
    vus = 5
    duration = "1m"
    tags = { team = "front-desk" }
    [scenarios.spike]
    scenario = "call_flow.toml"
    start_time = "30s"
    preset = "spike"
    duration = "20s"

Each scenario runs through ``coordinator.run`` with its own workers (in a thread, started at
its ``start_time``); the results are merged: totals from the merged latency histograms, the
endpoints named ``SCENARIO:endpoint``, the per-second series summed on one clock (its
percentiles are the highest of the scenarios' in that second, not a merge: per-second
histograms stay inside each scenario), thresholds evaluated on the merged result.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from battletest.durations import parse_duration
from battletest.errors import BattletestError, ConfigError, ScenarioError
from battletest.load import histogram
from battletest.load.coordinator import run
from battletest.load.options import LoadSettings
from battletest.load.result import (
    LatencyMs,
    LoadResult,
    SecondSample,
    ThresholdRow,
    latency_lookup,
)
from battletest.load.thresholds import WS_COUNTERS, evaluate, parse_thresholds

RUN_KEYS = {"start_time", "tags"}


@dataclass(slots=True)
class ScenarioRun:
    name: str
    settings: LoadSettings
    start_time: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)


def is_multi(path: str | Path) -> bool:
    """True when a TOML file holds a ``[scenarios]`` table (several scenarios)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("scenarios"), dict)


def parse_runs(path: str | Path) -> tuple[list[ScenarioRun], list[Any]]:
    """The scenarios of a ``[scenarios]`` file and its top-level ``thresholds``."""
    file = Path(path)
    data = tomllib.loads(file.read_text(encoding="utf-8"))
    unknown = set(data) - {"scenarios", "thresholds"}
    if unknown:
        raise ConfigError(
            f"unknown key {sorted(unknown)[0]!r} in {file.name}",
            hint="a several-scenarios file holds [scenarios.NAME] tables and thresholds",
        )
    runs = []
    for name, table in data["scenarios"].items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"[scenarios.{name}] must be a table", hint="see docs/load.md")
        settings = {k: v for k, v in table.items() if k not in RUN_KEYS}
        if isinstance(settings.get("scenario"), str):
            settings["scenario"] = str((file.parent / settings["scenario"]).resolve())
        tags = table.get("tags", {})
        if not isinstance(tags, Mapping):
            raise ConfigError(f"tags of [scenarios.{name}] must be a table", hint="tags = {a='b'}")
        start = parse_duration(table.get("start_time", 0), what=f"start_time of {name}")
        runs.append(
            ScenarioRun(
                str(name),
                LoadSettings.coerce(settings),
                start,
                {str(k): str(v) for k, v in tags.items()},
            )
        )
    if not runs:
        raise ConfigError(f"{file.name} has an empty [scenarios] table", hint="add one")
    thresholds = data.get("thresholds", [])
    if not isinstance(thresholds, list | dict):
        raise ConfigError("thresholds must be a list or a k6 mapping", hint="['p95<300ms']")
    parse_thresholds(thresholds)  # refused with one line before any load
    return runs, list(thresholds) if isinstance(thresholds, list) else [thresholds]


def run_scenarios(
    target: str,
    runs: Sequence[ScenarioRun],
    *,
    thresholds: Sequence[Any] = (),
    stop: threading.Event | None = None,
    environment: str | None = None,
    allow_destructive: bool = False,
) -> LoadResult:
    """Run every scenario at its start time, in parallel, and merge what they measured
    (in ``environment`` "production", every plan is checked by the write policy first)."""
    checks = parse_thresholds(list(thresholds))
    kwargs = [(r, r.settings.run_kwargs(target)) for r in runs]  # bad input fails before load
    if environment == "production" and not allow_destructive:
        from battletest.transport.policy import plan_requests, refuse_unsafe_plan

        for _, kw in kwargs:
            refuse_unsafe_plan(plan_requests(kw.get("endpoints", ()), kw.get("scenario")))
    stop = stop or threading.Event()
    results: dict[str, LoadResult] = {}
    failures: list[BattletestError] = []
    started_at = datetime.now(UTC)

    def one(r: ScenarioRun, kw: dict[str, Any]) -> None:
        if r.start_time and stop.wait(r.start_time):
            return
        try:
            results[r.name] = run(target, stop=stop, **kw)
        except BattletestError as exc:
            failures.append(exc)
            stop.set()

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if main:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        threads = [threading.Thread(target=one, args=(r, kw), daemon=True) for r, kw in kwargs]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    if failures:
        raise failures[0]
    if not results:
        raise ScenarioError("no scenario ran", hint="check the start times")
    return merge_results(target, runs, results, checks, started_at)


def _summed(counters: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for one in counters:
        for name, count in one.items():
            out[name] += count
    return dict(sorted(out.items()))


def merge_results(
    target: str,
    runs: Sequence[ScenarioRun],
    results: Mapping[str, LoadResult],
    checks: list[Any],
    started_at: datetime,
) -> LoadResult:
    starts = {r.name: r.start_time for r in runs}
    total = histogram.merged(res.histogram for res in results.values() if res.histogram)
    requests = sum(r.requests for r in results.values())
    failed = sum(r.failed for r in results.values())
    duration = max(starts[n] + r.duration_s for n, r in results.items())
    errors: dict[str, int] = defaultdict(int)
    buckets: dict[int, list[SecondSample]] = defaultdict(list)
    for name, res in results.items():
        for kind, count in res.errors.items():
            errors[kind] += count
        for s in res.series:
            buckets[round(starts[name] + s.t)].append(s)
    series = [
        SecondSample(
            t=float(k),
            span=max(s.span for s in group),
            requests=sum(s.requests for s in group),
            rps=round(sum(s.rps for s in group), 1),
            p50=max(s.p50 for s in group),
            p95=max(s.p95 for s in group),
            p99=max(s.p99 for s in group),
            errors=sum(s.errors for s in group),
            vus=sum(s.vus for s in group),
        )
        for k, group in sorted(buckets.items())
    ]
    endpoints = {f"{n}:{e}": m for n, res in results.items() for e, m in res.endpoints.items()}
    endpoint_series = {
        f"{n}:{e}": [dataclasses.replace(s, t=round(starts[n] + s.t, 3)) for s in samples]
        for n, res in results.items()
        for e, samples in res.endpoint_series.items()
    }
    rows = [
        ThresholdRow(f"{n}: {row.threshold}", row.measured, row.passed, row.line)
        for n, res in results.items()
        for row in res.thresholds
    ]

    dropped = sum(r.dropped_iterations for r in results.values())
    iterations = sum(r.iterations for r in results.values())
    counters = _summed(r.counters for r in results.values())

    def lookup(metric: str, endpoint: str | None) -> float | None:
        if metric == "dropped_iterations":
            return float(dropped) if endpoint is None else None
        if metric == "dropped_rate":
            return dropped / duration if endpoint is None and duration else None
        if metric in WS_COUNTERS:
            return float(counters.get(metric, 0)) if requests or dropped else None
        if endpoint is not None:
            m = endpoints.get(endpoint)
            if m is None or not m.requests:
                return None
            per_endpoint = {
                "error_rate": m.error_rate,
                "checks": 1.0 - m.error_rate,
                "rps": m.rps,
                "rps_ok": m.rps_ok,
                "iteration_rate": m.rps,
                "requests": m.requests,
                "iterations": m.requests,
                "failed": m.failed,
            }
            key = {"p99.9": "p999", **{k: k for k in per_endpoint}}.get(metric, metric)
            value = per_endpoint.get(key, getattr(m.latency_ms, key, None))
            return float(value) if isinstance(value, int | float) else None
        if not requests:
            return None
        counts = {
            "error_rate": failed / requests,
            "checks": 1.0 - failed / requests,
            "requests": requests,
            "failed": failed,
            "iterations": iterations,
        }
        if metric in counts:
            return float(counts[metric])
        if metric in ("rps", "rps_ok", "iteration_rate"):
            if not duration:
                return None
            count = {"rps": requests, "rps_ok": requests - failed, "iteration_rate": iterations}
            return count[metric] / duration
        return latency_lookup(total, metric)

    attempted = bool(requests or dropped)
    for r in evaluate(checks, lookup, attempted=attempted):
        rows.append(ThresholdRow(r.threshold.source, r.measured, r.passed, r.line))
    first = next(iter(results.values()))
    return LoadResult(
        target=first.target,
        executor="scenarios",
        workers=max(r.workers for r in results.values()),
        started_at=started_at,
        duration_s=round(duration, 3),
        requests=requests,
        failed=failed,
        error_rate=round(failed / requests, 6) if requests else 0.0,
        rps=round(requests / duration, 2) if duration else 0.0,
        latency_ms=LatencyMs(**histogram.summary_ms(total)),
        endpoints=endpoints,
        errors=dict(sorted(errors.items())),
        bytes_in=sum(r.bytes_in for r in results.values()),
        bytes_out=sum(r.bytes_out for r in results.values()),
        counters=counters,
        series=series,
        endpoint_series=endpoint_series,
        client_cpu_s=round(sum(r.client_cpu_s for r in results.values()), 4),
        dropped_iterations=dropped,
        iterations=iterations,
        rps_ok=round((requests - failed) / duration, 2) if duration else 0.0,
        interrupted_iterations=sum(r.interrupted_iterations for r in results.values()),
        thresholds=rows,
        interrupted=any(r.interrupted for r in results.values()),
        aborted=any(r.aborted for r in results.values()),
        warnings=[f"{n}: {w}" for n, res in results.items() for w in res.warnings],
        histogram=histogram.encode(total),
        scenarios={
            r.name: {
                "tags": r.tags,
                "start_time": r.start_time,
                "executor": results[r.name].executor if r.name in results else None,
                "requests": results[r.name].requests if r.name in results else 0,
                "failed": results[r.name].failed if r.name in results else 0,
                "dropped_iterations": (
                    results[r.name].dropped_iterations if r.name in results else 0
                ),
                "p95_ms": results[r.name].latency_ms.p95 if r.name in results else None,
            }
            for r in runs
        },
    )
