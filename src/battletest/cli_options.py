"""The flags ``run``, ``load``, ``scan`` and ``chaos run`` share, and the run folder they write.

``common_options(*names)`` decorates a click command with the named shared flags (all of them
when no name is given), always spelled and described the same way; a command leaves out a flag
it already defines with its own meaning. ``write_suite_folder`` writes one suite's result as a
run folder with the same layout as ``battletest run`` (``OUT/<UTC time>-<run id>/``: report.json,
junit.xml, report.html, …, and ``OUT/latest``). ``interrupt_signals`` makes Ctrl-C and SIGTERM
stop a long command the same honest way: what was done is kept and reported as interrupted.
"""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from battletest.netutil import remote_control_options  # the commands' control API flags
from battletest.results import SuiteResult

OPTIONS: dict[str, Callable[[Any], Any]] = {
    "config": click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Config file (default: battletest.toml or [tool.battletest]).",
    ),
    "profile": click.option(
        "--profile", "--environment", "profile", help="Profile to apply (dev, staging, prod, …)."
    ),
    "target": click.option(
        "--target", "--api-url", "target", help="Base URL of a running service."
    ),
    "app": click.option("--app", "app", help="ASGI/WSGI app to launch, as module:attribute."),
    "spec": click.option(
        "--spec", "spec", help="OpenAPI document (file or URL); discovered if omitted."
    ),
    "timeout": click.option(
        "--timeout", "timeout", type=float, help="Whole-run time budget in seconds."
    ),
    "parallel": click.option(
        "--parallel", "parallel", type=int, help="Operations exercised concurrently."
    ),
    "suites": click.option("--suites", "suites", help="Comma-separated suites to run."),
    "skip_suites": click.option(
        "--skip-suites", "skip_suites", help="Comma-separated suites to skip."
    ),
    "out": click.option(
        "--out", "--output-dir", "out", help="Parent folder of run folders (report.json, …)."
    ),
    "verbose": click.option(
        "--verbose", "-v", "verbose", is_flag=True, default=None, help="Show every case."
    ),
    "seed": click.option("--seed", "seed", type=int, help="Random seed for generated data."),
    "mode": click.option(
        "--mode",
        "mode",
        type=click.Choice(["LIVE", "LIVE_SMOKE", "MOCK", "GOLDEN"], case_sensitive=False),
        help="LIVE (default: full suites, writes only to objects battletest created), "
        "LIVE_SMOKE (read-only), MOCK, or GOLDEN (answers compared with snapshots).",
    ),
    "update_golden": click.option(
        "--update-golden",
        "update_golden",
        is_flag=True,
        default=None,
        help="GOLDEN: accept this run's answers as the snapshots.",
    ),
    "golden_dir": click.option(
        "--golden-dir", "golden_dir", help="GOLDEN: the snapshots' folder (.battletest/golden)."
    ),
    "json": click.option(
        "--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout."
    ),
}
COMMON_OPTIONS: list[Callable[[Any], Any]] = list(OPTIONS.values())


def common_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the named shared flags (every one when no name is given) to a click command."""
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        raise ValueError(f"unknown shared option(s): {', '.join(unknown)}")
    return stacked(*(OPTIONS[n] for n in (names or tuple(OPTIONS))))


def stacked(*options: Callable[[Any], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One decorator for several click options, listed in the order ``--help`` shows them."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@dataclass(slots=True)
class Interrupts:
    """What ``interrupt_signals`` saw: ``seen`` once Ctrl-C or SIGTERM arrived. ``shield()``:
    from then on a signal is only noted (the reports are being written), never raised."""

    seen: bool = False
    signal_name: str = ""
    shielded: bool = False

    def shield(self) -> None:
        self.shielded = True


@contextmanager
def interrupt_signals() -> Iterator[Interrupts]:
    """Ctrl-C (SIGINT) and SIGTERM raise ``KeyboardInterrupt`` while this is open, and are noted.

    SIGTERM does what Ctrl-C does: it is passed to whoever handles SIGINT at that moment — this
    handler, or one a long step installed for a graceful stop (the load coordinator winds its
    workers down and keeps the partial result) — so ``kill PID`` from a CI runner stops a run
    as honestly as Ctrl-C at a terminal. Outside the main thread nothing is installed."""
    state = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_int(signum: int, frame: Any) -> None:
        state.seen = True
        state.signal_name = state.signal_name or signal.Signals(signum).name
        if not state.shielded:
            raise KeyboardInterrupt

    def on_term(signum: int, frame: Any) -> None:
        state.seen = True
        state.signal_name = state.signal_name or "SIGTERM"
        current = signal.getsignal(signal.SIGINT)
        if callable(current) and current is not on_int:
            current(signal.SIGINT, frame)  # a step's own graceful stop
        else:
            on_int(signum, frame)

    previous_int = signal.signal(signal.SIGINT, on_int)
    previous_term = signal.signal(signal.SIGTERM, on_term)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


@dataclass(frozen=True, slots=True)
class RunFolder:
    """A run folder created before the work starts (so raw data can be saved into it)."""

    path: Path
    run_id: str
    started_at: datetime


def new_run_folder(out: str | Path) -> RunFolder:
    """Create ``OUT/<UTC time>-<run id>/`` now (``write_suite_folder`` fills it later)."""
    from battletest.report.rundir import create_run_folder
    from battletest.results import utcnow

    run_id, started = secrets.token_hex(4), utcnow()
    return RunFolder(create_run_folder(Path(out).absolute(), started, run_id), run_id, started)


def write_suite_folder(
    suite: SuiteResult,
    out: str | Path | RunFolder,
    *,
    target: str | None,
    profile: str = "default",
    seed: int | None = None,
    config: dict[str, Any] | None = None,
    secret_values: Iterable[str] = (),
    secret_headers: Iterable[str] = (),
) -> Path:
    """Write one suite's result as a run folder laid out as ``battletest run`` lays it out:
    into ``out`` when it is a ``RunFolder``, else into a new folder under ``out``.
    ``secret_values`` and ``secret_headers`` (the config's ``secrets()`` and
    ``credential_headers()``) are masked in every file, as ``battletest run`` masks them."""
    from battletest import __version__
    from battletest.quality.gates import GatesConfig, evaluate_gates
    from battletest.redact import Redactor
    from battletest.report import write_run_folder
    from battletest.results import Report, RunInfo, utcnow

    now = utcnow()
    if isinstance(out, RunFolder):
        run_id, started = out.run_id, out.started_at
    else:
        run_id, started = secrets.token_hex(4), now - timedelta(seconds=suite.duration_s or 0)
    run = RunInfo(
        id=run_id,
        started_at=started,
        finished_at=now,
        version=__version__,
        target=target,
        profile=profile,
        seed=seed,
        config=config or {},
        interrupted="interrupted" in (suite.message or ""),
    )
    report = Report.build(run, [suite], evaluate_gates([suite], GatesConfig()))
    redactor = Redactor(secret_values, secret_headers)
    if isinstance(out, RunFolder):
        return write_run_folder(report, out.path.parent, folder=out.path, redactor=redactor)
    return write_run_folder(report, Path(out).absolute(), redactor=redactor)


__all__ = [
    "COMMON_OPTIONS",
    "OPTIONS",
    "Interrupts",
    "RunFolder",
    "common_options",
    "interrupt_signals",
    "new_run_folder",
    "remote_control_options",
    "stacked",
    "write_suite_folder",
]
