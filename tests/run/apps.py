"""Small purpose-built targets for the run tests: a FastAPI API with JWT logins, and Flask."""

import time
import uuid
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

SECRET = "test-signing-key-0123456789abcdef0123"
USERS = {"admin@t.test": ("pw-admin-1", "admin"), "guest@t.test": ("pw-guest-1", "guest")}


class Login(BaseModel):
    username: str
    password: str


class Refresh(BaseModel):
    refresh_token: str


class Item(BaseModel):
    name: str
    qty: int


class Token(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class ItemOut(BaseModel):
    id: int
    name: str
    qty: int


class Me(BaseModel):
    sub: str
    role: str


def problem(status: int, title: str, detail: str = "") -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


PROBLEM = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"description": "error", **PROBLEM} for s in (400, 401, 403, 404, 405, 422)
}


def make_api(*, insecure: bool = False, ttl_s: float = 300.0) -> FastAPI:
    """A tiny API; ``insecure`` accepts alg none and expired tokens and leaks tracebacks."""
    app = FastAPI(title="t", version="1")
    revoked: set[str] = set()
    items: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "a", "qty": 1}}

    @app.middleware("http")
    async def correlation(request: Request, call_next: Any) -> Any:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            response = await call_next(request)
        except Exception as exc:  # pragma: no cover - only on the insecure path
            if insecure:
                response = JSONResponse(
                    {
                        "error": 'Traceback (most recent call last):\n  File "app.py", line 1\n'
                        f"{exc!r}"
                    },
                    status_code=500,
                )
            else:
                response = problem(500, "internal error")
        response.headers["X-Request-ID"] = rid
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if insecure:  # the planted flaw: a bad request leaks a traceback with a 500
            return JSONResponse(
                {"error": 'Traceback (most recent call last):\n  File "app.py", line 7, in parse'},
                status_code=500,
            )
        return problem(422, "invalid request")

    def issue(sub: str, role: str) -> Token:
        now = time.time()
        access = jwt.encode(
            {"sub": sub, "role": role, "exp": now + ttl_s, "jti": uuid.uuid4().hex},
            SECRET,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {
                "sub": sub,
                "role": role,
                "typ": "refresh",
                "exp": now + 3600,
                "jti": uuid.uuid4().hex,
            },
            SECRET,
            algorithm="HS256",
        )
        return Token(access_token=access, refresh_token=refresh)

    def current(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "missing token")
        token = authorization.removeprefix("Bearer ")
        if token in revoked:
            raise HTTPException(401, "revoked")
        try:
            if insecure and jwt.get_unverified_header(token).get("alg") == "none":
                claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
            else:
                claims = jwt.decode(
                    token, SECRET, algorithms=["HS256"], options={"verify_exp": not insecure}
                )
        except jwt.PyJWTError:
            raise HTTPException(401, "bad token") from None
        if claims.get("typ") == "refresh":
            raise HTTPException(401, "bad token")
        return {**claims, "token": token}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/auth/login", response_model=Token, responses=ERRORS)
    def login(body: Login) -> Token:
        user = USERS.get(body.username)
        if user is None or user[0] != body.password:
            raise HTTPException(401, "bad credentials")
        return issue(body.username, user[1])

    @app.post("/auth/refresh", response_model=Token, responses=ERRORS)
    def refresh(body: Refresh) -> Token:
        try:
            claims = jwt.decode(body.refresh_token, SECRET, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise HTTPException(401, "bad refresh token") from None
        if body.refresh_token in revoked:
            raise HTTPException(401, "revoked")
        return issue(claims["sub"], claims["role"])

    @app.post("/auth/logout", status_code=204, responses=ERRORS)
    def logout(user: Annotated[dict[str, Any], Depends(current)]) -> None:
        revoked.add(user["token"])

    @app.get("/me", response_model=Me, responses=ERRORS)
    def me(user: Annotated[dict[str, Any], Depends(current)]) -> Me:
        return Me(sub=user["sub"], role=user["role"])

    @app.get("/items/{item_id}", response_model=ItemOut, responses=ERRORS)
    def get_item(item_id: int, user: Annotated[dict[str, Any], Depends(current)]) -> ItemOut:
        if item_id not in items:
            raise HTTPException(404, "no such item")
        return ItemOut(**items[item_id])

    @app.post("/items", response_model=ItemOut, status_code=201, responses=ERRORS)
    def create_item(body: Item, user: Annotated[dict[str, Any], Depends(current)]) -> ItemOut:
        new = {"id": len(items) + 1, **body.model_dump()}
        items[new["id"]] = new
        return ItemOut(**new)

    @app.delete("/items/{item_id}", status_code=204, responses=ERRORS)
    def delete_item(item_id: int, user: Annotated[dict[str, Any], Depends(current)]) -> None:
        if user.get("role") != "admin":
            raise HTTPException(403, "admins only")
        if item_id not in items:
            raise HTTPException(404, "no such item")
        items.pop(item_id)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        for path, item in schema["paths"].items():
            for op in item.values():
                if path in ("/me", "/items", "/items/{item_id}", "/auth/logout"):
                    op["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def make_redirect_app() -> FastAPI:
    """One redirect leaving the host, one staying on it."""
    from fastapi.responses import RedirectResponse

    app = FastAPI()

    @app.get("/go", status_code=302, responses={302: {"description": "elsewhere"}})
    def go() -> RedirectResponse:
        return RedirectResponse("http://example.invalid/steal", status_code=302)

    @app.get("/here", status_code=302, responses={302: {"description": "same host"}})
    def here() -> RedirectResponse:
        return RedirectResponse("/landing", status_code=302)

    @app.get("/landing")
    def landing() -> dict[str, str]:
        return {"ok": "yes"}

    return app


api = make_api()


def config_for(url: str | None = None) -> dict[str, Any]:
    """A config (as dotted-free nested data) describing ``make_api`` at ``url``."""
    return {
        "target": {"url": url, "health": "/health"} if url else {"health": "/health"},
        "auth": {
            "login_path": "/auth/login",
            "refresh_path": "/auth/refresh",
            "logout_path": "/auth/logout",
            "jwt_secret": SECRET,
        },
        "identities": [
            {
                "name": "admin",
                "role": "admin",
                "username": "admin@t.test",
                "password": "pw-admin-1",
            },
            {
                "name": "guest",
                "role": "guest",
                "username": "guest@t.test",
                "password": "pw-guest-1",
            },
        ],
        "rbac": [{"method": "DELETE", "path": "/items/{item_id}", "roles": ["admin"]}],
        "suites": {"contract": {"examples": 3}},
    }
