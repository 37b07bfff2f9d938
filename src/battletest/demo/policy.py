"""Who may call what: the demo's RBAC matrix, enforced by the app and written to battletest.toml.

One table is the single source of truth, so the written ``[[rbac]]`` rows always state what the
secure demo really enforces (in insecure mode they state what *should* hold).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = ("guest", "staff", "admin", "service")


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    path: str
    roles: tuple[str, ...]


EVERY_USER = ("guest", "staff", "admin")
OPERATORS = ("staff", "admin", "service")

RBAC: tuple[Rule, ...] = (
    Rule("GET", "/v1/me", EVERY_USER),
    Rule("PATCH", "/v1/me", EVERY_USER),
    Rule("GET", "/v1/users", ("admin",)),
    Rule("POST", "/v1/users", ("admin",)),
    Rule("DELETE", "/v1/users/{user_id}", ("admin",)),
    Rule("GET", "/v1/api-keys", ("admin",)),
    Rule("POST", "/v1/api-keys", ("admin",)),
    Rule("DELETE", "/v1/api-keys/{key_id}", ("admin",)),
    Rule("GET", "/v1/guests", ("staff", "admin")),
    Rule("GET", "/v1/reservations", OPERATORS),
    Rule("GET", "/v1/reservations/{reservation_id}", ("guest", "staff", "admin", "service")),
    Rule("POST", "/v1/calls", OPERATORS),
    Rule("GET", "/v1/calls", OPERATORS),
    Rule("GET", "/v1/calls/{call_id}", OPERATORS),
    Rule("POST", "/v1/calls/{call_id}/events", OPERATORS),
    Rule("GET", "/v1/calls/{call_id}/greeting.wav", OPERATORS),
    Rule("GET", "/v1/calls/{call_id}/transcript", ("staff", "admin")),
    Rule("POST", "/v1/tts/synthesize", OPERATORS),
    Rule("POST", "/v1/voices/import", ("admin",)),
)

_INDEX = {(r.method, r.path): r.roles for r in RBAC}


def allowed_roles(method: str, path: str) -> tuple[str, ...]:
    """The roles the matrix allows for an operation (KeyError if the operation is not listed)."""
    return _INDEX[(method, path)]
