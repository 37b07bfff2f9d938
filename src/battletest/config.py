"""The one configuration model: ``battletest.toml`` or ``[tool.battletest]`` in pyproject.toml.

Layers, last wins: the file's base tables → ``[profiles.NAME]`` for the chosen profile →
``BATTLETEST_*`` environment variables (read by pydantic-settings: ``BATTLETEST_TARGET__URL``,
``__`` nests, lists and tables as JSON) → overrides from CLI flags (dotted keys). Any string
value may be ``env:NAME`` and is read from the environment; such secrets are never written to
a report.

Unknown keys, wrong types and bad values raise ``ConfigError`` naming the key path and the fix;
several at once raise ``ConfigErrors`` (one line per problem, every unknown key with the keys
allowed where it stands). ``[security]`` and ``[resilience]`` are validated by their owners'
models, which the composing layer passes in (``battletest.sections``).
The JSON Schema of ``Config`` is committed at ``schemas/config.schema.json`` (a test keeps it in
sync) and printed by ``battletest config schema``.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from battletest.errors import ConfigError, ConfigErrors
from battletest.quality.gates import GatesConfig
from battletest.quality.settings import FlakyPolicy, HistorySettings, ImpactSettings

SUITE_NAMES = ("contract", "auth", "errors", "pytest", "load", "security", "resilience")
DESTRUCTIVE_SUITES = frozenset({"load", "resilience", "security"})
STANDARD_PROFILES = frozenset(
    {"default", "dev", "test", "ci", "staging", "prod", "production", "prd"}
)
# a profile with one of these names is a production environment unless it says otherwise
PRODUCTION_PROFILES = frozenset({"prod", "production", "prd"})
MODES = ("LIVE", "LIVE_SMOKE", "MOCK", "GOLDEN")
Mode = Literal["LIVE", "LIVE_SMOKE", "MOCK", "GOLDEN"]
Environment = Literal["production", "staging", "development"]
ENV_PREFIX = "BATTLETEST_"
SECRET_KEYS = frozenset(
    {
        "password",
        "token",
        "api_key",
        "jwt_secret",
        "secret",
        "refresh_token",
        "client_secret",
        "cookie",
        "webhook_url",
        "pushgateway_url",
    }
)
SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.json"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


Duration = str | float | int


class LoadEndpoint(_Section):
    """``[[load.endpoints]]``: one weighted request of the load mix."""

    path: str = Field(min_length=1)
    method: str = "GET"
    name: str = ""
    weight: float = Field(default=1.0, gt=0)
    headers: list[str] = Field(default_factory=list, description="'Name: value' lines.")
    body: str = ""
    expect: list[int] = Field(default_factory=list, description="Accepted status codes.")
    expected_statuses: list[int] = Field(
        default_factory=list, description="The same as expect (default 2xx/3xx; no 5xx)."
    )


def _default_load_thresholds() -> list[str | dict[str, Any]]:
    return ["error_rate<1%"]


class LoadConfig(_Section):
    """``[load]``: the ``load`` suite of ``battletest run`` (the keys ``battletest.load``'s
    ``LoadSettings`` accepts). Unset, it is a short baseline: 5 VUs for 3 s over the spec's
    public GET operations (else the health path), with ``error_rate<1%`` as its threshold."""

    executor: str | None = Field(default=None, description="k6 executor (inferred when unset).")
    vus: int | None = Field(default=None, ge=0, description="Virtual users (default 5).")
    duration: Duration | None = Field(default=None, description="e.g. '3s', '2m' (default 3s).")
    rate: float | None = Field(default=None, gt=0, description="Iterations per second.")
    max_vus: int | None = Field(default=None, ge=1)
    stages: str | list[tuple[Duration, float]] | None = Field(
        default=None, description="'30s:10,1m:50' or [[duration, target], …]."
    )
    iterations: int | None = Field(default=None, ge=1)
    max_duration: Duration = "10m"
    graceful_stop: Duration = "30s"
    graceful_ramp_down: Duration = "30s"
    paths: list[str] = Field(
        default_factory=list,
        description="Paths to request; empty: the spec's public GET operations, else health.",
    )
    method: str = "GET"
    headers: list[str] = Field(default_factory=list, description="'Name: value' lines.")
    body: str = ""
    endpoints: list[LoadEndpoint] = Field(default_factory=list)
    think_time: Duration = 0
    workers: int | None = Field(default=None, ge=1, description="Worker processes.")
    timeout: Duration = Field(default="10s", description="Per-request timeout.")
    thresholds: list[str | dict[str, Any]] | dict[str, Any] = Field(
        default_factory=_default_load_thresholds,
        description="k6-style thresholds (each a gate row): 'p95<300ms', k6 objects "
        "{threshold, abortOnFail, delayAbortEval}, or k6's mapping {metric: [expressions]}.",
    )
    dropped_iterations_threshold: bool | int | str | None = Field(
        default=None,
        description="Open model: dropped iterations allowed (default 0), a threshold, or false.",
    )
    abort_on_fail: bool = False
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure: bool = False
    snapshot_interval: float = Field(default=1.0, gt=0)
    seed: int | None = Field(default=None, ge=0, description="Default: the run's seed.")
    concurrent_users: int | None = Field(default=None, ge=1)
    requests_per_user: int | None = Field(default=None, ge=1)
    test_duration: Duration | None = None
    scenario: str | None = Field(default=None, description="FILE.toml (steps) or FILE.py[:Class].")
    from_spec: str | None = Field(default=None, description="OpenAPI file or URL: its GETs.")
    preset: Literal["baseline", "stress", "spike", "soak", "breakpoint"] | None = None
    target_pid: int | None = Field(
        default=None, ge=1, description="Process to sample (default: the target battletest owns)."
    )
    resource_interval: float = Field(default=1.0, gt=0)
    memory_threshold_mb: float | None = Field(default=None, gt=0)
    leak_threshold_mb: float | None = Field(default=None, gt=0)
    cluster: str | None = Field(
        default=None, description="Dask cluster: 'local:N' or 'tcp://scheduler:8786'."
    )


# Sections a subsystem owns (``[security]``: the scanner's settings, ``[resilience]``: the
# resilience suite's probes). Config keeps them as tables; the composing layer hands their
# models to ``load_config(sections=…)`` (``battletest.sections``), so this foundation module
# imports no subsystem. ``config_json_schema`` inlines the same models' schemas.
SectionModels = Mapping[str, type[BaseModel]]
DELEGATED_SECTIONS = ("security", "resilience")
# [security] keys that come from the top level of the config instead
SECURITY_TOP_LEVEL = {
    "profile": "profile",
    "allow_destructive": "allow_destructive",
    "login": "[auth]",
    "rbac": "[[rbac]]",
    "jwt_secret": "[auth].jwt_secret",
    "tenant_claim": "[auth].tenant_claim",
}


class TargetConfig(_Section):
    """``[target]``: where the system under test is, or how to start it."""

    url: str | None = Field(default=None, description="Base URL of a running service.")
    app: str | None = Field(
        default=None, description="ASGI or WSGI app to launch under uvicorn, as 'module:attribute'."
    )
    command: str | None = Field(
        default=None,
        description="Command that starts the service; '{port}' is replaced by a free port.",
    )
    spec: str | None = Field(
        default=None,
        description="OpenAPI document: file path or URL (auto-discovered when omitted).",
    )
    health: str | None = Field(default=None, description="Path polled until the target answers.")
    startup_timeout_s: float = Field(default=30.0, gt=0, description="How long to wait for health.")
    request_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of each request.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:8000")
        return v.rstrip("/") if v else v

    @model_validator(mode="after")
    def _one_target(self) -> TargetConfig:
        given = [k for k in ("url", "app", "command") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give only one of url, app, command (got {', '.join(given)})")
        if self.command and "{port}" not in self.command:
            raise ValueError("command must contain '{port}' where the port goes")
        return self


API_KEY_PLACES = ("header", "query", "cookie")


class AuthConfig(_Section):
    """``[auth]``: how identities log in, refresh and log out."""

    login_path: str | None = None
    login_format: Literal["json", "form"] = "json"
    username_field: str = "username"
    password_field: str = "password"
    token_field: str | None = Field(
        default=None,
        description="Dotted field of the login answer holding the access token; unset: found "
        "from the login response schema or common names (access_token, token, jwt, …).",
    )
    token_url: str | None = Field(
        default=None,
        description="OAuth2 token endpoint (path or URL on the target) for the client "
        "credentials and password grants.",
    )
    scope: str | None = Field(default=None, description="OAuth2 scope to ask for.")
    refresh_path: str | None = None
    refresh_token_field: str = "refresh_token"
    logout_path: str | None = None
    tenant_claim: str | None = None
    api_key_header: str = Field(
        default="X-API-Key", description="Name of the API key header, query parameter or cookie."
    )
    api_key_in: Literal["header", "query", "cookie"] = "header"
    jwt_secret: str | None = Field(
        default=None,
        description="Signing key of the target's tokens, if known (to forge expired ones).",
    )
    jwt_algorithm: str = "HS256"
    token_ttl_s: float | None = Field(
        default=None,
        ge=0,
        description="Access token lifetime; a short one lets expiry be waited for.",
    )
    max_expiry_wait_s: float = Field(
        default=5.0, ge=0, description="Longest wait for a token to expire."
    )

    def api_key_from(self, schemes: Iterable[Any]) -> AuthConfig:
        """This section with the API key's name and place taken from the spec's first
        ``apiKey`` security scheme wherever ``api_key_header`` / ``api_key_in`` are not set in
        the config (a key the spec sends as ``?key=`` or as a ``X-Service-Key`` header)."""
        scheme = next((s for s in schemes if getattr(s, "type", None) == "apiKey"), None)
        if scheme is None:
            return self
        update: dict[str, Any] = {}
        if "api_key_header" not in self.model_fields_set and scheme.param_name:
            update["api_key_header"] = scheme.param_name
        if "api_key_in" not in self.model_fields_set and scheme.location in API_KEY_PLACES:
            update["api_key_in"] = scheme.location
        return self.model_copy(update=update) if update else self


class Identity(_Section):
    """``[[identities]]``: one user or client the suites act as."""

    name: str
    role: str = "user"
    tenant: str | None = None
    kind: (
        Literal["login", "basic", "bearer", "api_key", "cookie", "client_credentials", "password"]
        | None
    ) = Field(
        default=None,
        description="How it authenticates; unset: login when [auth].login_path is set, an "
        "OAuth2 grant when [auth].token_url is, else HTTP Basic for username+password, else "
        "its token, api_key or cookie.",
    )
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    token: str | None = Field(default=None, description="A static bearer token.")
    cookie: str | None = Field(default=None, description="A session cookie, 'name=value'.")
    client_id: str | None = None
    client_secret: str | None = None

    @model_validator(mode="after")
    def _credentials(self) -> Identity:
        if self.username and self.password is None:
            raise ValueError(f"identity {self.name!r}: username needs a password")
        if self.client_id and self.client_secret is None:
            raise ValueError(f"identity {self.name!r}: client_id needs a client_secret")
        if not (self.username or self.api_key or self.token or self.cookie or self.client_id):
            raise ValueError(
                f"identity {self.name!r}: give username+password, api_key, token, cookie or "
                "client_id+client_secret"
            )
        return self


class RbacRule(_Section):
    """``[[rbac]]``: which roles may call an operation; every other role must get 401/403."""

    method: str
    path: str
    roles: list[str]

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        m = v.upper()
        if m not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}:
            raise ValueError(f"{v!r} is not an HTTP method")
        return m


class RateLimits(_Section):
    """``[rate_limits]``: what the target declares, so suites pace themselves."""

    window_s: float = Field(default=60.0, gt=0)
    per_client: int | None = Field(default=None, ge=0, description="0: no limit.")
    login_lockout_threshold: int | None = Field(default=None, gt=0)
    service_quota: int | None = Field(default=None, ge=0, description="0: no limit.")


class Dependency(_Section):
    """``[[dependencies]]``: a service the target calls (for the resilience suite)."""

    name: str
    url: str


class ContractSuite(_Section):
    examples: int = Field(default=3, ge=1, le=1000, description="Generated examples per operation.")
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Known values by parameter or top-level body field name (a hotel id, a "
        "voice), used instead of generated ones so requests reach the success path.",
    )


class ErrorsSuite(_Section):
    error_format: Literal["rfc7807", "any", "auto"] = Field(
        default="rfc7807",
        description="Error body format 4xx responses must use; 'auto': RFC 7807 where the "
        "spec documents application/problem+json for the answer, else any format.",
    )
    correlation_header: str | None = Field(
        default="auto",
        description="Header the target echoes and generates; 'auto' finds X-Correlation-ID, "
        "X-Request-ID or X-Trace-ID; null: not checked.",
    )


class PytestSuite(_Section):
    path: str | None = Field(
        default=None, description="The user's pytest suite (file or directory)."
    )
    args: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=600.0, gt=0)
    coverage: bool = Field(
        default=True,
        description="Run the suite under coverage.py (branch) for the coverage gates and gaps.",
    )
    source: list[str] = Field(
        default_factory=list,
        description="Source folders or packages to measure (default: ./src, else the project's "
        "package folders).",
    )


class ReportConfig(_Section):
    """``[report]``: where a run's results go besides the run folder."""

    webhook_url: str | None = Field(
        default=None,
        description="POST a Slack-compatible message here when the verdict is fail.",
    )
    pushgateway_url: str | None = Field(
        default=None, description="Push metrics.prom to this Prometheus Pushgateway after a run."
    )

    @field_validator("webhook_url", "pushgateway_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL; give the full URL")
        return v


class SuitesConfig(_Section):
    """``[suites]``: which suites run, and their options."""

    enabled: list[str] = Field(
        default_factory=lambda: ["contract", "auth", "errors", "pytest", "load", "security"]
    )
    contract: ContractSuite = Field(default_factory=lambda: ContractSuite())
    errors: ErrorsSuite = Field(default_factory=lambda: ErrorsSuite())
    pytest: PytestSuite = Field(default_factory=lambda: PytestSuite())

    @field_validator("enabled")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in SUITE_NAMES]
        if unknown:
            raise ValueError(
                f"unknown suite {', '.join(unknown)} (available: {', '.join(SUITE_NAMES)})"
            )
        return v


class GoldenSettings(_Section):
    """GOLDEN mode: where the snapshots are, and whether this run accepts the answers."""

    dir: str = Field(
        default=".battletest/golden",
        description="Folder of the GOLDEN snapshots (one JSON file per operation) and masks.",
    )
    update: bool = Field(
        default=False,
        description="Accept this run's answers as the snapshots (--update-golden).",
    )


class Config(_Section):
    """The resolved configuration of a run."""

    profile: str = "default"
    environment: Environment | None = Field(
        default=None,
        description="What the target is: 'production' is read-only whatever the mode (unless "
        "allow_destructive). Unset: production for a profile named prod, production or prd, "
        "else development.",
    )
    mode: Mode = Field(
        default="LIVE",
        description="LIVE: the full suites under the write policy (writes only to objects "
        "battletest created); LIVE_SMOKE: read-only (GET/HEAD/OPTIONS); MOCK: battletest "
        "launches the target and mocks its dependencies; GOLDEN: the contract, auth and errors "
        "suites compare every answer with its snapshot (docs/golden.md).",
    )
    golden: GoldenSettings = Field(default_factory=GoldenSettings)
    seed: int | None = Field(
        default=None, ge=0, description="Random seed (printed; random when unset)."
    )
    out: str = Field(default="battletest-reports", description="Parent folder of run folders.")
    parallel: int = Field(default=1, ge=1, le=64, description="Operations exercised concurrently.")
    timeout_s: float | None = Field(default=None, gt=0, description="Whole-run time budget.")
    verbose: bool = False
    allow_destructive: bool = Field(
        default=False,
        description="Lift the write policy for this profile: unsafe methods in production and "
        "LIVE_SMOKE, collection-wide writes and writes to objects battletest did not create; "
        "and let load, resilience and active security run in production.",
    )
    target: TargetConfig = Field(default_factory=lambda: TargetConfig())
    auth: AuthConfig = Field(default_factory=lambda: AuthConfig())
    identities: list[Identity] = Field(default_factory=list)
    rbac: list[RbacRule] = Field(default_factory=list)
    rate_limits: RateLimits = Field(default_factory=lambda: RateLimits())
    dependencies: list[Dependency] = Field(default_factory=list)
    suites: SuitesConfig = Field(default_factory=lambda: SuitesConfig())
    gates: GatesConfig = Field(default_factory=lambda: GatesConfig())
    load: LoadConfig = Field(default_factory=lambda: LoadConfig())
    security: dict[str, Any] = Field(
        default_factory=dict,
        description="The security scanner's settings (depth defaults to 'basic' under run).",
    )
    resilience: dict[str, Any] = Field(
        default_factory=dict, description="The resilience suite's probes (docs/chaos.md)."
    )
    history: HistorySettings = Field(
        default_factory=lambda: HistorySettings(),
        description="The history store each run is recorded in (flakiness, trends).",
    )
    flaky: FlakyPolicy = Field(default_factory=lambda: FlakyPolicy())
    impact: ImpactSettings = Field(default_factory=lambda: ImpactSettings())
    report: ReportConfig = Field(
        default_factory=lambda: ReportConfig(),
        description="Gate-failure webhook and Pushgateway for every run.",
    )
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Named overlays merged over the base tables."
    )

    @field_validator("identities")
    @classmethod
    def _unique(cls, v: list[Identity]) -> list[Identity]:
        names = [i.name for i in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"identity names must be unique (repeated: {', '.join(dupes)})")
        return v

    @model_validator(mode="after")
    def _environment(self) -> Config:
        if self.environment is None:
            prod = self.profile.lower() in PRODUCTION_PROFILES
            self.environment = "production" if prod else "development"
        return self

    @property
    def is_prod(self) -> bool:
        """A production environment (``environment``, or a profile named prod/production/prd)."""
        return self.environment == "production"

    @property
    def read_only(self) -> bool:
        """Only GET/HEAD/OPTIONS may be sent: production or LIVE_SMOKE, unless allowed."""
        return (self.is_prod or self.mode == "LIVE_SMOKE") and not self.allow_destructive

    @property
    def smoke(self) -> bool:
        """Run the small read-only subset (docs/transport.md): wherever the run is read-only —
        mode LIVE_SMOKE, and a production environment whatever the mode — unless allowed."""
        return self.read_only

    @property
    def destructive_allowed(self) -> bool:
        """Whether destructive suites may run: never in production, unless allowed."""
        return self.allow_destructive or not self.is_prod

    def secrets(self) -> list[str]:
        """Every secret value in the config (for redaction): the values of secret keys
        anywhere (passwords, tokens, API keys, client and JWT secrets), the webhook and
        Pushgateway URLs (a Slack webhook URL is a credential) and any URL's userinfo."""
        found: list[str] = []

        def walk(data: Any) -> None:
            if isinstance(data, dict):
                for key, value in data.items():
                    if key in SECRET_KEYS and isinstance(value, str) and value:
                        found.append(value)
                        if key == "cookie" and "=" in value:  # 'name=value': the value alone
                            found.append(value.split("=", 1)[1].split(";")[0])
                    else:
                        walk(value)
            elif isinstance(data, list):
                for value in data:
                    walk(value)
            elif isinstance(data, str) and "@" in data and "://" in data:
                userinfo = urlsplit(data).netloc.rpartition("@")[0]
                if userinfo:
                    found.append(userinfo)
                    found.extend(unquote(p) for p in userinfo.split(":", 1) if len(p) >= 4)

        walk(self.model_dump(mode="json", exclude={"profiles"}))
        return list(dict.fromkeys(found))

    def credential_headers(self) -> list[str]:
        """Header, query and cookie names that carry the identities' credentials (their
        values are masked in every output)."""
        names = [self.auth.api_key_header]
        for ident in self.identities:
            names += [
                v
                for k in ("api_key_header", "header")
                if isinstance(v := getattr(ident, k, None), str)
            ]
            if ident.cookie and "=" in ident.cookie:  # a session cookie's name
                names.append(ident.cookie.split("=", 1)[0].strip())
        return list(dict.fromkeys(n for n in names if n))

    def redacted(self) -> dict[str, Any]:
        """The resolved config as plain data, with every secret replaced."""
        from battletest.redact import Redactor

        data: dict[str, Any] = _redact_keys(self.model_dump(mode="json", exclude={"profiles"}))
        redacted: dict[str, Any] = Redactor(self.secrets(), self.credential_headers())(data)
        return redacted


def _redact_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: ("***" if k in SECRET_KEYS and v is not None else _redact_keys(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_redact_keys(v) for v in data]
    return data


# --------------------------------------------------------------------------------------- loading


def find_config_file(cwd: Path | None = None) -> Path | None:
    """``battletest.toml`` in cwd, else a pyproject.toml with ``[tool.battletest]``."""
    base = cwd or Path.cwd()
    own = base / "battletest.toml"
    if own.is_file():
        return own
    py = base / "pyproject.toml"
    if py.is_file():
        try:
            data = tomllib.loads(py.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return None
        if "battletest" in data.get("tool", {}):
            return py
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw tables of a config file (``[tool.battletest]`` for a pyproject.toml)."""
    if not path.is_file():
        raise ConfigError(f"config file {path} not found", hint="check the --config path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the TOML syntax") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", hint="save the file as UTF-8") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {}).get("battletest")
        if not isinstance(tool, dict):
            raise ConfigError(
                f"{path} has no [tool.battletest] table", hint="add one or pass --config FILE"
            )
        return tool
    return data


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class _Unset:
    """An override that removes a key (a ``--target`` flag clears a file's ``app``)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _drop_unset(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_unset(v) for k, v in data.items() if v is not UNSET}
    return data


class _EnvSettings(BaseSettings, Config):
    """The settings view of ``Config``: which ``BATTLETEST_*`` variables set which keys."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="forbid"
    )


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` or a
    test's): ``BATTLETEST_TARGET__URL`` → ``{"target": {"url": …}}``, JSON for lists and
    tables, other ``BATTLETEST_*`` variables (of other tools or commands) ignored."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(_EnvSettings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``BATTLETEST_SECTION__KEY=value`` variables as nested overrides (pydantic-settings);
    ``TEST_MODE`` and ``TEST_SEED`` are read as ``BATTLETEST_MODE``/``BATTLETEST_SEED`` unless
    those are set too (then ``BATTLETEST_*`` wins)."""
    aliases = {  # other tools' names, read when battletest's own is not set
        f"{ENV_PREFIX}{name}": environ[f"TEST_{name}"]
        for name in ("MODE", "SEED")
        if f"TEST_{name}" in environ and f"{ENV_PREFIX}{name}" not in environ
    }
    if aliases:
        environ = {**environ, **aliases}
    try:
        return dict(_EnvSource(environ)())
    except SettingsError as exc:  # e.g. a list given as something that is not JSON
        cause = exc.__cause__
        raise ConfigError(
            f"environment: {exc}" + (f" ({cause})" if cause else ""),
            hint="give lists and tables as JSON, e.g. BATTLETEST_SUITES__ENABLED='[\"contract\"]'",
        ) from None


def _resolve_secrets(data: Any, environ: Mapping[str, str], path: str = "") -> Any:
    if isinstance(data, dict):
        return {
            k: _resolve_secrets(v, environ, f"{path}.{k}" if path else k) for k, v in data.items()
        }
    if isinstance(data, list):
        return [_resolve_secrets(v, environ, f"{path}[{i}]") for i, v in enumerate(data)]
    if isinstance(data, str) and data.startswith("env:"):
        var = data[4:]
        if var not in environ:
            raise ConfigError(
                f"{path}: environment variable {var} is not set",
                hint=f"export {var}=… or replace 'env:{var}' with a value",
            )
        return environ[var]
    return data


def _loc(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            name = (
                node[item].get("name")
                if item < len(node) and isinstance(node[item], dict)
                else None
            )
            parts.append(f"[{item}]" if not name else f"[{item}] ({name})")
            node = node[item] if item < len(node) else None
        else:
            if str(item) in {"function-after[_one_target()]", "function-after[_credentials()]"}:
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _problems(
    exc: ValidationError, data: Mapping[str, Any], source: str, model: Any, section: str = ""
) -> list[ConfigError]:
    """One ``ConfigError`` per problem pydantic found (every unknown key, with the keys
    allowed where it stands; every bad or missing value)."""
    out: list[ConfigError] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = f"[{section}] " + ".".join(map(str, loc)) if section else _loc(loc, data)
        quoted = where if section else f"'{where}'"
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1], model)
            if section == "security" and len(loc) == 1:  # those are set at the top level
                allowed = [k for k in allowed if k not in SECURITY_TOP_LEVEL]
            out.append(
                ConfigError(
                    f"{source}: unknown key {quoted}",
                    hint=f"allowed here: {', '.join(allowed)}" if allowed else "remove it",
                )
            )
            continue
        msg = err["msg"].removeprefix("Value error, ")
        given = err.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        if kind == "missing":
            out.append(ConfigError(f"{source}: {quoted} is required", hint="add it"))
        else:
            out.append(ConfigError(f"{source}: {quoted}: {msg}{shown}", hint="fix the value"))
    return out


def _allowed_keys(loc: tuple[int | str, ...], model: Any = None) -> list[str]:
    """The keys the model at ``loc`` (under ``model``, default ``Config``) accepts."""
    model = Config if model is None else model
    for item in loc:
        if isinstance(item, int):
            continue
        field = model.model_fields.get(item) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if hasattr(a, "model_fields")]
        model = args[0] if args else ann
    return sorted(model.model_fields) if hasattr(model, "model_fields") else []


def load_config(
    path: str | Path | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    base: Mapping[str, Any] | None = None,
    sections: SectionModels | None = None,
) -> Config:
    """Load, layer and validate the configuration.

    ``overrides`` are CLI flags as dotted keys (``{"target.url": "http://…"}``) or nested dicts;
    ``None`` values are ignored so unset flags do not clobber the file; ``UNSET`` removes a
    key. ``base`` is a layer under the file (e.g. the config the built-in demo writes).
    ``sections``: the models of the sections other subsystems own (``[security]``,
    ``[resilience]``), which the composing layer supplies (``battletest.sections``); each
    such section is validated by its model. Every problem found is reported at once: a
    ``ConfigError`` whose ``problems`` hold one line each.
    """
    env = os.environ if environ is None else environ
    file = Path(path) if path is not None else find_config_file(cwd)
    source = str(file) if file else "config"
    raw: dict[str, Any] = read_config_file(file) if file else {}
    if not isinstance(raw.get("profiles", {}), dict):
        raise ConfigError(f"{source}: 'profiles' must be a table of tables", hint="[profiles.NAME]")
    env_layer = env_overrides(env)
    flags: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(flags, key, value)
    chosen = flags.pop("profile", None) or profile or env_layer.get("profile") or raw.get("profile")
    merged = deep_merge(dict(base or {}), raw)
    if chosen and chosen != "default":
        table = raw.get("profiles", {}).get(chosen)
        if table is None and chosen not in STANDARD_PROFILES:
            known = sorted(set(raw.get("profiles", {})) | {"default"})
            raise ConfigError(
                f"{source}: unknown profile '{chosen}'",
                hint=f"define [profiles.{chosen}] or use one of: {', '.join(known)}",
            )
        if table is not None and not isinstance(table, dict):
            raise ConfigError(
                f"{source}: profiles.{chosen} must be a table", hint="[profiles.NAME]"
            )
        merged = deep_merge(merged, table or {})
    merged = deep_merge(merged, env_layer)
    merged = deep_merge(merged, flags)
    if chosen:
        merged["profile"] = chosen
    resolved = _resolve_secrets(_drop_unset(merged), env)
    problems: list[ConfigError] = []
    config: Config | None = None
    try:
        config = Config.model_validate(resolved)
    except ValidationError as exc:
        problems += _problems(exc, resolved, source, Config)
    problems += section_problems(resolved, sections or {}, source)
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    assert config is not None
    return config


def section_problems(
    data: Mapping[str, Any], sections: SectionModels, source: str = "config"
) -> list[ConfigError]:
    """The problems of the delegated sections in ``data`` (``[security]``, ``[resilience]``)
    against their owners' models: keys that belong at the top level, unknown keys, bad
    values — one ``ConfigError`` each."""
    out: list[ConfigError] = []
    security = data.get("security")
    if isinstance(security, Mapping):
        for key in sorted(set(security) & set(SECURITY_TOP_LEVEL)):
            out.append(
                ConfigError(
                    f"{source}: 'security.{key}' is not set in [security]",
                    hint=f"set it as {SECURITY_TOP_LEVEL[key]} instead",
                )
            )
    for section, model in sections.items():
        table = data.get(section)
        if not isinstance(table, Mapping) or not table:
            continue
        if section == "security":
            table = {k: v for k, v in table.items() if k not in SECURITY_TOP_LEVEL}
        try:
            model.model_validate(table)
        except ValidationError as exc:
            out += _problems(exc, table, source, model, section)
    return out


def check_sections(config: Config, sections: SectionModels, source: str = "config") -> None:
    """Validate an already loaded config's delegated sections with ``sections``' models."""
    problems = section_problems(config.model_dump(), sections, source)
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)


def config_json_schema(sections: SectionModels) -> dict[str, Any]:
    """The JSON Schema of the config file (what ``battletest config schema`` prints), with
    the delegated ``sections``' models inlined."""
    schema: dict[str, Any] = Config.model_json_schema()
    for section, model in sections.items():
        sub: dict[str, Any] = model.model_json_schema()
        defs = sub.pop("$defs", {})
        text = json.dumps(sub)
        for name, definition in defs.items():
            if schema.get("$defs", {}).get(name, definition) != definition:  # a name clash
                renamed = section.capitalize() + name
                text = text.replace(f'"#/$defs/{name}"', f'"#/$defs/{renamed}"')
                name = renamed
            schema.setdefault("$defs", {})[name] = definition
        sub = json.loads(text)
        sub["description"] = schema["properties"][section].get("description", "")
        if section == "security":
            for key in SECURITY_TOP_LEVEL:
                sub["properties"].pop(key, None)
        schema["properties"][section] = sub
    for name in list(schema.get("$defs", {})):  # drop definitions only the dropped keys used
        if f'"#/$defs/{name}"' not in json.dumps({**schema, "$defs": {}}):
            defs_used_elsewhere = [
                d for n, d in schema["$defs"].items() if n != name and f'/{name}"' in json.dumps(d)
            ]
            if not defs_used_elsewhere:
                del schema["$defs"][name]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "battletest configuration (battletest.toml or [tool.battletest])"
    return schema


__all__ = [
    "DESTRUCTIVE_SUITES",
    "MODES",
    "PRODUCTION_PROFILES",
    "SUITE_NAMES",
    "UNSET",
    "AuthConfig",
    "Config",
    "Dependency",
    "Identity",
    "LoadConfig",
    "LoadEndpoint",
    "RateLimits",
    "RbacRule",
    "ReportConfig",
    "SectionModels",
    "SuitesConfig",
    "TargetConfig",
    "check_sections",
    "config_json_schema",
    "env_overrides",
    "find_config_file",
    "load_config",
    "section_problems",
]
