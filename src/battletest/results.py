"""The result model every suite returns, and the report.json document built from it.

Nothing else crosses subsystem borders: a suite produces a ``SuiteResult`` (cases, metrics,
findings), gates produce ``GateResult`` rows, and ``Report.build`` derives the summary and the
flattened views that report.json carries. The JSON schema of ``Report`` is versioned
(``SCHEMA_VERSION``) and committed under ``src/battletest/schemas/``.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from battletest.errors import UsageError, validated

SCHEMA_VERSION = "1.0"


class Status(StrEnum):
    """Outcome of a case or a suite."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"  # the tool could not run the case (not a finding about the API)


class Severity(StrEnum):
    """Severity of a security finding, ordered from least to most severe."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Confidence(StrEnum):
    TENTATIVE = "tentative"
    FIRM = "firm"
    CONFIRMED = "confirmed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=False)


class Case(_Model):
    """One test case: an operation checked, a pytest test, a threshold, a check on an operation."""

    name: str
    status: Status
    duration_ms: float = 0.0
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    reproduce: str | None = None  # a curl command (or pytest node id) that reproduces a failure
    suite: str | None = None  # filled in by Report.build for the flattened views


class Finding(_Model):
    """Something about the API (not about the tool), with a severity and proof."""

    check_id: str
    title: str
    severity: Severity
    confidence: Confidence = Confidence.CONFIRMED
    owasp: str | None = None  # e.g. "API1:2023"
    cwe: str | None = None  # e.g. "CWE-639"
    method: str | None = None
    path: str | None = None
    parameter: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    reproduce: str | None = None
    remediation: str = ""


class SuiteResult(_Model):
    """What one suite (contract, auth, errors, pytest, load, security, resilience) returns."""

    name: str
    status: Status
    duration_s: float = 0.0
    cases: list[Case] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    message: str = ""

    @classmethod
    def from_cases(
        cls, name: str, cases: list[Case], duration_s: float, **extra: Any
    ) -> SuiteResult:
        """A suite's status from its cases: failed if any failed or errored."""
        if any(c.status in (Status.FAILED, Status.ERROR) for c in cases):
            status = Status.FAILED
        elif cases and all(c.status is Status.SKIPPED for c in cases):
            status = Status.SKIPPED
        else:
            status = Status.PASSED
        return cls(name=name, status=status, duration_s=duration_s, cases=cases, **extra)


class GateResult(_Model):
    """One quality gate evaluated: the limit, the measured value and whether it held.

    ``passed`` is ``None`` when the value could not be measured; that is never a failure.
    """

    name: str
    limit: Any
    measured: Any = None
    passed: bool | None
    reason: str = ""
    # for a row that did not pass: what its state means and what to change (quality.advice)
    advice: str = ""


class RunInfo(_Model):
    id: str
    started_at: datetime
    finished_at: datetime | None = None
    version: str
    target: str | None = None
    profile: str = "default"
    mode: str = "LIVE_SMOKE"
    seed: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)  # resolved, secrets redacted
    interrupted: bool = False
    notes: list[str] = Field(default_factory=list)


class Summary(_Model):
    total_tests: int
    passed: int
    failed: int
    skipped: int
    errors: int
    success_rate: float  # percent of executed (non-skipped) cases that passed
    total_duration_ms: float
    average_test_duration_ms: float
    # "interrupted": Ctrl-C or SIGTERM stopped the run; the report holds what was done
    verdict: Literal["pass", "fail", "interrupted"]


class PerformanceMetrics(_Model):
    min_duration_ms: float
    max_duration_ms: float
    avg_duration_ms: float
    p50_duration_ms: float
    p95_duration_ms: float
    p99_duration_ms: float


_RUN_FOLDER = "pass a run folder written by battletest run (it holds report.json)"


class Report(_Model):
    """The report.json document."""

    schema_version: str = SCHEMA_VERSION
    run: RunInfo
    summary: Summary
    suites: list[SuiteResult]
    test_results: list[Case]
    failed_tests: list[Case]
    performance_metrics: PerformanceMetrics
    gates: list[GateResult]

    @classmethod
    def build(cls, run: RunInfo, suites: list[SuiteResult], gates: list[GateResult]) -> Report:
        """Derive the summary and flattened views from suites and evaluated gates."""
        flat = [c.model_copy(update={"suite": s.name}) for s in suites for c in s.cases]
        counts = {st: sum(1 for c in flat if c.status is st) for st in Status}
        executed = len(flat) - counts[Status.SKIPPED]
        success = 100.0 * counts[Status.PASSED] / executed if executed else 100.0
        durations = sorted(c.duration_ms for c in flat if c.status is not Status.SKIPPED)
        total_ms = sum(s.duration_s for s in suites) * 1000.0
        verdict: Literal["pass", "fail", "interrupted"] = (
            "interrupted"
            if run.interrupted
            else "fail"
            if any(g.passed is False for g in gates)
            else "pass"
        )
        summary = Summary(
            total_tests=len(flat),
            passed=counts[Status.PASSED],
            failed=counts[Status.FAILED],
            skipped=counts[Status.SKIPPED],
            errors=counts[Status.ERROR],
            success_rate=round(success, 2),
            total_duration_ms=round(total_ms, 3),
            average_test_duration_ms=round(statistics.fmean(durations), 3) if durations else 0.0,
            verdict=verdict,
        )
        return cls(
            run=run,
            summary=summary,
            suites=suites,
            test_results=flat,
            failed_tests=[c for c in flat if c.status in (Status.FAILED, Status.ERROR)],
            performance_metrics=_performance(durations),
            gates=gates,
        )

    @classmethod
    def load(cls, path: Path) -> Report:
        """A run folder's report.json (or the file itself); a missing or malformed file is one
        ``UsageError`` line naming the file and what is wrong with it."""
        path = path / "report.json" if path.is_dir() else path
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError:  # missing, or not a file
            raise UsageError(f"{path} does not exist", hint=_RUN_FOLDER) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{path} is not a battletest report: it is not JSON ({exc})",
                hint="re-run battletest run",
            ) from None
        return validated(
            cls,
            raw,
            f"{path} is not a battletest report: " + "{where}: {problem}",
            hint="pass the report.json of a battletest run",
            error=UsageError,
        )


def _performance(durations: list[float]) -> PerformanceMetrics:
    if not durations:
        return PerformanceMetrics(
            min_duration_ms=0,
            max_duration_ms=0,
            avg_duration_ms=0,
            p50_duration_ms=0,
            p95_duration_ms=0,
            p99_duration_ms=0,
        )

    def pct(q: float) -> float:
        # nearest-rank percentile over the sorted durations
        k = max(0, min(len(durations) - 1, round(q / 100 * len(durations) + 0.5) - 1))
        return round(durations[k], 3)

    return PerformanceMetrics(
        min_duration_ms=round(durations[0], 3),
        max_duration_ms=round(durations[-1], 3),
        avg_duration_ms=round(statistics.fmean(durations), 3),
        p50_duration_ms=pct(50),
        p95_duration_ms=pct(95),
        p99_duration_ms=pct(99),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "SCHEMA_VERSION",
    "Case",
    "Confidence",
    "Finding",
    "GateResult",
    "PerformanceMetrics",
    "Report",
    "RunInfo",
    "Severity",
    "Status",
    "SuiteResult",
    "Summary",
    "utcnow",
]
