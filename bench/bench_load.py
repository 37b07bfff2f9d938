"""Load generator cost and correctness, battletest beside wrk and Locust in one run.

1. Client CPU per request: nginx (`return 200 "ok"`, one worker) pinned to CPU 1, each
   generator pinned to CPU 0, 50 keep-alive connections, ``--duration`` (default 10 s). CPU is
   user+sys of the generator's whole process tree (start-up included), requests are counted by
   nginx's stub_status. Goals: battletest ≤ 2× wrk, and ≥ 10× less than Locust FastHttpUser.
2. Coordinated omission: a target frozen 0.5 s every 5 s, 200 req/s for ``--co-duration``
   (default 15 s). Goals: battletest p95 and p99 within 10 % of ≈250 ms and ≈450 ms, every
   intended request sent (zero dropped). Locust FastHttpUser (10 and 50 users at 200/s) beside.

Exits 1 when a peer did not run or a goal was missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load_peers as peers  # noqa: E402
from _harness import free_port  # noqa: E402

BATTLETEST = str(Path(sys.executable).parent / "battletest")


def cpu_table(duration: int, locust: bool) -> bool:
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    rows: list[peers.Measured] = []
    with peers.nginx(cpu=1) as url:
        pin = ["taskset", "-c", "0"]
        rows.append(
            peers.measure(
                "wrk 4.1 (C)",
                [*pin, "wrk", "-t1", "-c50", f"-d{duration}s", url + "/"],
                url,
                duration + 30,
            )
        )
        rows.append(
            peers.measure(
                "battletest load",
                [
                    *pin,
                    BATTLETEST,
                    "load",
                    "--target",
                    url,
                    "--vus",
                    "50",
                    "--duration",
                    f"{duration}s",
                    "--json",
                    str(work / "bt.json"),
                ],
                url,
                duration + 60,
            )
        )
        scenario = work / "one_step.toml"
        scenario.write_text('[[requests]]\nname = "root"\npath = "/"\nexpect = [200]\n')
        rows.append(
            peers.measure(
                "battletest-scenario (TOML)",
                [
                    *pin,
                    BATTLETEST,
                    "load",
                    "--target",
                    url,
                    "--scenario",
                    str(scenario),
                    "--vus",
                    "50",
                    "--duration",
                    f"{duration}s",
                ],
                url,
                duration + 60,
            )
        )
        if locust:
            rows.append(
                peers.measure(
                    "Locust 2.47 FastHttpUser",
                    [*pin, *peers.locust_cmd(work, url, 50, f"{duration}s", None)],
                    url,
                    duration + 60,
                )
            )
    print(
        f"\nclient CPU per request — nginx on CPU 1, generator on CPU 0, 50 connections, "
        f"{duration} s"
    )
    peers.print_rows(rows)
    by = {r.name.split()[0]: r for r in rows}
    ok = all(r.ran for r in rows)
    if (work / "bt.json").exists():
        own = json.loads((work / "bt.json").read_text())
        print(
            f"battletest's own count {own['requests']} requests, p50 "
            f"{own['latency_ms']['p50']:.2f} ms, p99 {own['latency_ms']['p99']:.2f} ms "
            f"(latency recording on)"
        )
    bt, wrk = by.get("battletest"), by.get("wrk")
    if bt and wrk and bt.ran and wrk.ran:
        ratio = bt.cpu_us_per_request / wrk.cpu_us_per_request
        print(f"battletest / wrk: {ratio:.2f}x (goal ≤ 2x)")
        ok &= ratio <= 2.0
    loc = by.get("Locust")
    if locust and bt and loc and bt.ran and loc.ran:
        ratio = loc.cpu_us_per_request / bt.cpu_us_per_request
        print(f"Locust / battletest: {ratio:.1f}x (goal ≥ 10x)")
        ok &= ratio >= 10.0
    scn = by.get("battletest-scenario")
    if locust and scn and loc and scn.ran and loc.ran:
        ratio = loc.cpu_us_per_request / scn.cpu_us_per_request
        print(f"Locust / battletest scenario VUs (coroutine per request): {ratio:.1f}x")
    return ok


def co_table(duration: int, locust: bool) -> bool:
    work = Path(tempfile.mkdtemp(prefix="bench-co-"))
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(HERE / "load_frozen_target.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    rows: list[tuple[str, int, float, float, int, bool]] = []
    intended = 200 * duration
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}"
        out = work / "bt.json"
        proc = subprocess.run(
            [
                "taskset",
                "-c",
                "0",
                BATTLETEST,
                "load",
                "--target",
                url,
                "--rate",
                "200",
                "--duration",
                f"{duration}s",
                "--json",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
        )
        if out.exists():
            r = json.loads(out.read_text())
            rows.append(
                (
                    "battletest --rate 200 (open)",
                    r["requests"],
                    r["latency_ms"]["p95"],
                    r["latency_ms"]["p99"],
                    r["dropped_iterations"],
                    True,
                )
            )
        else:
            rows.append(("battletest --rate 200 (open)", 0, 0, 0, 0, False))
            print(proc.stderr)
        if locust:
            for users in (10, 50):
                prefix = work / f"locust{users}"
                cmd = peers.locust_cmd(work, url, users, f"{duration}s", 200 / users, prefix)
                ran = (
                    subprocess.run(
                        ["taskset", "-c", "0", *cmd],
                        capture_output=True,
                        text=True,
                        timeout=duration + 60,
                    ).returncode
                    == 0
                )
                try:
                    agg = peers.locust_aggregate(prefix)
                    rows.append(
                        (
                            f"Locust FastHttpUser, {users} users",
                            int(agg["Request Count"]),
                            float(agg["95%"]),
                            float(agg["99%"]),
                            intended - int(agg["Request Count"]),
                            ran,
                        )
                    )
                except (OSError, RuntimeError, KeyError, ValueError):
                    rows.append((f"Locust FastHttpUser, {users} users", 0, 0, 0, 0, False))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"\ncoordinated omission — target frozen 0.5 s every 5 s, 200 req/s for {duration} s "
        f"(truth: p95 ≈ 250 ms, p99 ≈ 450 ms)"
    )
    print(
        f"{'generator':<34}{'sent':>8}{'/':>2}{intended:<6}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'not sent':>10}"
    )
    for name, sent, p95, p99, missing, ran in rows:
        status = "" if ran else "  DID NOT RUN"
        print(f"{name:<34}{sent:>8}{'':>8}{p95:>9.1f}{p99:>9.1f}{missing:>10}{status}")
    ok = all(row[5] for row in rows)
    name, sent, p95, p99, dropped, ran = rows[0]
    goal = (
        ran and dropped == 0 and sent == intended and abs(p95 - 250) <= 25 and abs(p99 - 450) <= 45
    )
    print(
        f"battletest: p95 {p95:.1f} ms (goal 225–275), p99 {p99:.1f} ms (goal 405–495), "
        f"dropped {dropped} (goal 0): {'met' if goal else 'MISSED'}"
    )
    return ok and goal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per CPU measurement")
    parser.add_argument("--co-duration", type=int, default=15, help="seconds per CO run")
    parser.add_argument("--skip-co", action="store_true")
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    if not (peers.PEERS / "locust").exists():
        print("Locust is missing: run `make .venv-peers/.installed`")
        return 1
    if not {0, 1} <= peers.cpu_list():
        print("needs CPUs 0 and 1")
        return 1
    ok = True
    if not args.skip_cpu:
        ok &= cpu_table(args.duration, locust=True)
    if not args.skip_co:
        ok &= co_table(args.co_duration, locust=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
