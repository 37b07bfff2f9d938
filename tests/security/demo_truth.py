"""Ground truth for scans of the insecure demo, shared by tests/security and bench/bench_scan.py.

Each planted vulnerability (docs/demo.md) maps to the checks that may report it; one must.
"""

from __future__ import annotations

IN_SCOPE: dict[str, set[str]] = {
    "bola": {"bola"},
    "bfla": {"bfla"},
    "mass_assignment": {"mass-assignment"},
    "jwt_alg_none": {"jwt-alg-none"},
    "weak_jwt_secret": {"jwt-weak-secret"},
    "no_token_expiry": {"jwt-expired"},
    "no_login_limit": {"login-rate-limit"},
    "user_enumeration": {"user-enumeration"},
    "data_exposure": {"data-exposure"},
    "verbose_errors": {"stack-trace"},
    "missing_headers": {"security-headers"},
    "cors_any_origin": {"cors"},
    "debug_endpoint": {"undocumented-endpoint"},
    "cross_tenant": {"cross-tenant"},
    # part 2
    "sqli": {"sqli-error", "sqli-boolean", "sqli-union", "sqli-time"},
    "xss": {"xss-reflected", "xss-stored"},
    "ssrf": {"ssrf"},
    "no_body_limit": {"body-size"},
}
