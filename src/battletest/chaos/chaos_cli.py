"""``battletest mock …`` and ``battletest chaos …``: thin commands over the chaos library.

battletest mock serve stubs.toml                  # or --spec pms-openapi.json
battletest mock activate throttling --for 30s     # on a running mock, via its admin API
battletest mock deactivate [NAME]
battletest mock status
battletest chaos scenarios                        # the named failure scenarios
battletest chaos run examples/concierge/pms_outage.toml
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from battletest.cli_options import common_options, interrupt_signals
from battletest.errors import ScenarioError, TargetUnreachable, UsageError
from battletest.netutil import remote_control_options

DEFAULT_MOCK_URL = "http://127.0.0.1:8081"
# a file the user names (stubs, a spec, masks, an experiment, where to save): not a folder
FILE = click.Path(dir_okay=False, path_type=Path)


def _admin_call(url: str, method: str, path: str, payload: Any = None) -> Any:
    import httpx

    from battletest.chaos.mock.server import ADMIN_TOKEN_ENV
    from battletest.chaos.proxy.client import reach
    from battletest.netutil import TOKEN_HEADER

    base = url.rstrip("/")
    token = os.environ.get(ADMIN_TOKEN_ENV)
    headers = {TOKEN_HEADER: token} if token else {}
    resp = reach(
        lambda: httpx.request(
            method, f"{base}/__admin{path}", json=payload, headers=headers, timeout=10.0
        ),
        f"no mock admin API at {base}",
        "start one with `battletest mock serve` or pass --url",
    )
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code == 404 and not (isinstance(body, dict) and "error" in body):
        raise TargetUnreachable(f"{base} is not a battletest mock (no /__admin API); check --url")
    if resp.status_code >= 400:
        message = body.get("error") if isinstance(body, dict) else resp.text
        raise ScenarioError(str(message))
    return body


@click.group("mock")
def mock() -> None:
    """Mock dependency server: stubs, faults, named failure scenarios, journal."""


@mock.command("serve")
@click.argument("stubs", required=False, type=FILE)
@click.option("--spec", type=FILE, help="Generate stubs from an OpenAPI document.")
@click.option(
    "--validate",
    is_flag=True,
    help="With --spec: a request that breaks its operation's document gets its documented 400.",
)
@click.option(
    "--har",
    "hars",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Serve the answers of a recording (.har or a VCR.py cassette; repeatable).",
)
@click.option("--masks", type=FILE, help="Masks for --har.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int, help="0 picks a free port.")
@click.option(
    "--record",
    "record",
    metavar="URL",
    help="Proxy unmatched requests to URL and record them as stubs.",
)
@click.option(
    "--upstream",
    metavar="URL",
    help="Forward unmatched requests to URL; failure scenarios apply in front of it.",
)
@click.option("--save", type=FILE, help="Where --record writes its stubs (JSON) on exit.")
@click.option(
    "--admin-port",
    type=int,
    default=None,
    help="Also serve the admin API on this port (0: free); it stays up during an outage.",
)
@click.option("--seed", type=int, default=None, help="Seed for latency and fault randomness.")
@remote_control_options(
    "admin API",
    "--admin-token",
    "BATTLETEST_MOCK_TOKEN",
    "`mock activate|deactivate|status` send it",
)
def serve(
    stubs: Path | None,
    spec: Path | None,
    validate: bool,
    hars: tuple[Path, ...],
    masks: Path | None,
    host: str,
    port: int,
    record: str | None,
    upstream: str | None,
    save: Path | None,
    admin_port: int | None,
    seed: int | None,
    allow_remote: bool,
    admin_token: str | None,
) -> None:
    """Serve STUBS (TOML/JSON) or --spec on a loopback port until Ctrl-C."""
    from battletest.chaos.mock import MockServer

    if sum(bool(x) for x in (stubs, spec, hars)) > 1:
        raise UsageError("give one of a stub file, --spec and --har, not both")
    if save is not None and record is None:
        raise UsageError("--save writes recorded stubs; add --record URL")
    if validate and spec is None:
        raise UsageError("--validate checks requests against a document; add --spec FILE")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "seed": seed,
        "record_upstream": record,
        "upstream": upstream,
        "admin_port": admin_port,
        "allow_remote": allow_remote,
        "admin_token": admin_token or None,
    }
    if stubs is not None:
        server = MockServer.from_file(stubs, **options)
    elif spec is not None:
        server = MockServer.from_openapi(spec, validate=validate, **options)
    elif hars:
        from battletest.replay.har import episode_paths, read_episode
        from battletest.replay.masks import MaskSet
        from battletest.replay.mock import stubs_for

        episodes = [read_episode(p) for p in episode_paths([str(h) for h in hars])]
        server = MockServer(stubs_for(episodes, MaskSet.load(masks) if masks else None), **options)
    elif record is not None or upstream is not None:
        server = MockServer(**options)
    else:
        raise UsageError(
            "nothing to serve: pass a stub file, --spec OPENAPI, --har FILE, --upstream URL or "
            "--record URL"
        )
    server.start()
    click.echo(
        f"mock serving {len(server.stubs)} stub(s) on {server.url} "
        f"(admin: {server.admin_url}/__admin; Ctrl-C stops)",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if save is not None:
            server.save_recorded(save)
            click.echo(f"saved {len(server.recorded_stubs())} recorded stub(s) to {save}")
    click.echo("mock stopped")


def _url_option(f: Any) -> Any:
    return click.option(
        "--url",
        default=lambda: os.environ.get("BATTLETEST_MOCK_URL", DEFAULT_MOCK_URL),
        show_default="$BATTLETEST_MOCK_URL or " + DEFAULT_MOCK_URL,
        help="Base URL of the running mock.",
    )(f)


@mock.command("activate")
@click.argument("name")
@click.option("--for", "duration", required=True, help="How long: 30s, 500ms, 2m.")
@click.option(
    "--path", "paths", multiple=True, help="Only requests under this path prefix (repeatable)."
)
@_url_option
def activate(name: str, duration: str, paths: tuple[str, ...], url: str) -> None:
    """Switch the failure scenario NAME on for a duration on a running mock."""
    from battletest.durations import parse_duration

    seconds = parse_duration(duration, what="--for", positive=True)
    _admin_call(url, "POST", f"/scenarios/{name}", {"seconds": seconds, "paths": list(paths)})
    where = f" on {', '.join(paths)}" if paths else ""
    click.echo(f"{name} active on {url.rstrip('/')}{where} for {seconds:g}s")


@mock.command("deactivate")
@click.argument("name", required=False)
@_url_option
def deactivate(name: str | None, url: str) -> None:
    """End failure scenario NAME (or all of them) on a running mock."""
    body = _admin_call(url, "DELETE", f"/scenarios/{name}" if name else "/scenarios")
    click.echo(f"deactivated {body.get('deactivated', 0)} scenario(s)")


@mock.command("status")
@_url_option
def status(url: str) -> None:
    """Active failure scenarios and journal size of a running mock."""
    health = _admin_call(url, "GET", "/health")
    scen = _admin_call(url, "GET", "/scenarios")
    reqs = _admin_call(url, "GET", "/requests")
    click.echo(
        f"{url.rstrip('/')}: {health['stubs']} stub(s), {len(reqs['requests'])} request(s) journaled"
    )
    for a in scen["active"]:
        click.echo(
            f"  {a['name']}: {a['remaining_s']:.1f}s left, {a['requests_affected']} request(s) affected"
        )
    if not scen["active"]:
        click.echo("  no failure scenario active")


@click.group("chaos")
def chaos() -> None:
    """Named failure scenarios and chaos experiments."""


@chaos.command("scenarios")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def scenarios(as_json: bool) -> None:
    """List the built-in named failure scenarios."""
    from battletest.chaos.scenarios import BUILTIN_SCENARIOS

    if as_json:
        click.echo(json.dumps({n: s.description for n, s in BUILTIN_SCENARIOS.items()}, indent=2))
        return
    for name, s in BUILTIN_SCENARIOS.items():
        click.echo(f"{name:<16} {s.description}")


@chaos.command("run")
@click.argument("file", type=FILE)
@click.option("--json", "json_out", type=FILE, help="Also write the result as JSON.")
@common_options("config", "profile", "out")
def run(
    file: Path,
    json_out: Path | None,
    out: str | None,
    config_path: str | None = None,
    profile: str | None = None,
) -> None:
    """Run the experiment FILE: steady state → fault → recovery (exit 0 pass, 1 fail).
    Refused in a production environment unless allow_destructive (exit 2)."""
    import threading

    from battletest.chaos.experiment import run_experiment
    from battletest.chaos.experiment_model import load_experiment
    from battletest.config import load_config
    from battletest.errors import ExitCode

    cfg = load_config(config_path, profile)
    exp = load_experiment(file)
    click.echo(f"experiment: {exp.title}")
    stop = threading.Event()
    # Ctrl-C or SIGTERM: the experiment rolls its faults back and ends "interrupted"; what was
    # measured is printed and written, and the exit code is 130.
    with interrupt_signals() as signals:
        try:
            result = run_experiment(
                exp,
                stop=stop,
                on_event=lambda m: click.echo(f"  {m}"),
                environment=cfg.environment,
                allow_destructive=cfg.allow_destructive,
            )
        except KeyboardInterrupt:  # a second Ctrl-C while rollbacks ran
            stop.set()
            raise
        signals.shield()
        if signals.seen and result.verdict != "interrupted":
            result = result.model_copy(update={"verdict": "interrupted"})
        for line in render_experiment(result):
            click.echo(line)
        if json_out is not None:
            json_out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        if out:  # a run folder laid out as `battletest run` lays it out
            from battletest.cli_options import write_suite_folder

            suite = result.to_suite_result()
            if result.verdict == "interrupted":
                suite.message = "interrupted: partial results"
            folder = write_suite_folder(suite, out, target=None)
            click.echo(f"reports: {folder}")
    code = {"pass": ExitCode.OK, "fail": ExitCode.FAILED, "interrupted": ExitCode.INTERRUPTED}
    raise click.exceptions.Exit(int(code[result.verdict]))


def render_experiment(result: Any) -> list[str]:
    """The result as the plain lines ``chaos run`` prints."""
    lines = [
        f"{'phase':<7} {'window':>13} {'req':>6} {'err':>5} {'p95 max':>9} {'p99 max':>9}  thresholds"
    ]
    for p in result.phases:
        mark = {True: "hold", False: "FAIL", None: "-"}[p.holds]
        checks = ", ".join(
            f"{v.threshold} ({'ok' if v.passed else 'FAILED' if v.passed is False else 'n/a'})"
            for v in p.thresholds
        )
        lines.append(
            f"{p.name:<7} {p.start_s:5.1f}–{p.end_s:5.1f}s {p.requests:>6} {p.errors:>5} "
            f"{p.worst_p95_ms:>7.1f}ms {p.worst_p99_ms:>7.1f}ms  {mark}: {checks or 'none'}"
        )
    for a in [*result.actions, *result.rollbacks]:
        state = "ok" if a.ok else "FAILED"
        lines.append(f"  t={a.at_s:6.2f}s {a.action}: {state} {a.message}")
    ttr = result.time_to_recover_s
    lines.append(
        f"time to recover (client-visible: the load's thresholds held again): {ttr:.2f}s"
        if ttr is not None
        else "time to recover (client-visible): did not recover"
    )
    from battletest.chaos.experiment import dependency_words

    for dep, seconds in result.dependency_recovery.items():
        lines.append(
            "time to recover (dependency, from the mock's journal): "
            + dependency_words(dep, seconds, result.observed_after_s)
        )
    if not result.dependency_recovery:
        lines.append(
            "time to recover (dependency): not measured — no fault acted through a battletest "
            "mock whose journal shows the dependency's side"
        )
    for reason in result.reasons:
        lines.append(f"  - {reason}")
    lines.append(f"verdict: {result.verdict.upper()} ({result.duration_s:.1f}s)")
    return lines
