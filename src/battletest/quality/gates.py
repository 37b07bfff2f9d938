"""Quality gates: data in ``[gates]``, each evaluated into a pass/fail row beside its limit.

A gate is a name, a limit, and a function measuring a value from the suite results. A gate that
cannot be measured (no cases ran, no coverage, no security or load suite, no history) is a row
with ``passed = None`` and a reason — never a failure. To add a gate, add a field to
``GatesConfig`` and a row to ``GATES``.

What the gates read from the suites (the contract with the suites that produce it):

- coverage: a suite's ``metrics["coverage"] = {"line": percent, "branch": percent}`` (the
  ``pytest`` suite, from coverage.py over the user's own tests);
- security: every suite's ``findings`` (a ``security`` suite that ran with no finding passes);
- load: the ``load`` suite's ``metrics["error_rate"]`` (a fraction) and
  ``metrics["threshold_results"]`` (rows with ``passed``);
- regression: the ``load`` suite's ``metrics["baseline"]`` (``battletest.perf`` comparison:
  ``regressions``, ``passed``, ``rows``);
- flakiness: the test ids the history store knows as flaky (``evaluate_gates(...,
  flaky_tests=...)``; ``battletest gate`` reads them from the store).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from battletest.errors import UsageError
from battletest.results import GateResult, Report, Severity, Status, SuiteResult


def _percent(default: float, what: str) -> Any:
    """A gate on a percentage (0 to 100); its description ends with the default."""
    return Field(default=default, ge=0, le=100, description=f"{what} (default {default:g}).")


class GatesConfig(BaseModel):
    """``[gates]``: limits the run must hold. ``None`` switches a gate off."""

    model_config = ConfigDict(extra="forbid")

    max_failed_cases: int | None = Field(
        default=0, ge=0, description="Most failed or errored cases allowed (default 0)."
    )
    min_success_rate: float | None = _percent(
        95.0, "Lowest percentage of executed cases that must pass"
    )
    min_line_coverage: float | None = _percent(80.0, "Lowest line coverage percent")
    min_branch_coverage: float | None = _percent(80.0, "Lowest branch coverage percent")
    max_severity: Severity | None = Field(
        default=Severity.MEDIUM,
        description="Highest security finding severity allowed (default medium).",
    )
    max_flaky_percent: float | None = _percent(
        5.0, "Flakiness budget: most percent of the run's tests known flaky"
    )
    max_load_error_rate: float | None = _percent(5.0, "Most percent of load requests failing")
    load_thresholds: bool | None = Field(
        default=True, description="Every load threshold (p95 < 300ms, …) must hold."
    )


@dataclass(frozen=True, slots=True)
class Measurement:
    value: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    """What a gate may read besides the suites."""

    flaky_tests: Collection[str] | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    """One gate: its config field, how to measure it, and which way the limit points."""

    name: str
    field: str
    measure: Callable[[list[SuiteResult]], Measurement]
    at_most: bool  # True: measured <= limit passes; False: measured >= limit passes
    judge: Callable[[list[SuiteResult], Any, Context], GateResult | None] | None = None


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


def _coverage(kind: str) -> Callable[[list[SuiteResult]], Measurement]:
    def measure(suites: list[SuiteResult]) -> Measurement:
        for s in suites:
            cov = s.metrics.get("coverage")
            if isinstance(cov, dict) and isinstance(cov.get(kind), int | float):
                return Measurement(round(float(cov[kind]), 2))
        return Measurement(None, f"no {kind} coverage measured (the pytest suite did not run)")

    return measure


def _load_error_rate(suites: list[SuiteResult]) -> Measurement:
    for s in suites:
        if s.name == "load" and isinstance(s.metrics.get("error_rate"), int | float):
            if not s.metrics.get("requests"):
                return Measurement(None, "the load suite sent no requests")
            return Measurement(round(100.0 * float(s.metrics["error_rate"]), 3))
    return Measurement(None, "no load suite ran")


def _no_measure(suites: list[SuiteResult]) -> Measurement:
    return Measurement(None)


def _judge_severity(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    allowed = Severity(limit)
    findings = [f for s in suites for f in s.findings]
    ran_security = any(s.name == "security" for s in suites)
    if not findings and not ran_security:
        return GateResult(
            name="max_severity", limit=allowed.value, passed=None, reason="no security suite ran"
        )
    if not findings:
        return GateResult(
            name="max_severity",
            limit=allowed.value,
            measured="none",
            passed=True,
            reason="no findings",
        )
    worst = max((f.severity for f in findings), key=lambda s: s.rank)
    ok = worst.rank <= allowed.rank
    over = sum(f.severity.rank > allowed.rank for f in findings)
    reason = (
        f"highest finding is {worst.value}"
        if ok
        else f"{over} finding(s) above {allowed.value} (highest {worst.value})"
    )
    return GateResult(
        name="max_severity", limit=allowed.value, measured=worst.value, passed=ok, reason=reason
    )


def _judge_flaky(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    if ctx.flaky_tests is None:
        return GateResult(
            name="flakiness_budget", limit=limit, passed=None, reason="no history store to read"
        )
    names = [(s.name, c.name) for s in suites for c in s.cases]
    if not names:
        return GateResult(name="flakiness_budget", limit=limit, passed=None, reason="no cases ran")
    known = set(ctx.flaky_tests)
    flaky = sum(1 for suite, name in names if name in known or f"{suite}::{name}" in known)
    pct = round(100.0 * flaky / len(names), 2)
    ok = pct <= float(limit)
    return GateResult(
        name="flakiness_budget",
        limit=limit,
        measured=pct,
        passed=ok,
        reason=f"{flaky} of {len(names)} tests known flaky",
    )


def _judge_thresholds(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    if not limit:
        return GateResult(name="load_thresholds", limit=limit, passed=None, reason="switched off")
    load = next((s for s in suites if s.name == "load"), None)
    rows = list(load.metrics.get("threshold_results", [])) if load is not None else []
    if load is None:
        return GateResult(
            name="load_thresholds", limit=True, passed=None, reason="no load suite ran"
        )
    judged = [r for r in rows if isinstance(r, dict) and r.get("passed") is not None]
    if not judged:
        return GateResult(
            name="load_thresholds", limit=True, passed=None, reason="no load threshold was measured"
        )
    failed = [str(r.get("threshold")) for r in judged if r.get("passed") is False]
    return GateResult(
        name="load_thresholds",
        limit=True,
        measured=f"{len(judged) - len(failed)}/{len(judged)} held",
        passed=not failed,
        reason=f"failed: {', '.join(failed)}" if failed else "every threshold held",
    )


def _judge_regression(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult | None:
    """The load suite's ``metrics["baseline"]`` (written by ``battletest.perf``); a row only
    when a comparison was made, so it needs no ``[gates]`` switch (delete the baseline)."""
    name = "perf_regression"
    load = next((s for s in suites if s.name == "load"), None)
    cmp = load.metrics.get("baseline") if load is not None else None
    if not isinstance(cmp, dict):
        return None  # no row: nothing was compared (no load suite, or no baseline saved)
    n = int(cmp.get("regressions") or 0)
    over = cmp.get("cost_per_1k") is not None and cmp.get("passed") is False and n == 0
    worst = [
        f"{r['scope']} {r['metric']} {r['change_pct']:+.1f}%"
        for r in cmp.get("rows", [])
        if isinstance(r, dict) and r.get("verdict") == "regression"
    ]
    reason = (
        f"regressed: {', '.join(worst[:4])}"
        if worst
        else ("over the cost ceiling" if over else f"score {cmp.get('score')}/100, no regression")
    )
    return GateResult(name=name, limit=0, measured=n, passed=n == 0 and not over, reason=reason)


GATES: tuple[Gate, ...] = (
    Gate("no_failed_cases", "max_failed_cases", _failed_cases, at_most=True),
    Gate("success_rate", "min_success_rate", _success_rate, at_most=False),
    Gate("line_coverage", "min_line_coverage", _coverage("line"), at_most=False),
    Gate("branch_coverage", "min_branch_coverage", _coverage("branch"), at_most=False),
    Gate("max_severity", "max_severity", _no_measure, at_most=True, judge=_judge_severity),
    Gate("flakiness_budget", "max_flaky_percent", _no_measure, at_most=True, judge=_judge_flaky),
    Gate("load_error_rate", "max_load_error_rate", _load_error_rate, at_most=True),
    Gate("load_thresholds", "load_thresholds", _no_measure, at_most=True, judge=_judge_thresholds),
    Gate("perf_regression", "", _no_measure, at_most=True, judge=_judge_regression),
)


def evaluate_gates(
    suites: list[SuiteResult],
    config: GatesConfig,
    *,
    flaky_tests: Collection[str] | None = None,
) -> list[GateResult]:
    """Evaluate every enabled gate against the suite results.

    ``flaky_tests``: test ids the history knows as flaky; without it the flakiness budget
    reads ``passed: null``.
    """
    ctx = Context(flaky_tests=flaky_tests)
    rows: list[GateResult] = []
    for gate in GATES:
        limit = getattr(config, gate.field) if gate.field else True
        if limit is None:
            continue
        if gate.judge is not None:
            row = gate.judge(suites, limit, ctx)
            if row is not None:
                rows.append(row)
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


def evaluate_report(
    run_folder: Path,
    *,
    history: Any = None,
    config: GatesConfig | None = None,
    policy: Any = None,
) -> list[GateResult]:
    """Re-evaluate a run folder's gates, with the limits the run was configured with.

    ``history``: an open ``HistoryStore`` to read flaky tests from (or None); ``policy``: the
    ``FlakyPolicy`` to judge them by (default: the defaults).
    """
    report = Report.load(run_folder)
    if config is None:
        raw = report.run.config.get("gates")
        try:
            config = GatesConfig.model_validate(raw) if isinstance(raw, dict) else GatesConfig()
        except ValidationError as exc:
            raise UsageError(
                f"the [gates] recorded in {run_folder} are invalid: {exc.errors()[0]['msg']}",
                hint="fix [gates] in battletest.toml and re-run",
            ) from exc
    flaky: Collection[str] | None = None
    if history is not None:
        from battletest.quality.flaky import analyse

        flaky = {h.test_id for h in analyse(history, policy) if h.flaky}
    return evaluate_gates(report.suites, config, flaky_tests=flaky)


__all__ = [
    "GATES",
    "Context",
    "Gate",
    "GatesConfig",
    "Measurement",
    "evaluate_gates",
    "evaluate_report",
]
