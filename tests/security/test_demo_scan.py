"""The scanner against the built-in demo: every planted vulnerability in scope of part 1 found on
the insecure demo; on the secure demo zero findings and no inconclusive check (basic, standard).

The demo's config (``write_config``) gives identities, login and RBAC; the test adds what a team
would know about its own test data: which seeded objects each identity owns and the lookup code a
list operation needs. Tokens live 2 s so the expired-token check can wait one out.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

# planted vulnerability (docs/demo.md) → the check that must report it; part 2 covers the rest
IN_SCOPE = {
    "bola": "bola",
    "bfla": "bfla",
    "mass_assignment": "mass-assignment",
    "jwt_alg_none": "jwt-alg-none",
    "weak_jwt_secret": "jwt-weak-secret",
    "no_token_expiry": "jwt-expired",
    "no_login_limit": "login-rate-limit",
    "user_enumeration": "user-enumeration",
    "data_exposure": "data-exposure",
    "verbose_errors": "stack-trace",
    "missing_headers": "security-headers",
    "cors_any_origin": "cors",
    "debug_endpoint": "undocumented-endpoint",
    "cross_tenant": "cross-tenant",
}
PART_2 = {"sqli", "xss", "ssrf", "no_body_limit"}
KNOWN_DATA: dict[str, Any] = {
    "objects": {
        "/v1/reservations": {
            "guest1": ["r-1001"],
            "guest2": ["r-1002"],
            "staff_h1": ["r-1003"],
            "staff_h2": ["r-2001"],
        }
    },
    "parameters": {"confirmation_code": "HV7Q2K"},
    "allow_destructive": True,  # the demo is disposable: lets mass assignment try PATCH on /me
}


def _scan(insecure: bool, depths: list[str]) -> list[Any]:
    from battletest.config import load_config
    from battletest.demo import start
    from battletest.security.identity import identities_from
    from battletest.security.suite import scan, settings_from
    from battletest.spec import load_spec

    options = {"token_ttl_s": 2, "rate_limit_per_client": 100_000, "lockout_s": 1.0}
    outcomes = []
    with start(insecure=insecure, kdf_time_cost=1, kdf_memory_kib=8192, **options) as demo:
        folder = Path(tempfile.mkdtemp(prefix="bt-scan-demo-"))
        config = load_config(demo.write_config(folder / "battletest.toml"))
        people = identities_from(config.identities, config.auth.api_key_header)
        spec = load_spec(None, demo.base_url)
        for depth in depths:
            if outcomes:
                time.sleep(1.2)  # the previous scan's login burst locked an account for 1 s
            settings = settings_from(config, depth=depth, **KNOWN_DATA)
            outcomes.append(
                scan(demo.base_url, spec, people, settings, extra_secrets=config.secrets())
            )
    return outcomes


def test_planted_vulnerability_table_is_covered() -> None:
    from battletest.demo import VULNERABILITIES

    assert set(VULNERABILITIES) == set(IN_SCOPE) | PART_2


def test_every_planted_vulnerability_in_scope_is_found() -> None:
    (outcome,) = _scan(True, ["standard"])
    by_check: dict[str, list[Any]] = {}
    for f in outcome.findings:
        by_check.setdefault(f.check_id, []).append(f)
    missing = {
        planted: [(r.target, r.reason) for r in outcome.runs if r.check_id == check]
        for planted, check in IN_SCOPE.items()
        if not by_check.get(check)
    }
    assert missing == {}
    assert all(f.reproduce or f.evidence.get("note") for f in outcome.findings)


def test_secure_demo_zero_findings_all_conclusive_at_basic_and_standard() -> None:
    for outcome in _scan(False, ["basic", "standard"]):
        assert [(f.check_id, f.method, f.path, f.title) for f in outcome.findings] == []
        assert [(r.check_id, r.target, r.reason) for r in outcome.inconclusive] == []
        assert len(outcome.runs) > 50
