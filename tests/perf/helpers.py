"""Synthetic load reports for perf tests (no sockets)."""

from __future__ import annotations

import random
from typing import Any

from battletest.results import Case, Report, RunInfo, Status, SuiteResult, utcnow

SHAPE = {"executor": "constant-arrival-rate", "rate": 200.0, "duration": 20.0}


def series(
    p50: float, *, seconds: int, rps: float, rng: random.Random, jitter: float
) -> list[dict[str, Any]]:
    """Per-second samples scattering independently around ``p50`` and ``rps``."""
    out = []
    for i in range(seconds):
        f = 1 + rng.uniform(-jitter, jitter)
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
) -> dict[str, Any]:
    """Load-suite metrics whose per-interval samples scatter around ``p50`` and ``rps``.

    ``endpoints``: name → that endpoint's p50 (default one endpoint ``GET /a`` at ``p50``),
    each with its own per-second series; the whole run's series is around ``p50``.
    """
    rng = random.Random(seed)
    eps = endpoints or {"GET /a": p50}
    share = rps / len(eps)
    lat = _latency(p50)
    return {
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
        "series": series(p50, seconds=seconds, rps=rps, rng=rng, jitter=jitter),
        "endpoint_series": {
            name: series(ep_p50, seconds=seconds, rps=share, rng=rng, jitter=jitter)
            for name, ep_p50 in eps.items()
        },
        "load_shape": dict(SHAPE),
        "target_id": "http://127.0.0.1:1",
    }


def load_report(metrics: dict[str, Any], run_id: str = "r1") -> Report:
    suite = SuiteResult.from_cases(
        "load", [Case(name="load completed", status=Status.PASSED)], 1.0, metrics=metrics
    )
    run = RunInfo(id=run_id, started_at=utcnow(), version="t", target="http://127.0.0.1:1")
    return Report.build(run, [suite], [])
