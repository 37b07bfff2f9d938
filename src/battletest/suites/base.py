"""What a suite is: a callable taking a ``SuiteContext`` and returning a ``SuiteResult``.

The context carries everything a suite may use — config, target, spec, identities, an HTTP
client factory, the seed, a progress reporter and a redactor — so suites never reach into each
other or into the CLI. ``run.py`` keeps the table of suite name → callable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from battletest.errors import BattletestError
from battletest.results import Case, Status, SuiteResult
from battletest.spec import SecurityScheme

if TYPE_CHECKING:
    from battletest.config import Config
    from battletest.redact import Redactor
    from battletest.spec import Operation, Spec
    from battletest.target import Target
    from battletest.transport import Identities, IdentitySession, Transport


class Progress(Protocol):
    """Where a suite reports progress; a console reporter draws it live or as plain lines."""

    def suite_started(self, name: str, total: int | None) -> None: ...

    def case_done(self, suite: str, case: Case) -> None: ...

    def suite_done(self, result: SuiteResult) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    """A progress reporter that reports nothing (library use, tests)."""

    def suite_started(self, name: str, total: int | None) -> None:
        return None

    def case_done(self, suite: str, case: Case) -> None:
        return None

    def suite_done(self, result: SuiteResult) -> None:
        return None

    def note(self, message: str) -> None:
        return None


class RedactedProgress:
    """Progress that passes every case, suite result and note through the run's redactor
    before the reporter it wraps sees it (the live console shows no secret either)."""

    def __init__(self, inner: Progress, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor

    def suite_started(self, name: str, total: int | None) -> None:
        self.inner.suite_started(self.redactor.text(name), total)

    def case_done(self, suite: str, case: Case) -> None:
        self.inner.case_done(suite, Case.model_validate(self.redactor(case.model_dump())))

    def suite_done(self, result: SuiteResult) -> None:
        brief = result.model_copy(
            update={
                "message": self.redactor.text(result.message),
                "cases": [
                    c.model_copy(update={"name": self.redactor.text(c.name)}) for c in result.cases
                ],
            }
        )
        self.inner.suite_done(brief)

    def note(self, message: str) -> None:
        self.inner.note(self.redactor.text(message))


def at_path(op: Operation, *paths: str | None) -> bool:
    """Whether ``op`` is at one of ``paths`` (``[auth]`` login/refresh/logout, a ``[[rbac]]``
    rule) as the config names it: the URL path with the document's base path kept
    (``op.url_path``, ``/v2/user/login``) or the document's own path (``/user/login``)."""
    return any(p in (op.url_path, op.path) for p in paths if p)


@dataclass(slots=True)
class SuiteContext:
    config: Config
    target: Target
    spec: Spec | None
    identities: Identities
    http: Transport
    seed: int
    progress: Progress
    redactor: Redactor
    deadline: float | None = None  # time.monotonic() by which the suite must stop
    cancel: threading.Event = field(default_factory=threading.Event)
    recorders: list[CaseRecorder] = field(default_factory=list)  # for partial results on Ctrl-C
    run_dir: Path | None = None  # the run folder (raw data beside the reports), if written

    def allowed_roles(self, op: Operation) -> list[str] | None:
        """The roles the ``[[rbac]]`` matrix allows on ``op`` (None when it has no rule)."""
        for rule in self.config.rbac:
            if rule.method == op.method and at_path(op, rule.path):
                return list(rule.roles)
        return None

    def identity_for(self, op: Operation) -> IdentitySession | None:
        """The identity to call ``op`` as: None for public and login/refresh/logout operations;
        else one the RBAC matrix allows, with the most rate-limit budget left (so a service
        key with its own quota carries load), else the most privileged that fits."""
        auth = self.config.auth
        if at_path(op, auth.login_path, auth.refresh_path, auth.logout_path) or not op.secured:
            return None
        allowed = self.allowed_roles(op)
        if allowed:
            fitting = [s for s in self.identities if s.role in allowed]
            if fitting:
                pacer = self.http.pacer
                best = max(
                    fitting,
                    key=lambda s: pacer.remaining(s.name) if pacer is not None else 0,
                )
                if self.config.mode == "GOLDEN":  # the same identity every run: same inputs
                    best = fitting[0]
                return self.identities.get(best.name)
        for alternative in op.security:
            schemes = (
                [
                    self.spec.security_schemes.get(n) or SecurityScheme(n, "other")
                    for n in alternative
                ]
                if self.spec
                else []
            )
            session = self.identities.for_schemes(schemes)
            if session is not None:
                return session
        return None

    def out_of_time(self) -> bool:
        return self.cancel.is_set() or (
            self.deadline is not None and time.monotonic() >= self.deadline
        )


Suite = Callable[[SuiteContext], SuiteResult]


def unsent_case(name: str, exc: BattletestError, **details: object) -> Case:
    """The case of a request the transport did not send or could not decide: "not run" with
    the write policy's reason, or inconclusive (rate limited, broken identity) — never passed."""
    from battletest.transport import Inconclusive, PolicyRefused

    if isinstance(exc, PolicyRefused):
        return Case(
            name=name,
            status=Status.SKIPPED,
            message=f"not run: {exc.decision.reason}",
            details={**details, "outcome": "not_run", "policy": exc.decision.as_dict()},
        )
    if isinstance(exc, Inconclusive):
        return Case(
            name=name,
            status=Status.SKIPPED,
            message=exc.reason,
            details={**details, "outcome": "inconclusive"},
        )
    return Case(name=name, status=Status.ERROR, message=str(exc), details=dict(details))


def own_object(ctx: SuiteContext, op: Operation) -> dict[str, str]:
    """Path parameters that point ``op`` at an object battletest created in this run; when there
    is none yet, one is created through the collection's POST (as the identity allowed on it).
    ``{}`` when nothing could be created (the write policy then refuses the write)."""
    policy = ctx.http.policy
    if policy is None or ctx.spec is None or "{" not in op.path:
        return {}
    owned = policy.owned_params(op.path)
    if owned:
        return owned
    parent = op.path[: op.path.rfind("/{")] if "/{" in op.path else ""
    create = ctx.spec.operation("POST", parent) if parent else None
    if create is None or "{" in parent:
        return {}
    from battletest.spec import properties_of
    from battletest.suites.data import pin_values, probe_request
    from battletest.transport import ANONYMOUS

    try:
        session = ctx.identity_for(create)
        client = ctx.http(session.name if session else ANONYMOUS)
        headers = session.headers() if session else {}
        data = pin_values(
            probe_request(create),
            ctx.config.suites.contract.values,
            properties_of(create.request_body),
        )
        client.send(data.build(client, create, ctx.spec.base_path, headers))
    except (BattletestError, httpx.HTTPError):
        return {}
    return policy.owned_params(op.path)


def refused_operation(ctx: SuiteContext, op: Operation, name: str | None = None) -> Case | None:
    """A "not run" case when the write policy refuses ``op`` as a whole (read-only
    environments, destructive operations), else None."""
    policy = ctx.http.policy
    decision = policy.refuse_operation(op) if policy is not None else None
    if decision is None:
        return None
    return Case(
        name=name or op.label,
        status=Status.SKIPPED,
        message=f"not run: {decision.reason}",
        details={"outcome": "not_run", "policy": decision.as_dict()},
    )


class CaseRecorder:
    """Collects cases for one suite, timing them and reporting each to progress."""

    def __init__(self, ctx: SuiteContext, suite: str) -> None:
        self.ctx = ctx
        self.suite = suite
        self.cases: list[Case] = []
        self.started = time.monotonic()
        self._lock = threading.Lock()
        ctx.recorders.append(self)

    def add(self, case: Case) -> Case:
        # kept as measured: the run redacts the whole report once, and progress lines on the way
        with self._lock:
            self.cases.append(case)
        self.ctx.progress.case_done(self.suite, case)
        return case

    def skip(self, name: str, reason: str) -> Case:
        return self.add(Case(name=name, status=Status.SKIPPED, message=reason))

    def error(self, name: str, message: str) -> Case:
        """A case battletest could not run (a tool or input problem, not a finding)."""
        return self.add(Case(name=name, status=Status.ERROR, message=message))

    def skipped(self, reason: str) -> SuiteResult:
        """The result of a suite that cannot run at all: one skipped case named after it."""
        self.skip(self.suite, reason)
        return self.result()

    def result(self, **extra: object) -> SuiteResult:
        return SuiteResult.from_cases(
            self.suite, list(self.cases), round(time.monotonic() - self.started, 3), **extra
        )


__all__ = [
    "CaseRecorder",
    "Progress",
    "RedactedProgress",
    "SilentProgress",
    "Suite",
    "SuiteContext",
    "at_path",
    "own_object",
    "refused_operation",
    "unsent_case",
]
