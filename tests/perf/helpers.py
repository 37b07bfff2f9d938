"""Synthetic load reports for perf tests (no sockets)."""

from __future__ import annotations

import math
import random
from typing import Any

from battletest.load import histogram
from battletest.results import Case, Report, RunInfo, Status, SuiteResult, utcnow

SHAPE = {"executor": "constant-arrival-rate", "rate": 200.0, "duration": 20.0}


def second(p50: float, requests: int, rng: random.Random, spread: float = 0.5) -> dict[str, Any]:
    """One interval of ``requests`` log-normal latencies with median ``p50`` (ms): its
    percentiles and its encoded histogram, as the load engine reports them."""
    hist = histogram.fold(int(p50 * 1000 * math.exp(rng.gauss(0, spread))) for _ in range(requests))
    pct = histogram.percentiles_ms(hist, [50.0, 95.0, 99.0])
    return {
        "p50": pct[50.0],
        "p95": pct[95.0],
        "p99": pct[99.0],
        "requests": requests,
        "hist": histogram.encode(hist),
    }


def series(
    p50: float,
    *,
    seconds: int,
    rps: float,
    rng: random.Random,
    jitter: float,
    histograms: bool = False,
) -> list[dict[str, Any]]:
    """Per-second samples scattering independently around ``p50`` and ``rps``; with
    ``histograms`` each second is ``rps`` log-normal requests (``second``) instead."""
    out = []
    for i in range(seconds):
        f = 1 + rng.uniform(-jitter, jitter)
        if histograms:
            row = second(p50, int(rps), rng)
            out.append({"t": i + 1.0, "span": 1.0, "rps": rps, "errors": 0, "vus": 4, **row})
            continue
        out.append(
            {
                "t": i + 1.0,
                "span": 1.0,
                "rps": round(rps * (1 + rng.uniform(-jitter, jitter)), 1),
                "p50": round(p50 * f, 3),
                "p95": round(p50 * 1.5 * f, 3),
                "p99": round(p50 * 2 * f, 3),
                "errors": 0,
                "vus": 4,
            }
        )
    return out


def _latency(p50: float) -> dict[str, float]:
    return {"p50": p50, "p90": p50 * 1.4, "p95": p50 * 1.5, "p99": p50 * 2, "p999": p50 * 3}


def load_metrics(
    p50: float,
    *,
    seconds: int = 20,
    rps: float = 200.0,
    seed: int = 1,
    jitter: float = 0.03,
    endpoints: dict[str, float] | None = None,
    histograms: bool = False,
) -> dict[str, Any]:
    """Load-suite metrics whose per-interval samples scatter around ``p50`` and ``rps``.

    ``endpoints``: name → that endpoint's p50 (default one endpoint ``GET /a`` at ``p50``),
    each with its own per-second series; the whole run's series is around ``p50``. With
    ``histograms`` every interval carries its latency histogram (baseline format 3) and the
    summary percentiles are those of the merged histograms.
    """
    rng = random.Random(seed)
    eps = endpoints or {"GET /a": p50}
    share = rps / len(eps)
    lat = _latency(p50)
    out = {
        "requests": int(rps * seconds),
        "failed": 0,
        "error_rate": 0.0,
        "rps": rps,
        "latency_ms": {"min": p50 / 2, "mean": p50 * 1.1, "max": p50 * 4, **lat},
        "endpoints": {
            name: {
                "requests": int(share * seconds),
                "failed": 0,
                "error_rate": 0.0,
                "rps": share,
                "latency_ms": _latency(ep_p50),
            }
            for name, ep_p50 in eps.items()
        },
        "series": series(
            p50, seconds=seconds, rps=rps, rng=rng, jitter=jitter, histograms=histograms
        ),
        "endpoint_series": {
            name: series(
                ep_p50, seconds=seconds, rps=share, rng=rng, jitter=jitter, histograms=histograms
            )
            for name, ep_p50 in eps.items()
        },
        "load_shape": dict(SHAPE),
        "target_id": "http://127.0.0.1:1",
    }
    if histograms:  # the summaries from the merged histograms, as the engine reports them
        out["latency_ms"].update(_merged(out["series"]))
        for name, rows in out["endpoint_series"].items():
            out["endpoints"][name]["latency_ms"].update(_merged(rows))
    return out


def _merged(rows: list[dict[str, Any]]) -> dict[str, float]:
    merged = histogram.merged(r["hist"] for r in rows)
    pct = histogram.percentiles_ms(merged, [50.0, 95.0, 99.0])
    return {"p50": pct[50.0], "p95": pct[95.0], "p99": pct[99.0]}


def load_report(metrics: dict[str, Any], run_id: str = "r1") -> Report:
    suite = SuiteResult.from_cases(
        "load", [Case(name="load completed", status=Status.PASSED)], 1.0, metrics=metrics
    )
    run = RunInfo(id=run_id, started_at=utcnow(), version="t", target="http://127.0.0.1:1")
    return Report.build(run, [suite], [])
