"""Helpers for the load benchmarks: a pinned nginx, stub_status counts, CPU of a process tree,
Locust files, and the frozen target for the coordinated-omission benchmark.

Peers run as subprocesses; CPU is user+sys of the whole process tree as the OS reports it for
waited-for children (``RUSAGE_CHILDREN`` before/after), so battletest's worker processes and
start-up are included.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".venv-peers" / "bin"
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /nginx_status {{ stub_status; }}
        location / {{ return 200 "ok"; }}
    }}
}}
"""

LOCUST_FILE = """
from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser


class Bench(FastHttpUser):
    {wait}

    @task
    def root(self):
        self.client.get("/")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


@contextmanager
def nginx(cpu: int = 1) -> Iterator[str]:
    """nginx returning 200 "ok", one worker pinned to ``cpu``; yields its base URL."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed (make system-deps)")
    folder = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=folder, port=port))
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), "nginx", "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def stub_requests(base_url: str) -> int:
    """nginx's total request count (stub_status), including this request itself."""
    with urllib.request.urlopen(base_url + "/nginx_status", timeout=5) as resp:
        lines = resp.read().decode().splitlines()
    return int(lines[2].split()[2])


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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
