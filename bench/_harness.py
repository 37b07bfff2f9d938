"""What every benchmark needs around its peers: free ports, a pinned nginx, wrk and its output,
CPU and RSS of a process (tree).

One copy for bench_proxy, bench_mock, bench_demo, bench_load_connections and load_peers, so the
nginx they measure against and the way wrk's figures are read are the same in every table.
Scripts in bench/ import it as ``import _harness`` (bench/ is on ``sys.path`` when a script in it
runs).
"""

from __future__ import annotations

import re
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

NGINX_CONF = """
worker_processes 1;
{rlimit}daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log {error_level};
events {{ worker_connections {connections};{multi_accept} }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout {keepalive_timeout};
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port}{backlog};
        location = /nginx_status {{ stub_status; }}
        location / {{ return 200 "ok"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    """``argv`` run on one CPU with taskset (unchanged when ``cpu`` is None)."""
    return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]


def write_nginx_conf(
    folder: Path,
    port: int,
    *,
    connections: int = 1024,
    keepalive_timeout: str = "60s",
    rlimit_nofile: int | None = None,
    backlog: int | None = None,
    multi_accept: bool = False,
    error_level: str = "warn",
) -> Path:
    """nginx.conf in ``folder`` (with its temp dirs): one worker, ``return 200 "ok"`` on ``/``,
    stub_status on ``/nginx_status``, no access log, keep-alive for a million requests."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=folder,
            port=port,
            connections=connections,
            keepalive_timeout=keepalive_timeout,
            rlimit=f"worker_rlimit_nofile {rlimit_nofile};\n" if rlimit_nofile else "",
            backlog=f" backlog={backlog}" if backlog else "",
            multi_accept=" multi_accept on;" if multi_accept else "",
            error_level=error_level,
        )
    )
    return conf


@contextmanager
def nginx_process(
    cpu: int | None = 1, port: int | None = None, **conf: object
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """nginx (see ``write_nginx_conf``) pinned to ``cpu``; yields the process and its port."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed (make system-deps)")
    folder = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    port = port or free_port()
    path = write_nginx_conf(folder, port, **conf)  # type: ignore[arg-type]
    proc = subprocess.Popen(
        pinned(cpu, ["nginx", "-c", str(path), "-p", str(folder)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def nginx(cpu: int | None = 1, **conf: object) -> Iterator[str]:
    """nginx pinned to ``cpu`` (see ``write_nginx_conf``); yields its base URL."""
    with nginx_process(cpu, **conf) as (_, port):
        yield f"http://127.0.0.1:{port}"


def nginx_status(base_url: str) -> list[str]:
    """The lines of nginx's stub_status page (this request counts in them)."""
    with urllib.request.urlopen(base_url + "/nginx_status", timeout=5) as resp:
        return str(resp.read().decode()).splitlines()


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float | None  # with --latency only
    p99: str  # as wrk prints it ("1.23ms"), "?" without --latency
    non2xx: int
    socket_errors: int  # connect, read, write and timeout errors together
    output: str


def parse_ms(text: str) -> float:
    """wrk's duration text (``812.00us``, ``1.23ms``, ``2.00s``) in milliseconds."""
    value = float(re.sub(r"[a-z]+$", "", text))
    unit = re.sub(r"^[0-9.]+", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> WrkResult:
    done = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done is None or rps is None:
        raise RuntimeError(f"wrk printed no totals:\n{out}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:.*", out)
    return WrkResult(
        requests=int(done.group(1)),
        rps=float(rps.group(1)),
        p50_ms=parse_ms(p50.group(1)) if p50 else None,
        p99=p99.group(1) if p99 else "?",
        non2xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in re.findall(r"\d+", sock.group())) if sock else 0,
        output=out,
    )


def run_wrk(
    url: str,
    *,
    connections: int = 50,
    seconds: float = 5,
    cpu: int | None = 0,
    headers: dict[str, str] | None = None,
    latency: bool = True,
    timeout: float | None = None,
) -> WrkResult:
    """wrk -t1 against ``url`` pinned to ``cpu``; its totals (raises when wrk fails)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    if latency:
        cmd.append("--latency")
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        pinned(cpu, [*cmd, url]), capture_output=True, text=True, check=True, timeout=timeout
    ).stdout
    return parse_wrk(out)


def cpu_s(pid: int) -> float:
    """User+sys CPU seconds of one process so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def children_cpu() -> float:
    """User+sys CPU seconds of every waited-for child process tree (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_rss_mb(proc: psutil.Process) -> float:
    """Resident memory of a process and all its descendants, in MiB (0 once it is gone)."""
    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0.0
    return total / (1024 * 1024)
