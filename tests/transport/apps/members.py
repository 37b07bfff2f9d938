"""A members service that plants what harmed real services (Starlette, HTTP Basic, Swagger 2.0).

Ground truth, written before battletest was run against it:

- accounts (HTTP Basic): ``admin`` / ``adm+&%pw`` (role admin) and ``alice`` / ``alice pw``;
- ``DELETE /v1/members`` (documented, no item parameter) deletes every member AND every
  account — the collection-wide DELETE that removed other identities' data;
- ``GET /v1/admin/reset`` (documented as a GET, "Reset all data") wipes every member;
- ``DELETE /v1/me`` deletes the calling account;
- ``POST /v1/members`` creates a member (201, ``Location: /v1/members/{id}``); item GET, PUT
  and DELETE on ``/v1/members/{id}``;
- the document is Swagger 2.0 and names another host (``members.example.com``) with base path
  ``/v1``: traffic must stay on the target the user named, the base path kept.

A run that harms nothing leaves every account able to log in and every member a test created
beforehand readable byte for byte. ``recording_proxy`` is a loopback reverse proxy in front of
it that records every request it forwards.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ACCOUNTS = {"admin": ("adm+&%pw", "admin"), "alice": ("alice pw", "user")}

SWAGGER: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Members", "version": "1"},
    "host": "members.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {"basic": {"type": "basic"}},
    "security": [{"basic": []}],
    "definitions": {
        "Member": {
            "type": "object",
            "required": ["name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string", "maxLength": 20}},
        }
    },
    "paths": {
        "/members": {
            "get": {
                "operationId": "listMembers",
                "responses": {
                    "200": {"description": "ok", "schema": {"type": "array", "items": {}}},
                    "401": {"description": "no"},
                },
            },
            "post": {
                "operationId": "createMember",
                "parameters": [
                    {
                        "in": "body",
                        "name": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Member"},
                    }
                ],
                "responses": {
                    "201": {"description": "created", "schema": {"$ref": "#/definitions/Member"}},
                    "400": {"description": "bad"},
                    "401": {"description": "no"},
                },
            },
            "delete": {
                "operationId": "removeAllMembers",
                "summary": "Remove every member",
                "responses": {"204": {"description": "gone"}, "401": {"description": "no"}},
            },
        },
        "/members/{id}": {
            "parameters": [{"in": "path", "name": "id", "required": True, "type": "integer"}],
            "get": {
                "operationId": "getMember",
                "responses": {
                    "200": {"description": "ok", "schema": {"$ref": "#/definitions/Member"}},
                    "401": {"description": "no"},
                    "404": {"description": "none"},
                },
            },
            "put": {
                "operationId": "updateMember",
                "parameters": [
                    {
                        "in": "body",
                        "name": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Member"},
                    }
                ],
                "responses": {
                    "200": {"description": "ok", "schema": {"$ref": "#/definitions/Member"}},
                    "400": {"description": "bad"},
                    "401": {"description": "no"},
                    "404": {"description": "none"},
                },
            },
            "delete": {
                "operationId": "deleteMember",
                "responses": {
                    "204": {"description": "gone"},
                    "401": {"description": "no"},
                    "404": {"description": "none"},
                },
            },
        },
        "/admin/reset": {
            "get": {
                "operationId": "adminState",
                "summary": "Reset all data",
                "responses": {"200": {"description": "done"}, "401": {"description": "no"}},
            }
        },
        "/me": {
            "get": {
                "operationId": "whoAmI",
                "responses": {"200": {"description": "me"}, "401": {"description": "no"}},
            },
            "delete": {
                "operationId": "closeAccount",
                "responses": {"204": {"description": "closed"}, "401": {"description": "no"}},
            },
        },
    },
}


def make_app() -> Starlette:
    accounts = dict(ACCOUNTS)
    members: dict[int, dict[str, Any]] = {}
    ids = itertools.count(1)

    def caller(request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        known = accounts.get(user)
        return user if known and known[0] == password else None

    def no() -> Response:
        return JSONResponse({"detail": "who are you"}, 401, headers={"WWW-Authenticate": "Basic"})

    async def doc(request: Request) -> Response:
        return JSONResponse(SWAGGER)

    async def collection(request: Request) -> Response:
        if caller(request) is None:
            return no()
        if request.method == "GET":
            return JSONResponse(list(members.values()))
        if request.method == "DELETE":  # the planted harm: every member and every account
            members.clear()
            accounts.clear()
            return Response(status_code=204)
        try:
            body = json.loads(await request.body())
            name = body["name"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return JSONResponse({"detail": "name required"}, 400)
        if not isinstance(name, str) or len(name) > 20:
            return JSONResponse({"detail": "bad name"}, 400)
        new = {"id": next(ids), "name": name}
        members[new["id"]] = new
        return JSONResponse(new, 201, headers={"Location": f"/v1/members/{new['id']}"})

    async def item(request: Request) -> Response:
        if caller(request) is None:
            return no()
        try:
            key = int(request.path_params["id"])
        except ValueError:
            return JSONResponse({"detail": "id must be an integer"}, 400)
        if key not in members:
            return JSONResponse({"detail": "no such member"}, 404)
        if request.method == "GET":
            return JSONResponse(members[key])
        if request.method == "DELETE":
            del members[key]
            return Response(status_code=204)
        try:
            body = json.loads(await request.body())
            members[key] = {"id": key, "name": str(body["name"])[:20]}
        except (ValueError, KeyError, TypeError, RecursionError):
            return JSONResponse({"detail": "name required"}, 400)
        return JSONResponse(members[key])

    async def reset(request: Request) -> Response:
        if caller(request) is None:
            return no()
        members.clear()  # the planted harm: a documented GET that wipes the data
        return JSONResponse({"reset": True})

    async def me(request: Request) -> Response:
        who = caller(request)
        if who is None:
            return no()
        if request.method == "DELETE":
            accounts.pop(who, None)  # the planted harm: deletes the calling identity
            return Response(status_code=204)
        return JSONResponse({"name": who, "role": ACCOUNTS[who][1]})

    return Starlette(
        routes=[
            Route("/swagger.json", doc),
            Route("/v1/members", collection, methods=["GET", "POST", "DELETE"]),
            Route("/v1/members/{id}", item, methods=["GET", "PUT", "DELETE"]),
            Route("/v1/admin/reset", reset, methods=["GET"]),
            Route("/v1/me", me, methods=["GET", "DELETE"]),
        ]
    )


def recording_proxy(upstream: str, log: list[tuple[str, str]]) -> Starlette:
    """A loopback reverse proxy: forwards every request to ``upstream`` and records
    (method, path) of each, before it is forwarded."""

    async def forward(request: Request) -> Response:
        log.append((request.method, request.url.path))
        async with httpx.AsyncClient(base_url=upstream, timeout=10) as client:
            upstream_response = await client.request(
                request.method,
                request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                headers=[(k, v) for k, v in request.headers.items() if k.lower() != "host"],
                content=await request.body(),
            )
        headers = {
            k: v
            for k, v in upstream_response.headers.items()
            if k.lower() not in {"content-length", "transfer-encoding", "content-encoding"}
        }
        return Response(upstream_response.content, upstream_response.status_code, headers=headers)

    methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
