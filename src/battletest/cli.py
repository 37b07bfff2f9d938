"""The ``battletest`` command: parse, call the library, map errors to exit codes.

Subcommands live next to the subsystem they drive and are imported only when invoked, so
``battletest --help`` stays fast (measured in ``bench/bench_startup.py``). To add a command,
add one row to ``COMMANDS``: name → (module, attribute, one-line help).
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from typing import Any

import click

from battletest import __version__
from battletest.errors import BattletestError, ExitCode


def _command(where: str, help: str) -> tuple[str, str, str]:
    """``"load.cli:load"`` → (``battletest.load.cli``, ``load``, help)."""
    module, attr = where.split(":")
    return f"battletest.{module}", attr, help


# name → (module, click command attribute, short help shown by `battletest --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "proxy": _command("chaos.proxy.cli:proxy", "Fault proxy: Toxiproxy API, TCP+HTTP faults."),
    "demo": _command("demo.cli:demo", "Run the built-in hotel concierge demo service."),
    "init": _command("scaffold:init", "Write a commented battletest.toml from an OpenAPI spec."),
    "doctor": _command("doctor:doctor", "Check config, target, spec, identities and tools."),
    "gate": _command("quality.cli:gate", "Re-evaluate a run folder's quality gates (exit 0/1)."),
    "flaky": _command("quality.cli:flaky", "Flaky tests: list, report, quarantine, release."),
    "impact": _command("quality.cli:impact", "The tests a change needs (impact selection)."),
    "history": _command("quality.cli:history", "History store: prune, stats, coverage gaps."),
    "run": _command("run:run_command", "Run the enabled suites and write the reports."),
    "config": _command("config_cli:config_command", "Show, validate and describe the config."),
    "load": _command("load.cli:load", "Load test: k6-style executors, thresholds."),
    "mock": _command("chaos.chaos_cli:mock", "Mock dependency server and failure scenarios."),
    "chaos": _command("chaos.chaos_cli:chaos", "Failure scenarios and chaos experiments."),
    "scan": _command("security.cli:scan_command", "Security scan: OWASP API Top 10 checks."),
    "baseline": _command(
        "perf.cli:baseline", "Performance baselines: save, compare (regressions)."
    ),
    "report": _command(
        "report_cli:report", "Re-render a run folder: html, json, junit, sarif, prom."
    ),
    "record": _command(
        "replay.cli:record", "Record traffic to a target as HAR 1.2 (recording proxy)."
    ),
    "replay": _command(
        "replay.cli:replay", "Replay recordings against a target and diff every answer."
    ),
    "har": _command("replay.cli:har", "Convert a recording: scenario, stubs, tests, masks."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        row = COMMANDS.get(cmd_name)
        if row is None:
            return None
        module, attr, _ = row
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="battletest")
def cli() -> None:
    """Put an HTTP API through everything it must survive before production.

    Exit codes: 0 ok, 1 a gate or test failed, 2 usage or configuration error,
    3 target unreachable, 130 interrupted.
    """


def error_line(exc: BattletestError) -> str:
    """``battletest: error: …`` with URL userinfo and credentials masked (a message may quote
    a target or store URL as given)."""
    from battletest.redact import redact_text

    problems = getattr(exc, "problems", None) or [exc]  # ConfigErrors: one line per problem
    return "\n".join(redact_text(f"battletest: error: {p}") for p in problems)


def _sigterm_as_sigint(signum: int, frame: Any) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI and turn battletest errors into one line and an exit code.

    SIGTERM is Ctrl-C here (passed to the SIGINT handler of the moment), so a CI runner's
    ``kill`` stops every command as cleanly: child processes shut down, partial reports kept."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _sigterm_as_sigint) if main_thread else None
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> Any:
    try:
        # Outside standalone mode click returns the code given to ctx.exit()/Exit instead of
        # exiting; a command's return value is not an exit code.
        code = cli.main(args=argv, prog_name="battletest", standalone_mode=False)
    except BattletestError as exc:
        click.echo(error_line(exc), err=True)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("battletest: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        click.echo("battletest: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.USAGE))
    ctx_exit = code if isinstance(code, int) and not isinstance(code, bool) else ExitCode.OK
    sys.exit(int(ctx_exit))
