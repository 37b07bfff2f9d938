"""``battletest demo serve``: run the concierge demo until Ctrl-C or SIGTERM (then exit 0)."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from battletest.errors import UsageError


@click.group(name="demo", help="Run the built-in hotel concierge demo service.")
def demo() -> None:
    pass


F = TypeVar("F", bound=Callable[..., Any])

# A file path option (``--db``, ``--write-config``): a file, not a folder; unset by default.
_file_option = functools.partial(click.option, type=click.Path(dir_okay=False), default=None)


def _number_option(flag: str, field: str, default: float, help: str) -> Callable[[F], F]:
    """A number option with its default shown; its type is the default's (int or float)."""
    return click.option(
        flag, field, type=type(default), default=default, show_default=True, help=help
    )


# Each option's parameter is named after its ``DemoOptions`` field, so ``serve`` hands them on
# as they are; ``--write-config`` is the command's own.
@demo.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="loopback address only")
@click.option("--port", type=int, default=8000, show_default=True, help="0 picks free ports")
@click.option("--pms-port", type=int, default=0, help="PMS port (default: a free port)")
@click.option("--tts-port", type=int, default=0, help="TTS port (default: a free port)")
@click.option("--pms-url", default=None, help="use this PMS (e.g. a fault proxy) instead")
@click.option("--tts-url", default=None, help="use this TTS (e.g. a mock server) instead")
@_file_option("--db", help="SQLite file (default: a temporary file)")
@_number_option("--token-ttl", "token_ttl_s", 900.0, "access-token lifetime, seconds")
@_number_option("--rate-limit", "rate_limit_per_client", 120, "requests per window per client")
@_number_option("--rate-window", "rate_window_s", 60.0, "seconds")
@_number_option(
    "--service-quota", "service_quota", 1000, "requests per window for the service API key"
)
@click.option(
    "--no-rate-limit", "rate_limit", flag_value=False, default=True, help="switch rate limiting off"
)
@_number_option("--lockout-threshold", "lockout_threshold", 5, "failed logins before a lockout")
@_number_option("--lockout-seconds", "lockout_s", 300.0, "seconds")
@_number_option("--kdf-time-cost", "kdf_time_cost", 2, "argon2id t")
@_number_option("--kdf-memory-kib", "kdf_memory_kib", 19456, "argon2id m")
@_number_option("--body-limit", "body_limit", 65536, "largest accepted request body, bytes")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="an allowed CORS origin (repeatable; default http://localhost:3000)",
)
@click.option(
    "--no-breaker",
    "breaker",
    flag_value=False,
    default=True,
    help="call the PMS without a circuit breaker",
)
@click.option(
    "--no-backoff", "backoff", flag_value=False, default=True, help="retry the PMS without backoff"
)
@click.option("--insecure", is_flag=True, help="plant the 18 documented vulnerabilities")
@_file_option("--write-config", help="write a battletest.toml describing the running demo")
def serve(write_config: str | None, cors_origins: tuple[str, ...], **options: Any) -> None:
    """Serve the concierge API and its PMS and TTS dependencies on loopback."""
    from battletest.demo.launcher import start

    if write_config and not Path(write_config).resolve().parent.is_dir():
        raise UsageError(
            f"cannot write {write_config}: its directory does not exist",
            hint="choose a writable path for --write-config",
        )
    if cors_origins:
        options["cors_origins"] = cors_origins
    stop_event = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    handle = None
    try:
        handle = start(**options)
        if write_config:
            written = handle.write_config(Path(write_config))
            click.echo(f"wrote {written}")
        click.echo(describe(handle))
        while not stop_event.wait(0.5):
            pass
    finally:
        if handle is not None:
            handle.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    click.echo("demo stopped")


def describe(handle: object) -> str:
    from battletest.demo.launcher import DemoHandle

    assert isinstance(handle, DemoHandle)
    o = handle.options
    mode = (
        "INSECURE: " + str(len(o.active_vulns)) + " planted vulnerabilities ON"
        if handle.insecure
        else "secure"
    )
    lines = [
        f"battletest demo ({mode})",
        f"  API        {handle.base_url}   (OpenAPI: {handle.spec_url})",
        f"  PMS        {handle.pms_url}",
        f"  TTS        {handle.tts_url}",
        f"  database   {handle.db_path}",
        "  credentials:",
    ]
    for i in handle.identities:
        tenant = f" hotel {i.tenant}" if i.tenant else ""
        secret = f"X-API-Key: {i.api_key}" if i.api_key else f"{i.username} / {i.password}"
        lines.append(f"    {i.name:<9} {i.role:<8}{tenant:<10} {secret}")
    limits = (
        f"{o.rate_limit_per_client} req / {o.rate_window_s:g}s per client, "
        f"service key {o.service_quota}"
        if o.rate_limit
        else "rate limiting OFF"
    )
    lines += [
        f"  limits     {limits}; lockout after {o.lockout_threshold} failed logins "
        f"({o.lockout_s:g}s); token TTL {o.token_ttl_s:g}s; body {o.body_limit} bytes",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
