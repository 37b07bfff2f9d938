"""How the load engine records latencies: the alternatives measured side by side.

Per request a worker must keep one latency. Measured here on the same 300k synthetic latencies
(µs, spread like a loopback run with a tail), best-of-3 CPU per recorded value including the once-per-
second fold into an HdrHistogram:

- ``record_value`` per request (the hdrhistogram package, pure Python);
- append an int to a list, fold with ``collections.Counter`` + ``record_value(v, count)``
  (what ``battletest.load.histogram.fold`` does);
- a dict bucket counter per request, folded the same way.

Exits 1 if the engine's choice is not within 25 % of the cheapest, or a histogram differs.
The list wins in the hot path too: one bound ``append`` call, against ``get`` + a store.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from battletest.load import histogram

N = 300_000
PER_SECOND = 50_000  # values per snapshot
REPEATS = 3  # best of, to see through a noisy machine


def values() -> list[int]:
    rng = random.Random(7)
    return [int(rng.lognormvariate(6.5, 0.6)) + (rng.random() < 0.01) * 50_000 for _ in range(N)]


def per_request(vals: list[int]) -> tuple[float, object]:
    hist = histogram.new_histogram()
    t = time.process_time()
    for v in vals:
        hist.record_value(v)
    return time.process_time() - t, hist


def list_fold(vals: list[int]) -> tuple[float, object]:
    hist = histogram.new_histogram()
    t = time.process_time()
    for start in range(0, N, PER_SECOND):
        buf: list[int] = []
        append = buf.append
        for v in vals[start : start + PER_SECOND]:
            append(v)
        histogram.fold(buf, into=hist)
    return time.process_time() - t, hist


def dict_fold(vals: list[int]) -> tuple[float, object]:
    hist = histogram.new_histogram()
    t = time.process_time()
    for start in range(0, N, PER_SECOND):
        buckets: dict[int, int] = {}
        get = buckets.get
        for v in vals[start : start + PER_SECOND]:
            buckets[v] = get(v, 0) + 1
        for v, c in buckets.items():
            hist.record_value(v, c)
    return time.process_time() - t, hist


def main() -> int:
    vals = values()
    rows = []
    for name, fn in (
        ("record_value per request", per_request),
        ("list append + Counter fold (used)", list_fold),
        ("dict counter + fold", dict_fold),
    ):
        runs = [fn(vals) for _ in range(REPEATS)]
        rows.append((name, min(r[0] for r in runs), runs[0][1]))
    print(f"{'method':<36}{'µs/value':>10}{'p99 µs':>10}")
    for name, cpu, hist in rows:
        print(f"{name:<36}{cpu * 1e6 / N:>10.3f}{hist.get_value_at_percentile(99):>10}")  # type: ignore[attr-defined]
    used = rows[1][1]
    cheapest = min(r[1] for r in rows)
    same = all(
        r[2].get_value_at_percentile(q) == rows[0][2].get_value_at_percentile(q)  # type: ignore[attr-defined]
        for r in rows
        for q in (50, 99, 99.9)
    )
    print(f"record_value / used: {rows[0][1] / used:.1f}x; identical percentiles: {same}")
    return 0 if same and used <= cheapest * 1.25 else 1


if __name__ == "__main__":
    sys.exit(main())
