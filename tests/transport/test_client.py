"""The transport on a mock transport and a fake clock: host-only, 429/503 back-off and
retries, the write policy, identities watched, curl and evidence (no sockets, no sleeps)."""

from __future__ import annotations

import httpx
import pytest
from tests.transport.fakes import FakeClock

from battletest.config import AuthConfig, Identity, RateLimits
from battletest.redact import Redactor
from battletest.transport import (
    Exchange,
    Identities,
    IdentityBroken,
    PolicyRefused,
    RateLimited,
    Transport,
    WritePolicy,
    curl,
)
from battletest.transport.pacing import Pacer

BASE = "http://127.0.0.1:1"


def _transport(handler, clock: FakeClock | None = None, **kw) -> Transport:  # type: ignore[no-untyped-def]
    clock = clock or FakeClock()
    return Transport(
        BASE, transport=httpx.MockTransport(handler), clock=clock, sleep=clock.sleep, **kw
    )


def test_the_pacer_keeps_each_client_within_its_declared_budget() -> None:
    clock = FakeClock()
    pacer = Pacer.from_limits(
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


def test_redirects_off_the_target_host_are_not_followed_but_noted() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/a":
            return httpx.Response(302, headers={"location": "/b"})
        if request.url.path == "/b":
            return httpx.Response(302, headers={"location": "https://evil.example/steal"})
        return httpx.Response(200)

    http = _transport(handler)
    client = http()
    final = http.follow_same_host(client, client.get("/a"))
    assert final.status_code == 302
    assert seen == [f"{BASE}/a", f"{BASE}/b"]
    assert http.notes == [
        "redirect off the target host not followed: GET /b → https://evil.example/steal"
    ]
    with pytest.raises(PolicyRefused, match="not on the target"):
        client.get("https://evil.example/steal")
    assert len(seen) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttled_request_backs_off_slows_the_client_and_retries(status: int) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(status, headers={"retry-after": "1"} if calls["n"] == 1 else {})
        return httpx.Response(200)

    clock = FakeClock()
    http = _transport(handler, clock)
    assert http().get("/").status_code == 200 and calls["n"] == 3
    assert clock.slept[0] == 1.0  # Retry-After first
    assert 2.0 in clock.slept  # then the doubled default back-off (no Retry-After)
    assert http.pacer.interval("anonymous") > 0  # that client is slower from now on
    assert http.pacer.interval("other") == 0


def test_a_request_still_throttled_after_its_retries_is_inconclusive() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(429, headers={"retry-after": "1"})

    http = _transport(handler)
    with pytest.raises(RateLimited, match="inconclusive: GET /x still answered 429"):
        http().get("/x")
    assert http.gave_up == 1 and len(calls) == 4  # bounded: the request and 3 retries
    assert any("still refused" in n for n in http.summary_notes())


def test_a_rate_probe_gets_its_429_back() -> None:
    http = _transport(lambda r: httpx.Response(429))
    resp = http().get("/x", extensions={"battletest_purpose": "rate_probe"})
    assert resp.status_code == 429


def test_the_policy_is_enforced_for_every_request_and_created_objects_are_tracked() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(201, json={"id": 42})
        return httpx.Response(204)

    http = _transport(handler, policy=WritePolicy())
    client = http()
    with pytest.raises(PolicyRefused, match="collection-wide"):
        client.delete("/v1/members")
    with pytest.raises(PolicyRefused, match="did not create"):
        client.delete("/v1/members/7")
    client.post("/v1/members", json={"name": "x"})
    client.delete("/v1/members/42")  # its own
    assert sent == ["POST /v1/members", "DELETE /v1/members/42"]
    assert [d["kind"] for d in http.policy.report()] == ["collection_wide", "not_owned"]  # type: ignore[union-attr]


def _login_app(state: dict[str, object]):  # type: ignore[no-untyped-def]
    """A target where /login issues token N; /v1/members DELETE removes every account."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            if not state["accounts"]:
                return httpx.Response(401, json={"detail": "no such user"})
            state["n"] = int(state["n"]) + 1  # type: ignore[call-overload]
            return httpx.Response(200, json={"access_token": f"tok{state['n']}"})
        if request.method == "DELETE":
            state["accounts"] = False
            return httpx.Response(204)
        ok = state["accounts"] and request.headers.get("authorization", "").startswith("Bearer")
        return httpx.Response(200 if ok else 401, json={})

    return handler


def test_an_identity_deleted_mid_run_is_marked_broken_after_the_write_that_preceded() -> None:
    state: dict[str, object] = {"accounts": True, "n": 0}
    http = _transport(_login_app(state), policy=WritePolicy(allow_destructive=True))
    ids = Identities(
        [Identity(name="admin", role="admin", username="a", password="pw")],
        AuthConfig(login_path="/login"),
        http,
    )
    ids.login_all()
    admin = http("admin")
    assert admin.get("/v1/items").status_code == 200  # authenticated by the transport
    admin.delete("/v1/members")
    with pytest.raises(
        IdentityBroken, match="identity admin stopped working after DELETE /v1/members"
    ):
        admin.get("/v1/items")
    with pytest.raises(IdentityBroken):  # later cases are inconclusive at once
        admin.get("/v1/other")
    assert ids.broken() == {"admin": "identity admin stopped working after DELETE /v1/members"}
    assert any("stopped working" in n for n in http.summary_notes())


def test_a_revoked_token_is_renewed_once_by_logging_in_again() -> None:
    state: dict[str, object] = {"accounts": True, "n": 0}
    handler = _login_app(state)

    def revoking(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") == "Bearer tok1" and request.url.path != "/login":
            return httpx.Response(401)  # the first token was revoked
        return handler(request)

    http = _transport(revoking)
    ids = Identities(
        [Identity(name="u", username="u", password="pw")], AuthConfig(login_path="/login"), http
    )
    ids.login_all()
    assert http("u").get("/v1/items").status_code == 200
    assert ids.session("u").access_token == "tok2" and not ids.broken()  # type: ignore[union-attr]


def test_basic_query_and_cookie_credentials_are_added_by_the_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    http = _transport(handler)
    Identities(
        [
            Identity(name="basic", username="ann", password="p+&%w"),
            Identity(name="q", api_key="K1"),
            Identity(name="c", cookie="sid=abc"),
        ],
        AuthConfig(api_key_in="query", api_key_header="api_key"),
        http,
    )
    for name in ("basic", "q", "c"):
        http(name).get("/me")
    assert seen[0].headers["authorization"] == "Basic YW5uOnArJiV3"  # ann:p+&%w
    assert seen[1].url.params["api_key"] == "K1"
    assert seen[2].headers["cookie"] == "sid=abc"


def test_a_form_login_url_encodes_the_password_and_tokens_are_redacted() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"jwt": "issued-token-123"}})

    redactor = Redactor()
    http = _transport(handler, redactor=redactor)
    ids = Identities(
        [Identity(name="f", username="a b", password="p+&%w")],
        AuthConfig(login_path="/login", login_format="form"),
        http,
        redactor=redactor,
    )
    session = ids.get("f")
    assert seen[0].content == b"username=a+b&password=p%2B%26%25w"
    assert session.access_token == "issued-token-123"  # found among the common names
    assert "issued-token-123" not in redactor.text("token issued-token-123 was used")


def test_oauth2_client_credentials_against_the_token_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "AT", "expires_in": 3600})
        return httpx.Response(200)

    http = _transport(handler)
    Identities(
        [Identity(name="svc", client_id="cid", client_secret="s3cret")],
        AuthConfig(token_url="http://127.0.0.1:1/oauth/token", scope="read"),
        http,
    )
    http("svc").get("/v1/items")
    assert (
        seen[0].content
        == b"grant_type=client_credentials&client_id=cid&client_secret=s3cret&scope=read"
    )
    assert seen[1].headers["authorization"] == "Bearer AT"


def test_one_curl_and_one_evidence_format() -> None:
    request = httpx.Request(
        "POST", f"{BASE}/items?x=1", headers={"Authorization": "Bearer abc"}, json={"a": "it's"}
    )
    command = curl(request)
    assert command.startswith("curl -i -X POST -H 'authorization: Bearer ***'")
    assert f"{BASE}/items?x=1" in command and "it'\"'\"'s" in command
    response = httpx.Response(201, json={"id": 1}, request=request)
    evidence = Exchange.of(response).evidence()
    assert evidence["request"].splitlines()[0] == f"POST {BASE}/items?x=1"
    assert evidence["response"].startswith("HTTP 201")


def test_a_put_to_a_new_id_creates_it_when_a_get_answered_404_just_before() -> None:
    # Kinto-style create-by-PUT: the client names the new object's id itself
    records: dict[str, str] = {"/v1/records/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": "someone else's"}
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        sent.append(f"{request.method} {path}")
        if request.method == "GET":
            return httpx.Response(200 if path in records else 404)
        if request.method == "PUT":
            records[path] = request.content.decode()
            return httpx.Response(201, json={"id": path.rsplit("/", 1)[1]})
        records.pop(path, None)
        return httpx.Response(204)

    http = _transport(handler, policy=WritePolicy())
    client = http()
    assert (
        client.put("/v1/records/5f0c6e8a-2b1d-4c3e-9f7a-0d1e2f3a4b5c", content=b"mine").status_code
        == 201
    )
    assert sent == [
        "GET /v1/records/5f0c6e8a-2b1d-4c3e-9f7a-0d1e2f3a4b5c",
        "PUT /v1/records/5f0c6e8a-2b1d-4c3e-9f7a-0d1e2f3a4b5c",
    ]
    client.put(
        "/v1/records/5f0c6e8a-2b1d-4c3e-9f7a-0d1e2f3a4b5c", content=b"again"
    )  # its own now: no probe
    assert sent[-1] == "PUT /v1/records/5f0c6e8a-2b1d-4c3e-9f7a-0d1e2f3a4b5c" and len(sent) == 3
    with pytest.raises(PolicyRefused, match="did not create"):
        client.put(
            "/v1/records/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", content=b"overwrite"
        )  # exists: never overwritten
    assert sent[-1] == "GET /v1/records/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert records["/v1/records/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"] == "someone else's"
    assert [d["kind"] for d in http.policy.report()] == ["not_owned"]  # type: ignore[union-attr]
    assert http.policy.leftovers() == ["/v1/records/5f0c6e8a-2b1d-4c3e-9f7a-0d1e2f3a4b5c"]  # type: ignore[union-attr]


def test_user_and_password_in_the_target_url_are_never_sent() -> None:
    # httpx sends a URL's userinfo as HTTP Basic; only an identity with kind "basic" may
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    http = Transport(
        "http://admin:s3cr3t-pw@127.0.0.1:1/v1", transport=httpx.MockTransport(handler)
    )
    Identities(
        [Identity(name="bob", kind="basic", username="bob", password="bobs-pw")], AuthConfig(), http
    )
    http().get("/x")
    http.send("GET", "/y")
    http("bob").get("/z")
    assert [r.headers.get("authorization") for r in seen[:2]] == [None, None]
    assert all(b"s3cr3t" not in r.url.raw_path and not r.url.userinfo for r in seen)
    assert seen[2].headers["authorization"] == "Basic Ym9iOmJvYnMtcHc="  # bob:bobs-pw, his own
    assert http.base_url == "http://127.0.0.1:1/v1"
    assert any("user:password was not sent" in n for n in http.summary_notes())


def test_a_request_without_the_identitys_own_token_is_paced_as_the_anonymous_client_too() -> None:
    # a rate-limited target counts a forged or missing token by the client's address, with
    # the anonymous requests: both budgets are charged, so neither is exceeded
    clock = FakeClock()
    http = _transport(
        lambda r: httpx.Response(200), clock, rate_limits=RateLimits(window_s=10, per_client=4)
    )
    Identities([Identity(name="alice", token="good")], AuthConfig(), http).login_all()
    alice = http("alice")
    for _ in range(3):
        alice.get("/v1/me")  # her own token: her budget only
    assert http.pacer.remaining("alice") == 0 and http.pacer.remaining("anonymous") == 3
    http.pacer = Pacer.from_limits(
        RateLimits(window_s=10, per_client=4), clock=clock, sleep=clock.sleep
    )
    for _ in range(2):
        alice.get("/v1/me", headers={"Authorization": "Bearer forged"})
    http("anonymous").get("/health")
    assert http.pacer.remaining("alice") == 1 and http.pacer.remaining("anonymous") == 0
    alice.get("/v1/me", headers={"Authorization": "Bearer forged"})  # anonymous is spent: waits
    assert clock.slept and clock.slept[-1] == pytest.approx(10.0)


def test_a_token_naming_an_identitys_subject_is_paced_as_that_identity() -> None:
    # a token re-signed with a cracked key (or alg none) for alice's subject, sent by the
    # anonymous client: the target counts it as alice's
    from battletest.auth.jwt import sign

    clock = FakeClock()
    limits = RateLimits(window_s=10, per_client=4)
    http = _transport(lambda r: httpx.Response(200), clock, rate_limits=limits)
    own = sign({"sub": "u_alice", "exp": 2_000_000_000}, "k" * 32)
    Identities([Identity(name="alice", token=own)], AuthConfig(), http).login_all()
    forged = sign({"sub": "u_alice", "exp": 2_000_000_000, "role": "admin"}, "cracked" * 5)
    stranger = sign({"sub": "u_bob"}, "cracked" * 5)
    anonymous = http("anonymous")
    anonymous.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    anonymous.get("/v1/me", headers={"Authorization": f"Bearer {stranger}"})
    assert http.pacer.remaining("alice") == 2 and http.pacer.remaining("anonymous") == 1
