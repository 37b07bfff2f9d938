"""Socket-free units: pacing, host-only redirects, curl, redaction, JWT forging, logins, gates."""

from __future__ import annotations

import json
import time

import httpx
import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.auth import IdentitySession
from battletest.auth import jwt as forge
from battletest.config import AuthConfig, Identity, RateLimits
from battletest.errors import AuthError
from battletest.quality.gates import GatesConfig, evaluate_gates
from battletest.redact import redact
from battletest.results import Case, Status, SuiteResult
from battletest.suites.http import HttpClientFactory, Pacer, curl


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_keeps_each_client_within_its_declared_budget() -> None:
    clock = FakeClock()
    pacer = Pacer(
        RateLimits(window_s=10, per_client=10, service_quota=100),
        frozenset({"svc"}),
        clock=clock,
        sleep=clock.sleep,
        headroom=0.9,
    )
    for _ in range(9):
        pacer.acquire("alice")
    assert clock.slept == [] and pacer.remaining("alice") == 0
    pacer.acquire("alice")  # the tenth waits for the window to slide
    assert clock.slept == [pytest.approx(10.0)]
    for _ in range(50):
        pacer.acquire("svc")  # the service identity has its own, larger quota
    assert len(clock.slept) == 1 and pacer.remaining("svc") == 40


def test_no_declared_limit_means_no_pacing() -> None:
    clock = FakeClock()
    pacer = Pacer(RateLimits(per_client=0), clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        pacer.acquire("x")
    assert clock.slept == []


def test_redirects_off_the_target_host_are_not_followed_but_noted() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/a":
            return httpx.Response(302, headers={"location": "/b"})
        if request.url.path == "/b":
            return httpx.Response(302, headers={"location": "https://evil.example/steal"})
        return httpx.Response(200)

    http = HttpClientFactory("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    client = http()
    final = http.follow_same_host(client, client.get("/a"))
    assert final.status_code == 302
    assert seen == ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    assert http.notes == [
        "redirect off the target host not followed: GET /b → https://evil.example/steal"
    ]


def test_a_429_is_waited_out_once() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"retry-after": "0"})
        return httpx.Response(200)

    http = HttpClientFactory("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    assert http().get("/").status_code == 200 and calls["n"] == 2


def test_curl_reproduces_method_headers_body_and_url() -> None:
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:1/items?x=1",
        headers={"Authorization": "Bearer abc"},
        json={"a": "it's"},
    )
    command = curl(request)
    assert command.startswith("curl -X POST -H 'authorization: Bearer abc'")
    assert "http://127.0.0.1:1/items?x=1" in command and "it'\"'\"'s" in command


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


def login_transport(
    status: int = 200,
    body: object = None,
    ct: str = "application/json",
    seen: list[httpx.Request] | None = None,
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content = json.dumps(body).encode() if not isinstance(body, bytes) else body
        return httpx.Response(status, content=content, headers={"content-type": ct})

    return httpx.MockTransport(handler)


IDENT = Identity(name="ann", role="staff", username="ann@x.test", password="pw")


def test_json_and_form_logins_extract_the_tokens() -> None:
    seen: list[httpx.Request] = []
    body = {"data": {"token": "T1"}, "refresh_token": "R1"}
    auth = AuthConfig(login_path="/login", token_field="data.token")
    with httpx.Client(base_url="http://t", transport=login_transport(body=body, seen=seen)) as c:
        session = IdentitySession(IDENT, auth)
        session.login(c)
    assert session.headers() == {"Authorization": "Bearer T1"} and session.refresh_token == "R1"
    assert json.loads(seen[0].content) == {"username": "ann@x.test", "password": "pw"}
    form = AuthConfig(login_path="/login", login_format="form")
    with httpx.Client(
        base_url="http://t", transport=login_transport(body={"access_token": "T2"}, seen=seen)
    ) as c:
        IdentitySession(IDENT, form).login(c)
    assert seen[1].headers["content-type"] == "application/x-www-form-urlencoded"


def test_api_keys_and_static_tokens_need_no_login() -> None:
    auth = AuthConfig(api_key_header="X-Key")
    assert IdentitySession(Identity(name="s", api_key="K"), auth).headers() == {"X-Key": "K"}
    assert IdentitySession(Identity(name="t", token="T"), auth).headers() == {
        "Authorization": "Bearer T"
    }


@pytest.mark.parametrize(
    ("status", "body", "ct", "expected"),
    [
        (401, {"detail": "no"}, "application/json", "was refused \\(HTTP 401\\)"),
        (200, b"<html>login page</html>", "text/html", "not JSON \\(text/html\\)"),
        (200, {"token": "x"}, "application/json", "no 'access_token' in the response"),
    ],
)
def test_a_failing_login_is_one_clear_auth_error(
    status: int, body: object, ct: str, expected: str
) -> None:
    auth = AuthConfig(login_path="/login")
    with (
        httpx.Client(base_url="http://t", transport=login_transport(status, body, ct)) as c,
        pytest.raises(AuthError, match=expected),
    ):
        IdentitySession(IDENT, auth).login(c)


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


def test_an_expiring_token_is_refreshed_before_use() -> None:
    soon = pyjwt.encode({"sub": "a", "exp": int(time.time()) + 1}, "k" * 32, algorithm="HS256")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"access_token": "fresh", "refresh_token": "R2"})

    auth = AuthConfig(login_path="/login", refresh_path="/refresh")
    session = IdentitySession(IDENT, auth, access_token=soon, refresh_token="R1", logged_in=True)
    with httpx.Client(base_url="http://t", transport=httpx.MockTransport(handler)) as client:
        session.ensure_fresh(client)
    assert seen == ["/refresh"] and session.access_token == "fresh"
    assert session.refresh_token == "R2"
