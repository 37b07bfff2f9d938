"""The concierge API operations (``/v1/...``, health, metrics), registered on the app.

Authorization follows ``policy.RBAC``; tenant checks (a staff user sees only their hotel, a
guest only their own reservations) sit next to each lookup. Planted flaws are marked
``PLANTED VULNERABILITY (<switch>)`` and only active when their switch is on.

No ``from __future__ import annotations`` here: FastAPI reads the endpoint annotations at
runtime, and several of them refer to dependencies built inside ``register``.
"""

import asyncio
import hashlib
import json
import logging
import platform
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import fastapi
import httpx
import starlette
from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from jinja2 import Environment
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from battletest import __version__
from battletest.demo import audio, seed
from battletest.demo import models as m
from battletest.demo.app import TITLES, Services, problem
from battletest.demo.connectors import DependencyUnavailable
from battletest.demo.policy import allowed_roles
from battletest.demo.security import InvalidToken

s_log = logging.getLogger("battletest.demo.calls")
ID = r"^[A-Za-z0-9_-]{1,64}$"
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "answered": ({"ringing"}, "in_progress"),
    "transcript": ({"in_progress"}, "in_progress"),
    "transfer": ({"in_progress"}, "transferred"),
    "ended": ({"ringing", "in_progress", "transferred"}, "ended"),
}
TRANSCRIPT = Environment(autoescape=True).from_string(
    """<!doctype html>
<html><head><meta charset="utf-8"><title>Call {{ call.id }}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto} mark{background:#ff0}</style>
</head><body>
<h1>Call {{ call.id }} — {{ hotel }}</h1>
<p>Status: {{ call.status }}{% if call.transferred_to %}, transferred to {{ call.transferred_to }}{% endif %}</p>
{% if highlight %}<p>Highlighting: {{ highlight }}</p>{% endif %}
<ol>{% for e in events %}<li><b>{{ e.type }}</b>{% if e.speaker %} ({{ e.speaker }}){% endif %}{% if e.text %}: {{ e.text }}{% endif %}</li>{% endfor %}</ol>
</body></html>
"""
)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # user | key
    id: str
    role: str
    hotel_id: str | None
    guest_id: str | None
    email: str | None
    jti: str | None


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="concierge"'})


def register(app: FastAPI, s: Services) -> None:
    opts = s.options

    def principal(request: HTTPConnection) -> Principal:
        """Who is calling: an API key (``X-API-Key``) or a bearer access token.

        One plain dependency (not FastAPI's security classes) keeps the per-request cost low;
        the security schemes are declared in the OpenAPI document by ``app.openapi_document``.
        """
        key = request.headers.get("x-api-key")
        if key:
            row = s.store.api_key(key)
            if row is None:
                raise unauthorized("invalid API key")
            return Principal("key", row["id"], row["role"], row["hotel_id"], None, None, None)
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise unauthorized("missing credentials: send Authorization: Bearer <token>")
        claims = getattr(request.state, "claims", None)
        if claims is None:
            try:
                claims = s.tokens.decode(credentials.strip())
            except InvalidToken:
                raise unauthorized("invalid or expired token") from None
        jti = str(claims.get("jti", ""))
        # forged tokens (alg none, weak secret) carry no stored jti; they still name a real user
        forged_ok = opts.vuln("jwt_alg_none") or opts.vuln("weak_jwt_secret")
        if not s.store.token_usable(jti) and not (forged_ok and not s.store.token_revoked(jti)):
            raise unauthorized("token revoked")
        user = s.store.user_by_id(str(claims["sub"]))
        if user is None:
            raise unauthorized("unknown user")
        return Principal(
            "user", user["id"], user["role"], user["hotel_id"], user["guest_id"], user["email"], jti
        )

    def allow(method: str, path: str) -> Any:
        roles = allowed_roles(method, path)
        bfla = opts.vuln("bfla") and (method, path) == ("DELETE", "/v1/users/{user_id}")

        async def dependency(request: Request) -> Principal:
            p = principal(request)
            if p.role in roles:
                return p
            if bfla:
                return p  # PLANTED VULNERABILITY (bfla): any authenticated user may delete
            raise HTTPException(403, f"role {p.role!r} may not call {method} {path}")

        return Depends(dependency)

    def unavailable(exc: DependencyUnavailable, path: str) -> JSONResponse:
        return problem(
            503,
            TITLES[503],
            f"{exc.name} is unavailable ({exc.reason}); retry later",
            instance=path,
            headers={"Retry-After": str(int(exc.retry_after + 0.999))},
        )

    # ---- health ---------------------------------------------------------------------------
    @app.get("/health", response_model=m.Health, tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", response_model=m.Readiness, tags=["ops"])
    async def ready() -> Any:
        checks = {"db": "ok" if s.store.ping() else "failed"}

        async def probe(name: str, url: str) -> None:
            try:
                r = await s.http.get(url + "/health", timeout=min(1.0, opts.dependency_timeout_s))
                checks[name] = "ok" if r.status_code == 200 else f"status {r.status_code}"
            except httpx.HTTPError as exc:
                checks[name] = type(exc).__name__

        await asyncio.gather(probe("pms", s.pms_url), probe("tts", s.tts_url))
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "checks": checks}
        return problem(
            503,
            TITLES[503],
            "a dependency is not ready",
            instance="/ready",
            headers={"Retry-After": "5"},
            checks=checks,
        )

    @app.get("/version", response_model=m.Version, tags=["ops"])
    async def version() -> dict[str, str]:
        return {"name": "battletest-demo-concierge", "version": __version__, "api": "v1"}

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        tags=["ops"],
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def metrics() -> PlainTextResponse:
        lines = ["# TYPE concierge_requests_total counter"]
        for (method, route, status), n in sorted(s.requests.items()):
            lines.append(
                f'concierge_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}'
            )
        lines += [
            "# TYPE concierge_request_seconds_sum counter",
            f"concierge_request_seconds_sum {s.latency_sum:.6f}",
            "# TYPE concierge_pms_calls_total counter",
        ]
        lines += [f'concierge_pms_calls_total{{kind="{k}"}} {v}' for k, v in s.pms.stats.items()]
        state = s.pms.breaker_state
        lines += [
            "# TYPE concierge_pms_breaker_open gauge",
            f'concierge_pms_breaker_open{{state="{state}"}} {int(state == "open")}',
            "# TYPE concierge_uptime_seconds gauge",
            f"concierge_uptime_seconds {time.time() - s.started_at:.1f}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    # ---- auth -----------------------------------------------------------------------------
    def issue_pair(user: Any) -> dict[str, Any]:
        access = s.tokens.issue(user["id"], user["role"], user["hotel_id"], "access")
        refresh = s.tokens.issue(user["id"], user["role"], user["hotel_id"], "refresh")
        s.store.record_token(access.jti, user["id"], "access", access.expires_at)
        s.store.record_token(refresh.jti, user["id"], "refresh", refresh.expires_at)
        return {
            "access_token": access.token,
            "token_type": "bearer",
            "expires_in": int(opts.token_ttl_s),
            "refresh_token": refresh.token,
        }

    @app.post("/v1/auth/login", response_model=m.TokenPair, tags=["auth"])
    async def login(body: m.LoginRequest) -> Any:
        enumerate_users = opts.vuln("user_enumeration")
        lockout = not opts.vuln("no_login_limit")
        if lockout:
            wait = s.lockout.retry_after(body.username)
            if wait > 0:
                raise HTTPException(
                    429,
                    "too many failed logins; account temporarily locked",
                    headers={"Retry-After": str(int(wait + 0.999))},
                )
        user = s.store.user_by_email(body.username)
        if user is None and enumerate_users:  # PLANTED VULNERABILITY (user_enumeration)
            raise HTTPException(404, f"no user named {body.username}")
        stored = user["password_hash"] if user is not None else s.passwords.dummy_hash
        ok = await asyncio.to_thread(s.passwords.verify, stored, body.password)
        if user is None or not ok:
            if lockout:
                s.lockout.failed(body.username)
            if enumerate_users:
                raise unauthorized("wrong password")
            raise unauthorized("invalid username or password")
        s.lockout.succeeded(body.username)
        return issue_pair(user)

    @app.post("/v1/auth/refresh", response_model=m.TokenPair, tags=["auth"])
    async def refresh(body: m.RefreshRequest) -> Any:
        try:
            claims = s.tokens.decode(body.refresh_token, kind="refresh")
        except InvalidToken:
            raise unauthorized("invalid or expired refresh token") from None
        if not s.store.revoke_token(str(claims["jti"])):
            raise unauthorized("refresh token already used or revoked")
        user = s.store.user_by_id(str(claims["sub"]))
        if user is None:
            raise unauthorized("unknown user")
        return issue_pair(user)

    @app.post("/v1/auth/logout", status_code=204, tags=["auth"])
    async def logout(
        p: Annotated[Principal, allow("GET", "/v1/me")], body: m.LogoutRequest | None = None
    ) -> Response:
        if p.jti:
            s.store.revoke_token(p.jti)
        if body is not None and body.refresh_token:
            try:
                claims = s.tokens.decode(body.refresh_token, kind="refresh")
                if claims.get("sub") == p.id:
                    s.store.revoke_token(str(claims["jti"]))
            except InvalidToken:
                pass
        return Response(status_code=204)

    # ---- me -------------------------------------------------------------------------------
    class MePatch(BaseModel):
        model_config = ConfigDict(extra="allow" if opts.vuln("mass_assignment") else "forbid")
        display_name: str | None = Field(default=None, min_length=1, max_length=120)
        phone: str | None = Field(default=None, pattern=m.PHONE_PATTERN)

    def user_out(user_id: str) -> dict[str, Any]:
        row = s.store.user_by_id(user_id)
        if row is None:
            raise HTTPException(404, "user not found")
        return {k: row[k] for k in m.User.model_fields}

    @app.get("/v1/me", response_model=m.User, tags=["users"])
    async def me(p: Annotated[Principal, allow("GET", "/v1/me")]) -> Any:
        if p.kind != "user":
            raise HTTPException(403, "API keys have no user profile")
        return user_out(p.id)

    @app.patch("/v1/me", response_model=m.User, tags=["users"])
    async def patch_me(body: MePatch, p: Annotated[Principal, allow("PATCH", "/v1/me")]) -> Any:
        if p.kind != "user":
            raise HTTPException(403, "API keys have no user profile")
        changes = body.model_dump(exclude_none=True, exclude_unset=True)
        if opts.vuln("mass_assignment"):  # PLANTED VULNERABILITY (mass_assignment)
            changes.update(body.model_extra or {})
        else:
            changes = {k: v for k, v in changes.items() if k in {"display_name", "phone"}}
        if changes.get("role") not in (None, "guest", "staff", "admin"):
            raise HTTPException(422, "role must be guest, staff or admin")
        s.store.update_user(p.id, changes)
        return user_out(p.id)

    # ---- users and API keys (admin) ----------------------------------------------------------
    @app.get("/v1/users", response_model=list[m.User], tags=["admin"])
    async def list_users(p: Annotated[Principal, allow("GET", "/v1/users")]) -> Any:
        if opts.vuln("data_exposure"):  # PLANTED VULNERABILITY (data_exposure)
            return JSONResponse(s.store.list_users(with_hashes=True))
        return s.store.list_users()

    @app.post("/v1/users", response_model=m.User, status_code=201, tags=["admin"])
    async def create_user(
        body: m.UserCreate, p: Annotated[Principal, allow("POST", "/v1/users")]
    ) -> Any:
        if body.hotel_id is not None and body.hotel_id not in seed.HOTELS:
            raise HTTPException(422, f"unknown hotel {body.hotel_id!r}")
        if body.role == "staff" and body.hotel_id is None:
            raise HTTPException(422, "staff users need a hotel_id")
        if s.store.user_by_email(body.email) is not None:
            raise HTTPException(409, "a user with this email exists")
        hashed = await asyncio.to_thread(s.passwords.hash, body.password)
        return s.store.create_user(
            body.email, hashed, body.role, body.hotel_id, body.display_name or body.email
        )

    @app.delete("/v1/users/{user_id}", status_code=204, tags=["admin"])
    async def delete_user(
        user_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("DELETE", "/v1/users/{user_id}")],
    ) -> Response:
        if not s.store.delete_user(user_id):
            raise HTTPException(404, "user not found")
        return Response(status_code=204)

    @app.get("/v1/api-keys", response_model=list[m.ApiKey], tags=["admin"])
    async def list_keys(p: Annotated[Principal, allow("GET", "/v1/api-keys")]) -> Any:
        return s.store.list_api_keys()

    @app.post("/v1/api-keys", response_model=m.ApiKeyCreated, status_code=201, tags=["admin"])
    async def create_key(
        body: m.ApiKeyCreate, p: Annotated[Principal, allow("POST", "/v1/api-keys")]
    ) -> Any:
        if body.hotel_id is not None and body.hotel_id not in seed.HOTELS:
            raise HTTPException(422, f"unknown hotel {body.hotel_id!r}")
        kid, key = s.store.create_api_key(
            body.name, body.hotel_id, body.quota or opts.service_quota
        )
        row = next(k for k in s.store.list_api_keys() if k["id"] == kid)
        return {**row, "key": key}

    @app.delete("/v1/api-keys/{key_id}", status_code=204, tags=["admin"])
    async def delete_key(
        key_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("DELETE", "/v1/api-keys/{key_id}")],
    ) -> Response:
        if not s.store.delete_api_key(key_id):
            raise HTTPException(404, "API key not found")
        return Response(status_code=204)

    # ---- guests ---------------------------------------------------------------------------
    @app.get("/v1/guests", response_model=list[m.GuestRecord], tags=["guests"])
    async def search_guests(
        p: Annotated[Principal, allow("GET", "/v1/guests")],
        name: Annotated[str, Query(min_length=1, max_length=100)],
    ) -> Any:
        hotel = None if p.role == "admin" else p.hotel_id
        if opts.vuln("sqli"):  # PLANTED VULNERABILITY (sqli)
            return JSONResponse(s.store.search_guests_unsafe(name, hotel))
        return s.store.search_guests(name, hotel)

    # ---- reservations (through the PMS connector) -------------------------------------------
    def may_see_reservation(p: Principal, r: dict[str, Any]) -> bool:
        if p.role in ("admin",) or (p.role == "service" and p.hotel_id is None):
            return True
        if p.role == "guest":
            return opts.vuln("bola") or bool(r["guest_id"] == p.guest_id)  # PLANTED (bola)
        return bool(r["hotel_id"] == p.hotel_id)

    @app.get(
        "/v1/reservations/{reservation_id}", response_model=m.Reservation, tags=["reservations"]
    )
    async def get_reservation(
        reservation_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("GET", "/v1/reservations/{reservation_id}")],
        response: Response,
    ) -> Any:
        try:
            record, stale = await s.pms.reservation(reservation_id)
        except DependencyUnavailable as exc:
            return unavailable(exc, f"/v1/reservations/{reservation_id}")
        if record is None or not may_see_reservation(p, record):
            raise HTTPException(404, "reservation not found")
        if stale:
            response.headers["Warning"] = '110 - "Response is Stale"'
        return {**record, "stale": stale}

    @app.get("/v1/reservations", response_model=m.ReservationList, tags=["reservations"])
    async def find_reservations(
        p: Annotated[Principal, allow("GET", "/v1/reservations")],
        confirmation_code: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{4,12}$")] = None,
        phone: Annotated[str | None, Query(pattern=m.PHONE_PATTERN)] = None,
    ) -> Any:
        if not confirmation_code and not phone:
            raise HTTPException(422, "give confirmation_code or phone")
        try:
            items, stale = await s.pms.find(
                confirmation_code=confirmation_code or "",
                phone=phone or "",
                hotel_id=p.hotel_id or "",
            )
        except DependencyUnavailable as exc:
            return unavailable(exc, "/v1/reservations")
        return {
            "items": [{**r, "stale": stale} for r in items if may_see_reservation(p, r)],
            "stale": stale,
        }

    # ---- calls ----------------------------------------------------------------------------
    def call_out(row: Any, with_events: bool = False) -> dict[str, Any]:
        guest = None
        if row["guest_id"]:
            guest = {
                "id": row["guest_id"],
                "name": row["guest_name"],
                "reservation_id": row["reservation_id"],
            }
        out = {
            "id": row["id"],
            "hotel_id": row["hotel_id"],
            "caller": row["caller"],
            "status": row["status"],
            "guest": guest,
            "greeting_text": row["greeting_text"],
            "greeting_url": f"/v1/calls/{row['id']}/greeting.wav" if row["greeting"] else None,
            "transferred_to": row["transferred_to"],
            "degraded": json.loads(row["degraded"] or "[]"),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        if with_events:
            out["events"] = s.store.call_events(row["id"])
        return out

    def visible_call(p: Principal, call_id: str) -> Any:
        row = s.store.call(call_id)
        if row is None:
            raise HTTPException(404, "call not found")
        other_hotel = p.hotel_id is not None and row["hotel_id"] != p.hotel_id
        # with cross_tenant on: PLANTED VULNERABILITY (cross_tenant) - no hotel check
        if other_hotel and p.role != "admin" and not opts.vuln("cross_tenant"):
            raise HTTPException(404, "call not found")
        return row

    audio.register(app, s, principal, visible_call)

    @app.post("/v1/calls", response_model=m.Call, status_code=201, tags=["calls"])
    async def incoming_call(
        body: m.CallCreate, response: Response, p: Annotated[Principal, allow("POST", "/v1/calls")]
    ) -> Any:
        if body.hotel_id not in seed.HOTELS:
            raise HTTPException(422, f"unknown hotel {body.hotel_id!r}")
        if p.hotel_id is not None and body.hotel_id != p.hotel_id and p.role != "admin":
            raise HTTPException(403, "you may only take calls for your own hotel")
        if body.voice not in seed.VOICES:
            raise HTTPException(422, f"unknown voice {body.voice!r}; use one of {seed.VOICES}")
        log_caller = body.caller
        s_log.info("incoming call for %s from %s", body.hotel_id, log_caller)
        degraded: list[str] = []
        guest = None
        try:
            found, stale = await s.pms.find(phone=body.caller, hotel_id=body.hotel_id)
            guest = found[0] if found else None
            if stale:
                degraded.append("pms-stale")
        except DependencyUnavailable:
            degraded.append("pms")
        hotel = seed.HOTELS[body.hotel_id]
        first = guest["guest_name"].split()[0] if guest else None
        text = (
            f"Welcome to {hotel}, {first}. How can I help with your stay?"
            if first
            else f"Welcome to {hotel}. How can I help you today?"
        )
        audio: bytes | None = None
        try:
            audio = await s.tts.synthesize(text, body.voice)
        except DependencyUnavailable:
            degraded.append("tts")
        now = time.time()
        call_id = f"call_{secrets.token_hex(6)}"
        call: dict[str, Any] = {
            "id": call_id,
            "hotel_id": body.hotel_id,
            "caller": body.caller,
            "status": "ringing",
            "guest_id": guest["guest_id"] if guest else None,
            "guest_name": guest["guest_name"] if guest else None,
            "reservation_id": guest["id"] if guest else None,
            "greeting_text": text,
            "greeting": audio,
            "degraded": json.dumps(degraded),
            "created_at": now,
            "updated_at": now,
        }
        s.store.create_call(call)
        response.headers["Location"] = f"/v1/calls/{call_id}"
        return call_out(s.store.call(call_id))

    @app.post("/v1/calls/{call_id}/events", response_model=m.Call, tags=["calls"])
    async def call_event(
        body: m.CallEventIn,
        call_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("POST", "/v1/calls/{call_id}/events")],
    ) -> Any:
        row = visible_call(p, call_id)
        sources, target = TRANSITIONS[body.type]
        if row["status"] not in sources:
            raise HTTPException(
                409, f"cannot apply {body.type!r} to a call that is {row['status']}"
            )
        if body.type == "transcript" and not body.text:
            raise HTTPException(422, "a transcript event needs text")
        if body.type == "transfer" and not body.to:
            raise HTTPException(422, "a transfer event needs 'to'")
        s.store.add_event(
            call_id,
            body.type,
            body.speaker,
            body.text,
            target,
            body.to if body.type == "transfer" else None,
        )
        return call_out(s.store.call(call_id), with_events=True)

    @app.get("/v1/calls/{call_id}", response_model=m.Call, tags=["calls"])
    async def get_call(
        call_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("GET", "/v1/calls/{call_id}")],
    ) -> Any:
        return call_out(visible_call(p, call_id), with_events=True)

    @app.get("/v1/calls", response_model=m.CallPage, tags=["calls"])
    async def list_calls(
        p: Annotated[Principal, allow("GET", "/v1/calls")],
        status: m.CallStatus | None = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> Any:
        hotel = p.hotel_id if p.role != "admin" else None
        if opts.vuln("cross_tenant"):  # PLANTED VULNERABILITY (cross_tenant)
            hotel = None
        rows, total = s.store.list_calls(hotel, status, page_size, (page - 1) * page_size)
        return {
            "items": [call_out(r) for r in rows],
            "page": page,
            "page_size": page_size,
            "total": total,
        }

    @app.get(
        "/v1/calls/{call_id}/greeting.wav",
        response_class=Response,
        tags=["calls"],
        responses={200: {"content": {"audio/wav": {}}, "description": "the greeting"}},
    )
    async def greeting(
        call_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("GET", "/v1/calls/{call_id}/greeting.wav")],
    ) -> Response:
        row = visible_call(p, call_id)
        if not row["greeting"]:
            raise HTTPException(404, "this call has no greeting audio (TTS was unavailable)")
        return Response(bytes(row["greeting"]), media_type="audio/wav")

    @app.get(
        "/v1/calls/{call_id}/transcript",
        response_class=HTMLResponse,
        tags=["calls"],
        responses={200: {"content": {"text/html": {}}, "description": "transcript"}},
    )
    async def transcript(
        call_id: Annotated[str, Path(pattern=ID)],
        p: Annotated[Principal, allow("GET", "/v1/calls/{call_id}/transcript")],
        highlight: Annotated[str | None, Query(max_length=200)] = None,
    ) -> HTMLResponse:
        row = visible_call(p, call_id)
        shown: Any = highlight
        if highlight and opts.vuln("xss"):  # PLANTED VULNERABILITY (xss)
            shown = Markup(highlight)
        elif highlight:
            shown = escape(highlight)
        html = TRANSCRIPT.render(
            call=row,
            hotel=seed.HOTELS.get(row["hotel_id"], ""),
            events=s.store.call_events(call_id),
            highlight=shown,
        )
        return HTMLResponse(html)

    # ---- speech ---------------------------------------------------------------------------
    @app.post(
        "/v1/tts/synthesize",
        response_class=Response,
        tags=["speech"],
        responses={200: {"content": {"audio/wav": {}}, "description": "WAV audio"}},
    )
    async def synthesize(
        body: m.TtsRequest, p: Annotated[Principal, allow("POST", "/v1/tts/synthesize")]
    ) -> Response:
        if body.voice not in seed.VOICES:
            raise HTTPException(422, f"unknown voice {body.voice!r}; use one of {seed.VOICES}")
        try:
            audio = await s.tts.synthesize(body.text, body.voice)
        except DependencyUnavailable as exc:
            return unavailable(exc, "/v1/tts/synthesize")
        return Response(audio, media_type="audio/wav")

    @app.post("/v1/voices/import", response_model=m.VoiceImported, status_code=201, tags=["speech"])
    async def import_voice(
        body: m.VoiceImport, p: Annotated[Principal, allow("POST", "/v1/voices/import")]
    ) -> Any:
        ssrf = opts.vuln("ssrf")
        try:
            target, allowed = urlsplit(body.url), urlsplit(s.tts_url)
            target.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            raise HTTPException(422, "url is not a valid URL") from None
        if target.scheme not in ("http", "https"):
            raise HTTPException(422, "url must be http(s)")
        if not ssrf and (
            (target.scheme, target.netloc) != (allowed.scheme, allowed.netloc)
            or not target.path.startswith("/voices/")
            or ".." in target.path
            or "%2e" in target.path.lower()
            or target.query
        ):
            raise HTTPException(
                422, "voices can only be imported from the TTS service (its /voices/NAME.wav URLs)"
            )
        try:  # with ssrf on: PLANTED VULNERABILITY (ssrf) - any URL is fetched server-side
            r = await s.http.get(body.url, timeout=opts.dependency_timeout_s)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise HTTPException(422, f"could not fetch the voice ({type(exc).__name__})") from None
        data = r.content[: 1 << 20]
        return {
            "name": body.name,
            "bytes": len(data),
            "content_type": r.headers.get("content-type"),
            "sha256": hashlib.sha256(data).hexdigest(),
            "preview": data[:512].decode("utf-8", "replace") if ssrf else None,
        }

    if opts.vuln("debug_endpoint"):  # PLANTED VULNERABILITY (debug_endpoint)

        @app.get("/debug/config", include_in_schema=False)
        async def debug_config() -> dict[str, Any]:
            return {
                "jwt_secret": s.tokens.secret,
                "service_api_key": opts.service_api_key,
                "db_path": s.db_path,
                "pms_url": s.pms_url,
                "tts_url": s.tts_url,
                "python": platform.python_version(),
                "fastapi": fastapi.__version__,
                "starlette": starlette.__version__,
            }
