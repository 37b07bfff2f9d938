"""Quality gates: data in ``[gates]``, each evaluated into a pass/fail row beside its limit.

A gate is a name, a limit, and a function measuring a value from the suite results. A gate that
cannot be measured (no cases ran) is a row with ``passed = None`` and a reason — never a failure.
To add a gate, add a field to ``GatesConfig`` and a row to ``GATES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from battletest.results import GateResult, Status, SuiteResult


class GatesConfig(BaseModel):
    """``[gates]``: limits the run must hold. ``None`` switches a gate off."""

    model_config = ConfigDict(extra="forbid")

    max_failed_cases: int | None = Field(
        default=0, ge=0, description="Most failed or errored cases allowed (default 0)."
    )
    min_success_rate: float | None = Field(
        default=95.0,
        ge=0,
        le=100,
        description="Lowest percentage of executed cases that must pass (default 95).",
    )


@dataclass(frozen=True, slots=True)
class Measurement:
    value: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Gate:
    """One gate: its config field, how to measure it, and which way the limit points."""

    name: str
    field: str
    measure: Callable[[list[SuiteResult]], Measurement]
    at_most: bool  # True: measured <= limit passes; False: measured >= limit passes


def _failed_cases(suites: list[SuiteResult]) -> Measurement:
    cases = [c for s in suites for c in s.cases]
    if not cases:
        return Measurement(None, "no cases ran")
    return Measurement(float(sum(c.status in (Status.FAILED, Status.ERROR) for c in cases)))


def _success_rate(suites: list[SuiteResult]) -> Measurement:
    executed = [c for s in suites for c in s.cases if c.status is not Status.SKIPPED]
    if not executed:
        return Measurement(None, "no cases were executed")
    passed = sum(c.status is Status.PASSED for c in executed)
    return Measurement(round(100.0 * passed / len(executed), 2))


GATES: tuple[Gate, ...] = (
    Gate("no_failed_cases", "max_failed_cases", _failed_cases, at_most=True),
    Gate("success_rate", "min_success_rate", _success_rate, at_most=False),
)


def evaluate_gates(suites: list[SuiteResult], config: GatesConfig) -> list[GateResult]:
    """Evaluate every enabled gate against the suite results."""
    rows: list[GateResult] = []
    for gate in GATES:
        limit = getattr(config, gate.field)
        if limit is None:
            continue
        m = gate.measure(suites)
        if m.value is None:
            rows.append(GateResult(name=gate.name, limit=limit, passed=None, reason=m.reason))
            continue
        measured: float | int = int(m.value) if m.value.is_integer() else m.value
        ok = measured <= limit if gate.at_most else measured >= limit
        op = "<=" if gate.at_most else ">="
        reason = f"{measured} {op} {limit}" if ok else f"{measured} is not {op} {limit}"
        rows.append(
            GateResult(name=gate.name, limit=limit, measured=measured, passed=ok, reason=reason)
        )
    return rows


__all__ = ["GATES", "Gate", "GatesConfig", "Measurement", "evaluate_gates"]
