"""Helpers for the load benchmarks: stub_status counts, a command measured with the CPU of its
process tree, Locust files (nginx, ports and CPU come from ``_harness``).

Peers run as subprocesses; CPU is user+sys of the whole process tree as the OS reports it for
waited-for children (``RUSAGE_CHILDREN`` before/after), so battletest's worker processes and
start-up are included.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import _harness
from _harness import children_cpu, nginx_status

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".venv-peers" / "bin"
LOCUST_FILE = """
from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser


class Bench(FastHttpUser):
    {wait}

    @task
    def root(self):
        self.client.get("/")
"""


@contextmanager
def nginx(cpu: int = 1) -> Iterator[str]:
    """nginx returning 200 "ok", one worker pinned to ``cpu``; yields its base URL."""
    with _harness.nginx(cpu, connections=4096, keepalive_timeout="120s") as url:
        yield url


def stub_requests(base_url: str) -> int:
    """nginx's total request count (stub_status), including this request itself."""
    return int(nginx_status(base_url)[2].split()[2])


@dataclass
class Measured:
    name: str
    requests: int
    wall_s: float
    cpu_s: float
    ran: bool
    note: str = ""

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.requests if self.requests else float("inf")

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0


def print_rows(rows: list[Measured]) -> None:
    """The generator table: requests, req/s, CPU seconds, CPU-µs per request."""
    print(f"{'generator':<28}{'requests':>10}{'req/s':>10}{'cpu s':>8}{'cpu-µs/req':>12}")
    for r in rows:
        status = "" if r.ran else f"  DID NOT RUN: {r.note}"
        print(
            f"{r.name:<28}{r.requests:>10}{r.rps:>10.0f}{r.cpu_s:>8.2f}"
            f"{r.cpu_us_per_request:>12.1f}{status}"
        )


def measure(name: str, cmd: list[str], base_url: str | None, timeout: float) -> Measured:
    """Run ``cmd`` to completion; CPU of its whole (waited-for) tree, requests from nginx."""
    before = stub_requests(base_url) if base_url else 0
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Measured(name, 0, 0.0, 0.0, False, str(exc))
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    after = stub_requests(base_url) if base_url else 0
    requests = after - before - 1 if base_url else 0
    note = "" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return Measured(name, requests, wall, cpu, proc.returncode == 0 and requests > 0, note)


def locust_cmd(
    folder: Path,
    host: str,
    users: int,
    duration: str,
    throughput: float | None,
    csv_prefix: Path | None = None,
) -> list[str]:
    wait = f"wait_time = constant_throughput({throughput})" if throughput else "wait_time = None"
    if throughput is None:
        wait = "pass"
    path = folder / f"locustfile_{users}_{throughput}.py"
    path.write_text(LOCUST_FILE.format(wait=wait))
    cmd = [
        str(PEERS / "locust"),
        "-f",
        str(path),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        duration,
        "--host",
        host.rstrip("/"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    if csv_prefix is not None:
        cmd += ["--csv", str(csv_prefix)]
    return cmd


def locust_aggregate(csv_prefix: Path) -> dict[str, str]:
    with open(f"{csv_prefix}_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Aggregated":
                return row
    raise RuntimeError("Locust wrote no Aggregated row")


def python() -> str:
    return sys.executable


def cpu_list() -> set[int]:
    return set(os.sched_getaffinity(0))
