"""Fault proxy throughput and toxic accuracy, side by side with haproxy and a direct path.

wrk (c=50, 1 thread) pinned to CPU 0 → [battletest proxy | haproxy 'mode tcp' nbthread 1 |
nothing] → nginx (1 worker, ``return 200``), the proxy and nginx sharing CPU 1 (taskset). For each
path: req/s, proxy CPU µs per request (user+sys of the proxy process from psutil, divided by
wrk's request count) and p50; added p50 is against the direct path. Rounds alternate the paths
and the median is kept, so machine noise hits every path alike.

Then a 10 ms ``latency`` toxic through battletest's proxy: added p50 (toxic on vs off, same
connection count) at 1 and 50 connections.

Goals (exit 1 when missed, exit 2 when a peer or tool did not run): battletest ≥ 80% of
haproxy's req/s; the 10 ms toxic adds 10 ± 1 ms at c=1 and 10 ± 2 ms at c=50.

    python bench/bench_proxy.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from _harness import WrkResult, cpu_s, free_port, pinned, run_wrk, wait_port, write_nginx_conf

BIN = Path(sys.executable).parent
THROUGHPUT_GOAL = 0.80
TOXIC_MS = 10.0


HAPROXY_CONF = """
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend bench
    bind 127.0.0.1:{port}
    default_backend nginx
backend nginx
    server n1 127.0.0.1:{upstream}
"""


def wrk(port: int, connections: int, seconds: int) -> WrkResult:
    result = run_wrk(
        f"http://127.0.0.1:{port}/",
        connections=connections,
        seconds=seconds,
        timeout=seconds + 30,
    )
    if result.non2xx or result.socket_errors:
        raise RuntimeError(f"wrk saw errors through port {port}:\n{result.output}")
    return result


def wrk_p50(port: int, connections: int, seconds: int) -> float:
    return wrk(port, connections, seconds).p50_ms or 0.0


def measure(port: int, pid: int | None, connections: int, seconds: int) -> tuple[WrkResult, float]:
    before = cpu_s(pid) if pid else 0.0
    result = wrk(port, connections, seconds)
    used = (cpu_s(pid) - before) if pid else 0.0
    return result, used * 1e6 / max(result.requests, 1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    missing = [tool for tool in ("nginx", "haproxy", "wrk", "taskset") if not shutil.which(tool)]
    if missing:
        print(f"peer or tool missing: {', '.join(missing)} (make system-deps installs them)")
        return 2
    if (os.cpu_count() or 1) < 2:
        print("needs 2 CPUs (wrk on CPU 0, proxy and nginx on CPU 1)")
        return 2

    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        try:
            nginx_port, haproxy_port, ours_port, api_port = (free_port() for _ in range(4))
            conf = write_nginx_conf(Path(tmp), nginx_port)
            Path(tmp, "haproxy.cfg").write_text(
                HAPROXY_CONF.format(port=haproxy_port, upstream=nginx_port)
            )
            Path(tmp, "proxies.json").write_text(
                json.dumps(
                    [
                        {
                            "name": "bench",
                            "listen": f"127.0.0.1:{ours_port}",
                            "upstream": f"127.0.0.1:{nginx_port}",
                        }
                    ]
                )
            )
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            procs.append(
                subprocess.Popen(pinned(1, ["nginx", "-p", tmp, "-c", str(conf)]), **quiet)
            )
            procs.append(
                subprocess.Popen(pinned(1, ["haproxy", "-db", "-f", f"{tmp}/haproxy.cfg"]), **quiet)
            )
            ours = subprocess.Popen(
                pinned(
                    1,
                    [
                        str(BIN / "battletest"),
                        "proxy",
                        "--api",
                        f"127.0.0.1:{api_port}",
                        "--config",
                        f"{tmp}/proxies.json",
                    ],
                ),
                **quiet,
            )
            procs.append(ours)
            for port in (nginx_port, haproxy_port, ours_port, api_port):
                wait_port(port)
            haproxy_pid = procs[1].pid
            api = f"http://127.0.0.1:{api_port}"

            paths = {
                "direct": (nginx_port, None),
                "haproxy 2.x mode tcp, 1 thread": (haproxy_port, haproxy_pid),
                "battletest proxy (uvloop)": (ours_port, ours.pid),
            }
            for port, _ in paths.values():
                wrk(port, 50, 1)  # warm up
            runs: dict[str, list[tuple[WrkResult, float]]] = {name: [] for name in paths}
            for _ in range(args.rounds):
                for name, (port, pid) in paths.items():
                    runs[name].append(measure(port, pid, 50, args.seconds))

            def med(name: str) -> tuple[float, float, float]:
                rs = runs[name]
                return (
                    statistics.median(r.rps for r, _ in rs),
                    statistics.median(c for _, c in rs),
                    statistics.median(r.p50_ms or 0.0 for r, _ in rs),
                )

            direct_p50 = med("direct")[2]
            print(
                f"\nwrk -t1 -c50 -d{args.seconds}s on CPU 0; proxy + nginx on CPU 1; "
                f"median of {args.rounds} rounds"
            )
            print(
                f"{'path':<34}{'req/s':>10}{'proxy CPU-us/req':>18}{'p50 ms':>9}{'added p50':>11}"
            )
            for name in paths:
                rps, cpu, p50 = med(name)
                cpu_text = "-" if name == "direct" else f"{cpu:.1f}"
                added = "-" if name == "direct" else f"{p50 - direct_p50:+.2f} ms"
                print(f"{name:<34}{rps:>10.0f}{cpu_text:>18}{p50:>9.2f}{added:>11}")
            ratio = med("battletest proxy (uvloop)")[0] / med("haproxy 2.x mode tcp, 1 thread")[0]
            print(f"battletest / haproxy req/s: {ratio:.2f} (goal >= {THROUGHPUT_GOAL:.2f})")

            # 10 ms latency toxic accuracy.
            with httpx.Client(base_url=api, timeout=10) as client:
                print(f"\n{TOXIC_MS:.0f} ms latency toxic, battletest proxy, added p50 (on - off)")
                print(f"{'connections':<14}{'p50 off':>9}{'p50 on':>9}{'added':>9}{'goal':>12}")
                toxic_ok = True
                for connections, tolerance in ((1, 1.0), (50, 2.0)):
                    offs, ons = [], []
                    for _ in range(args.rounds):
                        offs.append(wrk_p50(ours_port, connections, args.seconds))
                        client.post(
                            "/proxies/bench/toxics",
                            json={"type": "latency", "attributes": {"latency": int(TOXIC_MS)}},
                        ).raise_for_status()
                        ons.append(wrk_p50(ours_port, connections, args.seconds))
                        client.delete("/proxies/bench/toxics/latency_downstream")
                    off, on = statistics.median(offs), statistics.median(ons)
                    added = on - off
                    ok = abs(added - TOXIC_MS) <= tolerance
                    toxic_ok &= ok
                    goal = f"{TOXIC_MS:.0f}±{tolerance:.0f} {'ok' if ok else 'MISSED'}"
                    print(f"{connections:<14}{off:>9.2f}{on:>9.2f}{added:>9.2f}{goal:>12}")
                toxic = client.post(
                    "/proxies/bench/toxics", json={"type": "packet_loss", "toxicity": 0.0}
                ).json()
                print(f"\npacket loss / blackhole run on: {toxic['implementation']}")
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    met = ratio >= THROUGHPUT_GOAL and toxic_ok
    print("\ngoals met" if met else "\ngoal MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
