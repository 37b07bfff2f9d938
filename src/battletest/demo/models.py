"""Request and response bodies of the concierge API (they make up the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["guest", "staff", "admin"]
CallStatus = Literal["ringing", "in_progress", "transferred", "ended"]
PHONE_PATTERN = r"^\+?[0-9]{6,15}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details, on every 4xx/5xx."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    correlation_id: str
    errors: list[dict[str, Any]] | None = None


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutRequest(Strict):
    refresh_token: str | None = Field(default=None, max_length=4096)


class User(BaseModel):
    id: str
    email: str
    role: Role
    hotel_id: str | None
    guest_id: str | None
    display_name: str
    phone: str | None
    created_at: float


class UserCreate(Strict):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Role
    hotel_id: str | None = Field(default=None, max_length=16)
    display_name: str = Field(default="", max_length=120)


class ApiKey(BaseModel):
    id: str
    name: str
    role: Literal["service"]
    hotel_id: str | None
    quota: int
    created_at: float


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=80)
    hotel_id: str | None = Field(default=None, max_length=16)
    quota: int | None = Field(default=None, ge=1, le=1_000_000)


class ApiKeyCreated(ApiKey):
    key: str = Field(description="shown once; send it as X-API-Key")


class GuestRecord(BaseModel):
    id: str
    hotel_id: str
    name: str
    phone: str
    email: str


class Reservation(BaseModel):
    id: str
    hotel_id: str
    guest_id: str
    guest_name: str
    guest_phone: str
    guest_email: str
    confirmation_code: str
    room: str
    check_in: str
    check_out: str
    status: str
    stale: bool = Field(False, description="served from cache while the PMS is unavailable")


class ReservationList(BaseModel):
    items: list[Reservation]
    stale: bool = False


class CallCreate(Strict):
    caller: str = Field(pattern=PHONE_PATTERN, description="caller number (E.164)")
    hotel_id: str = Field(min_length=1, max_length=16)
    voice: str = Field(default="alloy", max_length=32)


class CallEventIn(Strict):
    type: Literal["answered", "transcript", "transfer", "ended"]
    text: str | None = Field(default=None, max_length=4000)
    speaker: Literal["guest", "agent"] | None = None
    to: str | None = Field(default=None, max_length=64, description="transfer destination")


class CallEvent(BaseModel):
    seq: int
    type: str
    speaker: str | None
    text: str | None
    at: float


class CallGuest(BaseModel):
    id: str
    name: str
    reservation_id: str | None


class Call(BaseModel):
    id: str
    hotel_id: str
    caller: str
    status: CallStatus
    guest: CallGuest | None
    greeting_text: str
    greeting_url: str | None
    transferred_to: str | None
    degraded: list[str] = Field(description="dependencies that were unavailable")
    created_at: float
    updated_at: float
    events: list[CallEvent] | None = None


class CallPage(BaseModel):
    items: list[Call]
    page: int
    page_size: int
    total: int


class TtsRequest(Strict):
    text: str = Field(min_length=1, max_length=2000)
    voice: str = Field(default="alloy", max_length=32)


class VoiceImport(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")
    url: str = Field(min_length=8, max_length=2048)


class VoiceImported(BaseModel):
    name: str
    bytes: int
    content_type: str | None
    sha256: str
    preview: str | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "degraded"]
    checks: dict[str, str]


class Version(BaseModel):
    name: str
    version: str
    api: str
