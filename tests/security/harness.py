"""Serve the library app (vulnerable or fixed) on loopback and scan it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from battletest.netutil import serve_app
from battletest.security import ScanIdentity, ScanOutcome, ScanSettings, scan

from .library_app import MEMBERS, build_app

LOGIN = {"path": "/api/session"}


def people(*names: str, tenants: bool = True) -> list[ScanIdentity]:
    out = []
    for name in names:
        m = MEMBERS[name]
        out.append(
            ScanIdentity(
                name=name,
                role=str(m["role"]),
                tenant=str(m["branch"]) if tenants else None,
                username=name,
                password=str(m["password"]),
            )
        )
    return out


def cookie_identity(base_url: str, name: str) -> ScanIdentity:
    m = MEMBERS[name]
    r = httpx.post(
        base_url + "/api/cookie-session", json={"username": name, "password": m["password"]}
    )
    r.raise_for_status()
    return ScanIdentity(name=f"{name}-cookie", role=str(m["role"]), cookies=dict(r.cookies))


@contextmanager
def served(vulns: set[str], keys_dir: Path | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    app = build_app(vulns, keys_dir=keys_dir)
    with serve_app(app) as base:
        yield base, app.openapi()


def run_scan(
    vulns: set[str],
    checks: list[str],
    identities: tuple[str, ...] = ("ana", "ben", "root"),
    *,
    cookie: str | None = None,
    keys_dir: Path | None = None,
    **settings: Any,
) -> ScanOutcome:
    options: dict[str, Any] = {
        "checks": checks,
        "login": LOGIN,
        "privileged_roles": ["librarian"],
        **settings,
    }
    with served(vulns, keys_dir) as (base, spec):
        ids = people(*identities)
        if cookie:
            ids.append(cookie_identity(base, cookie))
        return scan(base, spec, ids, ScanSettings.model_validate(options))
