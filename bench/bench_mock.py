"""Mock server throughput, side by side with the mock teams hand-write: Starlette on uvicorn.

A dependency mock sits on the load path of every chaos experiment, so it must not be what
saturates first. wrk (c=50, 1 thread) pinned to CPU 0 → the server pinned to CPU 1 (taskset):

* ``battletest mock serve`` (raw asyncio HTTP/1.1 + httptools on uvloop, stub matching, journal)
* the peer: a Starlette app under uvicorn (httptools, uvloop, no access log) returning the same
  bodies — what a team writes when it hand-rolls a mock with FastAPI/Starlette

Two routes: a static JSON stub (``/health``) and a templated one that echoes a path parameter
and a header (``/reservations/{id}``). Rounds alternate the servers; medians are kept. Server
CPU µs per request comes from psutil (user+sys of the server process over the wrk run).

Goal (exit 1 when missed, exit 2 when a peer or tool did not run): battletest's mock serves at
least 90% of the peer's req/s on both routes, while journaling every request.

    python bench/bench_mock.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import cpu_s, free_port, pinned, run_wrk, wait_port

GOAL = 0.90
RESERVATION = {"id": "r-1001", "guest": "Ada Lovelace", "room": "301", "status": "confirmed"}

PEER_APP = """
import json, sys
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

RES = json.loads(sys.argv[2])

async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})

async def reservation(request: Request) -> JSONResponse:
    return JSONResponse({**RES, "id": request.path_params["rid"],
                         "cid": request.headers.get("x-correlation-id", "")})

app = Starlette(routes=[Route("/health", health), Route("/reservations/{rid}", reservation)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, http="httptools", loop="uvloop")
"""


def stub_file(folder: Path) -> Path:
    stubs = {
        "stubs": [
            {"method": "GET", "path": "/health", "response": {"json": {"status": "ok"}}},
            {
                "method": "GET",
                "path": "/reservations/{id}",
                "response": {
                    "json": {
                        **RESERVATION,
                        "id": "{{ request.path_params.id }}",
                        "cid": "{{ request.headers['x-correlation-id'] }}",
                    }
                },
            },
        ]
    }
    path = folder / "stubs.json"
    path.write_text(json.dumps(stubs))
    return path


def start(kind: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if kind == "battletest":
        argv = [sys.executable, "-m", "battletest", "mock", "serve", str(stub_file(folder))]
        argv += ["--port", str(port)]
    else:
        argv = [sys.executable, "-c", PEER_APP, str(port), json.dumps(RESERVATION)]
    proc = subprocess.Popen(pinned(1, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, timeout=20.0)
    return proc, port


def wrk(port: int, path: str, seconds: float) -> float:
    result = run_wrk(
        f"http://127.0.0.1:{port}{path}",
        seconds=seconds,
        headers={"x-correlation-id": "bench-1"},
        latency=False,
    )
    if result.non2xx:
        raise RuntimeError(f"wrk failed or got errors:\n{result.output}")
    return result.rps


def measure(kind: str, path: str, seconds: float, folder: Path) -> tuple[float, float]:
    proc, port = start(kind, folder)
    try:
        wrk(port, path, 1)  # warm up
        cpu0 = cpu_s(proc.pid)
        rps = wrk(port, path, seconds)
        cpu_us = (cpu_s(proc.pid) - cpu0) * 1e6 / (rps * seconds)
        return rps, cpu_us
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make system-deps)")
            return 2
    routes = {"static JSON": "/health", "templated": "/reservations/r-42"}
    kinds = ("battletest", "starlette+uvicorn")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for _ in range(args.rounds):
                for route, path in routes.items():
                    for kind in kinds:
                        results.setdefault((route, kind), []).append(
                            measure(kind, path, args.seconds, Path(tmp))
                        )
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"a server or wrk did not run: {exc}")
            return 2
    print(f"wrk -t1 -c50 {args.seconds:g}s x {args.rounds} rounds (medians), server on CPU 1")
    print(f"{'route':<12} {'server':<18} {'req/s':>9} {'server CPU-µs/req':>18}")
    ok = True
    for route in routes:
        rps = {k: statistics.median(r for r, _ in results[(route, k)]) for k in kinds}
        for kind in kinds:
            cpu = statistics.median(c for _, c in results[(route, kind)])
            print(f"{route:<12} {kind:<18} {rps[kind]:>9.0f} {cpu:>18.1f}")
        ratio = rps["battletest"] / rps["starlette+uvicorn"]
        print(f"{route:<12} ratio battletest / peer = {ratio:.2f} (goal ≥ {GOAL:.2f})")
        ok = ok and ratio >= GOAL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
