"""The ``auth`` suite: the session lifecycle, bad tokens on every secured operation, and RBAC.

- Session flow, as one identity on a fresh session: login → call → refresh → call → logout →
  the revoked token is rejected.
- On every secured operation: a missing, malformed, tampered (signature) and ``alg: none``
  token, and an expired one, must each get 401/403. The expired token is forged with the
  signing key when ``[auth].jwt_secret`` verifies the target's tokens, else waited for when the
  token lifetime is at most ``[auth].max_expiry_wait_s``, else reported as not tested. A token
  without an ``exp`` claim fails the expiry case outright: it never expires.
- The ``[[rbac]]`` matrix for every role that has an identity: allowed roles are not refused,
  every other role gets 401/403.

Requests use ids that name no record, so a service that wrongly accepts a token changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from battletest.auth import jwt as jwtlib
from battletest.errors import BattletestError
from battletest.results import Case, Status, SuiteResult
from battletest.spec import Operation, Spec
from battletest.suites.base import CaseRecorder, SuiteContext, at_path, own_object, unsent_case
from battletest.suites.data import probe_request
from battletest.suites.evidence import OVERLOAD, OperationTally, count
from battletest.transport import (
    ANONYMOUS,
    Exchange,
    IdentitySession,
    Inconclusive,
    PolicyRefused,
    curl,
)
from battletest.transport.identities import IDENTITY

NAME = "auth"
REJECTED = (401, 403)


@dataclass(frozen=True, slots=True)
class Sent:
    status: int
    request: httpx.Request
    excerpt: str
    unsent: BattletestError | None = None  # refused by the write policy, or inconclusive
    exchange: Exchange | None = None  # the request and its answer, for evidence


def _send(
    ctx: SuiteContext, op: Operation, spec: Spec, headers: dict[str, str], key: str = ANONYMOUS
) -> Sent:
    client = ctx.http(key)
    data = probe_request(op)
    policy = ctx.http.policy
    if policy is not None and op.method not in {"GET", "HEAD", "OPTIONS"}:
        # a write goes to an object battletest created (else the policy refuses it)
        owned = own_object(ctx, op)
        data.path_params.update({k: v for k, v in owned.items() if k in data.path_params})
    request = data.build(client, op, spec.base_path, headers)
    try:
        response = client.send(request)
    except (PolicyRefused, Inconclusive) as exc:
        return Sent(0, request, str(exc), exc)
    except httpx.HTTPError as exc:
        return Sent(0, request, f"request failed: {exc.__class__.__name__}")
    return Sent(response.status_code, request, response.text[:200], exchange=Exchange.of(response))


def _attack(
    ctx: SuiteContext,
    op: Operation,
    spec: Spec,
    name: str,
    headers: dict[str, str],
    what: str,
    tally: OperationTally | None = None,
) -> Case:
    started = time.monotonic()
    sent = _send(ctx, op, spec, headers)
    if tally is not None and sent.unsent is None:
        tally.sent(op, [sent.status])
    case = _expect_rejected(name, sent, what)
    return case.model_copy(update={"duration_ms": round((time.monotonic() - started) * 1000, 3)})


def _evidence(sent: Sent) -> dict[str, object]:
    """The case's evidence: the status its one request got (0: no answer)."""
    return {"status": sent.status, "statuses": count([sent.status]), "requests": 1}


def _expect_rejected(name: str, sent: Sent, what: str) -> Case:
    if sent.status in REJECTED:
        return Case(name=name, status=Status.PASSED, details=_evidence(sent))
    if sent.unsent is not None:
        return unsent_case(name, sent.unsent)
    label = f"{sent.request.method} {sent.request.url.path}"
    if sent.status == 0 or sent.status in OVERLOAD:  # no answer, or not the service's own
        return Case(
            name=name,
            status=Status.SKIPPED,
            message=f"inconclusive: {what} to {label} got "
            + (sent.excerpt if sent.status == 0 else f"{sent.status} (overloaded or unreachable)"),
            details={**_evidence(sent), "outcome": "inconclusive"},
        )
    if sent.status in (404, 405):  # neither refused nor accepted: the route or record answered
        return Case(
            name=name,
            status=Status.SKIPPED,
            message=f"inconclusive: {what} got {sent.status} from {label} — not refused "
            "(401/403), not accepted either",
            details={**_evidence(sent), "outcome": "inconclusive"},
        )
    verdict = "was accepted" if sent.status < 400 else "was not refused"
    return Case(
        name=name,
        status=Status.FAILED,
        message=f"{what} {verdict}: {label} → {sent.status} (expected 401 or 403)",
        details={**_evidence(sent), "response_excerpt": sent.excerpt},
        reproduce=curl(sent.request),
    )


# ------------------------------------------------------------------------------- session flow


def _call_target(ctx: SuiteContext, spec: Spec, role: str) -> Operation | None:
    """A secured GET ``role`` may call, to prove a token works (fewest path parameters first)."""
    auth = ctx.config.auth
    candidates = [
        op
        for op in spec.operations
        if op.method == "GET"
        and op.secured
        and not at_path(op, auth.login_path, auth.refresh_path, auth.logout_path)
        and role in (ctx.allowed_roles(op) or [role])
    ]
    candidates.sort(key=lambda op: (any(p.location == "path" for p in op.parameters), op.path))
    return candidates[0] if candidates else None


def _tally_auth_call(
    tally: OperationTally | None, spec: Spec, path: str | None, status: int
) -> None:
    """The session flow's login/refresh/logout answered ``status``: evidence for that op."""
    op = spec.operation("POST", path) if tally is not None and path else None
    if op is not None and tally is not None:
        tally.sent(op, [status])


def session_flow(
    ctx: SuiteContext, spec: Spec, rec: CaseRecorder, tally: OperationTally | None = None
) -> None:
    auth = ctx.config.auth
    users = [s for s in ctx.identities if s.kind == "login"]
    if not auth.login_path or not users:
        rec.skip("session flow", "no [auth].login_path or no identity with a username")
        return
    users.sort(key=lambda s: s.role == "admin")  # prefer a less privileged account
    fresh = IdentitySession(users[0].identity, auth, ctx.redactor)
    client = ctx.http(f"{fresh.name}")
    prefix = f"session flow ({fresh.name})"
    started = time.monotonic()
    try:
        fresh.login(client)
    except BattletestError as exc:
        rec.add(Case(name=f"{prefix}: login", status=Status.FAILED, message=str(exc)))
        return
    login_op = spec.operation("POST", auth.login_path)
    # a login that issued a token got a success answer (the first 2xx the spec documents)
    success = next((int(c) for c in (login_op.responses if login_op else {}) if c[:1] == "2"), 200)
    _tally_auth_call(tally, spec, auth.login_path, success)
    rec.add(
        Case(
            name=f"{prefix}: login",
            status=Status.PASSED,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
        )
    )
    op = _call_target(ctx, spec, fresh.role)
    if op is None:
        rec.skip(f"{prefix}: call", "no secured GET operation to call")
        return

    def call(step: str) -> bool:
        sent = _send(ctx, op, spec, fresh.headers(), fresh.name)
        if sent.unsent is not None:
            rec.add(unsent_case(f"{prefix}: {step}", sent.unsent))
            return False
        ok = sent.status not in REJECTED and 0 < sent.status < 500
        rec.add(
            Case(
                name=f"{prefix}: {step}",
                status=Status.PASSED if ok else Status.FAILED,
                message="" if ok else f"{op.label} with a valid token → {sent.status}",
                details={"status": sent.status},
                reproduce=None if ok else curl(sent.request),
            )
        )
        return ok

    if not call("call with the token"):
        return
    if auth.refresh_path and fresh.refresh_token:
        before = fresh.access_token
        resp = fresh.refresh(client)
        if resp is not None:
            _tally_auth_call(tally, spec, auth.refresh_path, resp.status_code)
        ok = resp is not None and resp.status_code < 400 and fresh.access_token is not None
        rec.add(
            Case(
                name=f"{prefix}: refresh",
                status=Status.PASSED if ok else Status.FAILED,
                message=""
                if ok
                else f"refresh at {auth.refresh_path} → "
                f"{resp.status_code if resp is not None else 'no response'}",
                details={"new_token": fresh.access_token != before},
            )
        )
        if ok:
            call("call with the refreshed token")
    else:
        rec.skip(f"{prefix}: refresh", "no [auth].refresh_path or no refresh token returned")
    if not auth.logout_path:
        rec.skip(f"{prefix}: logout", "no [auth].logout_path")
        return
    revoked_headers = fresh.headers()
    resp = client.post(auth.logout_path, headers=revoked_headers, extensions=IDENTITY)
    _tally_auth_call(tally, spec, auth.logout_path, resp.status_code)
    ok = resp.status_code < 400
    rec.add(
        Case(
            name=f"{prefix}: logout",
            status=Status.PASSED if ok else Status.FAILED,
            message="" if ok else f"logout at {auth.logout_path} → {resp.status_code}",
        )
    )
    if ok:
        sent = _send(ctx, op, spec, revoked_headers, fresh.name)
        rec.add(
            _expect_rejected(f"{prefix}: revoked token rejected", sent, "a token revoked by logout")
        )


# ------------------------------------------------------------------------ bad tokens per operation


@dataclass(slots=True)
class ExpiredToken:
    """How an expired token is obtained for this run (once), or why it cannot be."""

    token: str | None = None
    reason: str = ""
    never_expires: bool = False


def expired_token(ctx: SuiteContext, session: IdentitySession) -> ExpiredToken:
    auth = ctx.config.auth
    token = session.bearer
    if not token or not jwtlib.looks_like_jwt(token):
        return ExpiredToken(reason="tokens are not JWTs; expiry not tested")
    if "exp" not in jwtlib.claims(token):
        return ExpiredToken(
            never_expires=True, reason="the access token has no exp claim: it never expires"
        )
    if auth.jwt_secret:
        alg = str(jwtlib.header(token).get("alg") or auth.jwt_algorithm)
        if jwtlib.verifies_with(token, auth.jwt_secret, alg):
            return ExpiredToken(token=jwtlib.forge_expired(token, auth.jwt_secret, alg))
        ctx.progress.note("[auth].jwt_secret does not verify the target's tokens")
    left = jwtlib.seconds_left(token)
    ttl = auth.token_ttl_s
    if session.uses_login and ttl is not None and ttl <= auth.max_expiry_wait_s:
        fresh = IdentitySession(session.identity, auth, ctx.redactor)
        fresh.login(ctx.http(session.name))
        wait = max(0.0, (jwtlib.seconds_left(fresh.bearer or "") or ttl)) + 1.0
        if wait <= auth.max_expiry_wait_s + 1.0:
            ctx.progress.note(f"waiting {wait:.1f}s for a token to expire")
            time.sleep(wait)
            return ExpiredToken(token=fresh.bearer)
    return ExpiredToken(
        reason="not tested: signing key unknown ([auth].jwt_secret) and token lifetime "
        f"{'unknown' if left is None else f'{left:.0f}s'} exceeds [auth].max_expiry_wait_s"
    )


def _attacks(token: str | None) -> list[tuple[str, dict[str, str] | None, str]]:
    """(case label, headers or None when not applicable, what is being sent)."""
    rows: list[tuple[str, dict[str, str] | None, str]] = [
        ("missing token", {}, "a request without credentials"),
        ("malformed token", {"Authorization": "Bearer not-a-token"}, "a malformed bearer token"),
    ]
    if token and jwtlib.looks_like_jwt(token):
        rows += [
            (
                "tampered token",
                {"Authorization": f"Bearer {jwtlib.tamper_signature(token)}"},
                "a token with a tampered signature",
            ),
            (
                "alg none",
                {"Authorization": f"Bearer {jwtlib.forge_alg_none(token)}"},
                "an unsigned token (alg: none)",
            ),
        ]
    return rows


def bad_tokens(
    ctx: SuiteContext, spec: Spec, rec: CaseRecorder, tally: OperationTally | None = None
) -> None:
    auth = ctx.config.auth
    secured = [
        op
        for op in spec.operations
        if op.secured and not at_path(op, auth.login_path, auth.refresh_path)
    ]
    if not secured:
        rec.skip("bad tokens", "the spec declares no secured operation")
        return
    secured.sort(key=lambda op: at_path(op, auth.logout_path))  # a wrongly accepted logout revokes
    if ctx.config.smoke:  # the smoke subset: one representative secured read
        secured = [smoke_representative(secured)]
    bearer = next(
        (
            s
            for s in ctx.identities
            if s.kind in {"login", "bearer", "password", "client_credentials"}
        ),
        None,
    )
    session = ctx.identities.get(bearer.name) if bearer else None
    expired = expired_token(ctx, session) if session else ExpiredToken(reason="no bearer identity")
    for op in secured:
        if ctx.out_of_time():
            rec.skip(f"bad tokens: {op.label}", "not run: out of time or interrupted")
            continue
        for label, headers, what in _attacks(session.bearer if session else None):
            assert headers is not None
            name = f"{label}: {op.label}"
            rec.add(_attack(ctx, op, spec, name, headers, what, tally))
        name = f"expired token: {op.label}"
        if expired.token:
            bearer_header = {"Authorization": f"Bearer {expired.token}"}
            rec.add(_attack(ctx, op, spec, name, bearer_header, "an expired token", tally))
        elif expired.never_expires:
            rec.add(Case(name=name, status=Status.FAILED, message=expired.reason))
        else:
            rec.skip(name, expired.reason)


def smoke_representative(operations: list[Operation]) -> Operation:
    """The operation a smoke run probes with bad tokens: a GET without path parameters first
    (it answers without an object), then any GET, then the first one."""
    return min(
        operations,
        key=lambda op: (op.method != "GET", any(p.location == "path" for p in op.parameters)),
    )


# ------------------------------------------------------------------------------------------ RBAC


def rbac_matrix(
    ctx: SuiteContext, spec: Spec, rec: CaseRecorder, tally: OperationTally | None = None
) -> None:
    tally = tally if tally is not None else OperationTally()
    roles = ctx.identities.roles()
    for rule in ctx.config.rbac:
        op = spec.operation(rule.method, rule.path)
        label = f"{rule.method} {rule.path}"
        if op is None:
            rec.error(f"rbac: {label}", f"[[rbac]] names {label}, which the spec does not have")
            continue
        for role in roles:
            session = ctx.identities.with_role(role)
            assert session is not None
            allowed = role in rule.roles
            name = f"rbac: {role} {'may' if allowed else 'may not'} {label}"
            started = time.monotonic()
            sent = _send(ctx, op, spec, session.headers(), session.name)
            tally.sent(op, [sent.status] if sent.unsent is None else [])
            if sent.unsent is not None:
                case = unsent_case(name, sent.unsent)
            elif allowed and sent.status == 404:  # never reached the operation's logic
                case = Case(
                    name=name,
                    status=Status.SKIPPED,
                    message=f"inconclusive: role {role} calling {label} got 404: the object "
                    "it names was not found, so nothing shows the role may call it",
                    details={**_evidence(sent), "outcome": "inconclusive"},
                )
            elif allowed and (sent.status == 0 or sent.status in OVERLOAD):
                case = Case(
                    name=name,
                    status=Status.SKIPPED,
                    message=f"inconclusive: role {role} calling {label} got "
                    + (sent.excerpt if sent.status == 0 else f"{sent.status} (overloaded)"),
                    details={**_evidence(sent), "outcome": "inconclusive"},
                )
            elif allowed:
                ok = sent.status not in REJECTED and 0 < sent.status < 500
                case = Case(
                    name=name,
                    status=Status.PASSED if ok else Status.FAILED,
                    message="" if ok else f"role {role} was refused: {label} → {sent.status}",
                    details=_evidence(sent),
                    reproduce=None if ok else curl(sent.request),
                )
            else:
                case = _expect_rejected(name, sent, f"role {role} calling {label}")
            ms = round((time.monotonic() - started) * 1000, 3)
            pair = _rbac_pair(rule.method, rule.path, role, session.name, allowed, sent)
            details = {**case.details, "rbac": pair}
            rec.add(case.model_copy(update={"duration_ms": ms, "details": details}))
        missing = sorted(set(rule.roles) - set(roles))
        if missing:
            rec.skip(
                f"rbac: {label} for {', '.join(missing)}",
                "no identity has this role; add one to [[identities]]",
            )


def _rbac_pair(
    method: str, path: str, role: str, identity: str, allowed: bool, sent: Sent
) -> dict[str, object]:
    """The (operation, identity) pair an rbac case decided, as the security suite reuses it
    (``suites/security.py``): an accepted call the rule forbids keeps its request and answer."""
    pair: dict[str, object] = {
        "method": method,
        "path": path,
        "role": role,
        "identity": identity,
        "allowed": allowed,
        "status": sent.status if sent.unsent is None else None,  # 0: no answer
    }
    if not allowed and sent.exchange is not None and sent.exchange.ok:
        pair["evidence"] = sent.exchange.evidence()
    return pair


def auth_suite(ctx: SuiteContext) -> SuiteResult:
    rec = CaseRecorder(ctx, NAME)
    if ctx.spec is None:
        return rec.skipped("no OpenAPI document")
    spec = ctx.spec
    auth = ctx.config.auth
    secured = sum(
        1
        for op in spec.operations
        if op.secured and not at_path(op, auth.login_path, auth.refresh_path)
    )
    roles = ctx.identities.roles()
    rbac_rows = sum(len(roles) + bool(set(r.roles) - set(roles)) for r in ctx.config.rbac)
    probed = min(secured, 1) if ctx.config.smoke else secured
    ctx.progress.suite_started(NAME, 6 + 5 * probed + rbac_rows)
    tally = OperationTally()
    parts: list[tuple[str, Callable[[], None]]] = [
        ("session flow", lambda: session_flow(ctx, spec, rec, tally)),
        ("bad tokens", lambda: bad_tokens(ctx, spec, rec, tally)),
        ("rbac", lambda: rbac_matrix(ctx, spec, rec, tally)),
    ]
    for part, run_part in parts:
        try:
            run_part()
        except (PolicyRefused, Inconclusive) as exc:  # e.g. a login still rate limited
            rec.add(unsent_case(part, exc))
    return rec.result(
        metrics={
            "secured_operations": secured,
            "rbac_rules": len(ctx.config.rbac),
            "operations": tally.metrics(),
        }
    )


__all__ = ["auth_suite", "bad_tokens", "expired_token", "rbac_matrix", "session_flow"]
