"""The load engine: k6-style executors, worker processes on uvloop, merged HdrHistograms,
thresholds.

    from battletest.load import run, ExecutorSpec
    result = run("http://127.0.0.1:8000", executor=ExecutorSpec("constant-arrival-rate",
                 rate=200, duration=15), thresholds=["p95<300ms"])

Layout: ``executors`` (schedule math), ``runtime`` (worker process: event loop, HTTP client,
recording), ``histogram`` (fold/encode/merge), ``coordinator`` (``run``: preflight, workers,
merge), ``result`` (``LoadResult``), ``thresholds``, ``options`` (``LoadSettings``),
``console``, ``suite`` (the ``load`` suite), ``cli`` (``battletest load``).

Names are imported lazily so a worker process, which unpickles its configuration from
``battletest.load.runtime``, loads only the hot-path modules (no pydantic, no rich).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from battletest.load.coordinator import LiveStats, run
    from battletest.load.executors import EXECUTORS, ExecutorSpec, Stage
    from battletest.load.options import LoadSettings
    from battletest.load.result import LoadResult
    from battletest.load.runtime import TLSOptions
    from battletest.load.scenario import Endpoint
    from battletest.load.thresholds import Threshold, parse_threshold

_EXPORTS = {
    "EXECUTORS": "executors",
    "Endpoint": "scenario",
    "ExecutorSpec": "executors",
    "LiveStats": "coordinator",
    "LoadResult": "result",
    "LoadSettings": "options",
    "Stage": "executors",
    "TLSOptions": "runtime",
    "Threshold": "thresholds",
    "parse_threshold": "thresholds",
    "run": "coordinator",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'battletest.load' has no attribute {name!r}")
    return getattr(importlib.import_module(f"battletest.load.{module}"), name)


__all__ = [
    "EXECUTORS",
    "Endpoint",
    "ExecutorSpec",
    "LiveStats",
    "LoadResult",
    "LoadSettings",
    "Stage",
    "TLSOptions",
    "Threshold",
    "parse_threshold",
    "run",
]
