"""The scanner's public entry points: ``scan`` (library) and ``run_security_suite`` (for
``battletest run``), both returning data — a ``ScanOutcome`` or a ``SuiteResult``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from battletest.errors import TargetUnreachable
from battletest.results import Case, Finding, Severity, Status, SuiteResult
from battletest.security import baseline as baseline_file
from battletest.security.checks import register_all
from battletest.security.checks.authn import body_format
from battletest.security.checks.dataprotect import undeclared_note
from battletest.security.context import ScanContext, ScanIdentity, identities_from, login
from battletest.security.framework import Progress, Scanner, ScanOutcome
from battletest.security.settings import RbacVerdict, ScanSettings
from battletest.spec import Operation, Spec, from_document, select
from battletest.transport import Transport, WritePolicy


def default_scanner() -> Scanner:
    """A scanner with every check registered (a new instance each call)."""
    return register_all(Scanner())


def operations_of(spec: Spec | Mapping[str, Any] | Sequence[Operation]) -> list[Operation]:
    """Operations of a ``Spec``, of an API document (any version ``battletest.spec`` reads),
    or a list of operations."""
    if isinstance(spec, Spec):
        return list(spec.operations)
    if isinstance(spec, Mapping):
        return from_document(dict(spec)).operations
    if all(isinstance(o, Operation) for o in spec):
        return list(spec)
    return from_document(spec).operations


def scan(
    base_url: str,
    spec: Any,
    identities: Sequence[ScanIdentity] = (),
    settings: ScanSettings | None = None,
    *,
    scanner: Scanner | None = None,
    transport: httpx.BaseTransport | None = None,
    client: Transport | None = None,
    extra_secrets: Iterable[str] = (),
    accepted: set[str] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    log_source: Callable[[], str] | None = None,
    rate_limits: Any = None,
    service_keys: frozenset[str] = frozenset(),
    rbac_verdicts: Sequence[RbacVerdict] = (),
) -> ScanOutcome:
    """Scan the API at ``base_url`` described by ``spec`` and return what was found.

    ``log_source`` returns the target's output captured so far (when battletest launched the
    target); the data-protection check reads it for PII the scan sent. ``client``: the run's
    transport (its write policy, pacing and watched identities); by default a transport of its
    own with the write policy from ``settings`` (read-only in production), paced by
    ``rate_limits`` (a config's ``[rate_limits]``; ``service_keys`` get its service quota) and
    by the 429/503 answers it sees. ``rbac_verdicts``: the ``[[rbac]]`` pairs ``run``'s auth
    suite decided, which ``bfla`` reuses instead of sending again."""
    settings = settings or ScanSettings()
    scanner = scanner or default_scanner()
    scanner.select(settings.checks, settings.skip_checks)  # unknown names fail before any request
    all_ops = operations_of(spec)
    ops = select(all_ops, settings.include, settings.exclude)
    own_client = client is None
    if client is None:
        # the write policy: read-only in production; elsewhere writes only to what the scan
        # created (or anything, with allow_destructive); --max-rps paces every request
        policy = WritePolicy(
            read_only=settings.is_prod and not settings.allow_destructive,
            allow_destructive=settings.allow_destructive,
            why_read_only="production is read-only",
            operations=all_ops,
            base_path=all_ops[0].base_path if all_ops else "",
        )
        client = Transport(
            base_url,
            timeout=settings.timeout_s,
            transport=transport,
            policy=policy,
            max_rps=settings.max_rps,
            user_agent="battletest-scan",
            rate_limits=rate_limits,
            service_keys=service_keys,
        )
    try:
        try:
            client.send("GET", "/")
        except TargetUnreachable:
            raise TargetUnreachable(
                f"cannot reach {base_url}",
                hint="start the service or fix --target",
            ) from None
        people = [_copy(i) for i in identities]
        login_settings = settings.login
        ctx0 = ScanContext(client, settings, ops, [], all_operations=all_ops)
        found = ctx0.login_op()  # [security.login] path, else discovered in the spec
        if found is not None:
            update: dict[str, Any] = {"path": found.url_path}
            if body_format(found, login_settings.format) == "form":
                update["format"] = "form"  # the login takes only URL-encoded forms
            login_settings = login_settings.model_copy(update=update)
        people = [login(client, i, login_settings) for i in people]
        guard = getattr(client, "policy", None)
        if guard is not None:  # the identities' own profiles (``/users/dana``) are theirs
            guard.note_identity(*(i.username for i in people if i.username))
        settings = settings.model_copy(update={"login": login_settings})
        ctx = ScanContext(
            client,
            settings,
            ops,
            people,
            all_operations=all_ops,
            extra_secrets=list(extra_secrets),
            seed=seed,
            log_source=log_source,
        )
        # the origin the document names (Swagger host, OpenAPI servers): the front end the
        # service may trust (the cors check derives attacker origins from it when echoed)
        ctx.state["spec_origin"] = getattr(spec, "origin", None)
        ctx.state["rbac_verdicts"] = list(rbac_verdicts)
        try:
            outcome = scanner.run(ctx, progress)
        finally:
            browser = ctx.state.get("browser")
            if browser is not None:  # the XSS checks' headless Chromium, one per scan
                browser.close()
        outcome.notes, outcome.paced_s = client.summary_notes(), client.pacer.waited_s
        undeclared = undeclared_note(ctx.state)
        if undeclared is not None:  # open schemas' leftovers: one note, not a finding each
            outcome.notes.append(undeclared)
        if browser is not None and browser.missing:
            outcome.notes.append(
                f"XSS not confirmed by execution ({browser.missing}): reflected payloads are "
                "reported as suspected"
            )
    finally:
        if own_client:
            client.close()
    if accepted:
        outcome.findings, outcome.accepted = baseline_file.split(outcome.findings, accepted)
    return outcome


def _copy(identity: ScanIdentity) -> ScanIdentity:
    return dataclasses.replace(identity, cookies=dict(identity.cookies))


def to_suite(outcome: ScanOutcome, settings: ScanSettings) -> SuiteResult:
    """The ``security`` suite: one case per check and operation, findings, metrics."""
    threshold = settings.fail_on
    cases: list[Case] = []
    for run in outcome.runs:
        mine = [f for f in outcome.findings if _belongs(f, run.check_id, run.target)]
        failing = [f for f in mine if f.severity.rank >= threshold.rank]
        if failing:
            status, message = Status.FAILED, "; ".join(f.title for f in failing)
        elif not run.conclusive:
            status, message = Status.SKIPPED, f"inconclusive: {run.reason}"
        else:
            status = Status.PASSED
            message = "; ".join(f"{f.severity.value}: {f.title}" for f in mine) or run.reason
        cases.append(
            Case(
                name=f"{run.check_id} {run.target}",
                status=status,
                duration_ms=round(run.duration_ms, 3),
                message=message,
                details={"check": run.check_id, "target": run.target, "conclusive": run.conclusive},
                reproduce=failing[0].reproduce if failing else None,
            )
        )
    highest = max((f.severity for f in outcome.findings), key=lambda s: s.rank, default=None)
    metrics: dict[str, Any] = {
        "requests": outcome.requests,
        "depth": settings.depth,
        "checks": [c.id for c in outcome.checks],
        "operations_checked": len({r.target for r in outcome.runs}),
        "inconclusive": len(outcome.inconclusive),
        "highest_severity": highest.value if highest else None,
        "fail_on": threshold.value,
        "suppressed": [
            {"check_id": f.check_id, "path": f.path, "reason": reason}
            for f, reason in outcome.suppressed
        ],
        "accepted": [baseline_file.fingerprint(f) for f in outcome.accepted],
        "not_run": outcome.not_run,
        "paced_s": round(outcome.paced_s, 1),
        "notes": outcome.notes,
    }
    suite = SuiteResult.from_cases(
        "security", cases, round(outcome.duration_s, 3), findings=outcome.findings, metrics=metrics
    )
    if outcome.interrupted:
        suite.message = "interrupted: partial results"
    elif outcome.unreachable:
        suite.message = f"partial results: the target stopped answering ({outcome.unreachable})"
    return suite


def _belongs(f: Finding, check_id: str, target: str) -> bool:
    if f.check_id != check_id:
        return False
    return target == "*" or target == f"{f.method} {f.path}"


def settings_from(config: Any, **overrides: Any) -> ScanSettings:
    """ScanSettings from a config's ``[security]`` section, ``[auth]``, ``[[rbac]]`` and profile."""
    raw: dict[str, Any] = {}
    section = getattr(config, "security", None)
    if section is not None:
        raw.update(section.model_dump() if hasattr(section, "model_dump") else dict(section))
    # each request's timeout is [target].request_timeout_s unless [security] timeout_s is set
    timeout = getattr(getattr(config, "target", None), "request_timeout_s", None)
    if timeout is not None and "timeout_s" not in getattr(section, "model_fields_set", raw):
        raw["timeout_s"] = timeout
    auth = getattr(config, "auth", None)
    if auth is not None:
        login = dict(raw.get("login") or {})
        for mine, theirs in (
            ("path", "login_path"),
            ("format", "login_format"),
            ("username_field", "username_field"),
            ("password_field", "password_field"),
            ("token_field", "token_field"),
        ):
            value = getattr(auth, theirs, None)
            if value is not None:
                login.setdefault(mine, value)
        raw["login"] = login
        if getattr(auth, "jwt_secret", None):
            raw.setdefault("jwt_secret", auth.jwt_secret)
        if getattr(auth, "tenant_claim", None):
            raw.setdefault("tenant_claim", auth.tenant_claim)
        if getattr(auth, "max_expiry_wait_s", None) is not None:
            raw.setdefault("max_expiry_wait_s", auth.max_expiry_wait_s)
    rbac = getattr(config, "rbac", None)
    if rbac:
        raw.setdefault(
            "rbac",
            [{"method": r.method, "path": r.path, "roles": list(r.roles)} for r in rbac],
        )
    raw.setdefault("profile", getattr(config, "profile", "default"))
    if getattr(config, "environment", None):
        raw.setdefault("environment", config.environment)
    if getattr(config, "allow_destructive", False):
        raw["allow_destructive"] = True
    raw.update({k: v for k, v in overrides.items() if v is not None})
    from battletest.errors import validated

    return validated(
        ScanSettings,
        raw,
        "[security] {where}: {problem}",
        hint="see docs/security-checks.md for the keys of [security]",
    )


def run_security_suite(
    base_url: str,
    spec: Any,
    identities: Any = (),
    *,
    settings: ScanSettings | None = None,
    transport: httpx.BaseTransport | None = None,
    client: Transport | None = None,
    log_source: Callable[[], str] | None = None,
    rbac_verdicts: Sequence[RbacVerdict] = (),
) -> SuiteResult:
    """The ``security`` suite for ``battletest run``.

    ``identities`` is a list of ``ScanIdentity`` or config identities, or a whole Config (its
    ``identities``, ``[auth]``, ``[[rbac]]``, ``[security]`` and profile are used).
    """
    started = time.perf_counter()
    extra: list[str] = []
    if hasattr(identities, "identities"):
        config = identities
        settings = settings or settings_from(config)
        auth = getattr(config, "auth", None)
        people = identities_from(
            config.identities,
            getattr(auth, "api_key_header", "X-API-Key"),
            getattr(auth, "api_key_in", "header"),
        )
        if hasattr(config, "secrets"):
            extra = list(config.secrets())
    else:
        people = [i if isinstance(i, ScanIdentity) else identities_from([i])[0] for i in identities]
    settings = settings or ScanSettings()
    outcome = scan(
        base_url,
        spec,
        people,
        settings,
        transport=transport,
        client=client,
        extra_secrets=extra,
        log_source=log_source,
        rbac_verdicts=rbac_verdicts,
    )
    suite = to_suite(outcome, settings)
    suite.duration_s = round(time.perf_counter() - started, 3)
    return suite


def security_suite(ctx: Any) -> SuiteResult:
    """The ``run`` pipeline's entry (``SUITES["security"]``): a ``SuiteContext`` in — its
    target's base URL, resolved spec and config — the ``security`` suite out. When battletest
    launched the target, its captured output (``logs_path``) is the data-protection check's
    log source."""
    return run_security_suite(
        ctx.target.base_url, ctx.spec, ctx.config, log_source=log_reader(ctx.target)
    )


def log_reader(target: Any) -> Callable[[], str] | None:
    """A log source reading a launched target's captured output file, or None."""
    path = getattr(target, "logs_path", None)
    if path is None:
        return None
    from pathlib import Path

    file = Path(path)
    return lambda: file.read_text(encoding="utf-8", errors="replace") if file.is_file() else ""


__all__ = [
    "Severity",
    "default_scanner",
    "operations_of",
    "run_security_suite",
    "scan",
    "security_suite",
    "settings_from",
    "to_suite",
]
