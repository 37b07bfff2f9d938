"""``battletest init``: write a commented battletest.toml for an API, read from its OpenAPI spec.

Every section of the config appears with a comment saying what it does. From the spec come:
the target URL (``servers``), the login / refresh / logout flow (operations whose path says so,
or an OAuth2 password flow), one stub identity per kind of credential the security schemes ask
for (a user with a bearer token, a service with an API key), and an RBAC matrix skeleton
listing every secured operation. Secrets are never written: identities read them from
environment variables (``env:NAME``). Profiles get safe defaults: ``dev`` runs everything on
loopback, ``ci`` adds the load and security suites with short budgets, ``staging`` keeps them
gentle, ``prod`` is LIVE_SMOKE (read-only smoke checks, nothing destructive).

The output is checked with the config loader before it is written, for every profile.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from battletest.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from battletest.config import Config
    from battletest.spec import Operation, Spec

DEFAULT_OUTPUT = "battletest.toml"
PROFILES = ("dev", "ci", "staging", "prod")
_LOGIN = re.compile(r"(^|/)(login|signin|sign-in|sessions?|token|auth/token|oauth/token)$", re.I)
_REFRESH = re.compile(r"(^|/)(refresh|token/refresh|refresh[-_]token)$", re.I)
_LOGOUT = re.compile(r"(^|/)(logout|signout|sign-out|revoke)$", re.I)
_USERNAME_FIELDS = ("username", "email", "login", "user", "user_name")
_REFRESH_FIELDS = ("refresh_token", "refreshToken")


@dataclass(slots=True)
class AuthFlow:
    """What the spec says about logging in."""

    login_path: str | None = None
    login_format: str = "json"
    username_field: str = "username"
    password_field: str = "password"
    token_field: str = "access_token"
    refresh_path: str | None = None
    refresh_token_field: str = "refresh_token"
    logout_path: str | None = None
    api_key_header: str | None = None
    bearer: bool = False  # some scheme takes a bearer token / login
    basic: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StubIdentity:
    name: str
    role: str
    kind: str  # login | api_key | token
    comment: str


def analyse_auth(spec: Spec) -> AuthFlow:
    """The auth flow and credential kinds a spec describes."""
    flow = AuthFlow()
    for name, scheme in spec.security_schemes.items():
        if scheme.kind == "apiKey" and scheme.location == "header":
            flow.api_key_header = flow.api_key_header or scheme.param_name or "X-API-Key"
        elif scheme.kind == "apiKey":
            flow.notes.append(
                f"security scheme {name!r} sends its key in the {scheme.location}: battletest "
                "sends API keys as a header, set [auth].api_key_header if the API also accepts one"
            )
        elif scheme.kind == "basic":
            flow.basic = True
        elif scheme.type in ("http", "oauth2", "openIdConnect"):
            flow.bearer = True
        password = scheme.flow("password")
        if password is not None and password.token_url and "://" not in password.token_url:
            flow.login_path = "/" + password.token_url.lstrip("/")
            flow.login_format = "form"  # OAuth2 password grant: form-encoded username/password
    posts = [op for op in spec.operations if op.method == "POST"]
    if flow.login_path is None:
        login = _first(posts, _LOGIN, exclude=_REFRESH)
        if login is not None:
            flow.login_path = login.url_path
            _login_fields(flow, login)
    refresh = _first(posts, _REFRESH)
    if refresh is not None:
        flow.refresh_path = refresh.url_path
        props = _properties(refresh.request_body)
        flow.refresh_token_field = _pick(props, _REFRESH_FIELDS, flow.refresh_token_field)
    logout = _first(posts, _LOGOUT) or _first(spec.operations, _LOGOUT)
    if logout is not None:
        flow.logout_path = logout.url_path
    if flow.login_path:
        flow.bearer = True
    return flow


def _first(ops: list[Operation], pattern: re.Pattern[str], exclude: Any = None) -> Any:
    for op in ops:
        path = op.path.rstrip("/")
        if pattern.search(path) and not (exclude and exclude.search(path)):
            return op
    return None


def _properties(schema: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _pick(props: dict[str, Any], names: tuple[str, ...], default: str) -> str:
    for name in names:
        if name in props:
            return name
    return default


def _login_fields(flow: AuthFlow, op: Operation) -> None:
    ctype = op.request_content_type or "application/json"
    if "form" in ctype:
        flow.login_format = "form"
    props = _properties(op.request_body)
    flow.username_field = _pick(props, _USERNAME_FIELDS, flow.username_field)
    flow.password_field = _pick(props, ("password", "passwd", "pass"), flow.password_field)
    from battletest.transport.identities import token_fields_from_schema

    for status, response in sorted(op.responses.items()):
        if not status.startswith("2"):  # an error answer's schema names no token
            continue
        for schema in response.content.values():
            found = _properties(schema)
            if found:
                # a token field the login answer declares (nested too: data.token), best first
                declared = token_fields_from_schema(schema)
                flow.token_field = declared[0] if declared else flow.token_field
                flow.refresh_token_field = _pick(found, _REFRESH_FIELDS, flow.refresh_token_field)
                return


def stub_identities(flow: AuthFlow) -> list[StubIdentity]:
    """One identity per credential kind: two users of different roles (so RBAC and
    object-level checks can compare them) and a service with an API key."""
    out: list[StubIdentity] = []
    if flow.login_path or flow.basic:
        out.append(StubIdentity("user", "user", "login", "an ordinary user of the API"))
        out.append(StubIdentity("admin", "admin", "login", "a privileged user (RBAC checks)"))
    elif flow.bearer:
        out.append(StubIdentity("user", "user", "token", "a bearer token for an ordinary user"))
        out.append(StubIdentity("admin", "admin", "token", "a bearer token for a privileged user"))
    if flow.api_key_header:
        out.append(StubIdentity("service", "service", "api_key", "a service calling with a key"))
    return out


def env_name(identity: str, what: str) -> str:
    """The environment variable a stub identity reads a secret from."""
    return f"BT_{re.sub(r'[^A-Z0-9]+', '_', identity.upper())}_{what.upper()}"


def required_env(text: str) -> list[str]:
    """The ``env:NAME`` variables a config text reads (uncommented lines only)."""
    names = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        names += re.findall(r'"env:([A-Za-z_][A-Za-z0-9_]*)"', line)
    return sorted(set(names))


def _s(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _target_url(spec: Spec) -> str | None:
    """A first guess at the target: the origin the document names (its base path is applied
    to every operation path by battletest, so it is not part of the target URL)."""
    return spec.origin


def available_suites() -> list[str]:
    """The suites this install can run (``battletest run``'s table), in canonical order."""
    from battletest.config import SUITE_NAMES
    from battletest.run import SUITES

    return [name for name in SUITE_NAMES if name in SUITES]


def _suites(wanted: list[str], available: list[str]) -> str:
    return "[" + ", ".join(_s(n) for n in wanted if n in available) + "]"


def render_config(
    spec: Spec | None, spec_source: str | None, available: list[str] | None = None
) -> str:
    """The commented battletest.toml text for ``spec`` (a generic one when there is none).

    Profiles enable only suites in ``available`` (default: what this install can run).
    """
    from battletest.config import SUITE_NAMES

    can_run = available_suites() if available is None else available
    later = [n for n in SUITE_NAMES if n not in can_run]
    every = list(SUITE_NAMES)
    functional = ["contract", "auth", "errors", "pytest"]
    flow = analyse_auth(spec) if spec is not None else AuthFlow()
    identities = stub_identities(flow)
    url = _target_url(spec) if spec is not None else None
    title = spec.title if spec else ""
    lines = [
        f"# battletest.toml{' for ' + title if title else ''}, written by `battletest init`.",
        "# Every section is here with its defaults; commented lines are optional settings.",
        "# Check it with `battletest doctor`; run with `battletest run --profile dev`.",
        '# Values may be "env:NAME" to read them from the environment: secrets never belong',
        "# in this file. BATTLETEST_SECTION__KEY=value environment variables override any key.",
        "",
        "# Profile used when --profile is not given; [profiles.NAME] tables at the end override",
        "# the base tables for that profile.",
        'profile = "dev"',
        "# mode: MOCK (dependencies stubbed) or LIVE_SMOKE (the default: smoke checks only,",
        "# read-only; what the prod profile uses). Set per profile below.",
        '# mode = "LIVE_SMOKE"',
        "# seed = 1234                 # fixed random seed (printed on every run when unset)",
        'out = "battletest-reports"    # run folders go here; latest/ points at the newest',
        "parallel = 1                  # operations exercised concurrently",
        "# timeout_s = 900             # whole-run time budget",
        "allow_destructive = false     # true lets load/resilience/active security hit prod",
        "",
        "[target]",
        "# Where the API is: a running service (url), an app battletest starts (app), or a",
        "# command with {port}. Give one. With none, `battletest run` tests the built-in demo.",
    ]
    lines.append(f"url = {_s(url)}" if url else '# url = "http://127.0.0.1:8000"')
    lines += [
        '# app = "mypkg.main:app"      # ASGI or WSGI app, served by uvicorn on a free port',
        '# command = "./serve --port {port}"',
        f"spec = {_s(spec_source)}"
        if spec_source
        else '# spec = "openapi.json"  # found at /openapi.json and other common paths when unset',
        '# health = "/health"           # polled until the target answers',
        "startup_timeout_s = 30",
        "request_timeout_s = 10",
        "",
        "[auth]",
        "# How identities log in. Found in the spec; check the paths and field names.",
    ]
    if flow.login_path:
        lines += [
            f"login_path = {_s(flow.login_path)}",
            f"login_format = {_s(flow.login_format)}    # json or form",
            f"username_field = {_s(flow.username_field)}",
            f"password_field = {_s(flow.password_field)}",
            f"token_field = {_s(flow.token_field)}    # where the access token is in the answer",
        ]
    else:
        lines += [
            "# No login operation found in the spec: identities use tokens or API keys.",
            '# login_path = "/auth/login"',
            '# login_format = "json"',
        ]
    lines.append(
        f"refresh_path = {_s(flow.refresh_path)}"
        if flow.refresh_path
        else '# refresh_path = "/auth/refresh"'
    )
    if flow.refresh_path:
        lines.append(f"refresh_token_field = {_s(flow.refresh_token_field)}")
    lines.append(
        f"logout_path = {_s(flow.logout_path)}"
        if flow.logout_path
        else '# logout_path = "/auth/logout"'
    )
    lines += [
        f"api_key_header = {_s(flow.api_key_header or 'X-API-Key')}",
        '# tenant_claim = "tenant_id"   # JWT claim naming the tenant (cross-tenant checks)',
        '# jwt_secret = "env:BT_JWT_SECRET"  # if known: lets the auth suite forge expired tokens',
        "# token_ttl_s = 900",
    ]
    lines += [f"# note: {n}" for n in flow.notes]
    lines += _identity_lines(identities, flow)
    lines += _rbac_lines(spec, identities)
    lines += [
        "",
        "[rate_limits]",
        "# What the API promises, so suites pace themselves and check the limits hold.",
        "window_s = 60",
        "# per_client = 120              # requests per client per window",
        "# login_lockout_threshold = 5   # failed logins before an account locks",
        "# service_quota = 1000",
        "",
        "# [[dependencies]]              # services the API calls (resilience suite faults them)",
        '# name = "payments"',
        '# url = "http://127.0.0.1:9001"',
        "",
        "[suites]",
        "# contract · auth · errors · pytest · load · security · resilience",
        f"enabled = {_suites(functional, can_run)}",
        *([f"# not available in this install yet: {', '.join(later)}"] if later else []),
        "",
        "[suites.contract]",
        "examples = 3                  # generated requests per operation",
        "",
        "[suites.errors]",
        'error_format = "rfc7807"      # or "any"',
        'correlation_header = "X-Request-ID"',
        "",
        "[suites.pytest]",
        '# path = "tests"               # your pytest suite, run with the bt_* fixtures',
        "args = []",
        "timeout_s = 600",
        "",
        "[gates]",
        "# The verdict: every gate must hold for exit code 0 (the values shown are the defaults).",
        "max_failed_cases = 0",
        "min_success_rate = 95.0",
        "min_line_coverage = 80.0",
        "min_branch_coverage = 80.0",
        'max_severity = "medium"       # highest security finding allowed',
        "max_flaky_percent = 5.0",
        "max_load_error_rate = 5.0",
        "load_thresholds = true",
        "",
        "[load]",
        "# k6-style executors: vus+duration (constant-vus), rate (arrival rate), stages.",
        "vus = 10",
        'duration = "30s"',
        'thresholds = ["p95 < 300ms", "error_rate < 1%"]',
        '# paths = ["/health"]          # default: the spec\'s GET operations',
        "",
        "[security]",
        '# depth = "standard"            # basic · standard · comprehensive',
        "# max_rps = 20                  # the scanner's own request rate cap",
        '# exclude = ["/admin/*"]',
        "",
        "[resilience]",
        "# Fault experiments against [[dependencies]] (see docs/chaos.md).",
        "",
        "# ---- profiles: safe defaults per environment ----",
        "",
        "[profiles.dev]",
        "# Your machine: everything, loopback only.",
        'mode = "MOCK"',
        f"suites = {{ enabled = {_suites(every, can_run)} }}",
        "",
        "[profiles.ci]",
        "# Every pull request: functional suites plus short load and security runs.",
        'mode = "MOCK"',
        "seed = 1",
        f"suites = {{ enabled = {_suites([*functional, 'load', 'security'], can_run)} }}",
        'load = { vus = 5, duration = "10s", thresholds = ["p95 < 500ms", "error_rate < 1%"] }',
        "",
        "[profiles.staging]",
        '# A shared environment: no load or faults (add "load" when the environment is yours),',
        "# the scanner capped at 10 requests/s.",
        'mode = "LIVE_SMOKE"',
        f"suites = {{ enabled = {_suites([*functional, 'security'], can_run)} }}",
        "security = { max_rps = 10 }",
        "",
        "[profiles.prod]",
        "# Production: read-only smoke checks only; load, resilience and active security never",
        "# run here unless allow_destructive = true.",
        'mode = "LIVE_SMOKE"',
        "allow_destructive = false",
        f"suites = {{ enabled = {_suites(['contract', 'errors'], can_run)} }}",
        "gates = { min_line_coverage = 0.0, min_branch_coverage = 0.0 }",
    ]
    return "\n".join(lines) + "\n"


def _identity_lines(identities: list[StubIdentity], flow: AuthFlow) -> list[str]:
    lines = [
        "",
        "# ---- identities: who the suites act as ----",
        "# Each reads its secrets from the environment; export them before a run, e.g.",
    ]
    if not identities:
        return [
            *lines,
            "# export BT_USER_PASSWORD=…  (the spec declares no security scheme)",
            "# [[identities]]",
            '# name = "user"',
            '# role = "user"',
            '# username = "alice@example.com"',
            '# password = "env:BT_USER_PASSWORD"',
        ]
    exports = []
    for ident in identities:
        if ident.kind == "login":
            exports.append(
                f"{env_name(ident.name, 'username')}=… {env_name(ident.name, 'password')}=…"
            )
        else:
            exports.append(f"{env_name(ident.name, ident.kind)}=…")
    lines.append("#   export " + " ".join(exports))
    for ident in identities:
        lines += ["", "[[identities]]", f"# {ident.comment}", f"name = {_s(ident.name)}"]
        lines.append(f"role = {_s(ident.role)}")
        if ident.kind == "login":
            lines.append(f"username = {_s('env:' + env_name(ident.name, 'username'))}")
            lines.append(f"password = {_s('env:' + env_name(ident.name, 'password'))}")
        elif ident.kind == "api_key":
            lines.append(f"api_key = {_s('env:' + env_name(ident.name, 'api_key'))}")
            lines.append(f"# sent as the {flow.api_key_header} header")
        else:
            lines.append(f"token = {_s('env:' + env_name(ident.name, 'token'))}")
        lines.append('# tenant = "hotel-1"             # for cross-tenant (BOLA) checks')
    return lines


def _rbac_lines(spec: Spec | None, identities: list[StubIdentity]) -> list[str]:
    lines = [
        "",
        "# ---- RBAC matrix: which roles may call each secured operation ----",
        "# Every other role must get 401/403. Uncomment a rule and list its roles; the auth",
        "# suite then checks each identity against it.",
    ]
    roles = [i.role for i in identities] or ["user", "admin"]
    secured = [op for op in spec.operations if op.secured] if spec is not None else []
    if not secured:
        return [
            *lines,
            "# [[rbac]]",
            '# method = "DELETE"',
            '# path = "/users/{id}"',
            '# roles = ["admin"]',
        ]
    for op in secured:
        guess = _roles_for(op, spec, identities) if spec is not None else roles
        lines += [
            f"# [[rbac]]    # {op.label}: needs {_needs(op)}",
            f"# method = {_s(op.method)}",
            f"# path = {_s(op.url_path)}",
            f"# roles = [{', '.join(_s(r) for r in guess)}]",
        ]
    return lines


def _kinds(op: Operation, spec: Spec) -> set[str]:
    kinds = set()
    for requirement in op.security:
        for name in requirement:
            scheme = spec.security_schemes.get(name)
            kinds.add("api_key" if scheme is not None and scheme.kind == "apiKey" else "login")
    return kinds


def _needs(op: Operation) -> str:
    return " or ".join(" + ".join(sorted(req)) for req in op.security)


def _roles_for(op: Operation, spec: Spec, identities: list[StubIdentity]) -> list[str]:
    """A first guess: callers whose credentials the operation accepts; admin only for
    admin-looking operations. The user edits this; it is a skeleton."""
    kinds = _kinds(op, spec)
    fits = [i for i in identities if ("api_key" if i.kind == "api_key" else "login") in kinds]
    roles = [i.role for i in fits] or [i.role for i in identities] or ["user", "admin"]
    if _looks_privileged(op) and "admin" in roles:
        return ["admin"] + (["service"] if "service" in roles else [])
    return roles


def _looks_privileged(op: Operation) -> bool:
    path = op.path.lower()
    return "admin" in op.tags or any(w in path for w in ("admin", "/users", "api-keys", "apikeys"))


def validate_config_text(text: str, where: Path) -> list[Config]:
    """Load ``text`` with the config loader for the base tables and every profile.

    ``env:`` secrets are given placeholder values here: the file is valid once they are set.
    """
    from battletest.sections import load_checked_config as load_config

    environ = {name: f"placeholder-{name.lower()}" for name in required_env(text)}
    where.write_text(text, encoding="utf-8")
    return [load_config(where, profile, environ=environ) for profile in (None, *PROFILES)]


def init_config(
    spec_source: str | None, output: Path, *, force: bool = False, base_url: str | None = None
) -> tuple[Path, str]:
    """Write a battletest.toml for the spec at ``spec_source``; returns (path, text)."""
    import tempfile

    if output.exists() and not force:
        raise UsageError(
            f"{output} already exists", hint="pass --force to overwrite it, or --output PATH"
        )
    spec = None
    if spec_source is not None:
        from battletest.spec import load_spec

        spec = load_spec(spec_source, base_url)
    text = render_config(spec, spec_source)
    with tempfile.TemporaryDirectory(prefix="battletest-init-") as tmp:
        try:
            validate_config_text(text, Path(tmp) / "battletest.toml")
        except ConfigError as exc:  # a bug here, never the user's: say so plainly
            raise ConfigError(
                f"the generated config does not validate: {exc}",
                hint="report this with the spec attached",
            ) from None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {output}: {exc.strerror}", hint="choose a writable --output"
        ) from None
    return output, text


@click.command("init")
@click.option("--spec", "spec", metavar="FILE_OR_URL", help="OpenAPI document of the API.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_OUTPUT),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(spec: str | None, output: Path, force: bool) -> None:
    """Write a commented battletest.toml for an API (identities and RBAC from its spec)."""
    path, text = init_config(spec, output, force=force)
    click.echo(f"wrote {path}")
    names = required_env(text)
    if names:
        click.echo("set these before a run: " + " ".join(f"{n}=…" for n in names))
    click.echo("next: battletest doctor")


__all__ = [
    "AuthFlow",
    "StubIdentity",
    "analyse_auth",
    "env_name",
    "init",
    "init_config",
    "render_config",
    "required_env",
    "stub_identities",
    "validate_config_text",
]
