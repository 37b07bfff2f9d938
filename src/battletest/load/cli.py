"""``battletest load``: parse flags into ``LoadSettings``, run, print, exit 0/1/130.

Exit codes: 0 all thresholds passed, 1 a threshold failed, 2 bad flags, 3 target unreachable,
130 interrupted (the partial result is printed and saved first).
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from battletest.cli_options import common_options, remote_control_options
from battletest.errors import (
    BattletestError,
    ExitCode,
    Interrupted,
    TargetUnreachable,
    UsageError,
)


class ThresholdsFailed(BattletestError):
    """A threshold did not hold: exit 1 (click's own ``Exit`` is swallowed outside standalone
    mode, so the code travels as a battletest error)."""

    exit_code = ExitCode.FAILED


def _demo_url(stack: ExitStack) -> tuple[str, int | None]:
    """Start the built-in demo; its base URL and app PID (stopped when ``stack`` closes)."""
    try:
        from battletest.demo import start
    except ImportError:
        raise TargetUnreachable(
            "no --target given and the built-in demo is not available",
            hint="pass --target http://HOST:PORT",
        ) from None
    # a load run measures capacity, not the demo's per-client limit (120 requests a minute)
    handle: Any = start(rate_limit=False)
    if hasattr(handle, "__enter__"):
        handle = stack.enter_context(handle)
    else:
        for name in ("stop", "close"):
            if hasattr(handle, name):
                stack.callback(getattr(handle, name))
                break
    pid = getattr(handle, "pids", {}).get("app") if hasattr(handle, "pids") else None
    if isinstance(handle, str):
        return handle, None
    for name in ("url", "base_url"):
        if isinstance(getattr(handle, name, None), str):
            return str(getattr(handle, name)), pid
    raise TargetUnreachable("the demo started but did not say its URL", hint="pass --target")


def _har_scenario(flags: dict[str, Any], folder: Any) -> Any:
    """With ``--har``: the recording as a scenario file (in the run folder, else in a
    temporary folder, returned to be cleaned up); ``--loop N`` as N iterations per VU."""
    har, speed, loop = flags.pop("har"), flags.pop("har_speed"), flags.pop("har_loop")
    pairs = flags.pop("har_vars")
    if not har:
        if speed or loop or pairs:
            raise UsageError("--speed, --loop and --var go with --har", hint="add --har FILE")
        return None
    if flags["scenario"] or flags["from_spec"] or flags["paths"]:
        raise UsageError("--har replaces --scenario, --from-spec and --path", hint="pick one")
    import tempfile

    from battletest.load.har import har_scenario_file
    from battletest.replay.cli import parse_speed, parse_vars

    temporary = None if folder is not None else tempfile.TemporaryDirectory(prefix="bt-har-")
    where = folder.path if folder is not None else temporary.name  # type: ignore[union-attr]
    speed_factor = parse_speed(speed) if speed else 1.0
    flags["scenario"] = str(
        har_scenario_file(har, where, speed=speed_factor, inputs=parse_vars(pairs))
    )
    if loop is not None:
        if loop < 1:
            raise UsageError("--loop must be at least 1")
        flags["executor"] = "per-vu-iterations"
        flags["iterations"] = loop
        flags["vus"] = flags["vus"] or 1
    return temporary


@click.command("load", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", help="Base URL of the service (default: start the demo).")
@click.option("--scenario", help="Scenario: FILE.toml (steps) or FILE.py[:Class] (tasks).")
@click.option("--from-spec", "from_spec", help="OpenAPI file or URL: load its GET operations.")
@click.option("--har", "har", help="A recording (.har): each VU replays it with its own values.")
@click.option("--speed", "har_speed", help="With --har: 200% halves the recorded think times.")
@click.option("--loop", "har_loop", type=int, help="With --har: each VU replays it N times.")
@click.option("--var", "har_vars", multiple=True, help="With --har: NAME=VALUE for an input.")
@click.option(
    "--preset",
    type=click.Choice(["baseline", "stress", "spike", "soak", "breakpoint"]),
    help="A named load shape (scaled by --vus/--rate and --duration).",
)
@click.option("--path", "paths", multiple=True, help="Path to request (repeatable).")
@click.option("--method", default="GET", show_default=True)
@click.option("--header", "headers", multiple=True, help="'Name: value' (repeatable).")
@click.option("--body", default="", help="Request body (JSON by default).")
@click.option("--executor", help="k6 executor name (inferred from the flags by default).")
@click.option("--vus", type=int, help="Virtual users (constant-vus).")
@click.option("--duration", help="How long, e.g. 30s, 2m (default 10s).")
@click.option("--rate", type=float, help="Iterations per second (constant-arrival-rate).")
@click.option(
    "--max-vus", type=int, help="Connections available to --rate (default max(100, rate))."
)
@click.option("--stages", help="DURATION:TARGET,… e.g. 30s:10,1m:50,30s:0 (ramping).")
@click.option("--iterations", type=int, help="Iterations (shared-iterations, per-vu-iterations).")
@click.option("--think-time", default="0", help="Pause between a VU's iterations: 1s or 0.5s..2s.")
@click.option("--graceful-stop", default="30s", show_default=True)
@click.option("--workers", type=int, help="Worker processes (default: one per core).")
@click.option("--timeout", default="10s", show_default=True, help="Per-request timeout.")
@click.option("--threshold", "thresholds", multiple=True, help="e.g. 'p95<300ms' (repeatable).")
@click.option("--abort-on-fail", is_flag=True, help="Stop as soon as a threshold fails.")
@click.option(
    "--dropped-iterations-threshold",
    help="Open model: dropped iterations allowed (default 0; a number, a threshold, or off).",
)
@click.option("--ca-cert", type=click.Path(), help="CA bundle (PEM) to trust for https.")
@click.option("--client-cert", type=click.Path(), help="Client certificate (PEM).")
@click.option("--client-key", type=click.Path(), help="Client private key (PEM).")
@click.option("--insecure", is_flag=True, help="Do not verify the server certificate.")
@click.option("--json", "json_path", type=click.Path(), help="Write the result as JSON here.")
@click.option("--run-dir", type=click.Path(), help="Folder for the merged latency histogram.")
@click.option("--target-pid", type=int, help="Watch this process tree's RSS, CPU, threads, files.")
@click.option("--memory-threshold-mb", type=float, help="Fail when the target's peak RSS is above.")
@click.option(
    "--leak-threshold-mb", type=float, help="Fail when RSS grows more than this (95% bound)."
)
@click.option("--cluster", help="Run the workers on Dask: local:N or a scheduler, tcp://host:8786.")
@click.option(
    "--web",
    is_flag=False,
    flag_value="127.0.0.1:8089",
    help="Live web view while the run goes (default 127.0.0.1:8089; HOST:PORT).",
)
@remote_control_options(
    "live web view", "--web-token", "BATTLETEST_WEB_TOKEN", "the URL printed carries it"
)
@click.option("--concurrent-users", type=int, help="Legacy: VUs of per-vu-iterations.")
@click.option("--requests-per-user", type=int, help="Legacy: iterations per VU.")
@click.option("--test-duration", help="Legacy: maximum duration (seconds or 5m).")
@common_options("config", "profile", "out", "seed")
def load(**flags: Any) -> None:
    """Put the target under load (k6-style executors, thresholds, merged histograms).

    \b
    --vus N             constant-vus        --rate R       constant-arrival-rate
    --stages ...        ramping-vus         --rate R --stages ...  ramping-arrival-rate
    --vus N --iterations I  shared-iterations
    --concurrent-users N --requests-per-user I --test-duration S  per-vu-iterations

    Exit codes: 0 thresholds passed, 1 a threshold failed, 2 bad flags,
    3 target unreachable, 130 interrupted (the partial result is printed).
    """
    from battletest.cli_options import new_run_folder, write_suite_folder
    from battletest.load.console import print_result, reporter_for
    from battletest.load.coordinator import run
    from battletest.load.options import LoadSettings
    from battletest.sections import load_checked_config as load_config

    config = load_config(flags.pop("config_path"), flags.pop("profile"))
    out, seed = flags.pop("out"), flags.pop("seed")
    if seed is not None:
        flags["seed"] = seed
    target = flags.pop("target") or config.target.url
    web, allow_remote, web_token = (
        flags.pop("web"),
        flags.pop("allow_remote"),
        flags.pop("web_token"),
    )
    json_path = flags.pop("json_path")
    run_dir = flags.pop("run_dir")
    if web and not out:  # the page ends with the run's report.html
        out = config.out
    folder = new_run_folder(out) if out else None
    run_dir = run_dir or (folder.path if folder else None)
    multi: Any = None
    har_dir = _har_scenario(flags, folder)
    if flags["scenario"] and flags["scenario"].endswith(".toml"):
        from battletest.load.multi import is_multi, parse_runs

        if is_multi(flags["scenario"]):
            multi = parse_runs(flags.pop("scenario"))
            flags["scenario"] = None
    settings = LoadSettings.coerce(
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in flags.items()}
    )
    live: Any = None
    with ExitStack() as stack:
        if har_dir is not None:
            stack.callback(har_dir.cleanup)
        target_named = bool(target)
        if settings.cluster:  # before the demo starts: a distributed run loads only what is named
            from battletest.load.distributed import refuse_unnamed

            refuse_unnamed(target_named)
        if web:
            from battletest.load.web import LiveView

            live = stack.enter_context(
                LiveView(web, stop=threading.Event(), allow_remote=allow_remote, token=web_token)
            )
            click.echo(f"live view: {live.url}", err=True)
        if not target:
            target, demo_pid = _demo_url(stack)
            if settings.target_pid is None:
                settings.target_pid = demo_pid
            if not (
                settings.paths or settings.endpoints or settings.scenario or settings.from_spec
            ):
                settings.paths = ["/health"]
        if multi is not None:
            from battletest.load.multi import run_scenarios

            runs, thresholds = multi
            result = run_scenarios(
                target,
                runs,
                thresholds=[*settings.thresholds, *thresholds],
                environment=config.environment,
                allow_destructive=config.allow_destructive,
            )
        else:
            kwargs = settings.run_kwargs(target)
            if live is not None:
                live.planned_s = kwargs["executor"].planned_duration
            progress = reporter_for()
            try:
                result = run(
                    target,
                    progress=progress,
                    run_dir=run_dir,
                    environment=config.environment,
                    allow_destructive=config.allow_destructive,
                    target_named=target_named,
                    watch=live,
                    stop=live.stop if live is not None else None,
                    **kwargs,
                )
            finally:
                progress.close()
        print_result(result)
        written = None
        if folder is not None:  # a run folder laid out as `battletest run` lays it out
            from battletest.load.suite import suite_result

            written = write_suite_folder(
                suite_result(result, result.duration_s),
                folder,
                target=target,
                profile=config.profile,
                seed=settings.seed,
                config=config.redacted(),
                secret_values=config.secrets(),
                secret_headers=config.credential_headers(),
            )
            click.echo(f"reports: {written}", err=True)
        if live is not None:
            live.finish(result, Path(written) / "report.html" if written else None)
            live.linger()
    if json_path:
        Path(json_path).write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    if result.interrupted:
        raise Interrupted("load run interrupted; the partial result is above")
    if not result.passed:
        failed = [row.threshold for row in result.thresholds if row.passed is False]
        raise ThresholdsFailed(f"load thresholds failed: {', '.join(failed)}")
