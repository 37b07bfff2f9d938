"""Record per-second latency series of a real loopback target for bench_regression.py.

Each recording is one run of battletest's own load engine (constant-arrival-rate, one worker)
against nginx from Debian (``return 200 "ok"``, one worker process, see ``_harness.py``) on
127.0.0.1, with two endpoints of equal weight (``/a`` and ``/b``) so that per-endpoint
per-second samples exist too. Every second keeps, for the whole run and for each endpoint:
``t`` (end of the interval, seconds since start), ``span`` (the interval's real length),
``rps``, ``p50``, ``p95``, ``p99`` (ms), ``requests`` and ``errors``; each endpoint's second also
keeps ``hist``, its latency histogram (µs, HdrHistogram-encoded), so that a run-level percentile
can be taken from merged histograms (the whole run's second is the merge of its endpoints').

Conditions:

* ``shared``: the machine as it is: 2 cores shared with other engineers' builds and tests,
  not quiet and not controlled; the load average at start and end is saved with the series.
* ``hog``: the same, plus ``--hogs`` busy-loop processes (``while True: pass``; default one per
  core) that this script starts before the recordings and kills after them.

``--parallel N`` records N series at the same time (each its own nginx and load run, in its own
process), so that every pair of them saw the machine in the same state at the same moments.

    python bench/record_series.py --condition shared --minutes 10 --parallel 4 --out 'bench/data/shared-{i}.json.gz'
    python bench/record_series.py --condition hog --minutes 10 --parallel 4 --out 'bench/data/hog-{i}.json.gz'

The series in ``bench/data/`` were recorded with exactly these commands (see
``bench/data/README.md``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import nginx  # noqa: E402

from battletest.load.coordinator import run  # noqa: E402
from battletest.load.executors import ExecutorSpec  # noqa: E402
from battletest.load.scenario import Endpoint  # noqa: E402

ENDPOINTS = ("/a", "/b")


def _rows(samples: list[Any], keep_hist: bool) -> list[dict[str, Any]]:
    keys = ("t", "span", "rps", "p50", "p95", "p99", "requests", "errors")
    return [
        {**{k: getattr(s, k) for k in keys}, **({"hist": s.hist} if keep_hist else {})}
        for s in samples
    ]


def _hog() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def record(condition: str, seconds: float, rate: float, hogs: int = 0) -> dict[str, Any]:
    started_hogs = [_hog() for _ in range(hogs)]
    load_before = os.getloadavg()
    try:
        with nginx(cpu=None) as url:
            started = datetime.now(UTC)
            result = run(
                url,
                executor=ExecutorSpec(kind="constant-arrival-rate", rate=rate, duration=seconds),
                endpoints=[Endpoint(path=p, name=p) for p in ENDPOINTS],
                workers=1,
                timeout=5.0,
            )
    finally:
        for hog in started_hogs:
            hog.kill()
            hog.wait()
    # the whole run's second is the merge of its endpoints' (same interval): not stored twice
    total = _rows(result.series, keep_hist=False)
    per_endpoint = {k: _rows(v, keep_hist=True) for k, v in result.endpoint_series.items()}
    return {
        "meta": {
            "condition": condition,
            "target": "nginx (Debian) return 200 on 127.0.0.1, 1 worker process",
            "nginx": subprocess.run(
                ["nginx", "-v"], capture_output=True, text=True, check=False
            ).stderr.strip(),
            "executor": "constant-arrival-rate",
            "rate": rate,
            "duration_s": seconds,
            "workers": 1,
            "endpoints": list(ENDPOINTS),
            "started_at": started.isoformat(),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load_before],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "requests": result.requests,
            "failed": result.failed,
            "dropped_iterations": result.dropped_iterations,
            "p95_ms": result.latency_ms.p95,
        },
        "series": total,
        "endpoint_series": per_endpoint,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--condition", choices=["shared", "hog"], required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument(
        "--hogs", type=int, default=None, help="busy loops beside a hog recording (default: cores)"
    )
    parser.add_argument("--parallel", type=int, default=1, help="recordings at the same time")
    parser.add_argument("--out", required=True, help="file; with --parallel, '{i}' is 1..N")
    parser.add_argument("--note", default="", help="saved in the meta (how it was recorded)")
    args = parser.parse_args(argv)
    hogs = (os.cpu_count() or 1) if args.hogs is None else args.hogs
    if args.condition != "hog":
        hogs = 0
    if args.parallel > 1:
        return _parallel(args, hogs)
    data = record(args.condition, args.minutes * 60, args.rate, hogs)
    data["meta"]["note"] = args.note or (f"{hogs} busy loops" if hogs else "")
    _write(Path(args.out), data)
    return 0


def _parallel(args: argparse.Namespace, hogs: int) -> int:
    """N recordings in N processes at once, beside ``hogs`` busy loops started here."""
    started_hogs = [_hog() for _ in range(hogs)]
    try:
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--condition",
                    args.condition,
                    "--hogs",
                    "0",
                    "--minutes",
                    str(args.minutes),
                    "--rate",
                    str(args.rate),
                    "--out",
                    args.out.format(i=i),
                    "--note",
                    f"{hogs} busy loops beside {args.parallel} recordings at once",
                ]
            )
            for i in range(1, args.parallel + 1)
        ]
        codes = [child.wait() for child in children]
    finally:
        for hog in started_hogs:
            hog.kill()
            hog.wait()
    return max(codes)


def _write(out: Path, data: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"))
    meta = data["meta"]
    print(
        f"{out}: {len(data['series'])} seconds, {meta['requests']} requests, "
        f"{meta['failed']} failed, {meta['dropped_iterations']} dropped, p95 {meta['p95_ms']} ms, "
        f"load {meta['loadavg_start']} → {meta['loadavg_end']}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
