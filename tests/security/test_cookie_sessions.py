"""A login that answers with a session cookie holding a JWT: the JWT checks find the token in
the cookie (and send forgeries there), the login probes never leak that session into the
scan's anonymous requests, and CSRF is tried on form POSTs that create. Socket-free."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from battletest.auth import jwt as jwtlib
from battletest.security import ScanIdentity, ScanSettings, scan
from battletest.security.checks.authn import PROBE_KEY, control_login, login_channel
from battletest.security.context import ScanContext, login
from battletest.security.suite import operations_of
from battletest.transport import ANONYMOUS, Transport

SECRET = b"rhubarb"  # a dictionary word: not in the shipped weak-secret list
FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {
            "type": "object",
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        }
    }
}
NOTE = {
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "properties": {"text": {"type": "string"}}}
    }
}
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "garden", "version": "1"},
    "components": {"securitySchemes": {"s": {"type": "apiKey", "in": "cookie", "name": "sid"}}},
    "paths": {
        "/login": {
            "post": {
                "requestBody": {"content": FORM},
                "responses": {"200": {"description": "page"}},
            }
        },
        "/me": {"get": {"security": [{"s": []}], "responses": {"200": {"description": "me"}}}},
        "/rpc/notes.add": {
            "post": {
                "security": [{"s": []}],
                "requestBody": {"content": NOTE},
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}


def _service(csrf: bool) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if form.get("password") != "p+w&%1":
                return httpx.Response(200, html="<p>Wrong password.</p>")
            token = jwtlib.sign_hmac(
                {"alg": "HS256", "typ": "JWT"}, {"sub": form["username"], "exp": 4102444800}, SECRET
            )
            return httpx.Response(
                200, html="<p>Welcome</p>", headers={"Set-Cookie": f"sid={token}; Path=/"}
            )
        sid = request.headers.get("cookie", "").removeprefix("sid=")
        claims = jwtlib.Jwt.parse(sid)
        good = claims is not None and jwtlib.sign_hmac(claims.header, claims.claims, SECRET) == sid
        if not good:
            return httpx.Response(401, json={"error": "login first"})
        if request.url.path == "/rpc/notes.add":
            if not csrf and request.headers.get("origin", "").startswith(
                "https://battletest-attacker"
            ):
                return httpx.Response(403, json={"error": "foreign origin"})
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(200, json={"user": claims.claims["sub"] if claims else None})

    return httpx.MockTransport(handler)


def _people() -> list[ScanIdentity]:
    return [ScanIdentity(name="alice", username="alice", password="p+w&%1")]


@pytest.mark.parametrize("csrf", [True, False])
def test_jwt_in_a_session_cookie_is_cracked_and_csrf_tried_on_a_form_create(csrf: bool) -> None:
    settings = ScanSettings(
        checks=["jwt-weak-secret", "csrf"], login={"path": "/login", "format": "form"}
    )
    outcome = scan("http://garden.test", SPEC, _people(), settings, transport=_service(csrf))
    found = {f.check_id: f for f in outcome.findings}
    assert found["jwt-weak-secret"].parameter == "signing key"
    assert "a token minted with it was accepted" in found["jwt-weak-secret"].evidence["note"]
    assert ("csrf" in found) is csrf
    assert all(r.conclusive for r in outcome.runs)


def test_login_probes_leave_no_session_on_the_anonymous_client() -> None:
    client = Transport("http://garden.test", transport=_service(True))
    settings = ScanSettings(login={"path": "/login", "format": "form"})
    ops = operations_of(SPEC)
    people = [login(client, p, settings.login) for p in _people()]
    ctx = ScanContext(client, settings, ops, people)
    channel = login_channel(ctx)
    assert channel is not None and channel.kind == "form"
    assert not isinstance(control_login(ctx, channel), str)  # the right password logged in
    assert not client(ANONYMOUS).cookies and not client(PROBE_KEY).cookies
    assert ctx.send("GET", "/me").status == 401  # an anonymous request stays anonymous
