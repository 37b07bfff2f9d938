"""10,000 concurrent connections held by one battletest worker, wrk beside it, in one run.

nginx (`return 200 "ok"`, one worker, ``worker_rlimit_nofile`` and ``worker_connections`` at
20,000) on loopback. battletest runs ``--vus 10000 --workers 1 --think-time 1s`` for
``--duration`` seconds (default 30): every VU keeps its keep-alive connection and sends one
request a second. wrk runs ``-t1 -c10000`` for the same time (no think time: it cannot pace).
Each second the bench samples nginx's active connections (stub_status) and the generator's
process-tree RSS (psutil). RSS per connection = (peak RSS with 10,000 connections − peak RSS
with 100) / 9,900, from a second, short run of each generator with 100 connections.

Goals for battletest: ≥ 10,000 connections open for the whole steady phase (after the first
5 s of connecting), zero failed requests and zero errors. Exits 1 when a goal is missed or a
peer did not run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness  # noqa: E402
from _harness import nginx_status, tree_rss_mb  # noqa: E402

BATTLETEST = str(Path(sys.executable).parent / "battletest")
CONNECTIONS = 10_000
WARMUP_S = 5.0


@contextmanager
def nginx() -> Iterator[str]:
    """nginx (not pinned) with room for 20,000 connections; yields its base URL."""
    with _harness.nginx(
        None,
        connections=20000,
        rlimit_nofile=20000,
        multi_accept=True,
        keepalive_timeout="300s",
        backlog=4096,
        error_level="crit",
    ) as url:
        yield url


def active_connections(url: str) -> int:
    first = nginx_status(url)[0]
    return int(first.split(":")[1]) - 1  # without this status request


@dataclass
class Run:
    name: str
    ran: bool = False
    held_s: float = 0.0  # steady-phase seconds with every connection open
    steady_s: float = 0.0
    min_active: int = 0
    peak_active: int = 0
    peak_rss_mb: float = 0.0
    requests: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    note: str = ""


def observe(name: str, cmd: list[str], url: str, want: int, duration: float) -> Run:
    run = Run(name)
    samples: list[tuple[float, int, float]] = []
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        run.note = str(exc)
        return run
    ps = psutil.Process(proc.pid)
    t0 = time.monotonic()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            try:
                samples.append((time.monotonic() - t0, active_connections(url), tree_rss_mb(ps)))
            except OSError:
                continue

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out, err = proc.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    stop.set()
    thread.join()
    run.ran = proc.returncode == 0
    if not run.ran:
        run.note = (err.strip().splitlines() or ["failed"])[-1]
    steady = [s for s in samples if WARMUP_S <= s[0] <= duration - 1]
    run.steady_s = len(steady)
    run.held_s = sum(1 for _, active, _ in steady if active >= want)
    run.min_active = min((a for _, a, _ in steady), default=0)
    run.peak_active = max((a for _, a, _ in samples), default=0)
    run.peak_rss_mb = max((r for _, _, r in samples), default=0.0)
    run.note = run.note or out.strip()[-200:]
    return run


def battletest_cmd(url: str, vus: int, duration: int, json_path: Path) -> list[str]:
    return [
        BATTLETEST, "load", "--target", url, "--vus", str(vus), "--duration", f"{duration}s",
        "--think-time", "1s", "--workers", "1", "--graceful-stop", "5s", "--timeout", "20s",
        "--json", str(json_path),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds holding 10k conns")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-conns-"))
    short = 8
    rows: list[tuple[Run, Run]] = []
    with nginx() as url:
        small = observe(
            "battletest 100",
            battletest_cmd(url, 100, short, work / "small.json"),
            url,
            100,
            short,
        )
        big = observe(
            "battletest 10000",
            battletest_cmd(url, CONNECTIONS, args.duration, work / "big.json"),
            url,
            CONNECTIONS,
            args.duration,
        )
        for run, path in ((small, work / "small.json"), (big, work / "big.json")):
            if path.exists():
                result = json.loads(path.read_text())
                run.requests, run.failed, run.errors = (
                    result["requests"],
                    result["failed"],
                    result["errors"],
                )
        rows.append((small, big))
        wrk_small = observe(
            "wrk -c100",
            ["wrk", "-t1", "-c100", f"-d{short}s", "--timeout", "20s", url + "/"],
            url,
            100,
            short,
        )
        wrk_big = observe(
            "wrk -c10000",
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{args.duration}s",
                "--timeout",
                "20s",
                url + "/",
            ],
            url,
            CONNECTIONS,
            args.duration,
        )
        rows.append((wrk_small, wrk_big))
    print(
        f"\n{CONNECTIONS} concurrent keep-alive connections to nginx on loopback, "
        f"{args.duration} s (steady phase after {WARMUP_S:.0f} s)"
    )
    print(
        f"{'generator':<22}{'held s':>9}{'min open':>10}{'peak open':>11}"
        f"{'RSS MB':>9}{'KiB/conn':>10}{'requests':>10}{'failed':>8}"
    )
    ok = True
    for small, big in rows:
        per_conn = (big.peak_rss_mb - small.peak_rss_mb) * 1024 / (CONNECTIONS - 100)
        print(
            f"{big.name:<22}{big.held_s:>4.0f}/{big.steady_s:<4.0f}{big.min_active:>10}"
            f"{big.peak_active:>11}{big.peak_rss_mb:>9.1f}{per_conn:>10.1f}"
            f"{big.requests or '':>10}{big.failed if big.name.startswith('battletest') else '':>8}"
        )
        if not (small.ran and big.ran):
            print(f"  {big.name} did not run: {big.note or small.note}")
            ok = False
    small, big = rows[0]
    goal = (
        big.ran
        and big.steady_s > 0
        and big.held_s == big.steady_s
        and big.failed == 0
        and not big.errors
    )
    print(
        f"battletest: {big.held_s:.0f}/{big.steady_s:.0f} steady seconds with ≥{CONNECTIONS} "
        f"open, {big.failed} failed, errors {big.errors or 'none'}: "
        + ("met" if goal else "MISSED")
    )
    return 0 if ok and goal else 1


if __name__ == "__main__":
    sys.exit(main())
