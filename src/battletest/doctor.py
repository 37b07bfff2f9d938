"""``battletest doctor``: is everything in place for a run? One line per check, with the fix.

Checks, in the order a run needs them: the config loads; the target answers (a URL is polled,
an app or command is started and stopped, and with no target the built-in demo is started, as
``battletest run`` would); the OpenAPI document is found and valid; every identity can log in
and its credentials are accepted (a warning when an identity gets only refusals on the secured
reads it is tried on, or when operations need credentials no identity has); and the optional tools some features drive are installed
(chromium + chromedriver for the HTML report check, nginx / haproxy / wrk for the benchmarks).

``diagnose()`` returns the checks as data; the command prints them and exits 0 when every
required check passed, 1 otherwise. Missing optional tools never change the exit code.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from battletest.errors import BattletestError, ExitCode

if TYPE_CHECKING:
    from battletest.config import Config, Identity
    from battletest.spec import Operation, SecurityScheme, Spec


class Mark(StrEnum):
    OK = "✓"
    FAIL = "✗"
    SKIP = "–"  # not checked because an earlier check failed
    WARN = "!"  # works, but a run would be inconclusive where it applies


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's answer."""

    name: str
    mark: Mark
    detail: str
    fix: str = ""
    optional: bool = False

    @property
    def failed(self) -> bool:
        return self.mark is Mark.FAIL and not self.optional

    @property
    def warning(self) -> bool:
        return self.mark is Mark.WARN

    def line(self) -> str:
        text = f"{self.mark.value} {self.name}: {self.detail}"
        if self.fix and self.mark is not Mark.OK:
            text += f" → {self.fix}"
        return text


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    package: str  # the Debian package that provides it
    used_for: str


OPTIONAL_TOOLS: tuple[Tool, ...] = (
    Tool("chromium", "chromium", "checking report.html in a real browser"),
    Tool("chromedriver", "chromium-driver", "driving chromium from the report tests"),
    Tool("nginx", "nginx", "benchmarks against a real reverse proxy"),
    Tool("haproxy", "haproxy", "benchmarks of the fault proxy"),
    Tool("wrk", "wrk", "the load benchmark's peer"),
)


def check_tools(
    tools: tuple[Tool, ...] = OPTIONAL_TOOLS, which: Callable[[str], str | None] = shutil.which
) -> list[Check]:
    """One optional check per tool: found on PATH, or the apt-get line that installs it."""
    out = []
    for tool in tools:
        path = which(tool.name)
        if path:
            out.append(Check(f"tool {tool.name}", Mark.OK, path, optional=True))
        else:
            out.append(
                Check(
                    f"tool {tool.name}",
                    Mark.FAIL,
                    f"not found (optional: {tool.used_for})",
                    f"apt-get install {tool.package}",
                    optional=True,
                )
            )
    return out


def _error_check(name: str, exc: BattletestError) -> Check:
    return Check(name, Mark.FAIL, exc.message, exc.hint or "")


def _skipped(names: list[str], reason: str) -> list[Check]:
    return [Check(n, Mark.SKIP, "not checked", reason) for n in names]


@contextmanager
def _open_config_and_target(
    config_path: str | None, profile: str | None, overrides: Mapping[str, Any]
) -> Iterator[tuple[Config, Any, str]]:
    """Yield (config, target base URL, how the target was reached), like ``battletest run``."""
    from battletest.sections import load_checked_config as load_config
    from battletest.target import open_target

    config = load_config(config_path, profile, overrides)
    if config.target.url or config.target.app or config.target.command:
        with open_target(config.target) as target:
            yield config, target.base_url, target.kind
        return
    from battletest.run import demo_config

    with demo_config(config_path, profile, overrides) as (demo_cfg, handle):
        yield demo_cfg, handle.base_url, "demo"


def diagnose(
    config_path: str | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    tools: tuple[Tool, ...] = OPTIONAL_TOOLS,
    which: Callable[[str], str | None] = shutil.which,
) -> list[Check]:
    """Run every check and return them in order (never raises for a user's mistake)."""
    from battletest.config import find_config_file
    from battletest.sections import load_checked_config as load_config

    overrides = dict(overrides or {})
    checks: list[Check] = []
    source = config_path or find_config_file()
    try:
        config = load_config(config_path, profile, overrides)
    except BattletestError as exc:
        checks.append(_error_check("config", exc))
        checks += _skipped(["target", "spec", "identities"], "fix the config first")
        return checks + check_tools(tools, which)
    settings = f"profile {config.profile}, mode {config.mode}"
    if source:
        checks.append(Check("config", Mark.OK, f"{source} valid ({settings})"))
    else:
        checks.append(
            Check(
                "config",
                Mark.OK,
                f"no battletest.toml, defaults apply ({settings}); "
                "`battletest init --spec openapi.json` writes one",
            )
        )
    with ExitStack() as stack:
        try:
            config, base_url, kind = stack.enter_context(
                _open_config_and_target(config_path, profile, overrides)
            )
        except BattletestError as exc:
            checks.append(_error_check("target", exc))
            checks += _skipped(["spec", "identities"], "make the target reachable first")
            return checks + check_tools(tools, which)
        how = {
            "demo": "the built-in demo (no target configured, as `battletest run` does)",
            "url": "answers",
            "app": f"app {config.target.app} started and answered",
            "command": "command started and answered",
        }.get(kind, kind)
        checks.append(Check("target", Mark.OK, f"{base_url}: {how}"))
        spec, spec_check = check_spec(config, base_url)
        checks.append(spec_check)
        checks += check_identities(config, base_url, spec)
    return checks + check_tools(tools, which)


def check_spec(config: Config, base_url: str) -> tuple[Spec | None, Check]:
    """The spec loads, resolves and validates against the OpenAPI schema."""
    from battletest.spec import load_spec

    try:
        spec = load_spec(config.target.spec, base_url, timeout=config.target.request_timeout_s)
    except BattletestError as exc:
        return None, _error_check("spec", exc)
    problem = _validate_openapi(spec.document)
    if problem:
        return spec, Check(
            "spec",
            Mark.FAIL,
            f"{spec.source} is not valid OpenAPI {spec.version}: {problem}",
            "fix the document (the first problem is shown)",
        )
    return spec, Check(
        "spec",
        Mark.OK,
        f"{spec.source} (OpenAPI {spec.version}, {len(spec.operations)} operations)",
    )


def _validate_openapi(document: dict[str, Any]) -> str:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "path", ()) or ())
        message = str(getattr(exc, "message", exc)).splitlines()[0][:200]
        return f"{message}" + (f" (at {where})" if where else "")
    except Exception as exc:  # the validator cannot handle the document at all
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return ""


def check_identities(config: Config, base_url: str, spec: Spec | None) -> list[Check]:
    """Each identity logs in (or presents its key or token) and is accepted by the API."""
    import httpx

    from battletest.transport import Identities, Transport, WritePolicy

    secured = [op for op in spec.operations if op.secured] if spec is not None else []
    if not config.identities:
        if secured:
            return [
                Check(
                    "identities",
                    Mark.FAIL,
                    f"none configured, but {len(secured)} operations need credentials",
                    "add [[identities]] (battletest init stubs them from the spec)",
                )
            ]
        return [Check("identities", Mark.OK, "none configured (no operation needs credentials)")]
    probes = _probe_operations(spec)
    probe_op = probes[0] if probes else None
    # doctor only logs in and reads: the production policy (GET/HEAD/OPTIONS, logins) applies
    transport = Transport(
        base_url,
        timeout=config.target.request_timeout_s,
        policy=WritePolicy(read_only=True, why_read_only="doctor only reads"),
    )
    identities = Identities(config.identities, config.auth, transport, spec=spec)
    checks = []
    try:
        for ident in config.identities:
            name = f"identity {ident.name}"
            try:
                session = identities.get(ident.name)
            except BattletestError as exc:
                checks.append(_error_check(name, exc))
                continue
            sent = session.credentials()
            how = credential_used(ident, config) if sent else "no credential sent"
            if probe_op is None:
                checks.append(Check(name, Mark.OK, f"{how} (role {ident.role})"))
                continue
            answers: list[tuple[Operation, int]] = []
            failure: Check | None = None
            for op in probes:
                try:
                    answers.append((op, transport(ident.name).get(op.url_path).status_code))
                except BattletestError as exc:
                    failure = _error_check(name, exc)
                    break
                except httpx.HTTPError as exc:
                    failure = Check(
                        name,
                        Mark.FAIL,
                        f"GET {op.url_path} failed: {type(exc).__name__}",
                        "check the target",
                    )
                    break
                if answers[-1][1] == 401:
                    break  # the credentials themselves are refused: one answer says it
            if failure is not None:
                checks.append(failure)
                continue
            first_op, status = answers[0]
            probe = first_op.url_path
            if status == 401:
                checks.append(
                    Check(
                        name,
                        Mark.FAIL,
                        f"{how}, but GET {probe} answered 401: the credentials are not accepted",
                        _fix_for_401(first_op, spec),
                    )
                )
            elif all(code in (401, 403) for _, code in answers):
                seen = ", ".join(f"GET {op.url_path} → {code}" for op, code in answers[:4])
                checks.append(
                    Check(
                        name,
                        Mark.WARN,
                        f"{how}, but got only refusals: {seen}"
                        + (f" ({len(answers)} operations)" if len(answers) > 4 else ""),
                        f"give {ident.name} a role the API grants (cases it runs would be "
                        "inconclusive), or check [[rbac]]",
                    )
                )
            else:
                accepted = " (credentials accepted)" if status == 403 else ""
                checks.append(
                    Check(
                        name,
                        Mark.OK,
                        f"{how}; GET {probe} → {status}{accepted} (role {ident.role})",
                    )
                )
        checks += _uncovered_operations(spec, identities)
    finally:
        transport.close()
    return checks


PROBES = 8  # secured GETs each identity is tried on (reads only; a refusal on all is a warning)


def _probe_operations(spec: Spec | None) -> list[Operation]:
    """Secured GET operations without required parameters, to see credentials accepted."""
    if spec is None:
        return []
    return [
        op
        for op in spec.operations
        if op.method == "GET"
        and op.secured
        and not op.path_params
        and not any(p.required for p in op.parameters)
    ][:PROBES]


def _uncovered_operations(spec: Spec | None, identities: Any) -> list[Check]:
    """A warning naming the secured operations no configured identity has credentials for."""
    from battletest.suites.evidence import credentials_note

    note = credentials_note(spec, identities)
    if note is None:
        return []
    detail, _, _ = note.partition("; their cases")
    return [
        Check(
            "credentials",
            Mark.WARN,
            detail,
            "add [[identities]] for those schemes (battletest init writes a template per scheme)",
        )
    ]


def credential_used(ident: Identity, config: Config) -> str:
    """What an identity presents, in the words of the config (kind given or inferred)."""
    auth = config.auth
    from battletest.transport.identities import infer_kind

    kind = infer_kind(ident, auth)
    return {
        "login": f"logged in via POST {auth.login_path}",
        "basic": "username and password sent as HTTP Basic",
        "client_credentials": f"OAuth2 client-credentials token from {auth.token_url}",
        "password": f"OAuth2 password-grant token from {auth.token_url}",
        "bearer": "bearer token set",
        "api_key": "API key set"
        + ("" if auth.api_key_in == "header" else f" (in the {auth.api_key_in})"),
        "cookie": "session cookie set",
    }[kind]


def _fix_for_401(op: Operation | None, spec: Spec | None) -> str:
    """What the probed operation's security schemes ask for (from the spec)."""
    if op is None or spec is None:
        return "check the identity's secret (and [auth].api_key_header / token_field)"
    needs = []
    for requirement in op.security:
        parts = []
        for name in requirement:
            scheme = spec.security_schemes.get(name)
            parts.append(scheme_needs(scheme) if scheme is not None else f"scheme {name!r}")
        needs.append(" and ".join(parts))
    return "the spec says it needs " + " or ".join(needs) + "; check the identity's secret"


def scheme_needs(scheme: SecurityScheme) -> str:
    """What a security scheme asks a caller for, in a user's words."""
    if scheme.kind == "basic":
        return "a username and password (HTTP Basic)"
    if scheme.kind == "bearer":
        return "a bearer token"
    if scheme.kind == "apiKey":
        where = f"{scheme.location} {scheme.param_name!r}"
        return f"an API key in the {where} (see [auth].api_key_header / api_key_in)"
    if scheme.kind == "oauth2":
        grants = ", ".join(f.grant.replace("_", " ") for f in scheme.flows) or "any"
        return f"an OAuth2 token ({grants} grant)"
    return f"{scheme.type} credentials"


def render(checks: list[Check], color: bool = False) -> str:
    styles = {Mark.OK: "green", Mark.FAIL: "red", Mark.SKIP: "yellow", Mark.WARN: "yellow"}
    lines = []
    for check in checks:
        line = check.line()
        if color:
            fg = "yellow" if check.optional and check.mark is Mark.FAIL else styles[check.mark]
            line = click.style(check.mark.value, fg=fg, bold=True) + line[1:]
        lines.append(line)
    failed = [c for c in checks if c.failed]
    warned = [c for c in checks if c.warning]
    missing = [c for c in checks if c.optional and c.mark is Mark.FAIL]
    if failed:
        lines.append(f"{len(failed)} check{'s' if len(failed) != 1 else ''} failed.")
    elif warned:
        lines.append(
            f"{len(warned)} warning{'s' if len(warned) != 1 else ''}: not ready to run — cases "
            "that need the missing or refused credentials would be inconclusive."
        )
    else:
        lines.append(
            "ready to run."
            + (
                f" ({len(missing)} optional tool{'s' if len(missing) != 1 else ''} missing)"
                if missing
                else ""
            )
        )
    return "\n".join(lines)


@click.command("doctor")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--profile", help="Profile to apply (dev, staging, prod, …).")
@click.option("--target", help="Base URL of a running service.")
@click.option("--app", help="ASGI/WSGI app to launch, as module:attribute.")
@click.option("--spec", help="OpenAPI document (file or URL); discovered if omitted.")
def doctor(
    config_path: str | None,
    profile: str | None,
    target: str | None,
    app: str | None,
    spec: str | None,
) -> None:
    """Check config, target, spec, identities and optional tools; say how to fix each."""
    import sys

    from battletest.run import overrides_from_options

    if config_path is not None and not Path(config_path).is_file():
        from battletest.errors import ConfigError

        raise ConfigError(f"config file {config_path} not found", hint="check the --config path")
    overrides = overrides_from_options({"target": target, "app": app, "spec": spec})
    checks = diagnose(config_path, profile, overrides)
    click.echo(render(checks, color=sys.stdout.isatty()))
    if any(c.failed for c in checks):
        raise SystemExit(int(ExitCode.FAILED))


__all__ = [
    "OPTIONAL_TOOLS",
    "Check",
    "Mark",
    "Tool",
    "check_tools",
    "diagnose",
    "doctor",
    "render",
    "scheme_needs",
]
