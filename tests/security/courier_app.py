"""A small Starlette courier API whose operations need values other operations answer.

- ``POST /v1/auth/login`` (JSON) answers an access and a refresh token; ``POST
  /v1/auth/refresh`` takes ``{"refresh_token": …}``; ``POST /v1/auth/logout`` ends the session;
- ``POST /v1/parcels`` answers 201 with the parcel's ``number`` and a ``tracking`` code (no
  ``id``); only an OpenAPI link says that ``GET /v1/tracking/{code}`` takes that code;
- ``GET /v1/parcels`` lists the caller's parcels (number and ``label``); ``GET
  /v1/parcels/{number}`` shows one, with the recipient's ``phone``; ``DELETE`` removes it;
- ``GET /v1/parcels.search?q=`` answers 404 unless ``q`` is part of a label;
- ``GET /v1/recipients`` answers 422 unless given a ``phone`` (optional in the spec) of a parcel.

Every answer is journalled as (method, route, status), so a test tells what was reached.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

USERS = {"ann": "ann-Pass-1", "ben": "ben-Pass-2"}


def build_app() -> tuple[Starlette, list[tuple[str, str, int]]]:
    journal: list[tuple[str, str, int]] = []
    tokens: dict[str, str] = {}
    refresh: dict[str, str] = {}
    parcels: dict[str, dict[str, Any]] = {}

    def answer(request: Request, route: str, body: Any, status: int = 200) -> Response:
        journal.append((request.method, route, status))
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status)

    def caller(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return tokens.get(token) if scheme.lower() == "bearer" else None

    def issue(user: str) -> dict[str, str]:
        access, renew = secrets.token_hex(12), secrets.token_hex(12)
        tokens[access], refresh[renew] = user, user
        return {"access_token": access, "refresh_token": renew, "token_type": "bearer"}

    async def login(request: Request) -> Response:
        data = await request.json()
        user = str(data.get("username", ""))
        if USERS.get(user) != data.get("password"):
            return answer(request, "/v1/auth/login", {"detail": "bad login"}, 401)
        return answer(request, "/v1/auth/login", issue(user))

    async def renew(request: Request) -> Response:
        data = await request.json() if await request.body() else {}
        user = refresh.pop(str(data.get("refresh_token", "")), None)
        if user is None:
            return answer(request, "/v1/auth/refresh", {"detail": "bad refresh token"}, 401)
        return answer(request, "/v1/auth/refresh", issue(user))

    async def logout(request: Request) -> Response:
        _scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if tokens.pop(token, None) is None:
            return answer(request, "/v1/auth/logout", {"detail": "not logged in"}, 401)
        return answer(request, "/v1/auth/logout", None, 204)

    async def collection(request: Request) -> Response:
        user = caller(request)
        if user is None:
            return answer(request, "/v1/parcels", {"detail": "login"}, 401)
        if request.method == "GET":
            mine = [
                {"number": n, "label": p["label"]} for n, p in parcels.items() if p["owner"] == user
            ]
            return answer(request, "/v1/parcels", mine)
        data = await request.json()
        number = f"P{len(parcels) + 1000}"
        parcels[number] = {
            "owner": user,
            "label": str(data.get("label", "")),
            "phone": f"+4470000{len(parcels):05d}",
            "tracking": "TRK" + secrets.token_hex(4).upper(),
        }
        body = {"number": number, "tracking": parcels[number]["tracking"]}
        return answer(request, "/v1/parcels", body, 201)

    async def item(request: Request) -> Response:
        user, number = caller(request), request.path_params["number"]
        found = parcels.get(number)
        if user is None or found is None or found["owner"] != user:
            return answer(request, "/v1/parcels/{number}", {"detail": "no such parcel"}, 404)
        if request.method == "DELETE":
            del parcels[number]
            return answer(request, "/v1/parcels/{number}", None, 204)
        shown = {"number": number, "label": found["label"], "phone": found["phone"]}
        return answer(request, "/v1/parcels/{number}", shown)

    async def tracking(request: Request) -> Response:
        code = request.path_params["code"]
        found = next((n for n, p in parcels.items() if p["tracking"] == code), None)
        if caller(request) is None or found is None:
            return answer(request, "/v1/tracking/{code}", {"detail": "unknown code"}, 404)
        return answer(request, "/v1/tracking/{code}", {"parcel": found, "status": "in transit"})

    async def search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        hits = [n for n, p in parcels.items() if q and q in p["label"]]
        if caller(request) is None or not hits:
            return answer(request, "/v1/parcels.search", {"detail": "no match"}, 404)
        return answer(request, "/v1/parcels.search", {"numbers": hits})

    async def recipients(request: Request) -> Response:
        phone = request.query_params.get("phone")
        if caller(request) is None:
            return answer(request, "/v1/recipients", {"detail": "login"}, 401)
        if not phone:
            return answer(request, "/v1/recipients", {"detail": "give phone"}, 422)
        hits = [n for n, p in parcels.items() if p["phone"] == phone]
        return answer(request, "/v1/recipients", {"parcels": hits}, 200 if hits else 404)

    routes = [
        Route("/v1/auth/login", login, methods=["POST"]),
        Route("/v1/auth/refresh", renew, methods=["POST"]),
        Route("/v1/auth/logout", logout, methods=["POST"]),
        Route("/v1/parcels", collection, methods=["GET", "POST"]),
        Route("/v1/parcels.search", search, methods=["GET"]),
        Route("/v1/parcels/{number}", item, methods=["GET", "DELETE"]),
        Route("/v1/tracking/{code}", tracking, methods=["GET"]),
        Route("/v1/recipients", recipients, methods=["GET"]),
    ]
    return Starlette(routes=routes), journal


def _ok(schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"description": "ok", **extra}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


TOKENS = {
    "type": "object",
    "properties": {"access_token": {"type": "string"}, "refresh_token": {"type": "string"}},
}
CREDENTIALS = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}


def spec(*, links: bool = True) -> dict[str, Any]:
    """OpenAPI 3.0.3; ``links``: the create's answer links its tracking code to the lookup
    (through a ``$ref`` to ``components.links``)."""
    created = _ok({"type": "object", "properties": {"number": {"type": "string"}, "tracking": {}}})
    if links:
        created["links"] = {"track": {"$ref": "#/components/links/track"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "courier", "version": "1"},
        "security": [{"bearer": []}],
        "paths": {
            "/v1/auth/login": {
                "post": {
                    "operationId": "login",
                    "security": [],
                    "requestBody": _json(CREDENTIALS),
                    "responses": {"200": _ok(TOKENS)},
                }
            },
            "/v1/auth/refresh": {
                "post": {
                    "operationId": "refresh",
                    "requestBody": _json(
                        {
                            "type": "object",
                            "required": ["refresh_token"],
                            "properties": {"refresh_token": {"type": "string"}},
                        }
                    ),
                    "responses": {"200": _ok(TOKENS)},
                }
            },
            "/v1/auth/logout": {"post": {"operationId": "logout", "responses": {"204": _ok()}}},
            "/v1/parcels": {
                "get": {"operationId": "listParcels", "responses": {"200": _ok()}},
                "post": {
                    "operationId": "createParcel",
                    "requestBody": _json(
                        {
                            "type": "object",
                            "required": ["label"],
                            "properties": {"label": {"type": "string"}},
                        }
                    ),
                    "responses": {"201": created},
                },
            },
            "/v1/parcels.search": {
                "get": {
                    "operationId": "searchParcels",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _ok(), "404": _ok()},
                }
            },
            "/v1/parcels/{number}": {
                "parameters": _path("number"),
                "get": {"operationId": "getParcel", "responses": {"200": _ok()}},
                "delete": {"operationId": "deleteParcel", "responses": {"204": _ok()}},
            },
            "/v1/tracking/{code}": {
                "parameters": _path("code"),
                "get": {"operationId": "track", "responses": {"200": _ok()}},
            },
            "/v1/recipients": {
                "get": {
                    "operationId": "findRecipients",
                    "parameters": [
                        {"name": "phone", "in": "query", "schema": {"type": "string"}},
                        {"name": "name", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _ok(), "422": _ok()},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "links": {
                "track": {
                    "operationId": "track",
                    "parameters": {"code": "$response.body#/tracking"},
                }
            },
        },
    }
