"""Socket-free unit tests: options, tokens, limiter, lockout, log redaction, config rendering."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import jwt
import pytest

from battletest.demo import VULNERABILITIES, DemoHandle, DemoOptions
from battletest.demo.launcher import identities_for
from battletest.demo.policy import RBAC, allowed_roles
from battletest.demo.security import InvalidToken, Lockout, SlidingWindowLimiter, Tokens
from battletest.demo.server import redact
from battletest.errors import UsageError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_options_round_trip_and_switches() -> None:
    o = DemoOptions.build(vulns={"sqli", "xss"}, cors_origins=["http://a"], token_ttl_s=5)
    assert DemoOptions.from_json(o.to_json()) == o
    assert o.vuln("sqli") and not o.vuln("bola")
    assert DemoOptions(insecure=True).active_vulns == frozenset(VULNERABILITIES)
    assert len(VULNERABILITIES) == 18
    with pytest.raises(UsageError, match="unknown demo option"):
        DemoOptions.build(colour="red")
    with pytest.raises(UsageError, match="out of range"):
        DemoOptions(port=70000)
    with pytest.raises(UsageError, match="pms_url must be an http"):
        DemoOptions(pms_url="127.0.0.1:9001")


def test_tokens_expire_and_are_typed() -> None:
    clock = FakeClock()
    tokens = Tokens(DemoOptions(token_ttl_s=10), clock=clock)
    access = tokens.issue("u1", "guest", "h1", "access")
    refresh = tokens.issue("u1", "guest", "h1", "refresh")
    assert tokens.decode(access.token)["sub"] == "u1"
    assert tokens.decode(access.token)["hotel_id"] == "h1"  # served from the verified cache
    with pytest.raises(InvalidToken):
        tokens.decode(refresh.token)  # a refresh token is not an access token
    with pytest.raises(InvalidToken):
        tokens.decode(access.token, kind="refresh")
    clock.now += 11
    with pytest.raises(InvalidToken, match="expired"):
        tokens.decode(access.token)


def test_insecure_tokens_accept_alg_none_and_ignore_expiry() -> None:
    clock = FakeClock()
    claims = {"sub": "u_admin", "typ": "access", "jti": "x", "exp": 1.0}
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(InvalidToken):
        Tokens(DemoOptions(), clock=clock).decode(unsigned)
    assert Tokens(DemoOptions(insecure=True), clock=clock).decode(unsigned)["sub"] == "u_admin"
    weak = Tokens(DemoOptions(insecure=True), clock=clock)
    assert weak.secret == "sunshine"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = weak.issue("u1", "guest", None, "access")
    clock.now += 10_000
    assert weak.decode(t.token)["sub"] == "u1"


def test_sliding_window_limiter() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(10, clock=clock)
    assert [limiter.hit("a", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("a", 3) == pytest.approx(10)
    assert limiter.hit("b", 3) == 0.0  # per client
    clock.now += 4
    assert limiter.hit("a", 3) == pytest.approx(6)
    clock.now += 6
    assert limiter.hit("a", 3) == 0.0  # the oldest hit left the window


def test_lockout() -> None:
    clock = FakeClock()
    lock = Lockout(threshold=2, lockout_s=30, clock=clock)
    lock.failed("A@x")
    assert lock.retry_after("a@x") == 0
    lock.failed("a@x")
    assert lock.retry_after("a@X") == pytest.approx(30)
    clock.now += 31
    assert lock.retry_after("a@x") == 0
    lock.failed("a@x")
    assert lock.retry_after("a@x") == 0  # the count restarted after the lockout


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("incoming call from +15550100001", "incoming call from [phone …01]"),
        ("mail guest1@demo.test now", "mail [email] now"),
        ("GET /x 200 12.3ms cid=7824451f8c4d40a0", "GET /x 200 12.3ms cid=7824451f8c4d40a0"),
        ("2026-11-29 14:33:12,206", "2026-11-29 14:33:12,206"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_rbac_table() -> None:
    assert allowed_roles("DELETE", "/v1/users/{user_id}") == ("admin",)
    assert len({(r.method, r.path) for r in RBAC}) == len(RBAC)


def test_config_renders_the_contract(tmp_path: Path) -> None:
    opts = DemoOptions(service_api_key="btk_x", rate_limit=False)
    handle = DemoHandle(
        options=opts,
        base_url="http://127.0.0.1:8000",
        pms_url="http://p",
        tts_url="http://t",
        identities=identities_for(opts),
        db_path="x",
        run_dir=tmp_path,
        _own_run_dir=False,
    )
    doc = tomllib.loads(handle.config_toml())
    assert doc["target"]["spec"] == "http://127.0.0.1:8000/openapi.json"
    assert doc["rate_limits"]["per_client"] == 0  # switched off
    assert doc["identities"][-1] == {"name": "service", "role": "service", "api_key": "btk_x"}
    assert [d["name"] for d in doc["dependencies"]] == ["pms", "tts"]
    with pytest.raises(UsageError, match="no demo identity"):
        handle.identity("root")
    # insecure mode states the same identities and what SHOULD hold
    insecure = DemoHandle(
        options=DemoOptions(service_api_key="btk_x", insecure=True),
        base_url="http://127.0.0.1:8000",
        pms_url="http://p",
        tts_url="http://t",
        identities=identities_for(opts),
        db_path="x",
        run_dir=tmp_path,
        _own_run_dir=False,
    )
    insecure_doc = tomllib.loads(insecure.config_toml())
    assert insecure_doc["rbac"] == doc["rbac"] and insecure_doc["identities"] == doc["identities"]
    assert "INSECURE" in insecure.config_toml().splitlines()[0]


def test_public_names() -> None:
    import battletest.demo as demo

    assert sorted(demo.__all__) == sorted(
        n for n in vars(demo) if (not n.startswith("_") and n[0].isupper()) or n == "start"
    )
