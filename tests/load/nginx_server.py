"""A real nginx on a free loopback port for the distributed load tests (one worker, no
access log, keep-alive for a million requests, ``stub_status`` for nginx's own count)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from battletest.netutil import free_port, wait_for_port

CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log crit;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /nginx_status {{ stub_status; }}
        location = /slow {{ return 200 "ok"; }}
        location / {{ return 200 "ok"; }}
    }}
}}
"""


@contextmanager
def nginx() -> Iterator[str]:
    """Start nginx on loopback; yield its base URL."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed (make system-deps)")
    folder = Path(tempfile.mkdtemp(prefix="bt-nginx-"))
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(CONF.format(dir=folder, port=port), encoding="utf-8")
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def handled(base_url: str) -> int:
    """Requests nginx has handled so far (``stub_status``; this request included)."""
    with urllib.request.urlopen(f"{base_url}/nginx_status", timeout=10) as resp:
        lines = resp.read().decode().splitlines()
    return int(lines[2].split()[2])
