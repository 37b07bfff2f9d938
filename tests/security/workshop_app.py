"""A bicycle-workshop API for the scanner-core tests (issue 19), vulnerable on demand.

Written unlike the demo and the other test apps: plain Starlette with a hand-written OpenAPI
3.0 document, a form-encoded token login, opaque bearer tokens, a public job listing whose
items name their owner, a create that answers ``202 {"status": "queued"}`` without an id,
references to jobs in the query and the body, privileged operations declared by a tag or by
nothing at all, inputs behind PATCH/PUT, in nested JSON properties and in a form body.

``build_app(vulns)``: each name switches on one planted flaw and nothing else; ``vulns=set()``
is the fixed app. Ground truth (``VULNS``, where each lives) is written here, before the
checks were run against it.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# planted flaw → (check that must find it, METHOD path, parameter fragment)
VULNS: dict[str, tuple[str, str, str]] = {
    "sqli-search": ("sqli-error", "GET /shop/jobs", "query q"),  # beside a strict optional cursor
    "sqli-nested": ("sqli-error", "POST /shop/jobs", "body bike.model"),
    "sqli-patch": ("sqli-error", "PATCH /shop/jobs/{job_id}", "body title"),
    "sqli-form": ("sqli-error", "POST /shop/quotes", "form part"),
    "ssrf-put": ("ssrf", "PUT /shop/jobs/{job_id}/photo", "body photo_url"),
    "bola-read": ("bola", "GET /shop/jobs/{job_id}", "job_id"),
    "bola-query": ("bola", "GET /shop/invoice", "query job_id"),
    "bola-body": ("bola", "POST /shop/jobs/lookup", "body job_id"),
    "bfla-tag": ("bfla", "POST /shop/jobs/{job_id}/refund", ""),
    "bfla-evidence": ("bfla", "DELETE /shop/ledger/{entry_id}", ""),
    "role-escalation": ("mass-assignment", "PATCH /shop/account", "role"),
}
USERS = {
    "alice": {"password": "alice-Pw+1&x%", "role": "customer", "email": "alice@shop.test"},
    "bob": {"password": "bob-Pw+2&y%", "role": "customer", "email": "bob@shop.test"},
    "mia": {"password": "mia-Pw+3&z%", "role": "manager", "email": "mia@shop.test"},
}
ROLES = ["customer", "mechanic", "manager"]
Handler = Callable[[Request, str], Awaitable[Response]]


def _spec() -> dict[str, Any]:
    bearer = [{"token": []}]
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    job = {
        "type": "object",
        "properties": {
            "job_id": {"type": "integer"},
            "owner": {"type": "string"},
            "title": {"type": "string"},
            "bike": {
                "type": "object",
                "properties": {"model": {"type": "string"}, "notes": {"type": "string"}},
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "photo_url": {"type": "string", "nullable": True},
            "refunded": {"type": "boolean"},
            "refund_reason": {"type": "string", "nullable": True},
        },
    }

    def js(schema: dict[str, Any]) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": schema}}}

    def form(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
        schema = {"type": "object", "required": required, "properties": properties}
        return {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }

    def ok(schema: dict[str, Any] | None = None, status: str = "200") -> dict[str, Any]:
        return {status: {"description": "ok", **(js(schema) if schema else {})}}

    create = {
        "type": "object",
        "required": ["title", "bike"],
        "properties": {
            "title": {"type": "string", "maxLength": 80},
            "bike": {
                "type": "object",
                "required": ["model"],
                "properties": {"model": {"type": "string"}, "notes": {"type": "string"}},
            },
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    account = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "readOnly": True},
            "email": {"type": "string", "format": "email"},
            "role": {"type": "string", "enum": ROLES},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "workshop", "version": "1"},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/shop/auth/token": {
                "post": {
                    "operationId": "issueToken",
                    "requestBody": form(
                        ["username", "password"],
                        {"username": {"type": "string"}, "password": {"type": "string"}},
                    ),
                    "responses": ok(
                        {"type": "object", "properties": {"access_token": {"type": "string"}}}
                    ),
                }
            },
            "/shop/account": {
                "get": {"operationId": "readAccount", "security": bearer, "responses": ok(account)},
                "patch": {
                    "operationId": "updateAccount",
                    "security": bearer,
                    "requestBody": {"required": True, **js(account)},
                    "responses": ok(account),
                },
            },
            "/shop/jobs": {
                "get": {
                    "operationId": "listJobs",
                    "security": bearer,
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "cursor",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{8}$"},
                        },
                    ],
                    "responses": ok({"type": "array", "items": job}),
                },
                "post": {
                    "operationId": "bookJob",
                    "security": bearer,
                    "requestBody": {"required": True, **js(create)},
                    "responses": ok(
                        {"type": "object", "properties": {"status": {"type": "string"}}}, "202"
                    ),
                },
            },
            "/shop/jobs/lookup": {
                "post": {
                    "operationId": "lookUpJob",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        **js(
                            {
                                "type": "object",
                                "required": ["job_id"],
                                "properties": {"job_id": {"type": "integer"}},
                            }
                        ),
                    },
                    "responses": ok(job),
                }
            },
            "/shop/jobs/{job_id}": {
                "parameters": [job_id],
                "get": {"operationId": "readJob", "security": bearer, "responses": ok(job)},
                "patch": {
                    "operationId": "renameJob",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        **js({"type": "object", "properties": {"title": {"type": "string"}}}),
                    },
                    "responses": ok(job),
                },
                "delete": {
                    "operationId": "cancelJob",
                    "security": bearer,
                    "responses": {"204": {"description": "cancelled"}},
                },
            },
            "/shop/jobs/{job_id}/photo": {
                "parameters": [job_id],
                "put": {
                    "operationId": "attachPhoto",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        **js(
                            {
                                "type": "object",
                                "required": ["photo_url"],
                                "properties": {"photo_url": {"type": "string", "format": "uri"}},
                            }
                        ),
                    },
                    "responses": ok(job),
                },
            },
            "/shop/jobs/{job_id}/refund": {
                "parameters": [job_id],
                "post": {
                    "operationId": "refundJob",
                    "tags": ["management"],
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        **js(
                            {
                                "type": "object",
                                "required": ["reason"],
                                "properties": {"reason": {"type": "string"}},
                            }
                        ),
                    },
                    "responses": ok(job),
                },
            },
            "/shop/invoice": {
                "get": {
                    "operationId": "readInvoice",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "job_id",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": ok({"type": "object"}),
                }
            },
            "/shop/quotes": {
                "post": {
                    "operationId": "quotePart",
                    "security": bearer,
                    "requestBody": form(
                        ["part"],
                        {"part": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
                    ),
                    "responses": ok({"type": "object"}),
                }
            },
            "/shop/ledger": {
                "get": {"operationId": "readLedger", "security": bearer, "responses": ok()},
                "post": {
                    "operationId": "addLedgerEntry",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        **js(
                            {
                                "type": "object",
                                "required": ["memo"],
                                "properties": {"memo": {"type": "string"}},
                            }
                        ),
                    },
                    "responses": ok({"type": "object"}, "201"),
                },
            },
            "/shop/ledger/{entry_id}": {
                "parameters": [
                    {
                        "name": "entry_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "get": {"operationId": "readLedgerEntry", "security": bearer, "responses": ok()},
                "delete": {
                    "operationId": "removeLedgerEntry",
                    "security": bearer,
                    "responses": {"204": {"description": "removed"}},
                },
            },
        },
    }


class Shop:
    def __init__(self, vulns: set[str]) -> None:
        unknown = vulns - set(VULNS)
        assert not unknown, unknown
        self.vulns = vulns
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {}
        self.users = {name: dict(u) for name, u in USERS.items()}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.ledger: dict[int, dict[str, Any]] = {1: {"entry_id": 1, "memo": "opening balance"}}
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.executescript(
            "CREATE TABLE models (name TEXT); INSERT INTO models VALUES ('roadster');"
            "CREATE TABLE parts (name TEXT, price REAL); INSERT INTO parts VALUES ('chain', 20);"
            "CREATE TABLE titles (job INTEGER, title TEXT);"
        )
        self.next_id = 100
        for owner, title in (("alice", "alice's commuter"), ("bob", "bob's tandem")):
            self._add(owner, {"title": title, "bike": {"model": "roadster"}, "tags": []})

    def _add(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        job = {
            "job_id": self.next_id,
            "owner": owner,
            "title": body["title"],
            "bike": body["bike"],
            "tags": body.get("tags") or [],
            "photo_url": None,
            "refunded": False,
            "refund_reason": None,
        }
        self.jobs[self.next_id] = job
        return job

    def sql(self, query: str, args: tuple[Any, ...] = ()) -> list[Any] | JSONResponse:
        try:
            return self.db.execute(query, args).fetchall()
        except sqlite3.Error as exc:  # the flaw shows the database error to the caller
            return JSONResponse({"error": f"sqlite3.OperationalError: {exc}"}, status_code=500)


async def _form(request: Request) -> dict[str, str]:
    """A URL-encoded form body, parsed by the standard library (no multipart needed)."""
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def build_app(vulns: set[str]) -> Starlette:
    shop = Shop(set(vulns))
    on = shop.vulns.__contains__

    def user(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return shop.tokens.get(auth.removeprefix("Bearer ").strip()) if auth else None

    def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The handler called with the caller's name; 401 without a valid token."""

        async def checked(request: Request) -> Response:
            name = user(request)
            if name is None:
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await handler(request, name)

        return checked

    def missing() -> JSONResponse:
        return JSONResponse({"error": "no such job"}, status_code=404)

    async def token(request: Request) -> Response:
        if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "form body expected"}, status_code=415)
        form = await _form(request)
        name, password = form.get("username", ""), form.get("password", "")
        if name not in shop.users or shop.users[name]["password"] != password:
            return JSONResponse({"error": "bad credentials"}, status_code=400)
        tok = secrets.token_urlsafe(24)
        shop.tokens[tok] = name
        return JSONResponse({"access_token": tok, "token_type": "bearer"})

    def profile(name: str) -> dict[str, Any]:
        u = shop.users[name]
        return {"username": name, "email": u["email"], "role": u["role"]}

    @signed_in
    async def account(request: Request, name: str) -> Response:
        if request.method == "PATCH":
            body = await request.json()
            if not isinstance(body, dict):
                return JSONResponse({"error": "object expected"}, status_code=422)
            if "role" in body and body["role"] not in ROLES:
                return JSONResponse({"error": "unknown role"}, status_code=422)
            if isinstance(body.get("email"), str):
                shop.users[name]["email"] = body["email"]
            if "role" in body and (on("role-escalation") or shop.users[name]["role"] == "manager"):
                shop.users[name]["role"] = body["role"]  # PLANTED (role-escalation)
        return JSONResponse(profile(name))

    def summary(job: dict[str, Any]) -> dict[str, Any]:
        return {"job_id": job["job_id"], "owner": job["owner"], "title": job["title"]}

    def may_see(name: str, job: dict[str, Any], flaw: str) -> bool:
        return job["owner"] == name or shop.users[name]["role"] == "manager" or on(flaw)

    @signed_in
    async def jobs(request: Request, name: str) -> Response:
        if request.method == "POST":
            body = await request.json()
            bike = body.get("bike") if isinstance(body, dict) else None
            if not isinstance(body.get("title"), str) or not isinstance(bike, dict):
                return JSONResponse({"error": "title and bike expected"}, status_code=422)
            model = str(bike.get("model", ""))
            if on("sqli-nested"):  # PLANTED (sqli-nested): the model is pasted into SQL
                found = shop.sql(f"SELECT name FROM models WHERE name = '{model}'")
            else:
                found = shop.sql("SELECT name FROM models WHERE name = ?", (model,))
            if isinstance(found, Response):
                return found
            with shop.lock:
                shop._add(name, body)
            return JSONResponse({"status": "queued"}, status_code=202)
        cursor = request.query_params.get("cursor")
        if cursor is not None and not (len(cursor) == 8 and cursor.isalnum()):
            return JSONResponse({"error": "bad cursor"}, status_code=400)
        q = request.query_params.get("q", "")
        if on("sqli-search"):  # PLANTED (sqli-search): the search text is pasted into SQL
            found = shop.sql(f"SELECT name FROM models WHERE name LIKE '%{q}%'")
            if isinstance(found, Response):
                return found
        listed = [summary(j) for j in shop.jobs.values() if q.lower() in j["title"].lower()]
        return JSONResponse(listed)

    def job_of(request: Request) -> dict[str, Any] | None:
        try:
            return shop.jobs.get(int(request.path_params["job_id"]))
        except ValueError:
            return None

    @signed_in
    async def job(request: Request, name: str) -> Response:
        found = job_of(request)
        if request.method == "GET":
            if found is None or not may_see(name, found, "bola-read"):
                return missing()
            return JSONResponse(found)
        if found is None or found["owner"] != name:
            return missing()
        if request.method == "DELETE":
            del shop.jobs[found["job_id"]]
            return Response(status_code=204)
        body = await request.json()
        title = body.get("title") if isinstance(body, dict) else None
        if not isinstance(title, str):
            return JSONResponse({"error": "title expected"}, status_code=422)
        if on("sqli-patch"):  # PLANTED (sqli-patch): the new title is pasted into SQL
            done = shop.sql(f"INSERT INTO titles VALUES ({found['job_id']}, '{title}')")
        else:
            done = shop.sql("INSERT INTO titles VALUES (?, ?)", (found["job_id"], title))
        if isinstance(done, Response):
            return done
        found["title"] = title
        return JSONResponse(found)

    @signed_in
    async def photo(request: Request, name: str) -> Response:
        found = job_of(request)
        if found is None or found["owner"] != name:
            return missing()
        body = await request.json()
        url = body.get("photo_url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return JSONResponse({"error": "photo_url expected"}, status_code=422)
        if on("ssrf-put"):  # PLANTED (ssrf-put): the server fetches whatever URL it is given
            async with httpx.AsyncClient(timeout=2) as client:
                with contextlib.suppress(httpx.HTTPError):
                    await client.get(url)
        found["photo_url"] = url
        return JSONResponse(found)

    @signed_in
    async def refund(request: Request, name: str) -> Response:
        if shop.users[name]["role"] != "manager" and not on("bfla-tag"):
            return JSONResponse({"error": "managers only"}, status_code=403)
        found = job_of(request)
        if found is None:
            return missing()
        body = await request.json()
        found["refunded"] = True
        found["refund_reason"] = str(body.get("reason", "")) if isinstance(body, dict) else ""
        return JSONResponse(found)

    @signed_in
    async def lookup(request: Request, name: str) -> Response:
        body = await request.json()
        ref = body.get("job_id") if isinstance(body, dict) else None
        found = shop.jobs.get(ref) if isinstance(ref, int) else None
        if found is None or not may_see(name, found, "bola-body"):
            return missing()
        return JSONResponse(found)

    @signed_in
    async def invoice(request: Request, name: str) -> Response:
        try:
            found = shop.jobs.get(int(request.query_params.get("job_id", "")))
        except ValueError:
            return JSONResponse({"error": "job_id must be a number"}, status_code=422)
        if found is None or not may_see(name, found, "bola-query"):
            return missing()
        return JSONResponse({"job": found["job_id"], "title": found["title"], "total": 42.0})

    @signed_in
    async def quotes(request: Request, name: str) -> Response:
        form = await _form(request)
        part = form.get("part", "")
        if on("sqli-form"):  # PLANTED (sqli-form): the part name is pasted into SQL
            found = shop.sql(f"SELECT price FROM parts WHERE name = '{part}'")
        else:
            found = shop.sql("SELECT price FROM parts WHERE name = ?", (part,))
        if isinstance(found, Response):
            return found
        return JSONResponse({"part": part, "price": found[0][0] if found else None})

    @signed_in
    async def ledger(request: Request, name: str) -> Response:
        manager = shop.users[name]["role"] == "manager"
        if request.method == "GET":
            if not manager:
                return JSONResponse({"error": "managers only"}, status_code=403)
            return JSONResponse(list(shop.ledger.values()))
        if not manager:
            return JSONResponse({"error": "managers only"}, status_code=403)
        body = await request.json()
        with shop.lock:
            entry_id = max(shop.ledger) + 1
            shop.ledger[entry_id] = {"entry_id": entry_id, "memo": str(body.get("memo", ""))}
        return JSONResponse(shop.ledger[entry_id], status_code=201)

    @signed_in
    async def ledger_entry(request: Request, name: str) -> Response:
        manager = shop.users[name]["role"] == "manager"
        entry = shop.ledger.get(int(request.path_params["entry_id"]))
        if request.method == "DELETE" and not (manager or on("bfla-evidence")):
            return JSONResponse({"error": "managers only"}, status_code=403)
        if not manager and request.method == "GET":
            return JSONResponse({"error": "managers only"}, status_code=403)
        if entry is None:
            return JSONResponse({"error": "no such entry"}, status_code=404)
        if request.method == "DELETE":
            del shop.ledger[entry["entry_id"]]
            return Response(status_code=204)
        return JSONResponse(entry)

    async def openapi(request: Request) -> Response:
        return JSONResponse(_spec())

    app = Starlette(
        routes=[
            Route("/openapi.json", openapi),
            Route("/shop/auth/token", token, methods=["POST"]),
            Route("/shop/account", account, methods=["GET", "PATCH"]),
            Route("/shop/jobs", jobs, methods=["GET", "POST"]),
            Route("/shop/jobs/lookup", lookup, methods=["POST"]),
            Route("/shop/jobs/{job_id}", job, methods=["GET", "PATCH", "DELETE"]),
            Route("/shop/jobs/{job_id}/photo", photo, methods=["PUT"]),
            Route("/shop/jobs/{job_id}/refund", refund, methods=["POST"]),
            Route("/shop/invoice", invoice, methods=["GET"]),
            Route("/shop/quotes", quotes, methods=["POST"]),
            Route("/shop/ledger", ledger, methods=["GET", "POST"]),
            Route("/shop/ledger/{entry_id:int}", ledger_entry, methods=["GET", "DELETE"]),
        ]
    )
    app.state.shop = shop
    return app


def spec() -> dict[str, Any]:
    return _spec()
