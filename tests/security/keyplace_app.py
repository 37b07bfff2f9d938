"""A loopback API that accepts its key in one place only: the query (``?token=``, as Jupyter
Server does) or a cookie. Every request to a protected operation is logged as (method, path, status), so a test counts
from the app itself which protected operations the scanner reached."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KEY = "k3y-only-in-one-place-7d1f"
PROTECTED = ("/api/notes", "/api/status")


def build_app(where: str, name: str) -> Starlette:
    """``where``: "query" or "cookie"; ``name``: the parameter or cookie carrying ``KEY``."""
    log: list[tuple[str, str, int]] = []

    def spec() -> dict[str, Any]:
        scheme = {"type": "apiKey", "in": where, "name": name}
        get = {"responses": {"200": {"description": "ok"}}, "security": [{"key": []}]}
        return {
            "openapi": "3.0.3",
            "info": {"title": f"key in {where}", "version": "1"},
            "paths": {p: {"get": {**get, "operationId": p.rsplit("/", 1)[1]}} for p in PROTECTED},
            "components": {"securitySchemes": {"key": scheme}},
        }

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec())

    async def protected(request: Request) -> Response:
        given = request.query_params if where == "query" else request.cookies
        ok = given.get(name) == KEY
        response = JSONResponse({"path": request.url.path} if ok else {"error": "no key"})
        response.status_code = 200 if ok else 401
        log.append((request.method, request.url.path, response.status_code))
        return response

    async def root(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/openapi.json", openapi),
            *(Route(p, protected) for p in PROTECTED),
        ]
    )

    app.state.log = log
    return app
