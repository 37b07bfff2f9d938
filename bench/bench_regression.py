"""Regression detection: false alarms and power, the old test beside the new one, in one run.

Analysis only (a few minutes); the data are the per-second series in ``bench/data/`` that
``bench/record_series.py`` recorded (battletest's own load engine, 200 req/s constant arrival
rate, nginx on loopback, two endpoints; 10 minutes each, in the machine's shared condition and
beside busy-loop CPU hogs). Both methods go through ``battletest.perf.compare.compare`` exactly as
``battletest baseline compare`` does — thresholds AND significance, every endpoint row, the
default alpha 0.01:

* ``old``: ``method="mann-whitney"`` — the detector before issue 17 (one Mann-Whitney U test per
  metric over the run's seconds as independent samples, reused for every endpoint, no
  adjustment);
* ``new``: ``method="block"`` (the default) — blocks of seconds as the unit of evidence, each
  endpoint on its own samples, Holm-adjusted (``perf.stats``).

1. **A/A false alarms on real series.** A "run" is a window of W seconds (W = 30, 60, 120) of a
   recorded series; a pair is two non-overlapping windows of the same condition, as
   *simultaneous* (the same window of the two series that were recorded at the same time, each
   order), *back-to-back* (adjacent windows of one series, earlier as baseline) or *any* (every
   pair of non-overlapping windows of one condition, minutes apart — on a shared machine the load
   from others changes meanwhile). A false alarm is a comparison with any regressed row.
   A window's run-level p50/p95/p99 are the request-weighted means of its per-second values (the
   series keep per-second percentiles, not histograms); its throughput is requests / seconds.
2. **Synthetic AR(1)** per-second series at lag-1 autocorrelation 0.5 and 0.8, 120 s runs, with
   the per-second spread (sd of log p50/p95/p99 and rps) measured in the real 120 s windows of
   each condition: false alarms of the verdict, and of the significance test alone (p95 row).
3. **Power**: the same synthetic runs with the current run's p95 × 1.15, and real back-to-back
   and simultaneous pairs with the current window's p95 × 1.15: the share flagged as a p95
   regression (verdict), and significant on p95 (the test alone). A verdict needs the observed
   change beyond the +15 % threshold too, so at a true +15 % it can be right at most about half the
   time; the test-alone column is the detector's power.

Goals (issue 17): false alarms ≤ 1 % at the default settings; power ≥ 95 % at +15 % p95 in 2-minute
runs. Exits 1 when the new method misses one (the table says which).

    python bench/bench_regression.py [--synthetic 400] [--seed 17]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from battletest.perf.baseline import Baseline, Sample, Stats
from battletest.perf.compare import Method, compare, usable

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
METHODS: tuple[tuple[str, Method], ...] = (("old", "mann-whitney"), ("new", "block"))
WINDOWS = (30, 60, 120)
SHIFT = 1.15
GOAL_FA = 0.01
GOAL_POWER = 0.95


@dataclass
class Series:
    name: str
    condition: str
    started: str
    total: list[Sample]
    endpoints: dict[str, list[Sample]]
    requests: list[float]  # per second, whole run
    ep_requests: dict[str, list[float]]


def _samples(rows: list[dict[str, Any]]) -> tuple[list[Sample], list[float]]:
    samples = [Sample.model_validate(r) for r in rows]
    kept = usable(samples)
    ids = {id(s) for s in kept}
    out = [s for s in samples if id(s) in ids]
    req = [s.rps * (s.span or 1.0) for s in out]
    return out, req


def read_series(folder: Path = DATA) -> list[Series]:
    out = []
    for path in sorted(folder.glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        total, req = _samples(data["series"])
        eps: dict[str, list[Sample]] = {}
        ep_req: dict[str, list[float]] = {}
        for name, rows in data["endpoint_series"].items():
            eps[name], ep_req[name] = _samples(rows)
        n = min([len(total), *(len(v) for v in eps.values())])
        out.append(
            Series(
                path.name.removesuffix(".json.gz"),
                data["meta"]["condition"],
                data["meta"]["started_at"][:16],
                total[:n],
                {k: v[:n] for k, v in eps.items()},
                req[:n],
                {k: v[:n] for k, v in ep_req.items()},
            )
        )
    return out


def _stats(samples: list[Sample], requests: list[float]) -> Stats:
    weight = sum(requests) or 1.0
    seconds = sum(s.span or 1.0 for s in samples) or 1.0

    def mean(metric: str) -> float:
        return sum(getattr(s, metric) * r for s, r in zip(samples, requests, strict=True)) / weight

    return Stats(
        requests=int(sum(requests)),
        rps=sum(requests) / seconds,
        p50=mean("p50"),
        p95=mean("p95"),
        p99=mean("p99"),
    )


def window_baseline(s: Series, start: int, width: int, p95_factor: float = 1.0) -> Baseline:
    """A baseline made of seconds ``start .. start+width`` of a series (p95 scaled if asked)."""

    def cut(samples: list[Sample]) -> list[Sample]:
        part = samples[start : start + width]
        if p95_factor == 1.0:
            return part
        return [x.model_copy(update={"p95": x.p95 * p95_factor}) for x in part]

    total = cut(s.total)
    eps = {k: cut(v) for k, v in s.endpoints.items()}
    stats = {k: _stats(v, s.ep_requests[k][start : start + width]) for k, v in eps.items()}
    return Baseline(
        scenario="bench",
        run_id=f"{s.name}@{start}",
        saved_at="",
        target_id="nginx",
        endpoint_names=sorted(eps),
        shape={"executor": "constant-arrival-rate", "rate": 200.0, "duration": float(width)},
        total=_stats(total, s.requests[start : start + width]),
        endpoints=stats,
        samples=total,
        endpoint_samples=eps,
    )


Pair = tuple[str, int, Series, int, Series, int]  # kind, width, base series, start, cur, start


def aa_pairs(series: list[Series]) -> Iterator[Pair]:
    by_condition: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_condition[s.condition].append(s)
    for width in WINDOWS:
        for group in by_condition.values():
            for s in group:
                starts = list(range(0, len(s.total) - width + 1, width))
                for a, b in itertools.pairwise(starts):
                    yield ("back-to-back", width, s, a, s, b)
            together = defaultdict(list)
            for s in group:
                together[s.started].append(s)
            for twins in together.values():
                for x in twins:
                    for y in twins:
                        if x is y:
                            continue
                        n = min(len(x.total), len(y.total))
                        for a in range(0, n - width + 1, width):
                            yield ("simultaneous", width, x, a, y, a)
            windows = [(s, a) for s in group for a in range(0, len(s.total) - width + 1, width)]
            for i, (x, a) in enumerate(windows):
                for y, b in windows[i + 1 :]:
                    yield ("any", width, x, a, y, b)


def _flagged(base: Baseline, cur: Baseline, method: Method) -> tuple[bool, bool, bool]:
    """(any regressed row, total p95 regressed, total p95 significant worse)."""
    result = compare(base, cur, method=method)
    p95 = next(r for r in result.rows if r.scope == "total" and r.metric == "p95")
    return (
        bool(result.regressions),
        p95.verdict == "regression",
        p95.p_value is not None and p95.p_value < result.alpha,
    )


def real_tables(series: list[Series], any_limit: int) -> tuple[list[str], bool]:
    counts: dict[tuple[str, int], int] = defaultdict(int)
    alarms: dict[tuple[str, int, str], int] = defaultdict(int)
    power: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    rng = random.Random(17)
    pairs = list(aa_pairs(series))
    anys = [p for p in pairs if p[0] == "any"]
    if len(anys) > any_limit:
        keep = set(map(id, rng.sample(anys, any_limit)))
        pairs = [p for p in pairs if p[0] != "any" or id(p) in keep]
    for kind, width, x, a, y, b in pairs:
        base = window_baseline(x, a, width)
        cur = window_baseline(y, b, width)
        counts[(kind, width)] += 1
        for label, method in METHODS:
            alarms[(kind, width, label)] += _flagged(base, cur, method)[0]
        if width == 120 and kind != "any":
            shifted = window_baseline(y, b, width, SHIFT)
            for label, method in METHODS:
                _, verdict, sig = _flagged(base, shifted, method)
                cell = power[(label, x.condition)]
                cell[0] += 1
                cell[1] += verdict
                cell[2] += sig
    lines = [
        "A/A false alarms on recorded series (share of comparisons with any regressed row)",
        f"{'pairs':<14}{'window':>7}{'n':>6}{'old':>9}{'new':>9}",
    ]
    ok = True
    total_n = 0
    total_alarms = {"old": 0, "new": 0}
    for (kind, width), n in sorted(counts.items()):
        old = alarms[(kind, width, "old")] / n
        new = alarms[(kind, width, "new")] / n
        lines.append(f"{kind:<14}{width:>6}s{n:>6}{old:>9.1%}{new:>9.1%}")
        if kind != "any":
            total_n += n
            for label in total_alarms:
                total_alarms[label] += alarms[(kind, width, label)]
    old_all = total_alarms["old"] / total_n
    new_all = total_alarms["new"] / total_n
    lines.append(
        f"{'simult.+b2b':<14}{'all':>7}{total_n:>6}{old_all:>9.1%}{new_all:>9.1%}"
        f"   goal ≤ {GOAL_FA:.0%}: {'met' if new_all <= GOAL_FA else 'MISSED'}"
    )
    ok &= new_all <= GOAL_FA
    lines.append("")
    lines.append(f"power on real 120 s pairs (simultaneous + back-to-back), current p95 × {SHIFT}")
    lines.append(
        f"{'condition':<12}{'n':>5}{'old verdict':>13}{'old test':>10}{'new verdict':>13}"
        f"{'new test':>10}"
    )
    for cond in sorted({c for _, c in power}):
        o, nw = power[("old", cond)], power[("new", cond)]
        lines.append(
            f"{cond:<12}{o[0]:>5}{o[1] / o[0]:>13.1%}{o[2] / o[0]:>10.1%}"
            f"{nw[1] / nw[0]:>13.1%}{nw[2] / nw[0]:>10.1%}"
        )
    return lines, ok


# --- synthetic --------------------------------------------------------------------------


@dataclass
class Spread:
    """Per-second sd of log values within real 120 s windows (median over the windows)."""

    p50: float
    p95: float
    p99: float
    rps: float
    rho: float  # measured lag-1 autocorrelation of log p95 (median), for information
    level: dict[str, float]


def _lag1(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    d = [x - m for x in xs]
    c0 = sum(v * v for v in d)
    return sum(d[i] * d[i + 1] for i in range(len(d) - 1)) / c0 if c0 else 0.0


def measure_spread(series: list[Series], condition: str) -> Spread:
    sds: dict[str, list[float]] = defaultdict(list)
    levels: dict[str, list[float]] = defaultdict(list)
    rhos = []
    for s in series:
        if s.condition != condition:
            continue
        for a in range(0, len(s.total) - 119, 120):
            part = s.total[a : a + 120]
            for metric in ("p50", "p95", "p99", "rps"):
                logs = [math.log(max(getattr(x, metric), 1e-6)) for x in part]
                sds[metric].append(statistics.pstdev(logs))
                levels[metric].append(math.exp(statistics.fmean(logs)))
            rhos.append(_lag1([math.log(max(x.p95, 1e-6)) for x in part]))
    med = {k: statistics.median(v) for k, v in sds.items()}
    return Spread(
        med["p50"],
        med["p95"],
        med["p99"],
        med["rps"],
        statistics.median(rhos),
        {k: statistics.median(v) for k, v in levels.items()},
    )


def ar1_run(
    spread: Spread, rho: float, rng: random.Random, seconds: int = 120, p95_factor: float = 1.0
) -> Baseline:
    """A synthetic run: one AR(1) latent drives log p50/p95/p99 (each with its measured sd);
    throughput has its own AR(1)."""
    s = math.sqrt(1 - rho * rho)
    x, r = rng.gauss(0, 1), rng.gauss(0, 1)
    samples = []
    for t in range(seconds):
        x = rho * x + s * rng.gauss(0, 1)
        r = rho * r + s * rng.gauss(0, 1)
        lv = spread.level
        samples.append(
            Sample(
                t=t + 1.0,
                span=1.0,
                rps=lv["rps"] * math.exp(spread.rps * r),
                p50=lv["p50"] * math.exp(spread.p50 * x),
                p95=lv["p95"] * math.exp(spread.p95 * x) * p95_factor,
                p99=lv["p99"] * math.exp(spread.p99 * x),
            )
        )
    req = [v.rps for v in samples]
    return Baseline(
        scenario="bench",
        run_id="synthetic",
        saved_at="",
        target_id="synthetic",
        endpoint_names=[],
        shape={"executor": "constant-arrival-rate", "rate": 200.0, "duration": float(seconds)},
        total=_stats(samples, req),
        samples=samples,
    )


def synthetic_table(series: list[Series], reps: int, seed: int) -> tuple[list[str], bool]:
    lines = [
        f"synthetic AR(1), 120 s runs, {reps} pairs per row, per-second spread measured on the "
        "real 120 s windows",
        f"{'condition':<10}{'rho':>5}{'sd p95':>8}  {'false alarms: verdict / p95 test alone':<40}"
        f"{'power at p95 x1.15: verdict / test':<36}",
        f"{'':<10}{'':>5}{'':>8}  {'old':<20}{'new':<20}{'old':<18}{'new':<18}",
    ]
    ok = True
    rng = random.Random(seed)
    for condition in sorted({s.condition for s in series}):
        spread = measure_spread(series, condition)
        for rho in (0.5, 0.8):
            fa = {"old": [0, 0], "new": [0, 0]}
            pw = {"old": [0, 0], "new": [0, 0]}
            for _ in range(reps):
                base = ar1_run(spread, rho, rng)
                same = ar1_run(spread, rho, rng)
                slow = ar1_run(spread, rho, rng, p95_factor=SHIFT)
                for label, method in METHODS:
                    anyrow, _, sig = _flagged(base, same, method)
                    fa[label][0] += anyrow
                    fa[label][1] += sig
                    _, verdict, sig = _flagged(base, slow, method)
                    pw[label][0] += verdict
                    pw[label][1] += sig
            lines.append(
                f"{condition:<10}{rho:>5}{spread.p95:>8.3f}  "
                + "".join(f"{fa[k][0] / reps:>7.1%} / {fa[k][1] / reps:>7.1%}   " for k in fa)
                + "".join(f"{pw[k][0] / reps:>6.1%} / {pw[k][1] / reps:>6.1%}   " for k in pw)
            )
            ok &= fa["new"][0] / reps <= GOAL_FA
            ok &= pw["new"][1] / reps >= GOAL_POWER
        lines.append(
            f"  ({condition}: measured lag-1 autocorrelation of log p95 in 120 s windows "
            f"{spread.rho:.2f}; sd of log p50 {spread.p50:.3f}, p99 {spread.p99:.3f}, "
            f"rps {spread.rps:.4f})"
        )
    return lines, ok


def power_by_spread(reps: int, seed: int) -> list[str]:
    """Where the power goal is reachable: synthetic 120 s runs at smaller per-second spreads."""
    lines = [
        f"power at p95 x{SHIFT} in 120 s runs by per-second spread (sd of log p95; the other "
        f"metrics scaled alike), {reps} pairs each: test alone, old / new",
        f"{'sd':>6}" + "".join(f"{'rho ' + str(rho):>22}" for rho in (0.0, 0.5, 0.8)),
    ]
    rng = random.Random(seed)
    for sd in (0.03, 0.05, 0.1, 0.2):
        level = {"p50": 1.0, "p95": 1.5, "p99": 2.0, "rps": 200.0}
        spread = Spread(sd, sd, sd, 0.01, 0.0, level)
        cells = []
        for rho in (0.0, 0.5, 0.8):
            hit = {"old": 0, "new": 0}
            for _ in range(reps):
                base = ar1_run(spread, rho, rng)
                slow = ar1_run(spread, rho, rng, p95_factor=SHIFT)
                for label, method in METHODS:
                    hit[label] += _flagged(base, slow, method)[2]
            cells.append(f"{hit['old'] / reps:>10.0%} / {hit['new'] / reps:>4.0%}    ")
        lines.append(f"{sd:>6}" + "".join(f"{c:>22}" for c in cells))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=400, help="AR(1) pairs per row")
    parser.add_argument("--any", type=int, default=600, help="'any' pairs drawn at most")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    started = time.monotonic()
    series = read_series()
    if not series:
        print(f"no recorded series in {DATA} (bench/record_series.py records them)")
        return 1
    print(
        "series: "
        + ", ".join(f"{s.name} ({s.condition}, {len(s.total)} s, {s.started})" for s in series)
    )
    real, ok_real = real_tables(series, args.any)
    print("\n".join(real), flush=True)
    print()
    synth, ok_synth = synthetic_table(series, args.synthetic, args.seed)
    print("\n".join(synth))
    print()
    print("\n".join(power_by_spread(max(args.synthetic // 4, 50), args.seed)))
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0 if ok_real and ok_synth else 1


if __name__ == "__main__":
    sys.exit(main())
