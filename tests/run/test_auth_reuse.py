"""Under `battletest run` the scanner leaves a token check to the auth suite only when that
suite decided it somewhere: one whose every case was skipped stays the scanner's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from battletest.results import Case, Status
from battletest.suites.security import OWNED_BY_AUTH, owned_by_auth


def _ctx(*cases: Case) -> Any:
    return SimpleNamespace(recorders=[SimpleNamespace(suite="auth", cases=list(cases))])


def test_a_token_check_the_auth_suite_only_skipped_stays_the_scanners() -> None:
    # the demo's config: no [auth].jwt_secret and a 900 s token lifetime over the wait limit
    skipped = "not tested: signing key unknown ([auth].jwt_secret) and token lifetime 891s …"
    ctx = _ctx(
        Case(name="alg none: GET /v1/me", status=Status.FAILED),
        Case(name="tampered token: GET /v1/me", status=Status.PASSED),
        Case(name="missing token: GET /v1/me", status=Status.PASSED),
        Case(name="expired token: GET /v1/me", status=Status.SKIPPED, message=skipped),
        Case(name="expired token: GET /v1/users", status=Status.SKIPPED, message=skipped),
    )
    assert owned_by_auth(ctx) == ["jwt-alg-none", "jwt-bad-signature", "auth-missing"]
    decided = Case(name="expired token: GET /v1/users", status=Status.PASSED)
    assert owned_by_auth(_ctx(*_ctx().recorders[0].cases, decided)) == ["jwt-expired"]
    everything = [
        Case(name=f"{p} GET /x", status=Status.PASSED)
        for p in ("alg none:", "tampered token:", "expired token:", "missing token:")
    ]
    assert owned_by_auth(_ctx(*everything)) == list(OWNED_BY_AUTH)
    assert owned_by_auth(SimpleNamespace(recorders=[])) == []  # type: ignore[arg-type]
