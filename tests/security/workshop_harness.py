"""Serve the workshop app (vulnerable or fixed) on loopback and scan it as its three users."""

from __future__ import annotations

from typing import Any

from battletest.netutil import serve_app
from battletest.security import ScanIdentity, ScanOutcome, ScanSettings, scan

from .workshop_app import USERS, build_app, spec

LOGIN = {"path": "/shop/auth/token", "format": "form", "token_field": "access_token"}


def people() -> list[ScanIdentity]:
    return [
        ScanIdentity(name=n, role=str(u["role"]), username=n, password=str(u["password"]))
        for n, u in USERS.items()
    ]


def run_scan(vulns: set[str], checks: list[str], **settings: Any) -> ScanOutcome:
    """Identities and the login, nothing vulnerability-specific: no RBAC, no objects."""
    options: dict[str, Any] = {
        "checks": checks,
        "login": LOGIN,
        "privileged_roles": ["manager"],
        **settings,
    }
    with serve_app(build_app(vulns)) as base:
        return scan(base, spec(), people(), ScanSettings.model_validate(options))
