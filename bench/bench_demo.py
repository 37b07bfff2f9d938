"""Requests/s of the demo's `GET /v1/reservations/{id}` with one uvicorn worker, measured by wrk.

The authenticated reservation lookup (JWT verification, revocation and user lookup in SQLite,
RBAC and tenant checks, the PMS connector's cache, problem-free JSON) is the reference figure for
later load work. Beside it, in the same run and on the same process: wrk against the trivial
`/health`, so the ratio shows what the real operation costs on top of the framework floor.
wrk is pinned to CPU 0 and the app process to CPU 1 (when the machine has two cores).
Exits non-zero when wrk is missing or a run got non-2xx answers (socket timeouts on a loaded
machine are shown, not fatal).
"""

from __future__ import annotations

import os
import re
import shutil
import sys

import httpx
import psutil
from _harness import cpu_s, run_wrk

from battletest.demo import start

DURATION_S = int(os.environ.get("BENCH_DEMO_SECONDS", "8"))
CONNECTIONS = 50


def wrk(
    url: str, headers: dict[str, str], app: psutil.Process
) -> tuple[float, str, int, int, float]:
    """(req/s, p99, non-2xx, socket errors incl. timeouts, app CPU-µs per request) of one run.

    The app's CPU per request (user+sys of the app process over the run, divided by the
    requests wrk completed) holds up much better than req/s on a busy shared machine.
    """
    before = cpu_s(app.pid)
    result = run_wrk(
        url,
        connections=CONNECTIONS,
        seconds=DURATION_S,
        headers=headers,
        cpu=0 if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else None,
    )
    used = cpu_s(app.pid) - before
    per_request = used * 1e6 / max(result.requests, 1)
    return result.rps, result.p99, result.non2xx, result.socket_errors, per_request


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): the peer did not run")
        return 1
    with start(rate_limit=False) as demo:
        if (os.cpu_count() or 1) >= 2:
            os.sched_setaffinity(demo.pids["app"], {1})
        admin = demo.identity("admin")
        token = httpx.post(
            demo.base_url + "/v1/auth/login",
            json={"username": admin.username, "password": admin.password},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        url = demo.base_url + "/v1/reservations/r-1001"
        assert httpx.get(url, headers=auth).status_code == 200
        app = psutil.Process(demo.pids["app"])
        rows = [
            ("GET /health (no auth)", *wrk(demo.base_url + "/health", {}, app)),
            ("GET /v1/reservations/{id}", *wrk(url, auth, app)),
        ]
        stats = httpx.get(demo.base_url + "/metrics").text
    load = os.getloadavg()[0]
    print(
        f"demo app, 1 uvicorn worker, wrk -t1 -c{CONNECTIONS} -d{DURATION_S}s "
        f"(1-min load average {load:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"{'operation':<28}{'req/s':>8}{'p99':>10}{'app CPU-µs/req':>16}{'non-2xx':>9}{'sock err':>9}"
    )
    for name, rps, p99, bad, sock_errors, cpu_us in rows:
        print(f"{name:<28}{rps:>8.0f}{p99:>10}{cpu_us:>16.0f}{bad:>9}{sock_errors:>9}")
    pms = re.search(r'concierge_pms_calls_total\{kind="attempts"\} (\d+)', stats)
    print(
        f"reservation lookup / health: {rows[1][1] / rows[0][1]:.2f}x req/s, "
        f"{rows[1][5] / rows[0][5]:.2f}x app CPU per request "
        f"(PMS attempts during the run: {pms.group(1) if pms else '?'}, cache TTL 5 s)"
    )
    return 1 if any(r[3] for r in rows) or any(r[1] <= 0 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
