"""The concierge app factory: services, the cross-cutting gatekeeper middleware, errors, OpenAPI.

``create_app(options, db_path, pms_url, tts_url)`` returns a FastAPI app. The gatekeeper is one
pure-ASGI middleware (cheap on the hot path) that assigns the correlation id, enforces the body
limit and the per-client sliding-window rate limit, adds security headers and turns any
unhandled exception into a problem+json 500.
"""

from __future__ import annotations

import logging
import math
import platform
import re
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import fastapi
import httpx
import starlette
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from battletest import __version__
from battletest.demo.connectors import CORRELATION_ID, PmsClient, TtsClient
from battletest.demo.models import Problem
from battletest.demo.options import DemoOptions
from battletest.demo.policy import RBAC
from battletest.demo.security import InvalidToken, Lockout, Passwords, SlidingWindowLimiter, Tokens
from battletest.demo.store import Store

log = logging.getLogger("battletest.demo")

PROBLEM_TYPE = "application/problem+json"
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})
CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ),
    (b"cross-origin-resource-policy", b"same-origin"),
]
VERSION_HEADERS = [
    (b"server", f"uvicorn/0.54 Python/{platform.python_version()}".encode()),
    (b"x-powered-by", f"FastAPI/{fastapi.__version__} Starlette/{starlette.__version__}".encode()),
]


@dataclass
class Services:
    options: DemoOptions
    store: Store
    passwords: Passwords
    tokens: Tokens
    limiter: SlidingWindowLimiter
    lockout: Lockout
    pms: PmsClient
    tts: TtsClient
    http: httpx.AsyncClient
    pms_url: str
    tts_url: str
    db_path: str
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    latency_sum: float = 0.0
    started_at: float = field(default_factory=time.time)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem(
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        correlation_id=CORRELATION_ID.get(),
    ).model_dump(exclude_none=True)
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


class Gatekeeper:
    """Correlation id, body limit, rate limit, security headers and the last-resort 500."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.s = services
        self.opts = services.options
        self.secure_headers = not self.opts.vuln("missing_headers")

    def client_key(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[str, int]:
        opts = self.opts
        api_key = headers.get(b"x-api-key")
        if api_key:
            row = self.s.store.api_key(api_key.decode("latin-1"))
            if row is not None:
                return f"key:{row['id']}", int(row["quota"])
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            try:
                claims = self.s.tokens.decode(auth[7:].decode("latin-1").strip())
            except InvalidToken:
                pass
            else:
                scope.setdefault("state", {})["claims"] = claims
                return f"user:{claims['sub']}", opts.rate_limit_per_client
        client = scope.get("client") or ("unknown", 0)
        return f"ip:{client[0]}", opts.rate_limit_per_client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        incoming = headers.get(b"x-correlation-id", b"").decode("latin-1")
        cid = incoming if CORRELATION_RE.match(incoming) else uuid.uuid4().hex
        CORRELATION_ID.set(cid)
        path: str = scope["path"]
        status_holder = [500]
        extra_headers = [(b"x-correlation-id", cid.encode())]
        if self.secure_headers:
            extra_headers += SECURITY_HEADERS
            if path.startswith("/v1/auth/") or path == "/v1/me":
                extra_headers.append((b"cache-control", b"no-store"))
        else:
            extra_headers += VERSION_HEADERS
        started_response = [False]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                started_response[0] = True
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def reply(response: JSONResponse) -> None:
            await response(scope, receive, send_wrapped)

        limit = self.opts.body_limit
        if not self.opts.vuln("no_body_limit"):
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await reply(
                    problem(
                        413,
                        TITLES[413],
                        f"request body larger than {limit} bytes",
                        instance=path,
                        headers={"Connection": "close"},
                    )
                )
                self.record(scope, status_holder[0], started)
                return
            receive = self.limited(receive, limit)

        if (
            self.opts.rate_limit
            and path not in UNLIMITED_PATHS
            and not (path == "/v1/auth/login" and self.opts.vuln("no_login_limit"))
        ):
            key, quota = self.client_key(scope, headers)
            wait = self.s.limiter.hit(key, quota)
            if wait:
                await reply(
                    problem(
                        429,
                        TITLES[429],
                        "rate limit exceeded; retry later",
                        instance=path,
                        headers={"Retry-After": str(math.ceil(wait))},
                    )
                )
                self.record(scope, 429, started)
                return

        try:
            await self.app(scope, receive, send_wrapped)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope["method"], path)
            if started_response[0]:
                raise
            if self.opts.vuln("verbose_errors"):  # PLANTED VULNERABILITY (verbose_errors)
                await reply(
                    problem(
                        500,
                        TITLES[500],
                        f"{type(exc).__name__}: {exc}",
                        instance=path,
                        traceback=traceback.format_exc(),
                        versions={
                            "python": platform.python_version(),
                            "fastapi": fastapi.__version__,
                            "starlette": starlette.__version__,
                        },
                    )
                )
            else:
                await reply(
                    problem(500, TITLES[500], "an unexpected error occurred", instance=path)
                )
        self.record(scope, status_holder[0], started)

    def record(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        self.s.requests[(scope["method"], template, status)] += 1
        self.s.latency_sum += elapsed
        log.info(
            "%s %s %d %.1fms cid=%s",
            scope["method"],
            scope["path"],
            status,
            elapsed * 1000,
            CORRELATION_ID.get(),
        )

    @staticmethod
    def limited(receive: Receive, limit: int) -> Receive:
        seen = [0]

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    raise BodyTooLarge(limit)
            return message

        return wrapped


def create_app(
    options: DemoOptions,
    db_path: str,
    pms_url: str,
    tts_url: str,
    *,
    password_hashes: Mapping[str, str] | None = None,
) -> FastAPI:
    """The concierge app; ``password_hashes`` are precomputed seed hashes (a start-up saving)."""
    from battletest.demo import routes

    store = Store(db_path)
    passwords = Passwords(options, password_hashes)
    store.seed(passwords.hash, options.service_api_key, options.service_quota)
    http = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        follow_redirects=False,
    )
    services = Services(
        options=options,
        store=store,
        passwords=passwords,
        tokens=Tokens(options),
        limiter=SlidingWindowLimiter(options.rate_window_s),
        lockout=Lockout(options.lockout_threshold, options.lockout_s),
        pms=PmsClient(pms_url, options, http),
        tts=TtsClient(tts_url, options, http),
        http=http,
        pms_url=pms_url,
        tts_url=tts_url,
        db_path=db_path,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()
        store.close()

    app = FastAPI(
        title="Hotel Voice Concierge (battletest demo)",
        version=__version__,
        summary="Staff and guests log in, look up reservations, run voice calls, synthesise speech.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return problem(
            exc.status_code,
            TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        return problem(
            422,
            TITLES[422],
            "the request does not match the API schema",
            instance=request.url.path,
            errors=errors,
        )

    routes.register(app, services)
    if options.vuln("cors_any_origin"):  # PLANTED VULNERABILITY (cors_any_origin)
        app.add_middleware(
            CORSMiddleware,
            allow_origin_regex=".*",
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    else:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Correlation-ID"],
            expose_headers=["X-Correlation-ID", "Retry-After"],
        )
    app.add_middleware(Gatekeeper, services=services)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI 3.1 document with the problem+json error responses declared."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    doc["components"]["securitySchemes"] = {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "JWT access token from /v1/auth/login",
        },
        "APIKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "service API key",
        },
    }
    secured = {(r.method.lower(), r.path) for r in RBAC} | {("post", "/v1/auth/logout")}
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if (method, path) in secured:
                op["security"] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
            codes = set()
            if op.get("security"):
                codes |= {401, 403}
            if path in ("/v1/auth/login", "/v1/auth/refresh"):
                codes.add(401)  # wrong credentials, or a revoked or expired refresh token
            if "{" in path:
                codes.add(404)
            if op.get("requestBody") or op.get("parameters"):
                codes.add(422)
            if op.get("requestBody"):
                codes.add(413)
            if path not in UNLIMITED_PATHS:
                codes.add(429)
            if path.startswith(("/v1/reservations", "/v1/tts", "/v1/voices")) or (
                path == "/v1/calls" and method == "post"
            ):
                codes.add(503)
            if path == "/v1/calls/{call_id}/events" or (path, method) == ("/v1/users", "post"):
                codes.add(409)  # a wrong call transition; a user e-mail that exists
            if path == "/ready":
                codes.add(503)
            responses = op.setdefault("responses", {})
            for code in sorted(codes):
                responses[str(code)] = {
                    "description": TITLES[code],
                    "content": {PROBLEM_TYPE: {"schema": ref}},
                }
    app.openapi_schema = doc
    return doc
