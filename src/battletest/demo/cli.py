"""``battletest demo serve``: run the concierge demo until Ctrl-C or SIGTERM (then exit 0)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from battletest.errors import UsageError


@click.group(name="demo", help="Run the built-in hotel concierge demo service.")
def demo() -> None:
    pass


@demo.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="loopback address only")
@click.option("--port", type=int, default=8000, show_default=True, help="0 picks free ports")
@click.option("--pms-port", type=int, default=0, help="PMS port (default: a free port)")
@click.option("--tts-port", type=int, default=0, help="TTS port (default: a free port)")
@click.option("--pms-url", default=None, help="use this PMS (e.g. a fault proxy) instead")
@click.option("--tts-url", default=None, help="use this TTS (e.g. a mock server) instead")
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite file (default: a temporary file)",
)
@click.option(
    "--token-ttl", type=float, default=900, show_default=True, help="access-token lifetime, seconds"
)
@click.option(
    "--rate-limit", type=int, default=120, show_default=True, help="requests per window per client"
)
@click.option("--rate-window", type=float, default=60, show_default=True, help="seconds")
@click.option(
    "--service-quota",
    type=int,
    default=1000,
    show_default=True,
    help="requests per window for the service API key",
)
@click.option("--no-rate-limit", is_flag=True, help="switch rate limiting off")
@click.option(
    "--lockout-threshold",
    type=int,
    default=5,
    show_default=True,
    help="failed logins before a lockout",
)
@click.option("--lockout-seconds", type=float, default=300, show_default=True)
@click.option("--kdf-time-cost", type=int, default=2, show_default=True, help="argon2id t")
@click.option("--kdf-memory-kib", type=int, default=19456, show_default=True, help="argon2id m")
@click.option(
    "--body-limit",
    type=int,
    default=65536,
    show_default=True,
    help="largest accepted request body, bytes",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="an allowed CORS origin (repeatable; default http://localhost:3000)",
)
@click.option("--no-breaker", is_flag=True, help="call the PMS without a circuit breaker")
@click.option("--no-backoff", is_flag=True, help="retry the PMS without backoff")
@click.option("--insecure", is_flag=True, help="plant the 18 documented vulnerabilities")
@click.option(
    "--write-config",
    type=click.Path(dir_okay=False),
    default=None,
    help="write a battletest.toml describing the running demo",
)
def serve(
    host: str,
    port: int,
    pms_port: int,
    tts_port: int,
    pms_url: str | None,
    tts_url: str | None,
    db: str | None,
    token_ttl: float,
    rate_limit: int,
    rate_window: float,
    service_quota: int,
    no_rate_limit: bool,
    lockout_threshold: int,
    lockout_seconds: float,
    kdf_time_cost: int,
    kdf_memory_kib: int,
    body_limit: int,
    cors_origins: tuple[str, ...],
    no_breaker: bool,
    no_backoff: bool,
    insecure: bool,
    write_config: str | None,
) -> None:
    """Serve the concierge API and its PMS and TTS dependencies on loopback."""
    from battletest.demo.launcher import start

    if write_config and not Path(write_config).resolve().parent.is_dir():
        raise UsageError(
            f"cannot write {write_config}: its directory does not exist",
            hint="choose a writable path for --write-config",
        )
    stop_event = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    handle = None
    try:
        handle = start(
            host=host,
            port=port,
            pms_port=pms_port,
            tts_port=tts_port,
            pms_url=pms_url,
            tts_url=tts_url,
            db=db,
            token_ttl_s=token_ttl,
            rate_limit=not no_rate_limit,
            rate_limit_per_client=rate_limit,
            rate_window_s=rate_window,
            service_quota=service_quota,
            lockout_threshold=lockout_threshold,
            lockout_s=lockout_seconds,
            kdf_time_cost=kdf_time_cost,
            kdf_memory_kib=kdf_memory_kib,
            body_limit=body_limit,
            **({"cors_origins": cors_origins} if cors_origins else {}),
            breaker=not no_breaker,
            backoff=not no_backoff,
            insecure=insecure,
        )
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
