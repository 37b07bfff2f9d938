"""Every knob of the demo, as one frozen value passed from the launcher to the app process.

Defaults are realistic; tests pass small values (token TTL, KDF cost, rate limits, lockout).
``insecure=True`` switches on all planted vulnerabilities; ``vulns={"sqli", …}`` picks some.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from battletest.errors import UsageError

# One internal switch per planted vulnerability (issue 3, docs/demo.md), in table order.
VULNERABILITIES: tuple[str, ...] = (
    "sqli",
    "xss",
    "bola",
    "bfla",
    "mass_assignment",
    "jwt_alg_none",
    "weak_jwt_secret",
    "no_token_expiry",
    "no_login_limit",
    "user_enumeration",
    "data_exposure",
    "verbose_errors",
    "missing_headers",
    "cors_any_origin",
    "ssrf",
    "no_body_limit",
    "debug_endpoint",
    "cross_tenant",
)

WEAK_JWT_SECRET = "sunshine"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 0
    pms_port: int = 0
    tts_port: int = 0
    db: str | None = None  # SQLite file; a fresh temporary file when None
    # auth
    token_ttl_s: float = 900.0
    refresh_ttl_s: float = 86400.0
    kdf_time_cost: int = 2  # argon2id, OWASP minimum profile (t=2, m=19 MiB, p=1)
    kdf_memory_kib: int = 19456
    lockout_threshold: int = 5
    lockout_s: float = 300.0
    # rate limiting (sliding window per client: the authenticated user, API key or IP)
    rate_limit: bool = True
    rate_limit_per_client: int = 120
    rate_window_s: float = 60.0
    service_quota: int = 1000
    # request limits and CORS
    body_limit: int = 65536
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    # PMS connector resilience
    breaker: bool = True
    breaker_fail_max: int = 5
    breaker_reset_s: float = 30.0
    backoff: bool = True
    retries: int = 3
    dependency_timeout_s: float = 2.0
    cache_ttl_s: float = 5.0
    stale_ttl_s: float = 300.0
    # externally given dependencies (a fault proxy or mock server in front of them)
    pms_url: str | None = None
    tts_url: str | None = None
    # planted vulnerabilities
    insecure: bool = False
    vulns: frozenset[str] = field(default_factory=frozenset)
    # filled in by the launcher
    service_api_key: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.vulns) - set(VULNERABILITIES))
        if unknown:
            raise UsageError(
                f"unknown demo vulnerability switch(es): {', '.join(unknown)}",
                hint="choose from " + ", ".join(VULNERABILITIES),
            )
        for name in ("token_ttl_s", "rate_window_s", "dependency_timeout_s"):
            if getattr(self, name) <= 0:
                raise UsageError(f"demo option {name} must be > 0", hint="pass a positive number")
        for name in ("rate_limit_per_client", "lockout_threshold", "kdf_time_cost", "body_limit"):
            if getattr(self, name) < 1:
                raise UsageError(f"demo option {name} must be >= 1", hint="pass a positive integer")
        if self.kdf_memory_kib < 8:
            raise UsageError("demo option kdf_memory_kib must be >= 8", hint="argon2 needs 8 KiB")
        for name in ("pms_url", "tts_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise UsageError(
                    f"demo option {name} must be an http(s) URL, not {url!r}",
                    hint="e.g. http://127.0.0.1:9001",
                )
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port {self.port} is out of range", hint="use 0..65535 (0 = free)")

    @property
    def active_vulns(self) -> frozenset[str]:
        return frozenset(VULNERABILITIES) if self.insecure else frozenset(self.vulns)

    def vuln(self, name: str) -> bool:
        assert name in VULNERABILITIES, name
        return self.insecure or name in self.vulns

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["vulns"] = sorted(self.vulns)
        data["cors_origins"] = list(self.cors_origins)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> DemoOptions:
        data: dict[str, Any] = json.loads(text)
        data["vulns"] = frozenset(data.get("vulns", ()))
        data["cors_origins"] = tuple(data.get("cors_origins", ()))
        return cls(**data)

    @classmethod
    def build(cls, **options: Any) -> DemoOptions:
        """``DemoOptions(**options)`` with a one-line error for an unknown option name."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise UsageError(
                f"unknown demo option(s): {', '.join(unknown)}",
                hint="see battletest.demo.DemoOptions for the list",
            )
        if "vulns" in options:
            options["vulns"] = frozenset(options["vulns"])
        if "cors_origins" in options:
            options["cors_origins"] = tuple(options["cors_origins"])
        return cls(**options)
