"""The demo's fixed world: hotels, guests, reservations, voices and the demo identities.

The concierge app seeds its SQLite database from here and the PMS/TTS dependency processes
seed their in-memory stores from here, so tests and docs can name the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HOTELS: dict[str, str] = {"h1": "Harbour View Hotel", "h2": "Alpine Lodge"}


@dataclass(frozen=True, slots=True)
class Guest:
    id: str
    hotel_id: str
    name: str
    phone: str
    email: str


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    hotel_id: str
    guest_id: str
    confirmation_code: str
    room: str
    check_in: str
    check_out: str
    status: str


GUESTS: tuple[Guest, ...] = (
    Guest("g1", "h1", "Ada Lovelace", "+15550100001", "guest1@demo.test"),
    Guest("g2", "h1", "Grace Hopper", "+15550100002", "guest2@demo.test"),
    Guest("g3", "h1", "Alan Turing", "+15550100003", "alan.turing@example.org"),
    Guest("g4", "h2", "Edsger Dijkstra", "+15550200004", "edsger@example.org"),
    Guest("g5", "h2", "Barbara Liskov", "+15550200005", "barbara@example.org"),
)

RESERVATIONS: tuple[Reservation, ...] = (
    Reservation("r-1001", "h1", "g1", "HV7Q2K", "301", "2026-12-01", "2026-12-04", "confirmed"),
    Reservation("r-1002", "h1", "g2", "HV9M4T", "512", "2026-12-02", "2026-12-03", "confirmed"),
    Reservation("r-1003", "h1", "g3", "HV3X8P", "118", "2026-12-05", "2026-12-09", "checked_in"),
    Reservation("r-2001", "h2", "g4", "AL5R1W", "21", "2026-12-10", "2026-12-12", "confirmed"),
    Reservation("r-2002", "h2", "g5", "AL8N6C", "34", "2026-12-11", "2026-12-15", "confirmed"),
)

VOICES: tuple[str, ...] = ("alloy", "harbour", "alpine")


def reservation_record(r: Reservation) -> dict[str, Any]:
    """The PMS's JSON answer for one reservation: the booking with its guest's contact details."""
    guest = next(g for g in GUESTS if g.id == r.guest_id)
    return {
        "id": r.id,
        "hotel_id": r.hotel_id,
        "guest_id": r.guest_id,
        "guest_name": guest.name,
        "guest_phone": guest.phone,
        "guest_email": guest.email,
        "confirmation_code": r.confirmation_code,
        "room": r.room,
        "check_in": r.check_in,
        "check_out": r.check_out,
        "status": r.status,
    }


@dataclass(frozen=True, slots=True)
class SeedUser:
    email: str
    password: str
    role: str  # guest | staff | admin
    hotel_id: str | None
    guest_id: str | None
    display_name: str
    identity: str  # the identity name written to battletest.toml


# Fixed, documented demo credentials (docs/demo.md). The service API key is random per start.
USERS: tuple[SeedUser, ...] = (
    SeedUser("admin@demo.test", "admin-Demo-2026!", "admin", None, None, "Demo Admin", "admin"),
    SeedUser(
        "staff.h1@demo.test", "staff1-Demo-2026!", "staff", "h1", None, "Hana Staff", "staff_h1"
    ),
    SeedUser(
        "staff.h2@demo.test", "staff2-Demo-2026!", "staff", "h2", None, "Otto Staff", "staff_h2"
    ),
    SeedUser(
        "guest1@demo.test", "guest1-Demo-2026!", "guest", "h1", "g1", "Ada Lovelace", "guest1"
    ),
    SeedUser(
        "guest2@demo.test", "guest2-Demo-2026!", "guest", "h1", "g2", "Grace Hopper", "guest2"
    ),
)
