"""A small API that answers 429 with ``Retry-After: 1`` past 5 requests per second per client.

Ground truth: a client is its ``X-API-Key`` (else its ``Authorization`` header, else
"anonymous"); within any sliding second a client gets at most 5 answers that are not 429.
Every 429 is counted in ``stats["throttled"]``. Operations: public ``GET /health``; with an API
key, ``GET /things``, ``POST /things`` (201, an id), ``GET /things/{id}``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KEY = "thing-key-123"
LIMIT = 5

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Things", "version": "1"},
    "components": {
        "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "label"],
                "properties": {"id": {"type": "integer"}, "label": {"type": "string"}},
            },
            "Problem": {"type": "object", "properties": {"detail": {"type": "string"}}},
        },
    },
    "paths": {
        "/health": {
            "get": {
                "operationId": "health",
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
        "/things": {
            "get": {
                "operationId": "listThings",
                "security": [{"key": []}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "array"}}},
                    },
                    "401": {"description": "no", "content": {"application/problem+json": {}}},
                },
            },
            "post": {
                "operationId": "createThing",
                "security": [{"key": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["label"],
                                "properties": {"label": {"type": "string", "maxLength": 10}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "made",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        },
                    },
                    "401": {"description": "no", "content": {"application/problem+json": {}}},
                    "422": {"description": "bad", "content": {"application/problem+json": {}}},
                },
            },
        },
        "/things/{id}": {
            "get": {
                "operationId": "getThing",
                "security": [{"key": []}],
                "parameters": [
                    {"in": "path", "name": "id", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        },
                    },
                    "401": {"description": "no", "content": {"application/problem+json": {}}},
                    "404": {"description": "none", "content": {"application/problem+json": {}}},
                    "422": {"description": "bad", "content": {"application/problem+json": {}}},
                },
            },
        },
    },
}


def make_app(stats: dict[str, int]) -> Starlette:
    seen: dict[str, deque[float]] = {}
    lock = threading.Lock()
    things: dict[int, dict[str, Any]] = {}
    ids = itertools.count(1)
    stats.setdefault("throttled", 0)
    stats.setdefault("answered", 0)

    def problem(status: int, detail: str) -> Response:
        return JSONResponse({"detail": detail}, status, media_type="application/problem+json")

    def throttle(request: Request) -> Response | None:
        who = request.headers.get("x-api-key") or request.headers.get("authorization") or "anon"
        now = time.monotonic()
        with lock:
            window = seen.setdefault(who, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= LIMIT:
                stats["throttled"] += 1
                return JSONResponse({"detail": "slow down"}, 429, headers={"Retry-After": "1"})
            window.append(now)
            stats["answered"] += 1
        return None

    async def doc(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def health(request: Request) -> Response:
        return throttle(request) or JSONResponse({"ok": True})

    async def collection(request: Request) -> Response:
        limited = throttle(request)
        if limited:
            return limited
        if request.headers.get("x-api-key") != KEY:
            return problem(401, "key required")
        if request.method == "GET":
            return JSONResponse(list(things.values()))
        try:
            body = json.loads(await request.body())
            label = body["label"]
            assert isinstance(label, str) and len(label) <= 10
        except (ValueError, KeyError, TypeError, AssertionError):
            return problem(422, "label required")
        new = {"id": next(ids), "label": label}
        things[new["id"]] = new
        return JSONResponse(new, 201)

    async def item(request: Request) -> Response:
        limited = throttle(request)
        if limited:
            return limited
        if request.headers.get("x-api-key") != KEY:
            return problem(401, "key required")
        try:
            key = int(request.path_params["id"])
        except ValueError:
            return problem(422, "id must be an integer")
        if key not in things:
            return problem(404, "no such thing")
        return JSONResponse(things[key])

    return Starlette(
        routes=[
            Route("/openapi.json", doc),
            Route("/health", health),
            Route("/things", collection, methods=["GET", "POST"]),
            Route("/things/{id}", item, methods=["GET"]),
        ]
    )
