"""Render the battletest.toml that describes a running demo (``demo serve --write-config``).

The format is the agreed contract read by ``battletest run`` (documented in docs/demo.md):
target, auth flow, identities with literal credentials, the RBAC matrix, the declared rate
limits and lockout threshold, and the dependencies.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from battletest.demo import seed
from battletest.demo.policy import RBAC

if TYPE_CHECKING:
    from battletest.demo.launcher import DemoHandle


def _s(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def render_config(demo: DemoHandle) -> str:
    opts = demo.options
    mode = "INSECURE (planted vulnerabilities on)" if demo.insecure else "secure"
    lines = [
        f"# battletest.toml for the built-in demo ({mode}), written by `battletest demo serve`.",
        "# Credentials are demo-only and written literally; see docs/demo.md.",
        "",
        "[target]",
        f"url = {_s(demo.base_url)}",
        f"spec = {_s(demo.spec_url)}",
        'health = "/health"',
        "",
        "[auth]",
        'login_path = "/v1/auth/login"',
        'login_format = "json"',
        'token_field = "access_token"',
        'refresh_path = "/v1/auth/refresh"',
        'refresh_token_field = "refresh_token"',
        'logout_path = "/v1/auth/logout"',
        'tenant_claim = "hotel_id"',
        'api_key_header = "X-API-Key"',
    ]
    for ident in demo.identities:
        lines += ["", "[[identities]]", f"name = {_s(ident.name)}", f"role = {_s(ident.role)}"]
        if ident.tenant:
            lines.append(f"tenant = {_s(ident.tenant)}")
        if ident.api_key:
            lines.append(f"api_key = {_s(ident.api_key)}")
        else:
            lines += [
                f"username = {_s(ident.username or '')}",
                f"password = {_s(ident.password or '')}",
            ]
    for rule in RBAC:
        roles = ", ".join(_s(r) for r in rule.roles)
        lines += [
            "",
            "[[rbac]]",
            f"method = {_s(rule.method)}",
            f"path = {_s(rule.path)}",
            f"roles = [{roles}]",
        ]
    lines += [
        "",
        "[rate_limits]",
        f"window_s = {opts.rate_window_s:g}",
        f"per_client = {opts.rate_limit_per_client if opts.rate_limit else 0}",
        f"login_lockout_threshold = {opts.lockout_threshold}",
        f"service_quota = {opts.service_quota if opts.rate_limit else 0}",
    ]
    for name, url in demo.dependencies.items():
        lines += ["", "[[dependencies]]", f"name = {_s(name)}", f"url = {_s(url)}"]
    return "\n".join(lines + contract_section() + security_section()) + "\n"


def contract_section() -> list[str]:
    """``[suites.contract].values``: what generated data cannot guess — a seeded hotel, a voice
    the TTS has and a reservation that exists — so the contract suite's requests reach the
    success path (the ``exercised_operations`` gate counts them)."""
    first = seed.RESERVATIONS[0]
    values = {"hotel_id": first.hotel_id, "voice": seed.VOICES[0], "reservation_id": first.id}
    inline = ", ".join(f"{k} = {_s(v)}" for k, v in values.items())
    return ["", "[suites.contract]", f"values = {{ {inline} }}"]


def owned_reservations() -> dict[str, list[str]]:
    """Identity name → the reservation ids it owns, from the seed data.

    A guest owns its own reservations; staff own the reservations of their hotel that belong
    to no guest identity, so no two identities share an object (the scanner's BOLA check reads
    one identity's objects as another).
    """
    guests = {u.guest_id: u.identity for u in seed.USERS if u.guest_id}
    owned: dict[str, list[str]] = {}
    for r in seed.RESERVATIONS:
        if r.guest_id in guests:
            owned.setdefault(guests[r.guest_id], []).append(r.id)
    for u in seed.USERS:
        if u.role == "staff":
            owned[u.identity] = [
                r.id
                for r in seed.RESERVATIONS
                if r.hotel_id == u.hotel_id and r.guest_id not in guests
            ]
    return owned


def security_section() -> list[str]:
    """``[security]``: what a scan cannot learn from the API — who owns which reservation, and
    a confirmation code for the lookup that needs one."""
    owned = owned_reservations()
    code = next(r.confirmation_code for r in seed.RESERVATIONS if r.id == owned["guest1"][0])
    lines = ["", "[security]", f"parameters = {{ confirmation_code = {_s(code)} }}"]
    lines += ["", '[security.objects."/v1/reservations"]']
    lines += [f"{name} = [{', '.join(_s(i) for i in ids)}]" for name, ids in owned.items()]
    return lines
