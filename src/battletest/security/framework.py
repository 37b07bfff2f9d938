"""The check framework: check metadata, the per-instance registry, outcomes and the run loop.

A check is a function ``(ctx, op) -> Outcome`` registered on one ``Scanner`` with its metadata
(``@scanner.check(id=..., owasp=..., ...)``); there is no process-global registry. Operation
checks run once per applicable operation, target checks (``applies=None``) once per scan. Every
run yields an ``Outcome``: conclusive or inconclusive (with the reason) and the confirmed findings.
``Scanner.run`` orders checks (passive first, bursts last), merges duplicates across parameters,
applies suppressions and the baseline, and keeps the per-operation conclusiveness.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from battletest.errors import BattletestError, TargetUnreachable, UsageError
from battletest.results import Confidence, Finding, Severity
from battletest.spec import Operation
from battletest.transport import Inconclusive, PolicyRefused, RateLimited

if TYPE_CHECKING:
    from battletest.security.context import ScanContext
    from battletest.transport import Exchange

Applies = Callable[["ScanContext", Operation], bool]
Requires = Callable[["ScanContext"], "str | None"]  # why the check cannot run here, or None


BURST_PHASE = 95  # checks from this phase on send bursts (rate limits, lockouts)


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """What a check is, for the registry, the docs, SARIF rules and suppressions."""

    id: str
    title: str
    owasp: str  # e.g. "API1:2023"
    cwe: str  # e.g. "CWE-639"
    severity: Severity
    group: str
    active: bool = True
    modifies: bool = False  # creates, changes or deletes objects (only the scanner's own)
    applies: Applies | None = None  # None: a target-level check, run once
    phase: int = 50  # lower runs earlier; bursts run last
    remediation: str = ""
    description: str = ""
    requires: Requires | None = None  # a missing input (log source, promised limit) → not run


@dataclass(slots=True)
class Outcome:
    """What one check concluded on one operation (or on the target)."""

    conclusive: bool
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def clean(cls, reason: str = "") -> Outcome:
        return cls(True, reason)

    @classmethod
    def inconclusive(cls, reason: str) -> Outcome:
        return cls(False, reason)

    @classmethod
    def found(cls, *findings: Finding, reason: str = "") -> Outcome:
        return cls(True, reason, list(findings))


CheckFn = Callable[["ScanContext", "Operation | None"], Outcome]
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class Check:
    info: CheckInfo
    run: CheckFn


@dataclass(slots=True)
class CheckRun:
    """The conclusion of one check on one operation, as the report lists it."""

    check_id: str
    target: str  # "GET /items/{id}" or "*" for a target-level check
    conclusive: bool
    reason: str
    findings: int
    duration_ms: float


class Scanner:
    """A set of checks, registered on this instance only."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def check(
        self,
        *,
        id: str,
        title: str,
        owasp: str,
        cwe: str,
        severity: Severity,
        group: str,
        active: bool = True,
        modifies: bool = False,
        applies: Applies | None = None,
        phase: int = 50,
        remediation: str = "",
        description: str = "",
        requires: Requires | None = None,
    ) -> Callable[[CheckFn], CheckFn]:
        """Decorator registering a check function on this scanner."""

        def register(fn: CheckFn) -> CheckFn:
            info = CheckInfo(
                id=id,
                title=title,
                owasp=owasp,
                cwe=cwe,
                severity=severity,
                group=group,
                active=active,
                modifies=modifies,
                applies=applies,
                phase=phase,
                remediation=remediation,
                description=description or (fn.__doc__ or "").strip(),
                requires=requires,
            )
            self.add(Check(info, fn))
            return fn

        return register

    def add(self, check: Check) -> None:
        if check.info.id in self._checks:
            raise ValueError(f"check {check.info.id!r} is registered twice")
        self._checks[check.info.id] = check

    @property
    def checks(self) -> list[Check]:
        return sorted(self._checks.values(), key=lambda c: (c.info.phase, c.info.id))

    def infos(self) -> list[CheckInfo]:
        return [c.info for c in self.checks]

    def select(self, names: Sequence[str], skip: Sequence[str] = ()) -> list[Check]:
        """Checks named by id or group (all when ``names`` is empty), minus ``skip``."""
        known = {c.info.id for c in self.checks} | {c.info.group for c in self.checks}
        for name in [*names, *skip]:
            if name not in known:
                raise UsageError(
                    f"unknown check {name!r}",
                    hint=f"choose from: {', '.join(sorted(known))}",
                )
        chosen = [
            c for c in self.checks if not names or c.info.id in names or c.info.group in names
        ]
        return [c for c in chosen if c.info.id not in skip and c.info.group not in skip]

    def run(self, ctx: ScanContext, progress: Progress | None = None) -> ScanOutcome:
        """Run the selected checks against the context's target.

        ``progress(done, total, check_id)`` is called before each check (the engine never
        prints; the CLI turns these calls into a live line or plain CI lines)."""
        started = time.perf_counter()
        settings = ctx.settings
        selected = self.select(settings.checks, settings.skip_checks)
        runs: list[CheckRun] = []
        raw: list[Finding] = []
        not_run: dict[str, str] = {}
        interrupted = False
        unreachable: str | None = None
        # Ctrl-C anywhere in the loop (inside a check's requests or between checks) ends the
        # scan with what was found so far.
        try:
            for index, check in enumerate(selected):
                info = check.info
                if info.phase >= BURST_PHASE and ctx.created:
                    # the bursts may lock identities out: what the scan created is deleted
                    # first, while its owners can still do it (a later check creates anew)
                    ctx.remove_created()
                if progress is not None:
                    progress(index, len(selected), info.id)
                if info.active and not settings.active_allowed:
                    not_run[info.id] = "active check: the prod profile runs passive checks only"
                    continue
                missing = info.requires(ctx) if info.requires is not None else None
                if missing:
                    not_run[info.id] = missing
                    continue
                targets: list[Operation | None]
                if info.applies is None:
                    targets = [None]
                else:
                    targets = [op for op in ctx.operations if info.applies(ctx, op)]
                for op in targets:
                    t0 = time.perf_counter()
                    ctx.current = info
                    try:
                        outcome = check.run(ctx, op)
                    except (PolicyRefused, Inconclusive) as exc:  # not sent: never a clean pass
                        outcome = Outcome.inconclusive(str(exc))
                    except TargetUnreachable as exc:
                        # a probe the target dropped (a reset, a stall) is this check's
                        # evidence; the scan stops only when the health probe fails too
                        if not still_answers(ctx):
                            unreachable = f"{exc} (and the health probe GET / got no answer)"
                            raise _Stop from None
                        outcome = Outcome.inconclusive(f"the target dropped a probe: {exc}")
                    except BattletestError:
                        raise
                    except Exception as exc:  # a check crashing is a tool error, kept as data
                        outcome = Outcome.inconclusive(f"check error: {type(exc).__name__}: {exc}")
                    runs.append(
                        CheckRun(
                            check_id=info.id,
                            target=op.key if op else "*",
                            conclusive=outcome.conclusive,
                            reason=outcome.reason,
                            findings=len(outcome.findings),
                            duration_ms=(time.perf_counter() - t0) * 1000,
                        )
                    )
                    raw.extend(outcome.findings)
        except KeyboardInterrupt:
            interrupted = True
        except _Stop:
            pass  # the target is gone: what was concluded so far is the result
        ctx.cleanup()
        merged = merge_findings(raw)
        kept, suppressed = apply_suppressions(merged, settings.suppressions)
        return ScanOutcome(
            findings=kept,
            suppressed=suppressed,
            runs=runs,
            not_run=not_run,
            requests=ctx.client.requests,
            duration_s=time.perf_counter() - started,
            checks=[c.info for c in selected],
            interrupted=interrupted,
            unreachable=unreachable,
        )


@dataclass(slots=True)
class ScanOutcome:
    findings: list[Finding]
    suppressed: list[tuple[Finding, str]]
    runs: list[CheckRun]
    not_run: dict[str, str]
    requests: int
    duration_s: float
    checks: list[CheckInfo]
    interrupted: bool = False
    accepted: list[Finding] = field(default_factory=list)  # matched the baseline
    unreachable: str | None = None  # why the scan stopped early: the target stopped answering
    notes: list[str] = field(default_factory=list)  # the transport's: pacing, policy, identities
    paced_s: float = 0.0  # seconds spent waiting for the target's rate limits

    @property
    def inconclusive(self) -> list[CheckRun]:
        return [r for r in self.runs if not r.conclusive]

    def failing(self, threshold: Severity) -> list[Finding]:
        """Findings at or above the threshold that the baseline did not accept."""
        return [f for f in self.findings if f.severity.rank >= threshold.rank]


class _Stop(Exception):
    """The target stopped answering its health probe: end the scan with what it has."""


def still_answers(ctx: ScanContext) -> bool:
    """Whether the target answers ``GET /`` (any status) within ``health_wait_s``, tried at
    growing intervals (0, 0.5, 1, 2, 4, 8 s…): a target busy with one bad probe (a stalled
    single worker, a restart after a crash) answers again soon."""
    budget = ctx.settings.health_wait_s
    wait = 0.0
    while True:
        try:
            ctx.client.send("GET", "/")
        except RateLimited:
            return True  # throttled is answering
        except (TargetUnreachable, Inconclusive):
            if budget <= 0:
                return False
            wait = min(budget, max(0.5, wait * 2))
            budget -= wait
            time.sleep(wait)
            continue
        return True


def make_finding(
    info: CheckInfo,
    op: Operation | None,
    exchange: Exchange | None,
    *,
    secrets: Iterable[str] = (),
    parameter: str | None = None,
    severity: Severity | None = None,
    title: str | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
    confidence: Confidence = Confidence.CONFIRMED,
    path: str | None = None,
) -> Finding:
    """A finding with redacted evidence and a curl command built from the proving exchange."""
    known = list(secrets)
    evidence: dict[str, Any] = exchange.evidence(known, note) if exchange else {"note": note}
    if extra:
        from battletest.redact import redact

        evidence.update(redact(extra, known))
    return Finding(
        check_id=info.id,
        title=title or info.title,
        severity=severity or info.severity,
        confidence=confidence,
        owasp=info.owasp,
        cwe=info.cwe,
        method=op.method if op else (exchange.method if exchange else None),
        path=path or (op.url_path if op else None),
        parameter=parameter,
        evidence=evidence,
        reproduce=exchange.curl(known) if exchange else None,
        remediation=info.remediation,
    )


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per check and operation: parameters are joined, the worst severity kept."""
    merged: dict[tuple[str, str | None, str | None, str | None], Finding] = {}
    for f in findings:
        # target-level findings (no operation) stay apart per parameter (header, origin kind…)
        key = (f.check_id, f.method, f.path, f.parameter if f.path is None else None)
        if key not in merged:
            merged[key] = f.model_copy(deep=True)
            continue
        kept = merged[key]
        params = [p for p in (kept.parameter or "").split(", ") if p]
        if f.parameter and f.parameter not in params:
            params.append(f.parameter)
        kept.parameter = ", ".join(params) or None
        if f.severity.rank > kept.severity.rank:
            kept.severity, kept.title, kept.evidence = f.severity, f.title, f.evidence
            kept.reproduce = f.reproduce
    return sorted(
        merged.values(), key=lambda f: (-f.severity.rank, f.check_id, f.path or "", f.method or "")
    )


def suppression_matches(s: Any, f: Finding) -> bool:
    return (
        (s.check == f.check_id)
        and fnmatch.fnmatchcase(f.path or "*", s.path)
        and (s.method == "*" or s.method.upper() == (f.method or ""))
        and (s.parameter is None or s.parameter == f.parameter)
    )


def apply_suppressions(
    findings: list[Finding], suppressions: Sequence[Any]
) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, str]] = []
    for f in findings:
        rule = next((s for s in suppressions if suppression_matches(s, f)), None)
        if rule is None:
            kept.append(f)
        else:
            suppressed.append((f, rule.reason))
    return kept, suppressed
