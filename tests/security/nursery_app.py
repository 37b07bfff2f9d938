"""A plant-nursery API written for the part-2 scanner tests, vulnerable on demand.

``build_app(vulns)`` returns a FastAPI app backed by an in-memory SQLite database; each name in
``vulns`` switches on one planted flaw (string-built SQL, a shell, a template built from input,
raw HTML, a server-side fetch, no body limit…) and nothing else, so the fixed app
(``vulns=set()``) differs from each vulnerable one only by that fix. ``LOG`` collects what the
app logs, for the data-protection check's log source. Names are unlike the demo's.
"""

import html
import io
import json
import re
import sqlite3
import subprocess
import threading
import time
from typing import Annotated, Any

import httpx
import jinja2
from fastapi import Cookie, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

VULNS = frozenset(
    {
        "sqli-query",  # GET /nursery/plants?q=  string-built LIKE query
        "sql-errors",  # database errors returned in the 500 body
        "sqli-path",  # GET /nursery/plants/{plant_id}  numeric context
        "sqli-header",  # GET /nursery/beds  X-Greenhouse header
        "sqli-cookie",  # GET /nursery/visits  visitor cookie, blind (time only)
        "sqli-body",  # POST /nursery/orders  body "plant"
        "cmd",  # POST /nursery/labels  shell echo
        "ssti",  # GET /nursery/greeting?name=
        "nosql",  # POST /nursery/search  operator objects
        "xss-element",  # GET /nursery/card?title=
        "xss-attribute",  # GET /nursery/card?theme=
        "xss-script",  # GET /nursery/card?motto=
        "xss-url",  # GET /nursery/card?link=
        "xss-json-html",  # GET /nursery/echo?msg=  JSON served as text/html
        "xss-stored",  # POST /nursery/notes → GET /nursery/notes/{note_id}
        "ssrf",  # POST /nursery/import  feed_url fetched
        "no-body-limit",  # any body
        "nested-crash",  # POST /nursery/orders  recursive parser, 500
        "redos",  # GET /nursery/codes?code=  quadratic regex
        "no-rate-limit",  # GET /nursery/stock
        "xff-bypass",  # GET /nursery/stock  limiter keyed on X-Forwarded-For
        "pii-log",  # order e-mails and phone numbers logged in clear
        "fuzz-crash",  # POST /nursery/orders  quantity of the wrong type → 500
    }
)
BODY_LIMIT = 64 * 1024
RATE = 5  # requests per window per client
RATE_WINDOW_S = 20.0
PLANTS = [
    (1, "Fern", "shade", 12),
    (2, "Cactus", "sun", 30),
    (3, "Orchid", "shade", 4),
    (4, "Basil", "sun", 55),
]


class Order(BaseModel):
    plant: str
    quantity: Any = 1
    email: str = Field(default="buyer@nursery.example.net")
    phone: str = Field(default="+44 20 7946 0958")


ORDER_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["plant"],
                "properties": {
                    "plant": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
                    "email": {"type": "string", "format": "email"},
                    "phone": {"type": "string"},
                },
            }
        }
    },
}


class Label(BaseModel):
    text: str


class Search(BaseModel):
    owner: Any = None


class Note(BaseModel):
    text: str


class FeedImport(BaseModel):
    feed_url: str = Field(json_schema_extra={"format": "uri"})


def _depth(text: str) -> int:
    deepest = level = 0
    for ch in text:
        if ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


def _recursive_parse(text: str) -> Any:
    """A hand-written recursive descent JSON reader (what nested-crash plants)."""
    pos = 0

    def value() -> Any:
        nonlocal pos
        while text[pos] in " \n\t,:":
            pos += 1
        ch = text[pos]
        if ch == "[":
            pos += 1
            items = []
            while text[pos] != "]":
                items.append(value())
                while text[pos] in " ,":
                    pos += 1
            pos += 1
            return items
        if ch == "{":
            pos += 1
            obj = {}
            while text[pos] != "}":
                key = value()
                obj[key] = value()
                while text[pos] in " ,":
                    pos += 1
            pos += 1
            return obj
        end = re.compile(r'"(?:[^"\\]|\\.)*"|[^,\]} ]+').match(text, pos)
        assert end is not None
        pos = end.end()
        return json.loads(end.group(0))

    return value()


def build_app(vulns: set[str] | frozenset[str] = frozenset()) -> FastAPI:
    unknown = set(vulns) - VULNS
    assert not unknown, unknown
    v = set(vulns)
    app = FastAPI(title="Plant nursery", version="1.0")
    app.state.log = io.StringIO()
    lock = threading.Lock()
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.create_function("pg_sleep", 1, lambda s: time.sleep(min(float(s), 5)) or 0)
    db.execute("CREATE TABLE plants (id INTEGER, name TEXT, light TEXT, stock INTEGER)")
    db.execute("CREATE TABLE visits (visitor TEXT)")
    db.execute("CREATE TABLE staff (name TEXT, secret TEXT)")
    db.executemany("INSERT INTO plants VALUES (?, ?, ?, ?)", PLANTS)
    db.execute("INSERT INTO staff VALUES ('keeper', 'moss-and-lichen')")
    notes: dict[int, str] = {}
    owners = [{"owner": "ivy", "pots": 3}, {"owner": "rowan", "pots": 7}]
    hits: dict[str, list[float]] = {}

    def log(line: str) -> None:
        line = line[:300]
        if "pii-log" not in v:
            line = re.sub(r"[\w.+-]+@[\w-]+\.[\w.]+", "<email>", line)
            line = re.sub(r"\+\d[\d ]{7,}\d", "<phone>", line)
        with lock:
            app.state.log.write(line + "\n")

    def query(sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with lock:
            return db.execute(sql, args).fetchall()

    def guarded(sql: str, args: tuple[Any, ...] = (), *, quiet: bool = False) -> list[Any]:
        try:
            return query(sql, args)
        except sqlite3.Error as exc:
            if quiet:
                return []
            detail = f"sqlite3.OperationalError: {exc}" if "sql-errors" in v else "server error"
            raise HTTPException(500, detail) from None

    @app.middleware("http")
    async def body_limit(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if "no-body-limit" not in v and length and int(length) > BODY_LIMIT:
            return JSONResponse({"detail": "body too large"}, status_code=413)
        try:
            response: Response = await call_next(request)
        except Exception:  # a crash is a plain 500, as behind most servers
            return JSONResponse({"detail": "internal server error"}, status_code=500)
        return response

    def plant(row: Any) -> dict[str, Any]:
        return {"id": row[0], "name": row[1], "light": row[2], "stock": row[3]}

    @app.get("/nursery/plants")
    def list_plants(q: str = "") -> list[dict[str, Any]]:
        if "sqli-query" in v:
            rows = guarded(
                f"SELECT * FROM plants WHERE name LIKE '%{q}%'", quiet="sql-errors" not in v
            )
        else:
            rows = guarded("SELECT * FROM plants WHERE name LIKE ?", (f"%{q}%",))
        return [plant(r) for r in rows]

    @app.get("/nursery/plants/{plant_id}")
    def get_plant(plant_id: str) -> dict[str, Any]:
        if "sqli-path" in v:
            rows = guarded(f"SELECT * FROM plants WHERE id = {plant_id}", quiet=True)
        else:
            rows = guarded("SELECT * FROM plants WHERE id = ?", (plant_id,))
        if not rows:
            raise HTTPException(404, "no such plant")
        return plant(rows[0])

    @app.get("/nursery/beds")
    def beds(x_greenhouse: Annotated[str, Header()] = "shade") -> dict[str, Any]:
        if "sqli-header" in v:
            rows = guarded(f"SELECT name FROM plants WHERE light = '{x_greenhouse}'", quiet=True)
        else:
            rows = guarded("SELECT name FROM plants WHERE light = ?", (x_greenhouse,))
        return {"beds": [r[0] for r in rows]}

    @app.get("/nursery/visits")
    def visits(visitor: Annotated[str, Cookie()] = "anonymous") -> dict[str, Any]:
        if "sqli-cookie" in v:
            guarded(f"INSERT INTO visits VALUES ('{visitor}')", quiet=True)
        else:
            guarded("INSERT INTO visits VALUES (?)", (visitor,))
        return {"ok": True}

    @app.post("/nursery/orders", openapi_extra={"requestBody": ORDER_BODY})
    async def order(request: Request) -> dict[str, Any]:
        raw = (await request.body()).decode()
        if "nested-crash" in v:
            data = _recursive_parse(raw)
        else:
            if _depth(raw) > 64:
                raise HTTPException(400, "JSON nested too deeply")
            try:
                data = json.loads(raw)
            except ValueError:
                raise HTTPException(400, "invalid JSON") from None
        try:
            body = Order.model_validate(data)
        except ValidationError:
            raise HTTPException(422, "plant must be a string") from None
        name = body.plant
        if "sqli-body" in v:
            rows = guarded(f"SELECT id, stock FROM plants WHERE name = '{name}'")
        else:
            rows = guarded("SELECT id, stock FROM plants WHERE name = ?", (name,))
        if "fuzz-crash" in v:
            count = body.quantity + 0  # TypeError → 500 for a string or an object
        else:
            if not isinstance(body.quantity, int) or isinstance(body.quantity, bool):
                raise HTTPException(422, "quantity must be an integer")
            count = body.quantity
        log(f"order plant={name} email={body.email} phone={body.phone}")
        return {"found": bool(rows), "quantity": count}

    @app.post("/nursery/labels")
    def labels(body: Label) -> dict[str, str]:
        if "cmd" in v:
            out = subprocess.run(f"echo {body.text}", shell=True, capture_output=True, text=True)
        else:
            out = subprocess.run(["echo", body.text], capture_output=True, text=True)
        return {"label": out.stdout.strip()}

    @app.get("/nursery/greeting")
    def greeting(name: str = "friend") -> dict[str, str]:
        env = jinja2.Environment(autoescape=True)
        if "ssti" in v:
            text = env.from_string("Hello " + name).render()
        else:
            text = env.from_string("Hello {{ name }}").render(name=name)
        return {"greeting": text}

    @app.post("/nursery/search")
    def search(body: Search) -> list[dict[str, Any]]:
        owner = body.owner
        if isinstance(owner, dict):
            if "nosql" not in v:
                raise HTTPException(422, "owner must be a string")
            op, arg = next(iter(owner.items()))
            tests = {
                "$ne": lambda x: x != arg,
                "$eq": lambda x: x == arg,
                "$gt": lambda x: x > str(arg),
                "$lt": lambda x: x < str(arg),
                "$regex": lambda x: re.search(str(arg), x) is not None,
            }
            test = tests.get(op, lambda x: False)
            return [o for o in owners if test(o["owner"])]
        return [o for o in owners if o["owner"] == owner]

    def escapejs(text: str) -> str:
        return "".join(c if c.isalnum() or c in " .,-_" else f"\\u{ord(c):04x}" for c in text)

    @app.get("/nursery/card", response_class=HTMLResponse)
    def card(
        title: str = "Spring", theme: str = "green", motto: str = "grow", link: str = "/"
    ) -> str:
        t = title if "xss-element" in v else html.escape(title)
        a = theme if "xss-attribute" in v else html.escape(theme)
        m = motto if "xss-script" in v else escapejs(motto)
        safe_link = link if link.startswith(("http://", "https://", "/")) else "#"
        u = link if "xss-url" in v else html.escape(safe_link)
        return (
            f'<html><body><h1>{t}</h1><div class="{a}">card</div>'
            f"<script>var motto = '{m}';</script>"
            f'<a href="{u}">more</a></body></html>'
        )

    @app.get("/nursery/echo")
    def echo(msg: str = "hi") -> Response:
        kind = "text/html" if "xss-json-html" in v else "application/json"
        return Response(json.dumps({"msg": msg}), media_type=kind)

    @app.post("/nursery/notes", status_code=201)
    def add_note(body: Note) -> dict[str, Any]:
        note_id = len(notes) + 1
        notes[note_id] = body.text
        return {"id": note_id, "text": body.text}

    @app.get("/nursery/notes/{note_id}", response_class=HTMLResponse)
    def show_note(note_id: int) -> str:
        if note_id not in notes:
            raise HTTPException(404, "no such note")
        text = notes[note_id] if "xss-stored" in v else html.escape(notes[note_id])
        return f"<html><body><p>{text}</p></body></html>"

    @app.post("/nursery/import")
    def import_feed(body: FeedImport) -> dict[str, Any]:
        if "ssrf" not in v and not body.feed_url.startswith("https://feeds.nursery.example/"):
            raise HTTPException(422, "feeds come from feeds.nursery.example only")
        try:
            r = httpx.get(body.feed_url, timeout=2)
        except httpx.HTTPError:
            raise HTTPException(422, "could not fetch the feed") from None
        return {"status": r.status_code, "bytes": len(r.content)}

    @app.get("/nursery/codes")
    def codes(code: str = "ab") -> dict[str, bool]:
        if "redos" in v:
            return {"valid": re.search(r"\w+;", code) is not None}
        return {"valid": re.search(r"\w{1,64};", code[:200]) is not None}

    @app.get("/nursery/stock")
    def stock(request: Request) -> Any:
        # one bucket for the route (uvicorn already rewrites the client address from
        # X-Forwarded-For on loopback, so the fixed app does not key on it at all)
        key = "stock"
        if "xff-bypass" in v:
            key = request.headers.get("x-forwarded-for", key)
        if "no-rate-limit" not in v:
            now = time.monotonic()
            with lock:
                recent = [t for t in hits.get(key, []) if now - t < RATE_WINDOW_S]
                recent.append(now)
                hits[key] = recent
            if len(recent) > RATE:
                return JSONResponse({"detail": "slow down"}, status_code=429)
        return {"plants": sum(p[3] for p in PLANTS)}

    return app
