"""``battletest init``: write a commented battletest.toml for an API, read from its OpenAPI spec.

Every section of the config appears with a comment saying what it does. From the spec come:
the target URL (``servers``), the login / refresh / logout flow (operations whose path says so,
or an OAuth2 password flow), one commented identity template per security scheme the spec
declares (HTTP Basic, bearer, API key in a header, query or cookie, OAuth2 grants) and none when
it declares none, and an RBAC matrix skeleton listing every secured operation. Secrets are
never written: identities read them from environment variables (``env:NAME``).

Nothing is written that a correct service would fail: the error format and the correlation
header are ``auto`` unless the spec declares them (problem+json answers, a documented
``X-Request-ID``-style header), ``api_key_header`` only for a declared API-key scheme, and the
mode follows docs/transport.md: ``LIVE`` for a loopback target (a service of your own),
``LIVE_SMOKE`` (read-only) for any other URL. Profiles: ``dev`` runs everything, ``ci`` adds
the load and security suites with short budgets, ``staging`` keeps them gentle, ``prod`` is
LIVE_SMOKE (read-only smoke checks, nothing destructive).

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
    from battletest.spec import Operation, SecurityScheme, Spec

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
    api_key_in: str = "header"
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
        if scheme.kind == "apiKey" and flow.api_key_header is None:
            flow.api_key_header = scheme.param_name or "X-API-Key"
            flow.api_key_in = scheme.location or "header"
        elif scheme.kind == "apiKey":
            flow.notes.append(
                f"security scheme {name!r} takes a second API key ({scheme.location} "
                f"{scheme.param_name!r}): battletest sends one, as [auth] says"
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


def template_env(text: str) -> list[str]:
    """The ``env:NAME`` variables the commented identity templates of the declared security
    schemes read (none when the spec declares no scheme)."""
    if "# [[identities]]    # security scheme" not in text:
        return []
    names: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("# ") and "env:BT_" in line:
            names += re.findall(r'"env:([A-Za-z_][A-Za-z0-9_]*)"', line)
    return sorted(set(names) - {"BT_JWT_SECRET"})


def uncomment_identities(text: str) -> str:
    """``text`` with the ``[[identities]]`` templates uncommented (what a user does by hand)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("# [[identities]]"):
            inside = True
        elif not line.startswith("# "):
            inside = False
        out.append(line[2:] if inside else line)
    return "\n".join(out) + "\n"


def _s(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


CORRELATION_WORDS = ("request-id", "correlation-id", "trace-id", "requestid", "correlationid")


def error_format_of(spec: Spec | None) -> str:
    """``rfc7807`` when every documented 4xx answer with a body is application/problem+json,
    else ``auto`` (RFC 7807 only where the spec documents it)."""
    if spec is None:
        return "auto"
    bodies = [
        r.content
        for op in spec.operations
        for code, r in op.responses.items()
        if code[:1] == "4" and r.content
    ]
    if bodies and all("application/problem+json" in c for c in bodies):
        return "rfc7807"
    return "auto"


def correlation_header_of(spec: Spec | None) -> str:
    """The correlation header the spec documents on its responses, else ``auto``."""
    if spec is None:
        return "auto"
    for item in (spec.document.get("paths") or {}).values():
        for op in item.values() if isinstance(item, dict) else ():
            responses = op.get("responses") if isinstance(op, dict) else None
            for response in (responses or {}).values():
                headers = response.get("headers") if isinstance(response, dict) else None
                for name in headers or {}:
                    if any(w in str(name).lower() for w in CORRELATION_WORDS):
                        return str(name)
    return "auto"


def mode_for(url: str | None) -> str:
    """``LIVE`` for a loopback target (or none yet: a service you start locally), else
    ``LIVE_SMOKE`` — read-only until you say the deployment is yours to write to."""
    if not url:
        return "LIVE"
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: not resolved here (init works offline); only localhost counts
        loopback = False
    return "LIVE" if loopback else "LIVE_SMOKE"


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
    flow = analyse_auth(spec) if spec is not None else AuthFlow()
    identities = stub_identities(flow)
    secured = bool(spec is not None and any(op.secured for op in spec.operations))
    tests_dir = Path("tests").is_dir()
    # only suites with something to run: auth needs secured operations, pytest a test folder
    # (a suite named in [suites].enabled that skips every case fails the run)
    functional = [
        "contract",
        *(["auth"] if secured else []),
        "errors",
        *(["pytest"] if tests_dir else []),
    ]
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
        "# mode: LIVE (the full suites; writes only to objects battletest creates) for a service",
        "# of your own on loopback, LIVE_SMOKE (read-only smoke checks) for any other URL — what",
        "# init chose from [target].url. MOCK is the built-in demo behind mocks (docs/transport.md).",
        f"mode = {_s(mode_for(url))}",
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
    if flow.api_key_header:
        lines += [
            f"api_key_header = {_s(flow.api_key_header)}    # the spec's API-key scheme",
            f"api_key_in = {_s(flow.api_key_in)}          # header, query or cookie",
        ]
    else:
        lines.append('# api_key_header = "X-API-Key"  # the spec declares no API-key scheme')
    lines += [
        '# tenant_claim = "tenant_id"   # JWT claim naming the tenant (cross-tenant checks)',
        '# jwt_secret = "env:BT_JWT_SECRET"  # if known: lets the auth suite forge expired tokens',
        "# token_ttl_s = 900",
    ]
    lines += [f"# note: {n}" for n in flow.notes]
    lines += _identity_lines(spec, flow)
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
        "# auto: RFC 7807 problem+json only where the spec documents it; rfc7807: everywhere;",
        "# any: the error body's format is not checked.",
        f"error_format = {_s(error_format_of(spec))}",
        "# auto: checks the X-Correlation-ID / X-Request-ID / X-Trace-ID the service sends (none:",
        "# not checked); a header name: the service must generate and echo it.",
        f"correlation_header = {_s(correlation_header_of(spec))}",
        "",
        "[suites.pytest]",
        'path = "tests"                # your pytest suite, run with the bt_* fixtures'
        if tests_dir
        else '# path = "tests"               # your pytest suite, run with the bt_* fixtures',
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
        "min_conclusive_percent = 90.0 # security check runs that must decide something",
        "min_exercised_percent = 80.0  # operations tried that must get a documented success",
        "suite_results = true          # an enabled suite that errs or skips everything fails",
        '# required = ["line_coverage"] # gates that fail when their suite did not run',
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
        "# Your machine: every suite that has something to run here.",
        f"suites = {{ enabled = {_suites([*functional, 'load', 'security'], can_run)} }}",
        "",
        "[profiles.ci]",
        "# Every pull request: functional suites plus short load and security runs.",
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
        "",
        "# [resilience] probes need [[dependencies]] behind battletest mocks: add the",
        '# "resilience" suite to a profile once the table above is filled (docs/chaos.md).',
    ]
    return "\n".join(lines) + "\n"


def scheme_template(
    name: str, scheme: SecurityScheme, flow: AuthFlow, ident: str = "user"
) -> list[str]:
    """A commented ``[[identities]]`` named ``ident`` for one security scheme: uncomment it
    and export the secrets it names."""

    def env(what: str) -> str:
        return _s("env:" + env_name(ident, what))

    kind = scheme.kind
    role = "service" if kind == "apiKey" else "user"
    from battletest.doctor import scheme_needs

    head = [f"# [[identities]]    # security scheme {name!r}: {scheme_needs(scheme)}"]
    head += [f"# name = {_s(ident)}", f"# role = {_s(role)}"]
    if kind == "basic":
        body = [
            '# kind = "basic"',
            f"# username = {env('username')}",
            f"# password = {env('password')}",
        ]
    elif kind == "apiKey":
        body = [f"# api_key = {env('api_key')}"]
    elif kind == "oauth2" and scheme.flow("client_credentials") is not None:
        body = [
            '# kind = "client_credentials"',
            f"# client_id = {env('client_id')}",
            f"# client_secret = {env('client_secret')}",
        ]
    elif (kind == "oauth2" and scheme.flow("password") is not None) or (
        kind == "bearer" and flow.login_path
    ):
        body = [f"# username = {env('username')}", f"# password = {env('password')}"]
    else:  # bearer, openIdConnect, other oauth2 flows: a token obtained elsewhere
        body = ['# kind = "bearer"', f"# token = {env('token')}"]
    return [*head, *body, ""]


def template_names(schemes: dict[str, SecurityScheme]) -> dict[str, str]:
    """Scheme name → the identity name its template gets: ``user`` for credentials a person
    has, ``service`` for an API key; the scheme's name is added when two would clash."""
    out: dict[str, str] = {}
    for name, scheme in schemes.items():
        base = "service" if scheme.kind == "apiKey" else "user"
        ident = base
        if ident in out.values():
            ident = f"{base}_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}"
        out[name] = ident
    return out


def _identity_lines(spec: Spec | None, flow: AuthFlow) -> list[str]:
    lines = ["", "# ---- identities: who the suites act as ----"]
    schemes = spec.security_schemes if spec is not None else {}
    if not schemes:
        return [
            *lines,
            "# The spec declares no security scheme: the suites call the API anonymously.",
            "# Add an identity if some operations need credentials after all:",
            "# [[identities]]",
            '# name = "user"',
            '# token = "env:BT_USER_TOKEN"',
        ]
    lines += [
        "# One template per security scheme the spec declares. Until you uncomment one (and",
        "# export the secrets it names), the operations that need it are inconclusive: the run",
        "# lists them in a note. A copy with another name and role (e.g. admin) lets the RBAC",
        '# and object-level checks compare them; tenant = "…" enables cross-tenant checks.',
        "",
    ]
    names = template_names(schemes)
    for name, scheme in schemes.items():
        lines += scheme_template(name, scheme, flow, names[name])
    return lines[:-1]


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
    if spec is not None:
        from battletest.spec import load_spec
        from battletest.suites.evidence import credentials_note

        note = credentials_note(load_spec(spec, None), None)
        if note:
            click.echo("note: " + note.replace("add [[identities]]", "uncomment an identity"))
    names = required_env(text)
    if names:
        click.echo("set these before a run: " + " ".join(f"{n}=…" for n in names))
    templates = template_env(text)
    if templates:
        click.echo(
            "identities: uncomment the [[identities]] templates in the file and export "
            + " ".join(f"{n}=…" for n in templates)
        )
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
    "template_env",
    "uncomment_identities",
    "validate_config_text",
]
