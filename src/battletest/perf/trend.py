"""The trend over the last N runs, read from the history store (``quality.store``).

Each recorded ``battletest run`` keeps the load suite's numeric metrics; a trend is, per run in
time order, its throughput, p50/p95/p99 and error rate. The run being reported is recorded only
after its report is built, so ``current_point`` adds it at the end from its own load metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

TREND_METRICS: dict[str, str] = {
    "rps": "rps",
    "p50": "latency_ms.p50",
    "p95": "latency_ms.p95",
    "p99": "latency_ms.p99",
    "error_rate": "error_rate",
}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    run_id: str
    started_at: float  # epoch seconds
    commit: str | None
    values: dict[str, float]


def read_trend(
    url: str | None = None, *, root: Path | None = None, last: int = 10
) -> list[TrendPoint]:
    """The load figures of the last ``last`` recorded runs, oldest first (empty when none)."""
    import sqlalchemy as sa

    from battletest.quality import store as history

    if last < 1:
        return []
    wanted = {v: k for k, v in TREND_METRICS.items()}
    url = url or history.default_url(root)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return []  # no history yet: reading must not create the database
    with history.HistoryStore(url) as hs, hs.read() as conn:
        runs = history.runs
        metrics = history.metrics
        recent = (
            sa.select(runs.c.id, runs.c.started_at, runs.c.commit)
            .where(sa.exists().where((metrics.c.run_id == runs.c.id) & (metrics.c.suite == "load")))
            .order_by(runs.c.started_at.desc())
            .limit(last)
        )
        rows = list(conn.execute(recent))
        ids = [r.id for r in rows]
        values: dict[str, dict[str, float]] = {i: {} for i in ids}
        if ids:
            query = sa.select(metrics.c.run_id, metrics.c.name, metrics.c.value).where(
                metrics.c.run_id.in_(ids)
                & (metrics.c.suite == "load")
                & metrics.c.name.in_(list(wanted))
            )
            for run_id, name, value in conn.execute(query):
                values[run_id][wanted[name]] = float(value)
    return [TrendPoint(r.id, float(r.started_at), r.commit, values[r.id]) for r in reversed(rows)]


def current_point(
    run_id: str, started_at: float, metrics: dict[str, Any], commit: str | None = None
) -> TrendPoint:
    """The trend point of a run from its load suite's metrics (not read from the store)."""
    values: dict[str, float] = {}
    for key, dotted in TREND_METRICS.items():
        value: Any = metrics
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values[key] = float(value)
    return TrendPoint(run_id, started_at, commit, values)


def trend_dicts(points: list[TrendPoint]) -> list[dict[str, Any]]:
    return [
        {"run_id": p.run_id, "started_at": p.started_at, "commit": p.commit, **p.values}
        for p in points
    ]


__all__ = ["TREND_METRICS", "TrendPoint", "current_point", "read_trend", "trend_dicts"]
