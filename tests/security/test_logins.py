"""The login checks use the configured login exactly (a form, HTTP Basic), tell success from
failure by status, body and token together, and are inconclusive when the login never worked."""

from __future__ import annotations

from typing import Any

import pytest

from battletest.netutil import serve_app
from battletest.security import ScanIdentity, ScanOutcome, ScanSettings, scan

from .login_app import USERS, build_app, spec

pytestmark = pytest.mark.network

FORM_LOGIN = {"path": "/session", "username_field": "login", "password_field": "secret"}


def _scan(
    kind: str,
    *,
    limited: bool,
    checks: list[str],
    enumerate_users: bool = False,
    people: list[ScanIdentity] | None = None,
) -> ScanOutcome:
    login: dict[str, Any] = FORM_LOGIN if kind == "form" else {}
    settings = ScanSettings.model_validate({"checks": checks, "burst": 12, "login": login})
    if people is None:
        people = [ScanIdentity(name=u, username=u, password=p) for u, p in USERS.items()]
    app = build_app(limited=limited, enumerate_users=enumerate_users)
    with serve_app(app) as base:
        return scan(base, spec(kind), people, settings)


def _run(outcome: ScanOutcome, check: str) -> Any:
    return next(r for r in outcome.runs if r.check_id == check)


@pytest.mark.parametrize("kind", ["form", "basic"])
def test_no_lockout_found_through_the_configured_login(kind: str) -> None:
    # the form login answers a wrong password with HTTP 200 and a message: a failure, so the
    # burst is twelve ordinary failures and the right password (with + & % =) still works
    outcome = _scan(kind, limited=False, checks=["login-rate-limit"])
    run = _run(outcome, "login-rate-limit")
    assert run.conclusive, run.reason
    [finding] = outcome.findings
    assert finding.parameter == "login"
    assert f"({kind} login)" in finding.evidence["note"]


@pytest.mark.parametrize("kind", ["form", "basic"])
def test_a_lockout_is_not_a_finding(kind: str) -> None:
    outcome = _scan(kind, limited=True, checks=["login-rate-limit"])
    assert outcome.findings == []
    assert _run(outcome, "login-rate-limit").conclusive


def test_login_checks_are_inconclusive_when_the_login_never_worked() -> None:
    # a bearer-only identity: nothing proves that the probes reach a working login
    people = [ScanIdentity(name="kim", username="kim", token="not-a-real-token")]
    outcome = _scan(
        "form", limited=False, checks=["login-rate-limit", "user-enumeration"], people=people
    )
    assert outcome.findings == []
    for check in ("login-rate-limit", "user-enumeration"):
        run = _run(outcome, check)
        assert not run.conclusive
        assert "password" in run.reason


@pytest.mark.parametrize("enumerate_users", [True, False])
def test_user_enumeration_through_a_form_login(enumerate_users: bool) -> None:
    outcome = _scan(
        "form", limited=False, checks=["user-enumeration"], enumerate_users=enumerate_users
    )
    run = _run(outcome, "user-enumeration")
    assert run.conclusive, run.reason
    assert [f.check_id for f in outcome.findings] == (
        ["user-enumeration"] if enumerate_users else []
    )


def test_jwt_checks_do_not_apply_to_http_basic_credentials() -> None:
    # nothing to forge: conclusive, not a wall of "no JWT" inconclusive runs
    outcome = _scan("basic", limited=False, checks=["jwt"])
    assert outcome.runs and outcome.findings == []
    assert all(r.conclusive for r in outcome.runs), [r.reason for r in outcome.runs]
