"""``battletest scan``: parse flags, load config and spec, call ``scan``, print, exit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from battletest.cli_options import common_options, interrupt_signals
from battletest.errors import ExitCode, Interrupted, TargetUnreachable, UsageError
from battletest.results import Severity
from battletest.security.settings import DEPTHS


def _identity(value: str) -> Any:
    from battletest.security.context import ScanIdentity

    name, sep, token = value.partition("=")
    if not sep or not token:
        raise UsageError(
            f"--token {value!r} is not NAME[:ROLE]=TOKEN", hint="e.g. --token alice:user=eyJ…"
        )
    name, _, role = name.partition(":")
    return ScanIdentity(name=name, role=role or "user", token=token)


@click.command("scan")
@common_options("out", "seed")
@click.option("--target", help="Base URL of the API to scan.")
@click.option("--spec", help="OpenAPI document (file or URL); discovered on the target if omitted.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="battletest.toml.")
@click.option("--profile", help="Config profile (prod runs passive checks only).")
@click.option("--checks", help="Comma-separated check ids or groups (default: all).")
@click.option("--depth", type=click.Choice(DEPTHS), help="basic, standard or comprehensive.")
@click.option("--max-rps", type=float, help="Cap on the scanner's own request rate.")
@click.option("--include", multiple=True, help="Path glob to scan (repeatable).")
@click.option("--exclude", multiple=True, help="Path glob to leave alone (repeatable).")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Accepted findings (JSON).")
@click.option(
    "--write-baseline", type=click.Path(dir_okay=False), help="Write findings as a baseline."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the report as JSON (the run folder's report.json).",
)
@click.option("--sarif", type=click.Path(dir_okay=False), help="Write SARIF 2.1.0 here.")
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity], case_sensitive=False),
    help="Exit 1 when a new finding is at least this severe (default high).",
)
@click.option(
    "--allow-destructive",
    is_flag=True,
    default=None,
    help="Allow active checks on prod and changes to objects the scanner did not create.",
)
@click.option(
    "--token", "tokens", multiple=True, help="An identity as NAME[:ROLE]=TOKEN (repeatable)."
)
def scan_command(
    target: str | None,
    spec: str | None,
    config_path: str | None,
    profile: str | None,
    checks: str | None,
    depth: str | None,
    max_rps: float | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    baseline: str | None,
    write_baseline: str | None,
    as_json: bool,
    sarif: str | None,
    fail_on: str | None,
    allow_destructive: bool | None,
    tokens: tuple[str, ...],
    out: str | None,
    seed: int | None,
) -> None:
    """Scan an API for OWASP API Top 10 (2023) vulnerabilities.

    Exit codes: 0 no new finding at or above --fail-on, 1 one or more, 2 usage or configuration
    error, 3 target unreachable, 130 interrupted.
    """
    from rich.console import Console

    from battletest.sections import load_checked_config as load_config
    from battletest.security import baseline as baseline_file
    from battletest.security.console import render
    from battletest.security.context import identities_from
    from battletest.security.suite import scan, settings_from, to_suite
    from battletest.spec import load_spec

    config = load_config(config_path, profile)
    base_url = target or config.target.url
    if not base_url:
        raise UsageError(
            "no target to scan", hint="pass --target URL or set [target] url in the config"
        )
    overrides: dict[str, Any] = {
        "checks": [c.strip() for c in checks.split(",") if c.strip()] if checks else None,
        "depth": depth,
        "max_rps": max_rps,
        "include": list(include) or None,
        "exclude": list(exclude) or None,
        "fail_on": fail_on,
        "allow_destructive": allow_destructive,
    }
    settings = settings_from(config, **overrides)
    document = load_spec(spec or config.target.spec, base_url)
    auth = config.auth.api_key_from(document.security_schemes.values())  # the spec's key place
    identities = identities_from(config.identities, auth.api_key_header, auth.api_key_in)
    identities += [_identity(t) for t in tokens]
    accepted = baseline_file.read_baseline(Path(baseline)) if baseline else None
    # Ctrl-C or SIGTERM stops the scan between requests: the checks done so far are reported,
    # written (--out, --sarif, --json) and the exit code is 130.
    with interrupt_signals() as signals:
        err = Console(stderr=True)
        status = err.status("scanning") if err.is_terminal else None

        def progress(done: int, total: int, check_id: str) -> None:
            line = f"scan: [{done + 1}/{total}] {check_id}"
            if status is not None:
                status.update(line)
            else:
                click.echo(line, err=True)

        if status is not None:
            status.start()
        try:
            outcome = scan(
                base_url,
                document,
                identities,
                settings,
                extra_secrets=config.secrets(),
                accepted=accepted,
                seed=seed or 0,
                progress=progress,
                rate_limits=config.rate_limits,
                service_keys=frozenset(i.name for i in config.identities if i.role == "service"),
            )
        finally:
            if status is not None:
                status.stop()
        # Ctrl-C or SIGTERM from here on is only noted: the partial results get written.
        signals.shield()
        if write_baseline:
            baseline_file.write_baseline(Path(write_baseline), outcome.findings + outcome.accepted)
        if sarif:
            from battletest.report.sarif import write_sarif

            source = spec or config.target.spec or "openapi.json"
            uri = Path(source).name if "://" not in source else "openapi.json"
            rules = {
                c.id: {
                    "title": c.title,
                    "description": c.description,
                    "severity": c.severity.value,
                    "owasp": c.owasp,
                    "cwe": c.cwe,
                    "remediation": c.remediation,
                }
                for c in outcome.checks
            }
            write_sarif(Path(sarif), outcome.findings, artifact_uri=uri, rules=rules)
        folder: Path | None = None
        if out or as_json:  # a run folder laid out as `battletest run` lays it out
            import tempfile

            from battletest.cli_options import write_suite_folder

            scratch = None if out else tempfile.TemporaryDirectory(prefix="battletest-scan-")
            folder = write_suite_folder(
                to_suite(outcome, settings),
                out or (scratch.name if scratch else "."),
                target=base_url,
                profile=config.profile,
                seed=seed,
                config=config.redacted(),
                secret_values=config.secrets(),
                secret_headers=config.credential_headers(),
            )
            if out:
                click.echo(f"reports: {folder}", err=True)
            if as_json:  # the very document report.json holds (suites, findings, gates)
                click.echo((folder / "report.json").read_text(encoding="utf-8"))
            if scratch is not None:
                scratch.cleanup()
        if not as_json:
            width = None if sys.stdout.isatty() else 160  # CI logs: wide plain tables
            render(outcome, Console(file=sys.stdout, width=width), settings.fail_on)
        if outcome.interrupted:
            raise Interrupted("scan interrupted; partial results were printed")
        if outcome.unreachable:
            raise TargetUnreachable(
                f"the target stopped answering during the scan: {outcome.unreachable}",
                hint="partial results were printed (and written with --out); restart the "
                "service or lower --max-rps",
            )
        if outcome.failing(settings.fail_on):
            sys.exit(int(ExitCode.FAILED))


scan = scan_command
