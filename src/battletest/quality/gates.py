"""Quality gates: data in ``[gates]``, each evaluated into a pass/fail row beside its limit.

A gate is a name, a limit, the suite it reads (its *source*) and a function measuring a value
from the suite results. A gate never passes without input:

- its source suite was not enabled (or the run did not start it: a production profile, the
  timeout) → ``passed = None``, "not measured" — a failure only when ``[gates] required`` names
  the gate (or its limit is written ``{ limit = …, required = true }``);
- its source suite ran but gave no usable input — it errored, every case was skipped or
  inconclusive, or the security scan's conclusive share is below ``min_conclusive_percent`` —
  → ``passed = False``: the run fails (exit 1).

To add a gate, add a field to ``GatesConfig`` and a row to ``GATES``.

What the gates read from the suites (the contract with the suites that produce it):

- coverage: a suite's ``metrics["coverage"] = {"line": percent, "branch": percent}`` (the
  ``pytest`` suite, from coverage.py over the user's own tests);
- security: every suite's ``findings`` (a ``security`` suite that ran with no finding passes
  when enough of its check runs were conclusive: its cases' ``details["conclusive"]``);
- operations exercised: each suite's ``metrics["operations"]`` (``tried_operations``,
  ``exercised_operations``, ``not_run``; written by ``battletest.suites.evidence``);
- suite results: every suite's status and cases (``suite_results``: each enabled suite gave
  results that were not all skipped or inconclusive, and did not error);
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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from battletest.errors import UsageError
from battletest.quality.advice import advise
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
    min_conclusive_percent: float | None = _percent(
        90.0, "Lowest percentage of the security scan's check runs that must be conclusive"
    )
    min_exercised_percent: float | None = _percent(
        80.0,
        "Lowest percentage of the operations tried that must get a documented success answer "
        "(operations the write policy did not run are left out)",
    )
    suite_results: bool | None = Field(
        default=True,
        description="Every suite that ran must give results: not errored, not every case "
        "skipped or inconclusive.",
    )
    required: list[str] = Field(
        default_factory=list,
        description="Gates that fail when they cannot be measured (their suite did not run), "
        'by row name, e.g. ["line_coverage", "max_severity"]. A limit written as '
        "{ limit = 80, required = true } does the same.",
    )

    @model_validator(mode="before")
    @classmethod
    def _inline_required(cls, data: Any) -> Any:
        """``min_line_coverage = { limit = 80, required = true }`` → the limit, and the gate's
        row name in ``required``."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        required = list(out.get("required") or [])
        for key, value in data.items():
            if isinstance(value, dict) and "limit" in value:
                extra = set(value) - {"limit", "required"}
                if extra:
                    raise ValueError(f"{key}: unknown key {', '.join(sorted(extra))}")
                out[key] = value["limit"]
                row = ROW_OF_FIELD.get(key, key)
                if value.get("required") and row not in required:
                    required.append(row)
        if required:
            out["required"] = required
        return out

    @field_validator("required")
    @classmethod
    def _known_rows(cls, v: list[str]) -> list[str]:
        unknown = [n for n in v if n not in ROW_OF_FIELD.values()]
        if unknown:
            raise ValueError(
                f"unknown gate {', '.join(unknown)} (gates: {', '.join(ROW_OF_FIELD.values())})"
            )
        return v


@dataclass(frozen=True, slots=True)
class Measurement:
    value: float | None
    reason: str = ""
    failed: bool = False  # no value although the suite ran to give one: the gate fails


@dataclass(frozen=True, slots=True)
class Context:
    """What a gate may read besides the suites."""

    flaky_tests: Collection[str] | None = None
    min_conclusive: float | None = None  # [gates] min_conclusive_percent (max_severity reads it)


@dataclass(frozen=True, slots=True)
class Gate:
    """One gate: its config field, how to measure it, and which way the limit points."""

    name: str
    field: str
    measure: Callable[[list[SuiteResult]], Measurement]
    at_most: bool  # True: measured <= limit passes; False: measured >= limit passes
    judge: Callable[[list[SuiteResult], Any, Context], GateResult | None] | None = None
    source: str | None = None  # the suite it reads; None: every suite


def usable(suite: SuiteResult) -> str | None:
    """Why a suite that ran gave no usable input (None when it did): it errored, or every case
    was skipped or inconclusive."""
    if suite.status is Status.ERROR:
        return f"the {suite.name} suite errored: {suite.message or _first(suite, Status.ERROR)}"
    crashed = [
        c for c in suite.cases if c.status is Status.ERROR and c.name == f"{suite.name} suite"
    ]
    if crashed:
        return f"the {suite.name} suite errored: {crashed[0].message}"
    if suite.cases and all(c.status is Status.SKIPPED for c in suite.cases):
        inconclusive = sum(c.details.get("outcome") == "inconclusive" for c in suite.cases)
        what = (
            f"{inconclusive} inconclusive, {len(suite.cases) - inconclusive} skipped"
            if inconclusive
            else "skipped"
        )
        return (
            f"every case of the {suite.name} suite was skipped or inconclusive "
            f"({len(suite.cases)}: {what}; first: {_first(suite, Status.SKIPPED)})"
        )
    return None


def not_run(suite: SuiteResult) -> bool:
    """The run did not start this suite (a production profile, the timeout, Ctrl-C, or a
    default-enabled suite with nothing configured): a result without cases, skipped."""
    return suite.status is Status.SKIPPED and not suite.cases


def _first(suite: SuiteResult, status: Status) -> str:
    case = next((c for c in suite.cases if c.status is status), None)
    return (case.message or case.name)[:160] if case is not None else "no message"


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
        note = next((s.metrics.get("coverage_note") for s in suites if s.name == "pytest"), None)
        if note:  # coverage was on and measured nothing: the suite gave no input
            return Measurement(None, str(note), failed=True)
        return Measurement(None, f"no {kind} coverage measured (the pytest suite measured none)")

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


def conclusive_share(suites: list[SuiteResult]) -> tuple[int, int] | None:
    """(conclusive, all) check runs of the security suite; None when it did not run."""
    security = next((s for s in suites if s.name == "security" and not not_run(s)), None)
    if security is None:
        return None
    runs = security.cases
    # a check run says whether it decided (``details["conclusive"]``); a case without the flag
    # decided when it was not skipped (a finding's case fails, a clean one passes)
    conclusive = sum(
        c.details.get("conclusive", c.status is not Status.SKIPPED) is True
        or c.status is Status.FAILED
        for c in runs
    )
    return conclusive, len(runs)


def _judge_conclusive(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    name = "security_conclusive"
    share = conclusive_share(suites)
    if share is None:
        return GateResult(name=name, limit=limit, passed=None, reason="no security suite ran")
    conclusive, runs = share
    if not runs:
        return GateResult(
            name=name,
            limit=limit,
            measured=0,
            passed=False,
            reason="the security suite ran no check",
        )
    pct = round(100.0 * conclusive / runs, 2)
    ok = pct >= float(limit)
    return GateResult(
        name=name,
        limit=limit,
        measured=pct,
        passed=ok,
        reason=f"{conclusive}/{runs} check runs conclusive"
        + ("" if ok else f", below {limit:g}% (the rest decided nothing: see their messages)"),
    )


def _judge_severity(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    allowed = Severity(limit)
    findings = [f for s in suites for f in s.findings]
    ran_security = any(s.name == "security" and not not_run(s) for s in suites)
    if not findings and not ran_security:
        return GateResult(
            name="max_severity", limit=allowed.value, passed=None, reason="no security suite ran"
        )
    share = conclusive_share(suites)
    floor = ctx.min_conclusive
    if not findings and share is not None and floor is not None:
        conclusive, runs = share
        if not runs or 100.0 * conclusive / runs < floor:
            return GateResult(
                name="max_severity",
                limit=allowed.value,
                passed=None,
                reason=f"not measured: no findings, but only {conclusive}/{runs} check runs "
                "were conclusive (see security_conclusive)",
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


def _judge_exercised(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    """The union over the suites of ``metrics["operations"]``: operations tried, those that got
    a documented success, and those the write policy did not run (left out, listed)."""
    name = "exercised_operations"
    tried: set[str] = set()
    exercised: set[str] = set()
    refused: dict[str, str] = {}
    seen = False
    for s in suites:
        ops = s.metrics.get("operations")
        if not isinstance(ops, dict):
            continue
        seen = True
        tried.update(ops.get("tried_operations") or [])
        exercised.update(ops.get("exercised_operations") or [])
        for label, why in (ops.get("not_run") or {}).items():
            refused.setdefault(str(label), str(why))
    not_run_ops = sorted(set(refused) - tried)
    left_out = (
        f"; not run by the write policy (left out): {', '.join(not_run_ops)}" if not_run_ops else ""
    )
    if not seen:
        return GateResult(
            name=name, limit=limit, passed=None, reason="no contract, auth or errors suite ran"
        )
    if not tried:
        return GateResult(
            name=name,
            limit=limit,
            measured=0,
            passed=False,
            reason="no operation was tried" + left_out,
        )
    pct = round(100.0 * len(exercised & tried) / len(tried), 2)
    ok = pct >= float(limit)
    missing = sorted(tried - exercised)
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    reason = f"{len(exercised & tried)}/{len(tried)} operations tried got a documented success"
    if missing:
        reason += f"; never: {shown}"
    return GateResult(name=name, limit=limit, measured=pct, passed=ok, reason=reason + left_out)


def _judge_suite_results(suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult:
    name = "suite_results"
    ran = [s for s in suites if not not_run(s)]
    if not ran:
        return GateResult(name=name, limit=True, passed=None, reason="no suite ran")
    problems = [p for p in (usable(s) for s in ran) if p]
    skipped = [s.name for s in suites if not_run(s)]
    note = f"; not run: {', '.join(skipped)}" if skipped else ""
    return GateResult(
        name=name,
        limit=True,
        measured=f"{len(ran) - len(problems)}/{len(ran)} gave results",
        passed=not problems,
        reason=("; ".join(problems) if problems else "every suite that ran gave results") + note,
    )


GATES: tuple[Gate, ...] = (
    Gate("suite_results", "suite_results", _no_measure, True, _judge_suite_results),
    Gate("no_failed_cases", "max_failed_cases", _failed_cases, at_most=True),
    Gate("success_rate", "min_success_rate", _success_rate, at_most=False),
    Gate("exercised_operations", "min_exercised_percent", _no_measure, False, _judge_exercised),
    Gate("line_coverage", "min_line_coverage", _coverage("line"), False, source="pytest"),
    Gate("branch_coverage", "min_branch_coverage", _coverage("branch"), False, source="pytest"),
    Gate("max_severity", "max_severity", _no_measure, True, _judge_severity, "security"),
    Gate(
        "security_conclusive",
        "min_conclusive_percent",
        _no_measure,
        False,
        _judge_conclusive,
        "security",
    ),
    Gate("flakiness_budget", "max_flaky_percent", _no_measure, at_most=True, judge=_judge_flaky),
    Gate("load_error_rate", "max_load_error_rate", _load_error_rate, True, source="load"),
    Gate("load_thresholds", "load_thresholds", _no_measure, True, _judge_thresholds, "load"),
    Gate("perf_regression", "", _no_measure, at_most=True, judge=_judge_regression),
)
# row name of each [gates] field (what `required` names)
ROW_OF_FIELD: dict[str, str] = {
    "max_failed_cases": "no_failed_cases",
    "min_success_rate": "success_rate",
    "min_exercised_percent": "exercised_operations",
    "min_line_coverage": "line_coverage",
    "min_branch_coverage": "branch_coverage",
    "max_severity": "max_severity",
    "min_conclusive_percent": "security_conclusive",
    "max_flaky_percent": "flakiness_budget",
    "max_load_error_rate": "load_error_rate",
    "load_thresholds": "load_thresholds",
    "suite_results": "suite_results",
}


def evaluate_gates(
    suites: list[SuiteResult],
    config: GatesConfig,
    *,
    flaky_tests: Collection[str] | None = None,
) -> list[GateResult]:
    """Evaluate every enabled gate against the suite results.

    ``flaky_tests``: test ids the history knows as flaky; without it the flakiness budget
    reads ``passed: null``. A gate whose source suite gave no usable input fails; one whose
    source suite did not run is not measured, and fails when ``config.required`` names it.
    Each row that did not pass carries its ``advice`` (``battletest.quality.advice``).
    """
    ctx = Context(flaky_tests=flaky_tests, min_conclusive=config.min_conclusive_percent)
    rows: list[GateResult] = []
    for gate in GATES:
        limit = getattr(config, gate.field) if gate.field else True
        if limit is None:
            continue
        row = _evaluate(gate, suites, limit, ctx)
        if row is None:
            continue
        required = row.passed is None and gate.name in config.required
        if required:
            row = row.model_copy(
                update={"passed": False, "reason": f"required but not measured: {row.reason}"}
            )
        if row.passed is not True and not row.advice:
            problems = [p for p in (usable(s) for s in suites if not not_run(s)) if p]
            line = advise(row, suites, source=gate.source, required=required, problems=problems)
            row = row.model_copy(update={"advice": line})
        rows.append(row)
    return rows


def _evaluate(gate: Gate, suites: list[SuiteResult], limit: Any, ctx: Context) -> GateResult | None:
    if gate.source is not None:
        source = next((s for s in suites if s.name == gate.source), None)
        if source is None or not_run(source):
            why = source.message if source is not None and source.message else "not enabled"
            why = why.removeprefix("not run: ")
            return GateResult(
                name=gate.name,
                limit=_shown(limit),
                passed=None,
                reason=f"the {gate.source} suite did not run ({why})",
            )
        problem = usable(source)
        if problem is not None:
            return GateResult(
                name=gate.name, limit=_shown(limit), passed=False, reason=f"no input: {problem}"
            )
    if gate.judge is not None:
        return gate.judge(suites, limit, ctx)
    m = gate.measure(suites)
    if m.value is None:
        passed = False if m.failed else None
        return GateResult(name=gate.name, limit=limit, passed=passed, reason=m.reason)
    measured: float | int = int(m.value) if m.value.is_integer() else m.value
    ok = measured <= limit if gate.at_most else measured >= limit
    op = "<=" if gate.at_most else ">="
    reason = f"{measured} {op} {limit}" if ok else f"{measured} is not {op} {limit}"
    return GateResult(name=gate.name, limit=limit, measured=measured, passed=ok, reason=reason)


def _shown(limit: Any) -> Any:
    return limit.value if isinstance(limit, Severity) else limit


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
    "conclusive_share",
    "evaluate_gates",
    "evaluate_report",
    "not_run",
    "usable",
]
