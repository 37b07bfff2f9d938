"""Depot: a delivery-fleet API in plain Starlette, vulnerable on demand (issue 19, app B).

Unlike the demo and unlike app A (allotment) on purpose: Starlette without FastAPI, a
hand-written OpenAPI 3.0 YAML document (``openapi.yaml`` beside this file, served at
``/openapi.yaml``), HTTP Basic on every call, PUT/PATCH-heavy resources (vehicles are created
by PUT on their plate), a POST that answers 201 with only a Location header, role and status
writable through PATCH, and paths the document does not list but its own paths suggest
(``/v0/…`` beside ``/v1/…``, ``/v1/users`` above ``/v1/users/{username}``).

``build_app(vulns)`` switches on each planted vulnerability by its ground-truth id (B1..B12,
see ``GROUND_TRUTH.md`` and ``ground_truth.toml``); ``vulns=set()`` is the fixed app: the same
routes, every item closed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import sqlite3
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..serving import Journal, memory_db, password_hash

ALL = frozenset(f"B{n}" for n in range(1, 13))
SPEC_FILE = Path(__file__).with_name("openapi.yaml")
ROLES = ("driver", "dispatcher", "admin")
LOCKOUT_AFTER = 10  # wrong Basic passwords per username before 429 (both modes)
LOCKOUT_S = 30
PROBE_TIMEOUT_S = 8.0
MAX_BODY = 64 * 1024
MAX_INT = 2**31 - 1  # every integer the app stores fits SQLite's INTEGER

# username -> (password, role, display name, e-mail)
USERS: dict[str, tuple[str, str, str, str]] = {
    "dana": ("dana:Pass+2026&%", "driver", "Dana Diaz", "dana@depot.example.net"),
    "eli": ("eli:Pass+2026&%", "driver", "Eli Evans", "eli@depot.example.net"),
    "ada": ("ada:Pass+2026&%", "admin", "Ada Adams", "ada@depot.example.net"),
}
VEHICLES = [  # plate, model, colour, mileage, owner
    ("DEP-1001", "Transit", "white", 12000, "dana"),
    ("DEP-1002", "Sprinter", "silver", 8000, "dana"),
    ("DEP-2001", "Vivaro", "red", 30500, "eli"),
    ("DEP-9001", "Master", "black", 500, "ada"),
]
BOOKINGS = [  # id, plate, day, booked_by, card number, holder
    (1, "DEP-1001", "2027-01-10", "dana", "4111111111111111", "Dana Diaz"),
    (2, "DEP-2001", "2027-01-11", "eli", "5555555555554444", "Eli Evans"),
]
DEPOTS = [("NTH", "North depot"), ("STH", "South depot")]


def _fresh_db() -> sqlite3.Connection:
    db = memory_db(
        """
        CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT, role TEXT,
                            display_name TEXT, email TEXT, active INTEGER);
        CREATE TABLE vehicles (plate TEXT PRIMARY KEY, model TEXT, colour TEXT,
                               mileage INTEGER, owner TEXT);
        CREATE TABLE bookings (id INTEGER PRIMARY KEY, plate TEXT, day TEXT, booked_by TEXT,
                               card_number TEXT, holder TEXT);
        CREATE TABLE subscriptions (owner TEXT, name TEXT, callback_url TEXT, events TEXT,
                                    verified INTEGER, PRIMARY KEY (owner, name));
        CREATE TABLE depots (code TEXT PRIMARY KEY, name TEXT);
        """
    )
    db.executemany(
        "INSERT INTO users VALUES (?,?,?,?,?,1)",
        [(u, password_hash(p), r, n, e) for u, (p, r, n, e) in USERS.items()],
    )
    db.executemany("INSERT INTO vehicles VALUES (?,?,?,?,?)", VEHICLES)
    db.executemany("INSERT INTO bookings VALUES (?,?,?,?,?,?)", BOOKINGS)
    db.executemany("INSERT INTO depots VALUES (?,?)", DEPOTS)
    db.commit()
    return db


class _Refusal(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.response = JSONResponse({"detail": detail}, status_code=status, headers=headers)


class DepotApp:
    """The Starlette app, its journal and a way back to the seed data."""

    def __init__(self, vulns: Iterable[str] = ALL) -> None:
        self.vulns = frozenset(vulns)
        unknown = self.vulns - ALL
        if unknown:
            raise ValueError(f"unknown depot items: {sorted(unknown)}")
        self.journal = Journal()
        self.lock = threading.Lock()
        self.db = _fresh_db()
        self.failures: dict[str, list[float]] = {}
        self.starlette = _build_starlette(self)
        self.asgi: ASGIApp = _JournalMiddleware(self.starlette, self)

    def reset(self) -> None:
        with self.lock:
            self.db.close()
            self.db = _fresh_db()
            self.failures.clear()
        self.journal.clear()

    def on(self, item: str) -> bool:
        return item in self.vulns

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def write(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self.lock:
            cur = self.db.execute(sql, args)
            self.db.commit()
            return int(cur.lastrowid or 0)

    def user(self, request: Request) -> sqlite3.Row:
        """The caller from HTTP Basic credentials, or a 401/429 refusal."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Basic realm="depot"'}
        if scheme.lower() != "basic" or not encoded:
            raise _Refusal(401, "HTTP Basic credentials required", challenge)
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _Refusal(401, "malformed credentials", challenge) from None
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.failures.get(username, []) if now - t < LOCKOUT_S]
            self.failures[username] = recent
        if len(recent) >= LOCKOUT_AFTER:
            raise _Refusal(429, "too many failed attempts", {"Retry-After": str(LOCKOUT_S)})
        found = self.rows("SELECT * FROM users WHERE username = ?", (username,))
        if (
            not found
            or found[0]["password_hash"] != password_hash(password)
            or not found[0]["active"]
        ):
            with self.lock:
                self.failures.setdefault(username, []).append(now)
            raise _Refusal(401, "invalid credentials", challenge)
        return found[0]


class _JournalMiddleware:
    """Records (method, route template, status) of each answer; sets the common headers."""

    def __init__(self, app: Starlette, depot: DepotApp) -> None:
        self.app = app
        self.depot = depot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"]
        for candidate in self.app.routes:
            if candidate.matches(scope)[0] is Match.FULL:
                route = getattr(candidate, "path", route)
                break
        status = {"code": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                if self.depot.on("B12"):
                    headers.append((b"x-powered-by", b"Starlette depot-api/1.7.2"))
                else:
                    headers.append((b"x-content-type-options", b"nosniff"))
                    headers.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.depot.journal.record(scope["method"], route, status["code"])


def _build_starlette(depot: DepotApp) -> Starlette:  # one route table, read top down
    on = depot.on
    rows = depot.rows
    write = depot.write

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_BODY:  # both modes: bodies are bounded
            raise _Refusal(413, f"the body is over {MAX_BODY} bytes")
        try:
            data = json.loads(raw)
        except RecursionError:  # both modes: deep nesting is refused, not a crash
            raise _Refusal(400, "the body is nested too deeply") from None
        except ValueError:
            if on("B11"):
                raise _Trace(traceback.format_exc()) from None
            raise _Refusal(400, "the body must be JSON") from None
        if not isinstance(data, dict):
            raise _Refusal(400, "the body must be a JSON object")
        return data

    def text(data: dict[str, Any], name: str, required: bool = False) -> str | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise _Refusal(400, f"{name} must be a non-empty string")
        return value

    def vehicle_json(r: sqlite3.Row) -> dict[str, Any]:
        return {k: r[k] for k in ("plate", "model", "colour", "mileage", "owner")}

    def user_json(r: sqlite3.Row) -> dict[str, Any]:
        out = {k: r[k] for k in ("username", "display_name", "email", "role")}
        return {**out, "active": bool(r["active"])}

    def own_vehicle(plate: str, user: sqlite3.Row) -> sqlite3.Row:
        found = rows("SELECT * FROM vehicles WHERE plate = ?", (plate,))
        if not found or (found[0]["owner"] != user["username"] and user["role"] != "admin"):
            raise _Refusal(404, "no such vehicle")
        return found[0]

    async def spec(request: Request) -> Response:
        return Response(SPEC_FILE.read_text(), media_type="application/yaml")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def me(request: Request) -> Response:
        user = depot.user(request)
        if request.method == "PATCH":
            data = await body(request)
            allowed = ["display_name", "email"] + (["role"] if on("B5") else [])
            changes = {k: text(data, k) for k in allowed if data.get(k) is not None}
            if "role" in changes and changes["role"] not in ROLES:
                raise _Refusal(400, f"role must be one of {', '.join(ROLES)}")
            for name, value in changes.items():  # names from the fixed list above
                write(f"UPDATE users SET {name} = ? WHERE username = ?", (value, user["username"]))
            user = rows("SELECT * FROM users WHERE username = ?", (user["username"],))[0]
        return JSONResponse(user_json(user))

    async def users_index(request: Request) -> Response:
        depot.user(request)  # any account will do (B9)
        if not on("B9"):
            raise _Refusal(404, "not found")
        found = rows("SELECT * FROM users ORDER BY username")
        return JSONResponse([{**user_json(r), "password_hash": r["password_hash"]} for r in found])

    async def one_user(request: Request) -> Response:
        caller = depot.user(request)
        name = request.path_params["username"]
        found = rows("SELECT * FROM users WHERE username = ?", (name,))
        if not found:
            raise _Refusal(404, "no such user")
        if request.method == "GET":
            return JSONResponse({"username": name, "display_name": found[0]["display_name"]})
        if caller["role"] != "admin" and not on("B6"):
            raise _Refusal(403, "administrators only")
        data = await body(request)
        if "role" in data:
            if data["role"] not in ROLES:
                raise _Refusal(400, f"role must be one of {', '.join(ROLES)}")
            write("UPDATE users SET role = ? WHERE username = ?", (data["role"], name))
        if "active" in data:
            if not isinstance(data["active"], bool):
                raise _Refusal(400, "active must be true or false")
            write("UPDATE users SET active = ? WHERE username = ?", (int(data["active"]), name))
        return JSONResponse(user_json(rows("SELECT * FROM users WHERE username = ?", (name,))[0]))

    async def vehicles(request: Request) -> Response:
        user = depot.user(request)
        found = rows("SELECT * FROM vehicles WHERE owner = ? ORDER BY plate", (user["username"],))
        return JSONResponse([vehicle_json(r) for r in found])

    async def vehicle(request: Request) -> Response:
        user = depot.user(request)
        plate = request.path_params["plate"]
        if request.method == "PUT":
            data = await body(request)
            model = text(data, "model", required=True)
            colour = text(data, "colour") or "white"
            mileage = data.get("mileage", 0)
            if (
                not isinstance(mileage, int)
                or isinstance(mileage, bool)
                or not 0 <= mileage <= MAX_INT
            ):
                raise _Refusal(400, "mileage must be a whole number ≥ 0")
            if not (2 <= len(plate) <= 12) or not all(c.isalnum() or c == "-" for c in plate):
                raise _Refusal(400, "plate: 2-12 letters, digits or '-'")
            found = rows("SELECT * FROM vehicles WHERE plate = ?", (plate,))
            if found and found[0]["owner"] != user["username"]:
                raise _Refusal(409, "this plate is registered to someone else")
            write(
                "INSERT OR REPLACE INTO vehicles VALUES (?,?,?,?,?)",
                (plate, model, colour, mileage, user["username"]),
            )
            saved = rows("SELECT * FROM vehicles WHERE plate = ?", (plate,))[0]
            return JSONResponse(vehicle_json(saved), status_code=200 if found else 201)
        if request.method == "DELETE":
            if on("B4"):
                if not rows("SELECT plate FROM vehicles WHERE plate = ?", (plate,)):
                    raise _Refusal(404, "no such vehicle")
            else:
                own_vehicle(plate, user)
            write("DELETE FROM vehicles WHERE plate = ?", (plate,))
            return Response(status_code=204)
        current = own_vehicle(plate, user)
        if request.method == "PATCH":
            data = await body(request)
            colour = text(data, "colour")
            mileage = data.get("mileage")
            if mileage is not None and (
                not isinstance(mileage, int)
                or isinstance(mileage, bool)
                or not 0 <= mileage <= MAX_INT
            ):
                raise _Refusal(400, "mileage must be a whole number ≥ 0")
            try:
                if colour is not None and on("B1"):
                    write(f"UPDATE vehicles SET colour = '{colour}' WHERE plate = ?", (plate,))
                elif colour is not None:
                    write("UPDATE vehicles SET colour = ? WHERE plate = ?", (colour, plate))
            except sqlite3.Error as exc:  # only reachable through B1
                detail = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                return JSONResponse({"detail": detail}, status_code=500)
            if mileage is not None:
                write("UPDATE vehicles SET mileage = ? WHERE plate = ?", (mileage, plate))
            current = rows("SELECT * FROM vehicles WHERE plate = ?", (plate,))[0]
        return JSONResponse(vehicle_json(current))

    async def diagnostics(request: Request) -> Response:
        user = depot.user(request)
        plate = own_vehicle(request.path_params["plate"], user)["plate"]
        probe = text(await body(request), "probe", required=True) or ""
        if on("B2"):  # the probe name goes through a shell
            proc = await asyncio.create_subprocess_shell(
                f"echo probe {probe} ok for {plate}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        else:
            proc = await asyncio.create_subprocess_exec(
                "echo", "probe", probe, "ok", "for", plate, stdout=asyncio.subprocess.PIPE
            )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise _Refusal(504, "the probe took too long") from None
        return JSONResponse({"plate": plate, "output": out.decode(errors="replace").strip()})

    async def bookings(request: Request) -> Response:
        user = depot.user(request)
        if request.method == "GET":
            found = rows(
                "SELECT id, plate, day FROM bookings WHERE booked_by = ? ORDER BY id",
                (user["username"],),
            )
            return JSONResponse([dict(r) for r in found])
        data = await body(request)
        plate = text(data, "plate", required=True)
        day = text(data, "day", required=True) or ""
        card = text(data, "card_number") or ""
        if not rows("SELECT plate FROM vehicles WHERE plate = ?", (plate,)):
            raise _Refusal(400, "no such vehicle")
        if len(day) != 10 or day[4] != "-" or day[7] != "-":
            raise _Refusal(400, "day must be YYYY-MM-DD")
        new_id = write(
            "INSERT INTO bookings (plate, day, booked_by, card_number, holder) VALUES (?,?,?,?,?)",
            (plate, day, user["username"], card, user["display_name"]),
        )
        return Response(status_code=201, headers={"Location": f"/v1/bookings/{new_id}"})

    async def booking(request: Request) -> Response:
        user = depot.user(request)
        raw_id = request.path_params["booking_id"]
        known = raw_id.isascii() and raw_id.isdigit() and int(raw_id) <= MAX_INT
        found = rows("SELECT * FROM bookings WHERE id = ?", (int(raw_id),)) if known else []
        mine = bool(found) and (
            found[0]["booked_by"] == user["username"] or user["role"] == "admin"
        )
        if not found or not (mine or (on("B3") and request.method == "GET")):
            raise _Refusal(404, "no such booking")
        if request.method == "DELETE":
            write("DELETE FROM bookings WHERE id = ?", (found[0]["id"],))
            return Response(status_code=204)
        r = found[0]
        payment: dict[str, Any] = {"card_last4": r["card_number"][-4:], "holder": r["holder"]}
        if on("B10"):
            payment["card_number"] = r["card_number"]
        out = {"id": r["id"], "plate": r["plate"], "day": r["day"], "booked_by": r["booked_by"]}
        return JSONResponse({**out, "payment": payment})

    async def ping(url: str) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                return (await client.get(url)).status_code < 400
        except (httpx.HTTPError, ValueError):
            return False

    async def subscription(request: Request) -> Response:
        user = depot.user(request)
        name = request.path_params["name"]
        key = (user["username"], name)
        if request.method == "PUT":
            data = await body(request)
            url = text(data, "callback_url", required=True) or ""
            events = data.get("events", [])
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise _Refusal(400, "events must be a list of names")
            verified = False
            if on("B7"):  # "verify" the webhook by calling it from the server, any URL
                # (a test app never sends traffic off this machine: other hosts are not called)
                if not _loopback_literal(url):
                    verified = False
                else:
                    verified = await ping(url)
            elif not url.startswith("https://"):
                raise _Refusal(400, "callback_url must be an https URL")
            write(
                "INSERT OR REPLACE INTO subscriptions VALUES (?,?,?,?,?)",
                (*key, url, json.dumps(events), int(verified)),
            )
        found = rows("SELECT * FROM subscriptions WHERE owner = ? AND name = ?", key)
        if not found:
            raise _Refusal(404, "no such subscription")
        if request.method == "DELETE":
            write("DELETE FROM subscriptions WHERE owner = ? AND name = ?", key)
            return Response(status_code=204)
        r = found[0]
        return JSONResponse(
            {
                "name": name,
                "callback_url": r["callback_url"],
                "events": json.loads(r["events"]),
                "verified": bool(r["verified"]),
            }
        )

    async def depots(request: Request) -> Response:
        depot.user(request)
        return JSONResponse([dict(r) for r in rows("SELECT code, name FROM depots ORDER BY code")])

    async def one_depot(request: Request) -> Response:
        user = depot.user(request)
        if user["role"] != "admin":
            raise _Refusal(403, "administrators only")
        code = request.path_params["code"]
        name = text(await body(request), "name", required=True)
        write("INSERT OR REPLACE INTO depots VALUES (?,?)", (code, name))
        return JSONResponse({"code": code, "name": name})

    async def legacy_vehicles(request: Request) -> Response:
        if not on("B8"):  # retired with v1; still routed, answering like any unknown path
            raise _Refusal(404, "not found")
        found = rows(
            "SELECT v.*, u.email FROM vehicles v JOIN users u ON u.username = v.owner ORDER BY plate"
        )
        return JSONResponse([{**vehicle_json(r), "owner_email": r["email"]} for r in found])

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Refusal)
        return exc.response

    async def trace(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(str(exc), status_code=500)

    routes = [
        Route("/openapi.yaml", spec),
        Route("/v1/health", health),
        Route("/v1/users/me", me, methods=["GET", "PATCH"]),
        Route("/v1/users", users_index),
        Route("/v1/users/{username}", one_user, methods=["GET", "PATCH"]),
        Route("/v1/vehicles", vehicles),
        Route("/v1/vehicles/{plate}", vehicle, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/v1/vehicles/{plate}/diagnostics", diagnostics, methods=["PUT"]),
        Route("/v1/bookings", bookings, methods=["GET", "POST"]),
        Route("/v1/bookings/{booking_id}", booking, methods=["GET", "DELETE"]),
        Route("/v1/subscriptions/{name}", subscription, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/depots", depots),
        Route("/v1/depots/{code}", one_depot, methods=["PUT"]),
        Route("/v0/vehicles", legacy_vehicles),
    ]
    return Starlette(routes=routes, exception_handlers={_Refusal: refused, _Trace: trace})


class _Trace(Exception):
    """A Python traceback shown to the client (B11)."""


def _loopback_literal(url: str) -> bool:
    """localhost or a loopback address literal; no name is resolved (no DNS query leaves)."""
    host = (urlsplit(url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(vulns: Iterable[str] = ALL) -> DepotApp:
    return DepotApp(vulns)
