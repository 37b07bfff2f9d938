"""Progress reporters for a load run: a live view on a terminal, plain lines in CI.

Both are ``Progress`` callables (``LiveStats -> None``) with a ``close()``; the engine never
prints, the command picks a reporter with ``reporter_for(console)``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

from battletest.load.coordinator import LiveStats
from battletest.load.result import LoadResult
from battletest.redact import redact_text

if TYPE_CHECKING:
    from rich.console import Console


def _line(s: LiveStats) -> str:
    return (
        f"load {s.elapsed:6.1f}s/{s.planned:g}s  vus={s.vus:<5d} rps={s.rps:<9.1f}"
        f" p50={s.p50:.2f}ms p95={s.p95:.2f}ms p99={s.p99:.2f}ms"
        f" requests={s.requests} failed={s.failed} dropped={s.dropped}"
    )


class PlainProgress:
    """One line every ``every`` seconds (CI logs, pipes)."""

    def __init__(self, stream: IO[str], every: float = 5.0) -> None:
        self.stream = stream
        self.every = every
        self.last = -1e9

    def __call__(self, stats: LiveStats) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            print(_line(stats), file=self.stream, flush=True)

    def close(self) -> None:
        return None


class LiveProgress:
    """A rich live panel refreshed on every snapshot."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self.live = Live(console=console, refresh_per_second=4, transient=True)
        self.live.start()

    def __call__(self, stats: LiveStats) -> None:
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold")
        for col in ("elapsed", "VUs", "rps", "p50", "p95", "p99", "requests", "failed"):
            table.add_column(col, justify="right")
        table.add_row(
            f"{stats.elapsed:.0f}s / {stats.planned:g}s",
            str(stats.vus),
            f"{stats.rps:,.0f}",
            f"{stats.p50:.2f}ms",
            f"{stats.p95:.2f}ms",
            f"{stats.p99:.2f}ms",
            f"{stats.requests:,}",
            f"{stats.failed:,}",
        )
        self.live.update(table)

    def close(self) -> None:
        self.live.stop()


def reporter_for(
    console: Console | None = None, every: float = 5.0
) -> PlainProgress | LiveProgress:
    """Live on a terminal, plain lines otherwise. Without a console, stderr decides (and rich
    is imported only for a terminal: start-up CPU is part of the measured cost)."""
    if console is None:
        if not sys.stderr.isatty():
            return PlainProgress(sys.stderr, every)
        from rich.console import Console

        console = Console(stderr=True)
    if console.is_terminal:
        return LiveProgress(console)
    return PlainProgress(console.file, every)


def render_result(result: LoadResult) -> list[str]:
    """The end-of-run summary as plain lines (the CLI prints them)."""
    lat = result.latency_ms
    out = [
        f"target {redact_text(result.target)}  executor {result.executor}  workers {result.workers}"
        f"  duration {result.duration_s:.1f}s",
        f"requests {result.requests}  failed {result.failed} ({result.error_rate * 100:.2f}%)"
        f"  rps {result.rps:,.1f}  rps_ok {result.rps_ok:,.1f}"
        f"  dropped_iterations {result.dropped_iterations}"
        + (
            f" of {result.intended_iterations} intended"
            if result.intended_iterations and result.dropped_iterations
            else ""
        ),
        f"latency ms  min {lat.min:.2f}  mean {lat.mean:.2f}  p50 {lat.p50:.2f}  p90 {lat.p90:.2f}"
        f"  p95 {lat.p95:.2f}  p99 {lat.p99:.2f}  p99.9 {lat.p999:.2f}  max {lat.max:.2f}",
    ]
    if len(result.endpoints) > 1:
        for name, ep in result.endpoints.items():
            out.append(
                f"  {name}: requests {ep.requests} failed {ep.failed} p50 {ep.latency_ms.p50:.2f}"
                f" p95 {ep.latency_ms.p95:.2f} p99 {ep.latency_ms.p99:.2f}"
            )
    if result.errors:
        out.append("errors " + ", ".join(f"{k}={v}" for k, v in result.errors.items()))
    c = result.counters
    if c.get("ws_sessions"):
        span = result.duration_s or 1.0
        out.append(
            f"websocket sessions {c['ws_sessions']}  messages sent {c.get('ws_msgs_sent', 0)}"
            f" received {c.get('ws_msgs_received', 0)}"
            f" ({(c.get('ws_msgs_sent', 0) + c.get('ws_msgs_received', 0)) / span:,.1f}/s)"
            f"  bytes sent {c.get('ws_bytes_sent', 0):,} received {c.get('ws_bytes_received', 0):,}"
            f"  abnormal closes {c.get('ws_abnormal_closes', 0)}"
        )
    per_req = result.cpu_us_per_request
    out.append(f"client cpu {result.client_cpu_s:.2f}s ({per_req:.1f} µs/request)")
    res = result.resources
    if res is not None:
        out.append(
            f"target pid {res['pid']}  peak RSS {res['peak_rss_mb']:.1f} MB"
            f"  mean CPU {res['mean_cpu_percent']:.0f}%  threads {res['peak_threads']}"
            f"  open files {res['peak_open_files']}"
        )
        if res.get("leak"):
            out.append(f"memory {res['leak']['line']}")
    if result.capacity_rps is not None:
        out.append(f"capacity {result.capacity_rps:,.1f}/s (breakpoint)")
    for row in result.thresholds:
        out.append(f"threshold {row.line}")
    for warning in result.warnings:
        out.append(f"warning: {warning}")
    if result.aborted and result.capacity_rps is None:
        out.append("aborted: a threshold failed (abortOnFail / --abort-on-fail)")
    if result.interrupted:
        out.append("interrupted: partial result")
    return out


def print_result(result: LoadResult, stream: IO[str] | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    for line in render_result(result):
        print(line, file=out)
    out.flush()
