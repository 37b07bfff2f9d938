"""Allotment: a community-garden API in Flask, vulnerable on demand (issue 19, app A).

Unlike the demo on purpose: Flask (served through a2wsgi under uvicorn), a Swagger 2.0
document, a form-encoded login answering HTML and setting a cookie that holds an HS256 JWT,
RPC-style URLs (``/rpc/plots.get``), objects chosen by query and form fields, a public listing
whose items name their owner, form bodies everywhere, no RBAC matrix anywhere.

``build_app(vulns)`` switches on each planted vulnerability by its ground-truth id (A1..A15,
see ``GROUND_TRUTH.md`` and ``ground_truth.toml`` beside this file); ``vulns=set()`` is the
fixed app: the same routes, every item closed. Nothing else differs between the modes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask, Response, g, jsonify, render_template_string, request

from ..serving import Journal, memory_db, password_hash

ALL = frozenset(f"A{n}" for n in range(1, 16))
WEAK_SECRET = "rhubarb"  # an ordinary dictionary word (A4)
STRONG_SECRET = "Zq8-allotment-fixed-9f3c1e7b5d2a4068b1c7e9d3f5a2b4c6"
COOKIE = "garden_session"
ORIGIN = "https://garden.example.org"
ROLES = ("member", "steward", "admin")
LOCKOUT_AFTER = 5  # failed logins per username before 429 (fixed mode)
LOCKOUT_S = 30
CODE_MAX = 24  # ReDoS bound: at most 2**24 backtracking steps, about a second (A12)

# username -> (password, role, display name, e-mail, phone)
MEMBERS: dict[str, tuple[str, str, str, str, str]] = {
    "alice": (
        "alice+Pass&2026%",
        "member",
        "Alice Ames",
        "alice@garden.example.org",
        "+1-555-0101",
    ),
    "bob": ("bob+Pass&2026%", "member", "Bob Bell", "bob@garden.example.org", "+1-555-0102"),
    "carol": ("carol+Pass&2026%", "admin", "Carol Cole", "carol@garden.example.org", "+1-555-0103"),
    "dave": ("dave+Pass&2026%", "steward", "Dave Dunn", "dave@garden.example.org", "+1-555-0104"),
}
PLOTS = [  # id, name, crop, owner, private note
    (1, "North bed", "beans", "alice", "gate code 4411"),
    (2, "Herb spiral", "basil", "alice", "key under the pot"),
    (3, "Sunny corner", "tomatoes", "bob", "shed code 7788"),
    (4, "Office plot", "chard", "carol", "steward keys in drawer"),
]
HARVESTS = [("alice", "beans", 4.5), ("alice", "basil", 0.5), ("bob", "tomatoes", 12.0)]

# exponential on "aaaa…!" (nested quantifier); the fix has no nesting and is linear
SLOW_CODE = re.compile(r"^([a-z0-9]+)*-[0-9]+$")
FAST_CODE = re.compile(r"^[a-z0-9]+-[0-9]+$")
# unanchored at the end and with unescaped dots: https://garden.example.org.evil.test passes
LOOSE_ORIGIN = re.compile(r"https://garden.example.org")


@dataclass
class State:
    db: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: dict[str, list[float]] = field(default_factory=dict)


def _fresh_db() -> sqlite3.Connection:
    db = memory_db(
        """
        CREATE TABLE members (username TEXT PRIMARY KEY, password_hash TEXT, role TEXT,
                              display_name TEXT, email TEXT, phone TEXT);
        CREATE TABLE plots (id INTEGER PRIMARY KEY, name TEXT, crop TEXT, owner TEXT, note TEXT);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, plot_id INTEGER, author TEXT, text TEXT);
        CREATE TABLE harvests (member TEXT, crop TEXT, kg REAL);
        """
    )
    db.executemany(
        "INSERT INTO members VALUES (?,?,?,?,?,?)",
        [(u, password_hash(m[0]), *m[1:]) for u, m in MEMBERS.items()],
    )
    db.executemany("INSERT INTO plots VALUES (?,?,?,?,?)", PLOTS)
    db.executemany("INSERT INTO harvests VALUES (?,?,?)", HARVESTS)
    db.execute("INSERT INTO notes VALUES (1, 3, 'bob', 'Slugs again. Beer traps work.')")
    db.commit()
    return db


class AllotmentApp:
    """The Flask app, its ASGI wrapper, its journal and a way back to the seed data."""

    def __init__(self, vulns: Iterable[str] = ALL) -> None:
        self.vulns = frozenset(vulns)
        unknown = self.vulns - ALL
        if unknown:
            raise ValueError(f"unknown allotment items: {sorted(unknown)}")
        self.secret = WEAK_SECRET if "A4" in self.vulns else STRONG_SECRET
        self.journal = Journal()
        self.state = State(_fresh_db())
        self.flask = _build_flask(self)
        self.asgi = WSGIMiddleware(self.flask)  # type: ignore[arg-type]

    def reset(self) -> None:
        """Back to the seed data (tests call it between exploits)."""
        with self.state.lock:
            self.state.db.close()
            self.state = State(_fresh_db())
        self.journal.clear()

    def on(self, item: str) -> bool:
        return item in self.vulns

    def token(self, username: str) -> str:
        claims = {"sub": username, "iat": int(time.time()), "exp": int(time.time()) + 3600}
        head = _b64e(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64e(json.dumps(claims).encode())
        return f"{head}.{body}.{_b64e(self._mac(f'{head}.{body}'))}"

    def _mac(self, signing_input: str) -> bytes:
        return hmac.new(self.secret.encode(), signing_input.encode(), hashlib.sha256).digest()

    def subject(self, token: str) -> str | None:
        """The ``sub`` of a valid, unexpired HS256 token signed with the app's secret.

        Hand-rolled (PyJWT warns about short keys, and the weak key is the point of A4); as
        strict as PyJWT: the header must say HS256, the signature must match, exp must be
        in the future."""
        try:
            head, body, sig = token.split(".")
            header = json.loads(_b64d(head))
            claims = json.loads(_b64d(body))
            signature = _b64d(sig)
        except ValueError:
            return None
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        if not hmac.compare_digest(self._mac(f"{head}.{body}"), signature):
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
            return None
        if claims["exp"] <= time.time() or not isinstance(claims.get("sub"), str):
            return None
        return claims["sub"]


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def build_app(vulns: Iterable[str] = ALL) -> AllotmentApp:
    return AllotmentApp(vulns)


def _page(title: str, body: str, status: int = 200) -> Response:
    text = f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    return Response(text, status=status, mimetype="text/html")


def _inert_title(text: str) -> str:
    """Raw in <title> (RCDATA: markup there is text) with the one way out removed."""
    while re.search(r"</title", text, re.IGNORECASE):
        text = re.sub(r"</title", "", text, flags=re.IGNORECASE)
    return text


def _inert_comment(text: str) -> str:
    """Raw in an HTML comment with every ``--`` removed, so nothing can close it."""
    while "--" in text:
        text = text.replace("--", "")
    return text


def _build_flask(app: AllotmentApp) -> Flask:  # one route table, read top down
    flask = Flask("allotment")
    flask.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # both modes: bodies are bounded (413)
    on = app.on

    def db() -> sqlite3.Connection:
        return app.state.db

    def rows(sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with app.state.lock:
            return db().execute(sql, args).fetchall()

    def write(sql: str, args: tuple[Any, ...] = ()) -> int:
        with app.state.lock:
            cur = db().execute(sql, args)
            db().commit()
            return int(cur.lastrowid or 0)

    def member_row(username: str) -> sqlite3.Row | None:
        found = rows("SELECT * FROM members WHERE username = ?", (username,))
        return found[0] if found else None

    def current() -> sqlite3.Row | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        subject = app.subject(token)
        return None if subject is None else member_row(subject)

    def need_login() -> tuple[Response, int] | None:
        g.user = current()
        if g.user is None:
            return jsonify(error="log in first: POST /login"), 401
        return None

    def need(*fields: str) -> dict[str, str] | tuple[Response, int]:
        values = {f: request.form.get(f, "") for f in fields}
        missing = [f for f, v in values.items() if not v]
        if missing:
            return jsonify(error=f"missing form field(s): {', '.join(missing)}"), 400
        return values

    def plot_json(r: sqlite3.Row, private: bool) -> dict[str, Any]:
        owner = member_row(r["owner"])
        out: dict[str, Any] = {"id": r["id"], "name": r["name"], "crop": r["crop"]}
        nested: dict[str, Any] = {"username": r["owner"]}
        if owner is not None:
            nested["display_name"] = owner["display_name"]
            if on("A3"):  # the whole member row leaks into the nested owner item
                nested.update(email=owner["email"], phone=owner["phone"])
                nested["password_hash"] = owner["password_hash"]
        out["owner"] = nested
        if private:
            out["note"] = r["note"]
        return out

    def may_see(user: sqlite3.Row, plot: sqlite3.Row) -> bool:
        return plot["owner"] == user["username"] or user["role"] in {"steward", "admin"}

    def int_field(value: str) -> int | None:
        """A whole number that fits SQLite's INTEGER, or None."""
        return int(value) if value.isascii() and value.isdigit() and int(value) < 2**31 else None

    @flask.before_request
    def csrf() -> tuple[Response, int] | None:
        if request.method != "POST" or COOKIE not in request.cookies or on("A15"):
            return None
        own = f"{request.scheme}://{request.host}"
        origin = request.headers.get("Origin")
        referer = request.headers.get("Referer", "")
        if origin is not None and origin not in {own, ORIGIN}:
            return jsonify(error="cross-site request refused"), 403
        if origin is None and referer and not referer.startswith((own + "/", ORIGIN + "/")):
            return jsonify(error="cross-site request refused"), 403
        return None

    @flask.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        origin = request.headers.get("Origin")
        if origin:
            trusted = bool(LOOSE_ORIGIN.match(origin)) if on("A14") else origin == ORIGIN
            if trusted:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Allow-Credentials"] = "true"
                response.headers["Access-Control-Allow-Methods"] = "GET, POST"
                response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Vary"] = "Origin"
        route = request.url_rule.rule if request.url_rule is not None else request.path
        app.journal.record(request.method, route, response.status_code)
        return response

    @flask.get("/swagger.json")
    def swagger() -> Response:
        return jsonify(SPEC)

    @flask.post("/login")
    def login() -> Response | tuple[Response, int]:
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if not username or not password:
            return _page("Log in", "<p>Username and password are required.</p>", 400)
        now = time.monotonic()
        with app.state.lock:
            recent = [t for t in app.state.failures.get(username, []) if now - t < LOCKOUT_S]
            app.state.failures[username] = recent
        if len(recent) >= LOCKOUT_AFTER and not on("A5"):
            page = _page("Log in", "<p>Too many failed attempts; try again later.</p>", 429)
            page.headers["Retry-After"] = str(LOCKOUT_S)
            return page
        row = member_row(username)
        if row is None or row["password_hash"] != password_hash(password):
            with app.state.lock:
                app.state.failures.setdefault(username, []).append(now)
            if on("A6"):
                why = (
                    "No gardener is registered under that name."
                    if row is None
                    else ("Wrong password for this gardener.")
                )
            else:
                why = "Invalid username or password."
            # a failed login answers 200 with a message, as many form logins do
            return _page("Log in", f"<p class='error'>Login failed. {why}</p>")
        with app.state.lock:
            app.state.failures.pop(username, None)
        page = _page("Welcome", f"<p>Welcome back, {html.escape(row['display_name'])}.</p>")
        page.set_cookie(COOKIE, app.token(username), httponly=True, samesite="Lax", path="/")
        return page

    @flask.post("/logout")
    def logout() -> Response:
        page = _page("Logged out", "<p>See you in the garden.</p>")
        page.delete_cookie(COOKIE, path="/")
        return page

    @flask.get("/rpc/plots.list")
    def plots_list() -> Response:
        found = rows("SELECT * FROM plots ORDER BY id")
        return jsonify(items=[plot_json(r, private=False) for r in found])

    @flask.get("/rpc/plots.get")
    def plots_get() -> Any:
        if (refused := need_login()) is not None:
            return refused
        plot_id = int_field(request.args.get("plot_id", ""))
        if plot_id is None:
            return jsonify(error="plot_id must be a number"), 400
        found = rows("SELECT * FROM plots WHERE id = ?", (plot_id,))
        if not found or not (on("A1") or may_see(g.user, found[0])):
            return jsonify(error="no such plot"), 404
        return jsonify(plot_json(found[0], private=True))

    @flask.post("/rpc/plots.create")
    def plots_create() -> Any:
        if (refused := need_login()) is not None:
            return refused
        values = need("name", "crop")
        if isinstance(values, tuple):
            return values
        new_id = write(
            "INSERT INTO plots (name, crop, owner, note) VALUES (?,?,?,?)",
            (values["name"], values["crop"], g.user["username"], ""),
        )
        return jsonify(plot_json(rows("SELECT * FROM plots WHERE id = ?", (new_id,))[0], True)), 201

    @flask.post("/rpc/plots.rename")
    def plots_rename() -> Any:
        if (refused := need_login()) is not None:
            return refused
        values = need("plot_id", "name")
        if isinstance(values, tuple):
            return values
        plot_id = int_field(values["plot_id"])
        found = rows("SELECT * FROM plots WHERE id = ?", (plot_id,))
        if not found or not (on("A2") or found[0]["owner"] == g.user["username"]):
            return jsonify(error="no such plot"), 404
        write("UPDATE plots SET name = ? WHERE id = ?", (values["name"], plot_id))
        return jsonify(plot_json(rows("SELECT * FROM plots WHERE id = ?", (plot_id,))[0], True))

    @flask.post("/rpc/plots.remove")
    def plots_remove() -> Any:
        if (refused := need_login()) is not None:
            return refused
        plot_id = int_field(request.form.get("plot_id", ""))
        found = rows("SELECT * FROM plots WHERE id = ?", (plot_id,))
        if not found or found[0]["owner"] != g.user["username"]:
            return jsonify(error="no such plot"), 404
        write("DELETE FROM plots WHERE id = ?", (plot_id,))
        return jsonify(removed=plot_id)

    @flask.get("/rpc/plots.search")
    def plots_search() -> Any:
        if (refused := need_login()) is not None:
            return refused
        q = request.args.get("q", "")
        if not q:
            return jsonify(error="q is required"), 400
        found = rows("SELECT * FROM plots WHERE name LIKE ? ORDER BY id", (f"%{q}%",))
        if not found:
            shown = q if on("A7") else html.escape(q)
            return _page("Plot search", f"<p>No plot matches “{shown}”.</p>", 404)
        items = "".join(
            f"<li>{html.escape(r['name'])} ({html.escape(r['crop'])})</li>" for r in found
        )
        return _page("Plot search", f"<ul>{items}</ul>")

    @flask.get("/rpc/help.page")
    def help_page() -> Response:
        topic = request.args.get("topic", "plots")
        # the topic appears raw in two inert places (not a vulnerability: see N1)
        text = (
            f"<!doctype html><html><head><title>Help: {_inert_title(topic)}</title></head>"
            f"<body><!-- help topic: {_inert_comment(topic)} -->"
            f"<p>No help page for {html.escape(topic)} yet.</p></body></html>"
        )
        return Response(text, mimetype="text/html")

    @flask.post("/rpc/notes.add")
    def notes_add() -> Any:
        if (refused := need_login()) is not None:
            return refused
        values = need("plot_id", "text")
        if isinstance(values, tuple):
            return values
        plot_id = int_field(values["plot_id"])
        found = rows("SELECT * FROM plots WHERE id = ?", (plot_id,))
        if not found or found[0]["owner"] != g.user["username"]:
            return jsonify(error="no such plot"), 404
        note_id = write(
            "INSERT INTO notes (plot_id, author, text) VALUES (?,?,?)",
            (plot_id, g.user["username"], values["text"]),
        )
        return jsonify(id=note_id, plot_id=plot_id, author=g.user["username"]), 201

    @flask.get("/rpc/notes.list")
    def notes_list() -> Response:
        found = rows("SELECT id, plot_id, author FROM notes ORDER BY id")
        return jsonify(items=[dict(r) for r in found])

    @flask.get("/rpc/notes.view")
    def notes_view() -> Any:
        note_id = int_field(request.args.get("note_id", ""))
        found = rows("SELECT * FROM notes WHERE id = ?", (note_id,))
        if not found:
            return jsonify(error="no such note"), 404
        text = found[0]["text"] if on("A8") else html.escape(found[0]["text"])
        author = html.escape(found[0]["author"])
        return _page("Garden board", f"<article><h1>Note by {author}</h1><p>{text}</p></article>")

    @flask.post("/rpc/harvest.log")
    def harvest_log() -> Any:
        if (refused := need_login()) is not None:
            return refused
        values = need("crop", "kg")
        if isinstance(values, tuple):
            return values
        try:
            kg = float(values["kg"])
        except ValueError:
            return jsonify(error="kg must be a number"), 400
        write("INSERT INTO harvests VALUES (?,?,?)", (g.user["username"], values["crop"], kg))
        return jsonify(crop=values["crop"], kg=kg), 201

    @flask.post("/rpc/harvest.report")
    def harvest_report() -> Any:
        if (refused := need_login()) is not None:
            return refused
        values = need("crop")
        if isinstance(values, tuple):
            return values
        crop = values["crop"]
        try:
            if on("A9"):
                sql = (
                    "SELECT COUNT(*) AS entries, COALESCE(SUM(kg), 0) AS kg FROM harvests "
                    f"WHERE member = ? AND crop = '{crop}'"
                )
                found = rows(sql, (g.user["username"],))
            else:
                found = rows(
                    "SELECT COUNT(*) AS entries, COALESCE(SUM(kg), 0) AS kg FROM harvests "
                    "WHERE member = ? AND crop = ?",
                    (g.user["username"], crop),
                )
        except sqlite3.Error as exc:  # only reachable through A9
            return jsonify(error=f"{type(exc).__module__}.{type(exc).__name__}: {exc}"), 500
        return jsonify(crop=crop, entries=found[0]["entries"], kg=found[0]["kg"])

    @flask.get("/rpc/profile.get")
    def profile_get() -> Any:
        if (refused := need_login()) is not None:
            return refused
        u = g.user
        return jsonify(
            username=u["username"], display_name=u["display_name"], email=u["email"], role=u["role"]
        )

    @flask.post("/rpc/profile.update")
    def profile_update() -> Any:
        if (refused := need_login()) is not None:
            return refused
        fields = ["display_name", "email"] + (["role"] if on("A11") else [])
        changes = {f: request.form[f] for f in fields if request.form.get(f)}
        if "role" in changes and changes["role"] not in ROLES:
            return jsonify(error=f"role must be one of {', '.join(ROLES)}"), 400
        for name, value in changes.items():  # names come from the fixed list above
            write(f"UPDATE members SET {name} = ? WHERE username = ?", (value, g.user["username"]))
        return profile_get()

    @flask.get("/rpc/members.list")
    def members_list() -> Any:
        if (refused := need_login()) is not None:
            return refused
        if g.user["role"] != "admin":
            return jsonify(error="administrators only"), 403
        found = rows("SELECT username, display_name, role FROM members ORDER BY username")
        return jsonify(items=[dict(r) for r in found])

    @flask.post("/rpc/members.setRole")
    def members_set_role() -> Any:
        if (refused := need_login()) is not None:
            return refused
        if g.user["role"] != "admin" and not on("A10"):
            return jsonify(error="administrators only"), 403
        values = need("username", "role")
        if isinstance(values, tuple):
            return values
        if values["role"] not in ROLES:
            return jsonify(error=f"role must be one of {', '.join(ROLES)}"), 400
        if member_row(values["username"]) is None:
            return jsonify(error="no such member"), 404
        write(
            "UPDATE members SET role = ? WHERE username = ?", (values["role"], values["username"])
        )
        return jsonify(username=values["username"], role=values["role"])

    @flask.post("/rpc/labels.preview")
    def labels_preview() -> Any:
        if (refused := need_login()) is not None:
            return refused
        values = need("text")
        if isinstance(values, tuple):
            return values
        if on("A13"):  # the text becomes part of the template itself
            label = render_template_string("Plot label: " + values["text"])
        else:
            label = render_template_string("Plot label: {{ text }}", text=values["text"])
        return jsonify(label=label)

    @flask.get("/rpc/codes.check")
    def codes_check() -> Any:
        if (refused := need_login()) is not None:
            return refused
        code = request.args.get("code", "")[:CODE_MAX]
        pattern = SLOW_CODE if on("A12") else FAST_CODE
        return jsonify(code=code, valid=pattern.match(code) is not None)

    return flask


def _form(*fields: tuple[str, str, bool], enum: dict[str, list[str]] | None = None) -> list[Any]:
    out = []
    for name, description, required in fields:
        p: dict[str, Any] = {
            "name": name,
            "in": "formData",
            "type": "string",
            "required": required,
            "description": description,
        }
        if enum and name in enum:
            p["enum"] = enum[name]
        out.append(p)
    return out


def _query(name: str, description: str, kind: str = "string", required: bool = True) -> Any:
    return {
        "name": name,
        "in": "query",
        "type": kind,
        "required": required,
        "description": description,
    }


def _ok(ref: str | None = None, description: str = "OK", html_page: bool = False) -> Any:
    out: dict[str, Any] = {"description": description}
    if ref:
        out["schema"] = {"$ref": f"#/definitions/{ref}"}
    if html_page:
        out["schema"] = {"type": "string"}
    return out


FORM = ["application/x-www-form-urlencoded"]
ERR = {"description": "error", "schema": {"$ref": "#/definitions/Error"}}
PUBLIC: list[Any] = []


def _op(
    summary: str,
    tag: str,
    params: list[Any],
    responses: dict[str, Any],
    *,
    form: bool = False,
    public: bool = False,
    produces: list[str] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "parameters": params}
    op["operationId"] = summary.split(":")[0].strip()
    if form:
        op["consumes"] = FORM
    if produces:
        op["produces"] = produces
    if public:
        op["security"] = PUBLIC
    op["responses"] = {**responses, "401": ERR}
    return op


SPEC: dict[str, Any] = {
    "swagger": "2.0",
    "info": {
        "title": "Allotment",
        "version": "1.4",
        "description": "Community garden plots. Log in with POST /login (form); the "
        "garden_session cookie it sets authenticates every other call.",
    },
    "host": "garden.example.org",
    "schemes": ["https"],
    "basePath": "/",
    "produces": ["application/json"],
    "securityDefinitions": {
        "session": {
            "type": "apiKey",
            "in": "header",
            "name": "Cookie",
            "description": "garden_session=<token>, set by POST /login",
        }
    },
    "security": [{"session": []}],
    "paths": {
        "/login": {
            "post": _op(
                "login: log in with username and password",
                "session",
                _form(("username", "member name", True), ("password", "password", True)),
                {
                    "200": _ok(
                        description="HTML page; sets garden_session on success", html_page=True
                    ),
                    "429": _ok(description="too many failed attempts", html_page=True),
                },
                form=True,
                public=True,
                produces=["text/html"],
            )
        },
        "/logout": {
            "post": _op(
                "logout: end the session",
                "session",
                [],
                {"200": _ok(html_page=True)},
                produces=["text/html"],
            )
        },
        "/rpc/plots.list": {
            "get": _op(
                "plotsList: every plot and its owner (public)",
                "plots",
                [],
                {"200": _ok("PlotList")},
                public=True,
            )
        },
        "/rpc/plots.get": {
            "get": _op(
                "plotsGet: one of your plots, with its private note",
                "plots",
                [_query("plot_id", "plot id", "integer")],
                {"200": _ok("PlotDetail"), "404": ERR},
            )
        },
        "/rpc/plots.create": {
            "post": _op(
                "plotsCreate: claim a new plot",
                "plots",
                _form(("name", "plot name", True), ("crop", "main crop", True)),
                {"201": _ok("PlotDetail"), "400": ERR},
                form=True,
            )
        },
        "/rpc/plots.rename": {
            "post": _op(
                "plotsRename: rename one of your plots",
                "plots",
                _form(("plot_id", "plot id", True), ("name", "new name", True)),
                {"200": _ok("PlotDetail"), "404": ERR},
                form=True,
            )
        },
        "/rpc/plots.remove": {
            "post": _op(
                "plotsRemove: give up one of your plots",
                "plots",
                _form(("plot_id", "plot id", True)),
                {"200": _ok("Removed"), "404": ERR},
                form=True,
            )
        },
        "/rpc/plots.search": {
            "get": _op(
                "plotsSearch: search plots by name (HTML)",
                "plots",
                [_query("q", "part of a plot name")],
                {"200": _ok(html_page=True), "404": _ok(description="no match", html_page=True)},
                produces=["text/html"],
            )
        },
        "/rpc/help.page": {
            "get": _op(
                "helpPage: help on a topic (HTML)",
                "help",
                [_query("topic", "help topic", required=False)],
                {"200": _ok(html_page=True)},
                public=True,
                produces=["text/html"],
            )
        },
        "/rpc/notes.add": {
            "post": _op(
                "notesAdd: pin a note about one of your plots to the board",
                "notes",
                _form(("plot_id", "plot id", True), ("text", "note text", True)),
                {"201": _ok("NoteCreated"), "404": ERR},
                form=True,
            )
        },
        "/rpc/notes.list": {
            "get": _op(
                "notesList: the board (public)", "notes", [], {"200": _ok("NoteList")}, public=True
            )
        },
        "/rpc/notes.view": {
            "get": _op(
                "notesView: one note of the board (HTML, public)",
                "notes",
                [_query("note_id", "note id", "integer")],
                {"200": _ok(html_page=True), "404": ERR},
                public=True,
                produces=["text/html"],
            )
        },
        "/rpc/harvest.log": {
            "post": _op(
                "harvestLog: record a harvest",
                "harvest",
                _form(("crop", "crop", True), ("kg", "weight in kg", True)),
                {"201": _ok("Harvest"), "400": ERR},
                form=True,
            )
        },
        "/rpc/harvest.report": {
            "post": _op(
                "harvestReport: your total harvest of a crop",
                "harvest",
                _form(("crop", "crop", True)),
                {"200": _ok("HarvestReport")},
                form=True,
            )
        },
        "/rpc/profile.get": {
            "get": _op("profileGet: your profile", "profile", [], {"200": _ok("Profile")})
        },
        "/rpc/profile.update": {
            "post": _op(
                "profileUpdate: change your display name or e-mail",
                "profile",
                _form(("display_name", "display name", False), ("email", "e-mail", False)),
                {"200": _ok("Profile"), "400": ERR},
                form=True,
            )
        },
        "/rpc/members.list": {
            "get": _op(
                "membersList: every member and role (administrators)",
                "admin",
                [],
                {"200": _ok("MemberList"), "403": ERR},
            )
        },
        "/rpc/members.setRole": {
            "post": _op(
                "membersSetRole: change a member's role (administrators)",
                "admin",
                _form(
                    ("username", "member", True),
                    ("role", "new role", True),
                    enum={"role": list(ROLES)},
                ),
                {"200": _ok("RoleChange"), "403": ERR, "404": ERR},
                form=True,
            )
        },
        "/rpc/labels.preview": {
            "post": _op(
                "labelsPreview: preview a plot label",
                "plots",
                _form(("text", "label text", True)),
                {"200": _ok("Label")},
                form=True,
            )
        },
        "/rpc/codes.check": {
            "get": _op(
                "codesCheck: is this a valid plot code (bed-12)?",
                "plots",
                [_query("code", "plot code")],
                {"200": _ok("CodeCheck")},
            )
        },
    },
    "definitions": {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
        "Owner": {
            "type": "object",
            "properties": {"username": {"type": "string"}, "display_name": {"type": "string"}},
        },
        "Plot": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "crop": {"type": "string"},
                "owner": {"$ref": "#/definitions/Owner"},
            },
        },
        "PlotDetail": {
            "allOf": [
                {"$ref": "#/definitions/Plot"},
                {"type": "object", "properties": {"note": {"type": "string"}}},
            ]
        },
        "PlotList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/Plot"}}},
        },
        "Removed": {"type": "object", "properties": {"removed": {"type": "integer"}}},
        "NoteCreated": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "plot_id": {"type": "integer"},
                "author": {"type": "string"},
            },
        },
        "NoteList": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/definitions/NoteCreated"}}
            },
        },
        "Harvest": {
            "type": "object",
            "properties": {"crop": {"type": "string"}, "kg": {"type": "number"}},
        },
        "HarvestReport": {
            "type": "object",
            "properties": {
                "crop": {"type": "string"},
                "entries": {"type": "integer"},
                "kg": {"type": "number"},
            },
        },
        "Profile": {
            "type": "object",
            "properties": {
                "username": {"type": "string"},
                "display_name": {"type": "string"},
                "email": {"type": "string", "format": "email"},
                "role": {"type": "string", "enum": list(ROLES), "readOnly": True},
            },
        },
        "MemberList": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string"},
                            "display_name": {"type": "string"},
                            "role": {"type": "string", "enum": list(ROLES)},
                        },
                    },
                }
            },
        },
        "RoleChange": {
            "type": "object",
            "properties": {"username": {"type": "string"}, "role": {"type": "string"}},
        },
        "Label": {"type": "object", "properties": {"label": {"type": "string"}}},
        "CodeCheck": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "valid": {"type": "boolean"}},
        },
    },
}
