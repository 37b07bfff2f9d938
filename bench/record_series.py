"""Record per-second latency series of a real loopback target for bench_regression.py.

Each recording is one run of battletest's own load engine (constant-arrival-rate, one worker)
against nginx from Debian (``return 200 "ok"``, one worker process, see ``_harness.py``) on
127.0.0.1, with two endpoints of equal weight (``/a`` and ``/b``) so that per-endpoint
per-second samples exist too. Every second keeps, for the whole run and for each endpoint:
``t`` (end of the interval, seconds since start), ``span`` (the interval's real length),
``rps``, ``p50``, ``p95``, ``p99`` (ms), ``requests`` and ``errors``.

Conditions:

* ``shared``: the machine as it is: 2 cores shared with other engineers' builds and tests,
  not quiet and not controlled; the load average at start and end is saved with the series.
* ``hog``: the same, plus one busy-loop process (``while True: pass``) that this script starts
  before the run and kills after it.

    python bench/record_series.py --condition shared --minutes 10 --out bench/data/shared-1.json.gz
    python bench/record_series.py --condition hog --minutes 10 --out bench/data/hog-1.json.gz

The series in ``bench/data/`` were recorded with exactly these commands (two recordings of
the same condition ran at the same time, each with its own nginx; see ``bench/data/README.md``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import nginx  # noqa: E402

from battletest.load import histogram  # noqa: E402
from battletest.load.coordinator import run  # noqa: E402
from battletest.load.executors import ExecutorSpec  # noqa: E402
from battletest.load.result import Aggregator  # noqa: E402
from battletest.load.scenario import Endpoint  # noqa: E402

ENDPOINTS = ("/a", "/b")


class _PerEndpointSeconds:
    """Per-endpoint per-second histograms taken from the worker snapshots as they arrive.

    Used only when the engine's ``LoadResult`` has no ``endpoint_series`` of its own; with one
    worker the snapshot number is the second, so keying by it is keying by time.
    """

    def __init__(self) -> None:
        self.seconds: dict[int, dict[str, Any]] = defaultdict(dict)
        self.elapsed: dict[int, float] = {}
        original = Aggregator.add

        def add(agg: Aggregator, snap: dict[str, Any]) -> None:
            original(agg, snap)
            k = int(snap["seq"])
            self.elapsed[k] = max(self.elapsed.get(k, 0.0), float(snap["elapsed"]))
            for name, ep in zip(agg.names, snap["endpoints"], strict=True):
                cell = self.seconds[k].setdefault(
                    name, {"hist": histogram.new_histogram(), "requests": 0, "errors": 0}
                )
                cell["requests"] += ep["responses"] + ep["lost"]
                cell["errors"] += ep["failed"]
                if ep["hist"]:
                    histogram.merge(cell["hist"], ep["hist"])

        Aggregator.add = add  # type: ignore[method-assign]

    def series(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in ENDPOINTS}
        prev = 0.0
        for k in sorted(self.seconds):
            end = self.elapsed[k]
            span = max(end - prev, 1e-6)
            prev = end
            for name in ENDPOINTS:
                cell = self.seconds[k].get(name)
                if cell is None:
                    continue
                pct = histogram.percentiles_ms(cell["hist"], [50.0, 95.0, 99.0])
                out[name].append(
                    {
                        "t": round(end, 3),
                        "span": round(span, 3),
                        "rps": round(cell["requests"] / span, 1),
                        "p50": round(pct[50.0], 3),
                        "p95": round(pct[95.0], 3),
                        "p99": round(pct[99.0], 3),
                        "requests": cell["requests"],
                        "errors": cell["errors"],
                    }
                )
        return out


def _total_series(series: list[Any]) -> list[dict[str, Any]]:
    rows = []
    prev = 0.0
    for s in series:
        span = getattr(s, "span", None) or max(s.t - prev, 1e-6)
        prev = s.t
        rows.append(
            {
                "t": s.t,
                "span": round(span, 3),
                "rps": s.rps,
                "p50": s.p50,
                "p95": s.p95,
                "p99": s.p99,
                "errors": s.errors,
            }
        )
    return rows


def _hog() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def record(condition: str, seconds: float, rate: float) -> dict[str, Any]:
    tap = _PerEndpointSeconds()
    hog = _hog() if condition == "hog" else None
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
        if hog is not None:
            hog.kill()
            hog.wait()
    engine_eps = getattr(result, "endpoint_series", None)
    per_endpoint = (
        {name: _total_series(rows) for name, rows in engine_eps.items()}
        if engine_eps
        else tap.series()
    )
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
        "series": _total_series(result.series),
        "endpoint_series": per_endpoint,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--condition", choices=["shared", "hog"], required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    data = record(args.condition, args.minutes * 60, args.rate)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"))
    meta = data["meta"]
    print(
        f"{args.out}: {len(data['series'])} seconds, {meta['requests']} requests, "
        f"{meta['failed']} failed, {meta['dropped_iterations']} dropped, p95 {meta['p95_ms']} ms, "
        f"load {meta['loadavg_start']} → {meta['loadavg_end']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
