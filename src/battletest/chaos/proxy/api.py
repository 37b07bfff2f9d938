"""The Toxiproxy-compatible REST control API, as an ASGI app over a ``ProxyServer``.

Routes, bodies and status codes follow Toxiproxy 2.x (``GET/POST /proxies``, ``POST /populate``,
``GET/POST/PATCH/DELETE /proxies/{name}``, ``…/toxics`` and ``…/toxics/{toxic}``, ``POST /reset``,
``GET /version``): 201 on proxy create and populate, 200 on toxic create, 204 on deletes and
reset, and ``{"error": …, "status": …}`` bodies with 400/404/409 on bad input. Request bodies are
parsed as JSON whatever the Content-Type says, as Toxiproxy does. The app must run on the same
event loop as the server it controls.

With a token (required when the API listens beyond loopback), every request must carry it in
``X-Battletest-Token`` or ``Authorization: Bearer``; others get 401. Without one — the loopback
default — Toxiproxy clients work unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from battletest import __version__
from battletest.chaos.proxy.core import ProxyServer
from battletest.errors import BattletestError
from battletest.netutil import TOKEN_HEADER, token_matches

Handler = Callable[[Request], Awaitable[Response]]
TOXIPROXY_VERSION = "2.12.0"  # the API revision this app follows


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _BadBody(f"bad request body: {exc}") from None


class _BadBody(Exception):
    pass


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except _BadBody as exc:
            return _error(str(exc), 400)
        except BattletestError as exc:
            return _error(str(exc), int(getattr(exc, "status", 400)))

    return wrapped


def create_app(server: ProxyServer, *, token: str | None = None) -> Starlette:
    """The control API for ``server``; serve it with uvicorn on the server's event loop.
    ``token``: required on every request when given."""

    async def proxy_index(request: Request) -> Response:
        return JSONResponse(server.to_json())

    async def proxy_create(request: Request) -> Response:
        proxy = await server.create_json(await _body(request))
        return JSONResponse(proxy.to_json(), status_code=201)

    async def populate(request: Request) -> Response:
        proxies = await server.populate(await _body(request))
        return JSONResponse({"proxies": [p.to_json() for p in proxies]}, status_code=201)

    async def proxy_show(request: Request) -> Response:
        return JSONResponse(server.get(request.path_params["proxy"]).to_json())

    async def proxy_update(request: Request) -> Response:
        proxy = await server.update(request.path_params["proxy"], await _body(request))
        return JSONResponse(proxy.to_json())

    async def proxy_delete(request: Request) -> Response:
        await server.delete(request.path_params["proxy"])
        return Response(status_code=204)

    async def toxic_index(request: Request) -> Response:
        proxy = server.get(request.path_params["proxy"])
        return JSONResponse([proxy.toxic_json(t) for t in proxy.toxics.values()])

    async def toxic_create(request: Request) -> Response:
        name = request.path_params["proxy"]
        toxic = server.add_toxic(name, await _body(request))
        return JSONResponse(server.get(name).toxic_json(toxic))

    async def toxic_show(request: Request) -> Response:
        name = request.path_params["proxy"]
        toxic = server.get_toxic(name, request.path_params["toxic"])
        return JSONResponse(server.get(name).toxic_json(toxic))

    async def toxic_update(request: Request) -> Response:
        name = request.path_params["proxy"]
        toxic = server.update_toxic(name, request.path_params["toxic"], await _body(request))
        return JSONResponse(server.get(name).toxic_json(toxic))

    async def toxic_delete(request: Request) -> Response:
        server.remove_toxic(request.path_params["proxy"], request.path_params["toxic"])
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        await server.reset()
        return Response(status_code=204)

    async def version(request: Request) -> Response:
        return JSONResponse(
            {"version": TOXIPROXY_VERSION, "battletest": __version__},
            media_type="application/json;charset=utf-8",
        )

    routes = [
        Route("/reset", _guard(reset), methods=["POST"]),
        Route("/proxies", _guard(proxy_index), methods=["GET"]),
        Route("/proxies", _guard(proxy_create), methods=["POST"]),
        Route("/populate", _guard(populate), methods=["POST"]),
        Route("/proxies/{proxy}", _guard(proxy_show), methods=["GET"]),
        Route("/proxies/{proxy}", _guard(proxy_update), methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}", _guard(proxy_delete), methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", _guard(toxic_index), methods=["GET"]),
        Route("/proxies/{proxy}/toxics", _guard(toxic_create), methods=["POST"]),
        Route("/proxies/{proxy}/toxics/{toxic}", _guard(toxic_show), methods=["GET"]),
        Route("/proxies/{proxy}/toxics/{toxic}", _guard(toxic_update), methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}/toxics/{toxic}", _guard(toxic_delete), methods=["DELETE"]),
        Route("/version", _guard(version), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    if token:
        app.add_middleware(_TokenRequired, token=token)
    return app


class _TokenRequired:
    """ASGI middleware: 401 for any HTTP request without the control API's token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            if not token_matches(headers, self.token):
                response = _error(f"this control API needs its token ({TOKEN_HEADER})", 401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


__all__ = ["TOXIPROXY_VERSION", "create_app"]
