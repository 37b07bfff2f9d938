"""A small lending-library API written for the scanner's tests, vulnerable on demand.

``build_app(vulns)`` returns a FastAPI app; each name in ``vulns`` switches on one planted
vulnerability and nothing else, so the fixed app (``vulns=set()``) differs from each
vulnerable one only by that fix. Names here are deliberately unlike the demo's.
"""

import base64
import hashlib
import hmac
import json
import time
import traceback
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

STRONG_SECRET = "k3JH9d-a7Qz0pL2m8Xv5Rt1Yw6Ns4Bc-2026-battletest-library-fixed-key"
WEAK_SECRET = "secret123"
ALLOWED_ORIGIN = "https://library.example.org"
VULNS = frozenset(
    {
        "no-auth",
        "bad-signature",
        "alg-none",
        "expired",
        "weak-secret",
        "kid",
        "jku",
        "enumeration",
        "no-lockout",
        "bola",
        "bfla",
        "mass-assignment",
        "data-exposure",
        "cross-tenant",
        "headers",
        "version",
        "cors-reflect",
        "cors-null",
        "cors-suffix",
        "stack-trace",
        "csrf",
        "trace",
        "inventory",
    }
)

MEMBERS = {
    "ana": {
        "id": 11,
        "password": "ana-Pass-2026!",
        "role": "member",
        "branch": "north",
        "email": "ana@library.example.org",
    },
    "ben": {
        "id": 12,
        "password": "ben-Pass-2026!",
        "role": "member",
        "branch": "south",
        "email": "ben@library.example.org",
    },
    "root": {
        "id": 13,
        "password": "root-Pass-2026!",
        "role": "librarian",
        "branch": "north",
        "email": "root@library.example.org",
    },
}


class Credentials(BaseModel):
    username: str
    password: str


class ResetRequest(BaseModel):
    email: str


class BookOut(BaseModel):
    id: int
    title: str
    author: str
    owner_id: int
    branch: str


class ProfileOut(BaseModel):
    id: int
    username: str
    role: str
    branch: str


class Notice(BaseModel):
    text: str = ""


BOOK_IN = {
    "type": "object",
    "required": ["title", "author"],
    "properties": {"title": {"type": "string"}, "author": {"type": "string"}},
    "additionalProperties": False,
}


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class BookPatch(BaseModel):
    title: str | None = None
    author: str | None = None


def build_app(
    vulns: set[str] | frozenset[str] = frozenset(), keys_dir: Path | None = None
) -> FastAPI:
    unknown = set(vulns) - VULNS
    assert not unknown, unknown
    v = set(vulns)
    secret = WEAK_SECRET if "weak-secret" in v else STRONG_SECRET
    app = FastAPI(title="Lending library", version="1.0")
    bearer = HTTPBearer(auto_error=False)
    books: dict[int, dict[str, Any]] = {
        1: {"id": 1, "title": "Dune", "author": "Herbert", "owner_id": 11, "branch": "north"},
        2: {"id": 2, "title": "Emma", "author": "Austen", "owner_id": 11, "branch": "north"},
        3: {"id": 3, "title": "Ulysses", "author": "Joyce", "owner_id": 12, "branch": "south"},
        4: {"id": 4, "title": "Beloved", "author": "Morrison", "owner_id": 13, "branch": "north"},
    }
    counter = {"next": 100}
    failures: dict[str, int] = {}
    sessions: dict[str, str] = {}
    resets: dict[str, int] = {}

    def issue(name: str) -> str:
        m = MEMBERS[name]
        claims = {
            "sub": name,
            "role": m["role"],
            "branch": m["branch"],
            "exp": int(time.time()) + 3600,
        }
        head = _b64e(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64e(json.dumps(claims).encode())
        mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64e(mac)}"

    def verify(token: str) -> dict[str, Any]:
        try:
            head_b, body_b, sig_b = token.encode().split(b".")
            header = json.loads(_b64(head_b))
            claims = json.loads(_b64(body_b))
        except ValueError:
            raise HTTPException(401, "invalid token") from None
        alg = str(header.get("alg", ""))
        signing_input = head_b + b"." + body_b
        if alg.lower() == "none":
            if "alg-none" not in v:
                raise HTTPException(401, "invalid token")
        elif "jku" in header and "jku" in v:
            jwks = httpx.get(header["jku"], timeout=2).json()
            key = jwt.PyJWK(jwks["keys"][0]).key
            try:
                jwt.decode(token, key, algorithms=["RS256"], options={"verify_exp": False})
            except jwt.PyJWTError:
                raise HTTPException(401, "invalid token") from None
        elif alg == "HS256":
            key = secret.encode()
            if "kid" in header and "kid" in v:
                key = (Path(keys_dir or "/") / header["kid"]).read_bytes()
            expected = hmac.new(key, signing_input, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _b64(sig_b)) and "bad-signature" not in v:
                raise HTTPException(401, "invalid token")
        else:
            raise HTTPException(401, "invalid token")
        if claims.get("exp", 0) < time.time() and "expired" not in v:
            raise HTTPException(401, "token expired")
        if claims.get("sub") not in MEMBERS:
            raise HTTPException(401, "invalid token")
        return claims

    def member(
        request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> dict[str, Any]:
        if creds is not None:
            claims = verify(creds.credentials)
            name = str(claims["sub"])
            return {"name": name, **MEMBERS[name], "via": "bearer"}
        sid = request.cookies.get("sid")
        if sid and sid in sessions:
            name = sessions[sid]
            unsafe = request.method not in {"GET", "HEAD"}
            token_ok = request.headers.get("x-csrf-token") == request.cookies.get("csrf")
            if unsafe and "csrf" not in v and not token_ok:
                raise HTTPException(403, "missing CSRF token")
            return {"name": name, **MEMBERS[name], "via": "cookie"}
        if "no-auth" in v and request.method == "GET":
            return {"name": "ana", **MEMBERS["ana"], "via": "none"}
        raise HTTPException(401, "authentication required")

    User = Annotated[dict[str, Any], Depends(member)]

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        origin = request.headers.get("origin")
        length = request.headers.get("content-length") or "0"
        if request.method == "OPTIONS" and origin:
            response: Response = Response(status_code=204)
        elif length.isdigit() and int(length) > 64 * 1024:  # every body is bounded
            response = JSONResponse({"detail": "body too large"}, status_code=413)
        else:
            response = await call_next(request)
        if "headers" not in v:
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["X-Frame-Options"] = "DENY"
        if "version" in v:
            response.headers["X-Powered-By"] = "LibraryKit/3.2.1"
        trusted = origin == ALLOWED_ORIGIN
        if origin and "cors-reflect" in v:
            trusted = True
        if origin == "null" and "cors-null" in v:
            trusted = True
        if origin and "cors-suffix" in v and origin.endswith("library.example.org"):
            trusted = True
        if origin and trusted:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    if "trace" in v:

        @app.api_route("/", methods=["TRACE"], include_in_schema=False)
        async def trace(request: Request) -> PlainTextResponse:
            lines = [f"TRACE {request.url.path} HTTP/1.1"]
            lines += [f"{k}: {val}" for k, val in request.headers.items()]
            return PlainTextResponse("\n".join(lines), media_type="message/http")

    if "inventory" in v:

        @app.get("/api/debug/config", include_in_schema=False)
        def debug_config() -> dict[str, Any]:
            return {"database": "postgres://library@db/library", "debug": True}

        @app.get("/.env", include_in_schema=False)
        def dotenv() -> PlainTextResponse:
            return PlainTextResponse("DATABASE_URL=postgres://library@db/library\n")

    @app.post("/api/session")
    def session(body: Credentials) -> dict[str, Any]:
        m = MEMBERS.get(body.username)
        if failures.get(body.username, 0) >= 5 and "no-lockout" not in v:
            raise HTTPException(429, "too many failed attempts", headers={"Retry-After": "60"})
        if m is None:
            if "enumeration" in v:
                raise HTTPException(404, "no such member")
            raise HTTPException(401, "invalid username or password")
        if body.password != m["password"]:
            failures[body.username] = failures.get(body.username, 0) + 1
            if "enumeration" in v:
                raise HTTPException(401, "wrong password")
            raise HTTPException(401, "invalid username or password")
        failures.pop(body.username, None)
        return {"access_token": issue(body.username), "token_type": "bearer"}

    @app.post("/api/cookie-session", include_in_schema=False)
    def cookie_session(body: Credentials) -> JSONResponse:
        m = MEMBERS.get(body.username)
        if m is None or body.password != m["password"]:
            raise HTTPException(401, "invalid username or password")
        sid = hashlib.sha256(f"{body.username}{time.time()}".encode()).hexdigest()[:24]
        sessions[sid] = body.username
        response = JSONResponse({"ok": True})
        response.set_cookie("sid", sid, httponly=True)
        response.set_cookie("csrf", sid[:8])
        return response

    @app.post("/api/password-reset", status_code=202)
    def reset(body: ResetRequest) -> dict[str, str]:
        resets[body.email] = resets.get(body.email, 0) + 1
        if resets[body.email] > 5 and "no-lockout" not in v:
            raise HTTPException(429, "too many requests", headers={"Retry-After": "60"})
        known = any(m["email"] == body.email or n == body.email for n, m in MEMBERS.items())
        if not known and "enumeration" in v:
            raise HTTPException(404, "no member with this e-mail")
        return {"status": "if the account exists, a message was sent"}

    def visible(user: dict[str, Any], book: dict[str, Any]) -> bool:
        return "bola" in v or book["owner_id"] == user["id"] or user["role"] == "librarian"

    @app.get("/api/books", response_model=list[BookOut])
    def list_books(user: User) -> list[dict[str, Any]]:
        return [b for b in books.values() if b["owner_id"] == user["id"]]

    @app.post(
        "/api/books",
        response_model=None,
        status_code=201,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": BOOK_IN}}}
        },
    )
    async def add_book(request: Request, user: User) -> JSONResponse:
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        if "form" in ctype:
            from urllib.parse import parse_qsl

            data: Any = dict(parse_qsl(raw.decode()))
        else:
            try:
                data = json.loads(raw or b"null")
            except ValueError:
                if "stack-trace" in v:
                    return PlainTextResponse(traceback.format_exc(), status_code=500)  # type: ignore[return-value]
                raise HTTPException(400, "body must be JSON") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("title"), str)
            or not isinstance(data.get("author"), str)
        ):
            raise HTTPException(422, "title and author are required")
        counter["next"] += 1
        book = {
            "id": counter["next"],
            "title": data["title"],
            "author": data["author"],
            "owner_id": user["id"],
            "branch": user["branch"],
        }
        if "mass-assignment" in v:
            book.update({k: val for k, val in data.items() if k not in {"id"}})
        books[book["id"]] = book
        return JSONResponse(book, status_code=201)

    def find_book(book_id: str, user: dict[str, Any]) -> dict[str, Any]:
        try:
            key = int(book_id)
        except ValueError:
            if "stack-trace" in v:
                raise _Trace(traceback.format_exc()) from None
            raise HTTPException(404, "no such book") from None
        book = books.get(key)
        if book is None or not visible(user, book):
            raise HTTPException(404, "no such book")
        return book

    class _Trace(Exception):
        pass

    @app.exception_handler(_Trace)
    async def show_trace(request: Request, exc: _Trace) -> PlainTextResponse:
        return PlainTextResponse(str(exc), status_code=500)

    @app.get("/api/books/{book_id}", response_model=BookOut if "mass-assignment" not in v else None)
    def get_book(book_id: str, user: User) -> Any:
        book = find_book(book_id, user)
        return JSONResponse(book) if "mass-assignment" in v else book

    @app.patch("/api/books/{book_id}", response_model=BookOut)
    def edit_book(book_id: str, body: BookPatch, user: User) -> Any:
        book = find_book(book_id, user)
        for key, value in body.model_dump(exclude_none=True).items():
            book[key] = value
        return book

    @app.delete("/api/books/{book_id}", status_code=204)
    def remove_book(book_id: str, user: User) -> Response:
        book = find_book(book_id, user)
        books.pop(book["id"], None)
        return Response(status_code=204)

    @app.get("/api/catalog", response_model=list[BookOut])
    def catalog(request: Request, user: User) -> list[dict[str, Any]]:
        branch = user["branch"]
        asked = request.headers.get("x-library-branch")
        if asked and "cross-tenant" in v:
            branch = asked
        return [b for b in books.values() if b["branch"] == branch]

    @app.get("/api/profile", response_model=ProfileOut if "data-exposure" not in v else None)
    def profile(user: User) -> Any:
        out = {
            "id": user["id"],
            "username": user["name"],
            "role": user["role"],
            "branch": user["branch"],
        }
        if "data-exposure" in v:
            out["password_hash"] = hashlib.sha256(str(user["password"]).encode()).hexdigest()
            out["shelf_note"] = "internal"
            return JSONResponse(out)
        return out

    @app.get("/api/admin/loans")
    def all_loans(user: User) -> list[dict[str, Any]]:
        if user["role"] != "librarian" and "bfla" not in v:
            raise HTTPException(403, "librarians only")
        return [{"book_id": b, "member_id": 11} for b in (1, 2)]

    @app.post("/api/admin/notices", status_code=201)
    def post_notice(body: Notice, user: User) -> dict[str, str]:
        if user["role"] != "librarian" and "bfla" not in v:
            raise HTTPException(403, "librarians only")
        return {"posted": body.text}

    return app
