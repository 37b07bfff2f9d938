"""The ``load`` suite for ``battletest run``: settings in, ``SuiteResult`` out.

Metrics are ``LoadResult.metrics()``; each threshold becomes a ``Case`` (and, through
``thresholds_to_gates``, a gate row). When a run folder is given, the merged latency histogram
is saved there as ``load-latency.hdr``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from battletest.load.coordinator import Progress, run
from battletest.load.options import LoadSettings
from battletest.load.result import LoadResult
from battletest.results import Case, GateResult, Status, SuiteResult

SUITE = "load"


def run_load_suite(
    base_url: str,
    settings: LoadSettings | dict[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    run_dir: str | Path | None = None,
) -> SuiteResult:
    """Run the profile's load scenario against ``base_url`` and report it as a suite."""
    resolved = LoadSettings.coerce(settings)
    started = time.monotonic()
    result = run(base_url, progress=progress, run_dir=run_dir, **resolved.run_kwargs(base_url))
    return suite_result(result, time.monotonic() - started)


def suite_result(result: LoadResult, duration_s: float) -> SuiteResult:
    cases = [
        Case(
            name=f"threshold {row.threshold}",
            status={True: Status.PASSED, False: Status.FAILED, None: Status.SKIPPED}[row.passed],
            message=row.line,
            details={"measured": row.measured, "threshold": row.threshold},
        )
        for row in result.thresholds
    ]
    if not cases:
        ok = result.requests > 0
        cases.append(
            Case(
                name="load completed",
                status=Status.PASSED if ok else Status.ERROR,
                message=f"{result.requests} requests, {result.failed} failed",
            )
        )
    metrics = result.metrics()
    metrics["threshold_results"] = [row.to_dict() for row in result.thresholds]
    message = "; ".join(result.warnings)
    if result.interrupted:
        message = "interrupted: partial result" + (f"; {message}" if message else "")
    return SuiteResult.from_cases(SUITE, cases, duration_s, metrics=metrics, message=message)


def thresholds_to_gates(result: SuiteResult | LoadResult) -> list[GateResult]:
    """One gate row per threshold, with the measured value beside the limit."""
    if isinstance(result, LoadResult):
        rows = [row.to_dict() for row in result.thresholds]
    else:
        rows = list(result.metrics.get("threshold_results", []))
    return [
        GateResult(
            name=f"load: {row['threshold']}",
            limit=row["threshold"],
            measured=row["measured"],
            passed=row["passed"],
            reason=row["line"],
        )
        for row in rows
    ]
