"""Socket-free units: redaction, JWT forging, gates (transport units: tests/transport)."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.auth import jwt as forge
from battletest.quality.gates import GatesConfig, evaluate_gates
from battletest.redact import redact
from battletest.results import Case, Status, SuiteResult


def test_redaction_removes_tokens_keys_passwords_and_emails() -> None:
    token = pyjwt.encode({"sub": "a"}, "k" * 32, algorithm="HS256")
    text = (
        f"curl -H 'Authorization: Bearer {token}' -H 'X-API-Key: btk_abc' "
        '-d \'{"username": "ann@hotel.test", "password": "hunter22"}\''
    )
    out = redact(text, ["hunter22"])
    for secret in (token, "btk_abc", "ann@hotel.test", "hunter22"):
        assert secret not in out
    nested = redact({"password": "p", "n": 2, "list": [{"api_key": "k"}], "ok": "fine"})
    assert nested == {"password": "***", "n": 2, "list": [{"api_key": "***"}], "ok": "fine"}


def test_jwt_forgeries() -> None:
    key = "signing-key-0123456789abcdef012345"
    token = pyjwt.encode({"sub": "u1", "exp": int(time.time()) + 600}, key, algorithm="HS256")
    none = forge.forge_alg_none(token)
    assert forge.header(none)["alg"] == "none" and none.endswith(".")
    assert forge.claims(none)["sub"] == "u1"
    assert not forge.verifies_with(forge.tamper_signature(token), key)
    assert forge.claims(forge.tamper_payload(token))["sub"] == "u1x"
    expired = forge.forge_expired(token, key)
    assert forge.verifies_with(expired, key)
    with pytest.raises(pyjwt.ExpiredSignatureError):
        pyjwt.decode(expired, key, algorithms=["HS256"])
    assert forge.looks_like_jwt(token) and not forge.looks_like_jwt("abc.def")


def suites_with(statuses: list[Status]) -> list[SuiteResult]:
    cases = [Case(name=f"c{i}", status=s) for i, s in enumerate(statuses)]
    return [SuiteResult.from_cases("contract", cases, 0.1)]


def gate(rows: list, name: str):  # type: ignore[no-untyped-def]
    return next(r for r in rows if r.name == name)


@given(st.lists(st.sampled_from(list(Status)), max_size=40))
def test_default_gates_follow_the_case_counts(statuses: list[Status]) -> None:
    rows = evaluate_gates(suites_with(statuses), GatesConfig())
    failed = sum(s in (Status.FAILED, Status.ERROR) for s in statuses)
    executed = [s for s in statuses if s is not Status.SKIPPED]
    no_failed = gate(rows, "no_failed_cases")
    rate = gate(rows, "success_rate")
    if not statuses:
        assert no_failed.passed is None and rate.passed is None
        return
    assert no_failed.passed is (failed == 0)
    if not executed:
        assert rate.passed is None and rate.reason
    else:
        measured = 100 * sum(s is Status.PASSED for s in executed) / len(executed)
        assert rate.passed is (round(measured, 2) >= 95.0)


def test_a_gate_can_be_switched_off() -> None:
    rows = evaluate_gates(
        suites_with([Status.FAILED]), GatesConfig(max_failed_cases=None, min_success_rate=0)
    )
    assert "no_failed_cases" not in [r.name for r in rows]
    assert gate(rows, "success_rate").passed is True
