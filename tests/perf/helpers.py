"""Synthetic load reports for perf tests (no sockets)."""

from __future__ import annotations

import random
from typing import Any

from battletest.results import Case, Report, RunInfo, Status, SuiteResult, utcnow


def load_metrics(
    p50: float, *, seconds: int = 20, rps: float = 200.0, seed: int = 1, jitter: float = 0.03
) -> dict[str, Any]:
    """Load-suite metrics whose per-interval samples scatter around ``p50`` and ``rps``."""
    rng = random.Random(seed)
    series = []
    for i in range(seconds):
        f = 1 + rng.uniform(-jitter, jitter)
        series.append(
            {
                "t": i + 1.0,
                "rps": round(rps * (1 + rng.uniform(-jitter, jitter)), 1),
                "p50": round(p50 * f, 3),
                "p95": round(p50 * 1.5 * f, 3),
                "p99": round(p50 * 2 * f, 3),
                "errors": 0,
                "vus": 4,
            }
        )
    lat = {"p50": p50, "p90": p50 * 1.4, "p95": p50 * 1.5, "p99": p50 * 2, "p999": p50 * 3}
    return {
        "requests": int(rps * seconds),
        "failed": 0,
        "error_rate": 0.0,
        "rps": rps,
        "latency_ms": {"min": p50 / 2, "mean": p50 * 1.1, "max": p50 * 4, **lat},
        "endpoints": {
            "GET /a": {
                "requests": int(rps * seconds),
                "failed": 0,
                "error_rate": 0.0,
                "rps": rps,
                "latency_ms": lat,
            },
        },
        "series": series,
    }


def load_report(metrics: dict[str, Any], run_id: str = "r1") -> Report:
    suite = SuiteResult.from_cases(
        "load", [Case(name="load completed", status=Status.PASSED)], 1.0, metrics=metrics
    )
    run = RunInfo(id=run_id, started_at=utcnow(), version="t", target="http://127.0.0.1:1")
    return Report.build(run, [suite], [])
