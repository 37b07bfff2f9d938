"""A small Starlette API whose logins are unlike the demo's, for the login checks.

- ``POST /session`` takes a URL-encoded form (``login``, ``secret``), answers a right password
  with ``{"data": {"accessToken": …}}`` and a wrong one with **HTTP 200** and a message;
- ``GET /profile`` takes that bearer token, or HTTP Basic with the same credentials (the
  ``basic`` spec documents no login operation at all);
- ``limited``: five wrong passwords for one account lock it (429 with ``Retry-After``), on the
  form login and on Basic; ``enumerate``: an unknown account gets a different message.

Its OpenAPI 3.0 document is written by hand (``spec(kind)``), as a real service's would be.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# the password has every character a form body must escape
USERS = {"kim": "p+a&s%s w0rd=1", "lee": "lee-Pass-2"}
MAX_FAILURES = 5


def build_app(*, limited: bool, enumerate_users: bool = False) -> Starlette:
    tokens: dict[str, str] = {}
    failures: dict[str, int] = {}

    def locked(user: str) -> JSONResponse | None:
        if limited and failures.get(user, 0) >= MAX_FAILURES:
            return JSONResponse(
                {"error": "account temporarily locked"}, 429, headers={"Retry-After": "30"}
            )
        return None

    def check(user: str, password: str) -> bool:
        ok = USERS.get(user) == password
        if not ok:
            failures[user] = failures.get(user, 0) + 1
        return ok

    async def session(request: Request) -> JSONResponse:
        if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "form body expected"}, 415)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        user, password = form.get("login", ""), form.get("secret", "")
        refused = locked(user)
        if refused is not None:
            return refused
        if not check(user, password):
            unknown = enumerate_users and user not in USERS
            return JSONResponse({"error": "no such account" if unknown else "invalid login"})
        token = secrets.token_hex(16)
        tokens[token] = user
        return JSONResponse({"data": {"accessToken": token, "user": user}})

    async def profile(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        user: str | None = None
        if auth.startswith("Bearer "):
            user = tokens.get(auth[7:])
        elif auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            refused = locked(name)
            if refused is not None:
                return refused
            user = name if check(name, password) else None
        if user is None:
            return JSONResponse({"error": "unauthorized"}, 401)
        return JSONResponse({"user": user})

    return Starlette(
        routes=[Route("/session", session, methods=["POST"]), Route("/profile", profile)]
    )


def spec(kind: str = "form") -> dict[str, Any]:
    """The hand-written document: ``form`` (the form login and bearer) or ``basic``."""
    paths: dict[str, Any] = {
        "/profile": {
            "get": {
                "operationId": "profile",
                "security": [{"token": []}] if kind == "form" else [{"basic": []}],
                "responses": {"200": {"description": "the caller"}, "401": {"description": "no"}},
            }
        }
    }
    if kind == "form":
        form = {
            "type": "object",
            "required": ["login", "secret"],
            "properties": {"login": {"type": "string"}, "secret": {"type": "string"}},
        }
        paths["/session"] = {
            "post": {
                "operationId": "login",
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": form}},
                },
                "responses": {"200": {"description": "a token, or a message"}},
            }
        }
    schemes = {
        "token": {"type": "http", "scheme": "bearer"},
        "basic": {"type": "http", "scheme": "basic"},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "logins", "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": schemes},
    }
