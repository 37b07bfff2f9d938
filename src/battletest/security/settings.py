"""What a scan is told: depth, checks, scope, pacing, safety, suppressions, auth hints.

``ScanSettings`` is the ``[security]`` section of the config (unknown keys rejected) merged with
the ``battletest scan`` flags. Depth picks budgets (wordlist sizes, burst sizes, samples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from battletest.results import Severity

Depth = Literal["basic", "standard", "comprehensive"]
DEPTHS: tuple[Depth, ...] = ("basic", "standard", "comprehensive")

DEFAULT_REQUIRED_HEADERS: dict[str, str | None] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options|Content-Security-Policy": None,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Suppression(_Strict):
    """A finding accepted as a false positive or a known risk, with the reason why."""

    check: str
    path: str = "*"
    method: str = "*"
    parameter: str | None = None
    reason: str = Field(min_length=3)


class LoginSettings(_Strict):
    """Where identities log in and reset passwords (discovered from the spec when unset)."""

    path: str | None = None
    format: Literal["json", "form"] = "json"
    username_field: str = "username"
    password_field: str = "password"
    token_field: str = "access_token"
    reset_path: str | None = None
    reset_field: str | None = None


class RbacRule(_Strict):
    method: str
    path: str
    roles: list[str]


@dataclass(frozen=True, slots=True)
class RbacVerdict:
    """What ``battletest run``'s auth suite decided on one (operation, identity) pair of the
    ``[[rbac]]`` matrix whose rule leaves the identity's role out: refused (401/403) or accepted
    (2xx). The scanner's ``bfla`` check does not send such a pair again; an accepted one is its
    finding, with the auth suite's request and answer as evidence."""

    method: str
    path: str  # as the [[rbac]] rule names it
    identity: str
    role: str
    status: int
    case: str  # the auth suite's case name
    evidence: dict[str, Any] = field(default_factory=dict)  # request and response excerpts
    reproduce: str | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class Budget(_Strict):
    """Per-depth limits, all bounded."""

    jwt_wordlist: int
    inventory_paths: int
    burst: int
    sample_ops: int
    error_probes: int


BUDGETS: dict[str, Budget] = {
    # the JWT wordlist is tried offline (no request): about 1 s for all ~135,000 candidates
    "basic": Budget(jwt_wordlist=5000, inventory_paths=30, burst=25, sample_ops=3, error_probes=1),
    "standard": Budget(
        jwt_wordlist=1_000_000, inventory_paths=80, burst=50, sample_ops=8, error_probes=2
    ),
    "comprehensive": Budget(
        jwt_wordlist=1_000_000, inventory_paths=100_000, burst=100, sample_ops=50, error_probes=3
    ),
}


class ScanSettings(_Strict):
    depth: Depth = "standard"
    checks: list[str] = Field(default_factory=list, description="Check ids or groups; [] = all.")
    skip_checks: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list, description="Path globs to scan.")
    exclude: list[str] = Field(default_factory=list, description="Path globs to leave alone.")
    max_rps: float | None = Field(
        default=None, gt=0, description="The scanner's own request rate cap."
    )
    timeout_s: float = Field(default=10.0, gt=0)
    profile: str = "default"
    environment: Literal["production", "staging", "development"] | None = Field(
        default=None,
        description="Unset: production for a profile named prod, production or prd.",
    )
    allow_destructive: bool = False
    fail_on: Severity = Severity.HIGH
    required_headers: dict[str, str | None] = Field(
        default_factory=lambda: dict(DEFAULT_REQUIRED_HEADERS),
        description="Header (alternatives joined by '|') → required value, or null for any.",
    )
    allowed_origins: list[str] = Field(default_factory=list)
    suppressions: list[Suppression] = Field(default_factory=list)
    tenant_header: str | None = None
    tenant_claim: str | None = None
    jwt_secret: str | None = None
    login: LoginSettings = Field(default_factory=LoginSettings)
    rbac: list[RbacRule] = Field(default_factory=list)
    reuse_auth: bool = Field(
        default=True,
        description="Under battletest run with the auth suite: leave alg none, tampered, "
        "expired and missing tokens, and the [[rbac]] pairs it decided, to the auth suite and "
        "reuse its cases (false: the scanner tests them again).",
    )
    privileged_roles: list[str] = Field(default_factory=lambda: ["admin"])
    admin_paths: list[str] = Field(
        default_factory=lambda: ["*/admin", "*/admin/*", "*/internal/*", "*/manage/*"]
    )
    max_expiry_wait_s: float = Field(
        default=5.0, ge=0, description="Longest wait for a real token to expire (jwt-expired)."
    )
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Values for query parameters by name (e.g. a code a list operation needs).",
    )
    objects: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Collection path → identity name → ids of objects that identity owns.",
    )
    burst: int | None = Field(
        default=None, ge=5, le=100, description="Login burst size (at most 100)."
    )
    canary_host: str = "127.0.0.1"
    canary_wait_s: float = Field(
        default=0.5, ge=0, le=10, description="How long SSRF waits for the canary to be hit."
    )
    time_delay_s: int = Field(
        default=1, ge=1, le=5, description="The delay time-based injection payloads ask for."
    )
    oversized_body_kib: int = Field(
        default=2048, ge=65, le=65536, description="Size of the body-size check's big body."
    )
    nesting_depth: int = Field(
        default=5000, ge=64, le=100_000, description="Depth of the nested-json check's body."
    )
    rate_limit: int | None = Field(
        default=None,
        ge=1,
        le=45,
        description="Requests per second per client the API promises; enables rate-limit "
        "checks (a burst of twice this, at most 100 requests).",
    )
    rate_limit_path: str | None = Field(
        default=None, description="The GET operation the rate-limit burst calls."
    )
    pii_patterns: list[str] = Field(
        default_factory=list,
        description="Extra regular expressions counted as PII in logs and responses.",
    )
    health_wait_s: float = Field(
        default=15.0,
        ge=0,
        le=120,
        description="After a dropped probe, how long the target may take to answer GET / "
        "again before the scan stops (exit 3, partial results kept).",
    )
    fuzz_examples: int | None = Field(
        default=None, ge=1, le=500, description="Schema-violating bodies per operation."
    )

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    @property
    def budget(self) -> Budget:
        return BUDGETS[self.depth]

    @property
    def burst_size(self) -> int:
        return min(100, self.burst or self.budget.burst)

    @property
    def is_prod(self) -> bool:
        """A production environment (``environment``, or a profile named prod/production/prd)."""
        if self.environment is not None:
            return self.environment == "production"
        return self.profile.lower() in {"prod", "production", "prd"}

    @property
    def active_allowed(self) -> bool:
        """Active checks never run in production unless destructive work is allowed."""
        return not self.is_prod or self.allow_destructive
