"""Regression detection: false alarms and power, the old test beside the new one, in one run.

Analysis only (10–30 minutes on a loaded 2-core machine); the data are the per-second series in
``bench/data/`` that ``bench/record_series.py`` recorded (battletest's own load engine, 200 req/s
constant arrival rate, nginx on loopback, two endpoints, every endpoint's second with its latency
histogram; 10 minutes each, four at a time, in the machine's shared condition and beside two
busy-loop CPU hogs). Every method goes through ``battletest.perf.compare.compare`` exactly as
``battletest baseline compare`` does — every endpoint row, the default thresholds and alpha 0.01:

* ``old``: ``method="mann-whitney"`` — the detector before issue 17 (one Mann-Whitney U test per
  metric over the run's seconds as independent samples, reused for every endpoint, no
  adjustment; a regression is a change beyond the threshold with p < alpha);
* ``new``: ``method="block"`` (the default) — blocks of seconds as the unit of evidence, each
  block's p50/p95/p99 read from the merge of its seconds' histograms, each endpoint on its own
  samples, a regression when the change is shown (Holm-adjusted one-sided Welch test) to exceed
  a margin of a third of the threshold (``perf.compare``, ``perf.stats``);
* ``new, format 2``: the same on the same runs with the histograms left out, as for a baseline
  saved before format 3 (blocks of per-second percentiles).

0. **The noise floor**: how much the run-level p95 of a 2-minute window itself moves between
   two windows recorded at the same time, and between adjacent windows — what no test can see
   through.
1. **A/A false alarms on real series.** A "run" is a window of W seconds (W = 30, 60, 120) of a
   recorded series; a pair is two non-overlapping windows of the same condition, as
   *simultaneous* (the same window of two series that were recorded at the same time, every
   ordered pair) or *back-to-back* (adjacent windows of one series, earlier as baseline); with
   ``--any N`` also N *any* pairs (windows of one condition minutes apart). A false alarm is a
   comparison with any regressed row. A window's p50/p95/p99 come from its merged histograms,
   as the load engine reports a run's.
2. **Power on real pairs**: the same 120 s pairs with every request of the current window
   × 1.15 (its histograms scaled): the share whose whole-run p95 row is a regression.
3. **Synthetic AR(1)** 120 s runs made of the recorded seconds of a condition: a Gaussian AR(1)
   latent at lag-1 autocorrelation 0.5 and 0.8 picks, each second, the recorded second of that
   rank in p95 — the seconds (histograms, spread) are real, their order is synthetic. False
   alarms (any row) and power (every request of the current run × 1.15, p95 row).

Goals (issue 17): false alarms ≤ 1 % at the default settings; power ≥ 95 % at +15 % p95 in 2-minute
runs. Exits 1 when the new method misses one (the last line says which).

    python bench/bench_regression.py [--synthetic 100] [--any 0] [--seed 17] [--data bench/data]
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

from battletest.load import histogram
from battletest.perf import intervals
from battletest.perf.baseline import Baseline, Sample, Stats
from battletest.perf.compare import Method, compare

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
LABELS: dict[str, Method] = {"old": "mann-whitney", "new": "block", "new, format 2": "block"}
DESCRIPTIONS = {
    "old": "Mann-Whitney U over per-second values as independent samples (before issue 17)",
    "new": "the default: blocks of seconds, each block's percentile from its merged histograms",
    "new, format 2": "the default on baselines without per-second histograms (format 2)",
}
WINDOWS = (30, 60, 120)
POWER_WINDOW = 120  # "2-minute runs"
NORMAL_99, NORMAL_95 = 2.326, 1.645  # one-sided normal quantiles
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


def _encode(counts: intervals.Counts) -> str:
    hist = histogram.new_histogram()
    for value, count in zip(counts.values, counts.counts, strict=True):
        hist.record_value(value, count)
    return histogram.encode(hist)


def _sample(row: dict[str, Any], hist: str) -> Sample:
    return Sample.model_validate({**row, "hist": hist})


def read_series(folder: Path = DATA) -> list[Series]:
    """The recorded series; a whole-run second's histogram is the merge of its endpoints'."""
    out = []
    for path in sorted(folder.glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        names = sorted(data["endpoint_series"])
        n = min([len(data["series"]), *(len(v) for v in data["endpoint_series"].values())])
        eps = {k: [_sample(r, r["hist"]) for r in data["endpoint_series"][k][:n]] for k in names}
        total = [
            _sample(row, _encode(intervals.merge(intervals.decode(eps[k][i].hist) for k in names)))
            for i, row in enumerate(data["series"][:n])
        ]
        out.append(
            Series(
                path.name.removesuffix(".json.gz"),
                data["meta"]["condition"],
                data["meta"]["started_at"][:16],
                total,
                eps,
                [s.rps * (s.span or 1.0) for s in total],
                {k: [s.rps * (s.span or 1.0) for s in v] for k, v in eps.items()},
            )
        )
    return out


_SLOWER: dict[int, Sample] = {}


def _slower(sample: Sample) -> Sample:
    """The same second of a build whose every request is SHIFT times slower."""
    done = _SLOWER.get(id(sample))
    if done is not None:
        return done
    hist = _encode(intervals.scaled(intervals.decode(sample.hist), SHIFT)) if sample.hist else ""
    slow = sample.model_copy(
        update={
            "p50": sample.p50 * SHIFT,
            "p95": sample.p95 * SHIFT,
            "p99": sample.p99 * SHIFT,
            "hist": hist,
        }
    )
    _SLOWER[id(sample)] = slow  # the recorded samples live as long as the run
    return slow


def _stats(samples: list[Sample], requests: list[float]) -> Stats:
    """A run's figures as the load engine reports them: percentiles of the merged histogram."""
    merged = intervals.merge(intervals.decode(s.hist) for s in samples)
    seconds = sum(s.span or 1.0 for s in samples) or 1.0
    return Stats(
        requests=int(sum(requests)),
        rps=sum(requests) / seconds,
        p50=intervals.percentile_ms(merged, 50),
        p95=intervals.percentile_ms(merged, 95),
        p99=intervals.percentile_ms(merged, 99),
    )


def make_baseline(
    total: list[Sample],
    eps: dict[str, list[Sample]],
    requests: list[float],
    ep_requests: dict[str, list[float]],
    run_id: str,
) -> Baseline:
    return Baseline(
        scenario="bench",
        run_id=run_id,
        saved_at="",
        target_id="nginx",
        endpoint_names=sorted(eps),
        shape={"executor": "constant-arrival-rate", "rate": 200.0, "duration": len(total)},
        total=_stats(total, requests),
        endpoints={k: _stats(v, ep_requests[k]) for k, v in eps.items()},
        samples=total,
        endpoint_samples=eps,
    )


def window_baseline(s: Series, start: int, width: int, slower: bool = False) -> Baseline:
    """A baseline made of seconds ``start .. start+width`` of a series (a slower build's if
    asked)."""
    cut = slice(start, start + width)

    def part(samples: list[Sample]) -> list[Sample]:
        return [_slower(x) for x in samples[cut]] if slower else samples[cut]

    return make_baseline(
        part(s.total),
        {k: part(v) for k, v in s.endpoints.items()},
        s.requests[cut],
        {k: v[cut] for k, v in s.ep_requests.items()},
        f"{s.name}@{start}",
    )


def without_histograms(b: Baseline) -> Baseline:
    """The same run as a format-2 baseline (per-interval percentiles, no histograms)."""
    strip = {"hist": ""}
    return b.model_copy(
        update={
            "version": 2,
            "samples": [x.model_copy(update=strip) for x in b.samples],
            "endpoint_samples": {
                k: [x.model_copy(update=strip) for x in v] for k, v in b.endpoint_samples.items()
            },
        }
    )


Pair = tuple[str, int, Series, int, Series, int]  # kind, width, base series, start, cur, start


def aa_pairs(series: list[Series], windows: tuple[int, ...] = WINDOWS) -> Iterator[Pair]:
    by_condition: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_condition[s.condition].append(s)
    for width in windows:
        for group in by_condition.values():
            for s in group:
                starts = list(range(0, len(s.total) - width + 1, width))
                for a, b in itertools.pairwise(starts):
                    yield ("back-to-back", width, s, a, s, b)
            together = defaultdict(list)
            for s in group:
                together[s.started].append(s)
            for twins in together.values():
                for x, y in itertools.permutations(twins, 2):
                    n = min(len(x.total), len(y.total))
                    for a in range(0, n - width + 1, width):
                        yield ("simultaneous", width, x, a, y, a)
            windows = [(s, a) for s in group for a in range(0, len(s.total) - width + 1, width)]
            for i, (x, a) in enumerate(windows):
                for y, b in windows[i + 1 :]:
                    if x is not y or abs(a - b) > width:  # not already back-to-back
                        yield ("any", width, x, a, y, b)


def _flagged(base: Baseline, cur: Baseline, label: str) -> tuple[bool, bool]:
    """(any regressed row, total p95 regressed) by one of LABELS' methods."""
    if label == "new, format 2":
        base, cur = without_histograms(base), without_histograms(cur)
    result = compare(base, cur, method=LABELS[label])
    p95 = next(r for r in result.rows if r.scope == "total" and r.metric == "p95")
    return bool(result.regressions), p95.verdict == "regression"


def real_tables(
    series: list[Series], any_limit: int, windows: tuple[int, ...] = WINDOWS
) -> tuple[list[str], bool, bool]:
    counts: dict[tuple[str, int], int] = defaultdict(int)
    alarms: dict[tuple[str, int, str], int] = defaultdict(int)
    power: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    rng = random.Random(17)
    pairs = list(aa_pairs(series, windows))
    anys = [p for p in pairs if p[0] == "any"]
    if len(anys) > any_limit:
        keep = set(map(id, rng.sample(anys, any_limit))) if any_limit else set()
        pairs = [p for p in pairs if p[0] != "any" or id(p) in keep]
    for kind, width, x, a, y, b in pairs:
        base = window_baseline(x, a, width)
        cur = window_baseline(y, b, width)
        counts[(kind, width)] += 1
        for label in LABELS:
            alarms[(kind, width, label)] += _flagged(base, cur, label)[0]
        if width == POWER_WINDOW and kind != "any":
            slow = window_baseline(y, b, width, slower=True)
            for label in LABELS:
                cell = power[(label, kind, x.condition)]
                cell[0] += 1
                cell[1] += _flagged(base, slow, label)[1]
    head = "".join(f"{label:>15}" for label in LABELS)
    lines = [
        "A/A false alarms on recorded series (share of comparisons with any regressed row)",
        f"{'pairs':<14}{'window':>7}{'n':>6}{head}",
    ]
    total_n = 0
    total_alarms: dict[str, int] = defaultdict(int)
    for (kind, width), n in sorted(counts.items()):
        cells = "".join(f"{alarms[(kind, width, label)] / n:>15.1%}" for label in LABELS)
        lines.append(f"{kind:<14}{width:>6}s{n:>6}{cells}")
        if kind != "any":
            total_n += n
            for label in LABELS:
                total_alarms[label] += alarms[(kind, width, label)]
    new_all = total_alarms["new"] / total_n
    cells = "".join(f"{total_alarms[label] / total_n:>15.1%}" for label in LABELS)
    lines.append(
        f"{'simult.+b2b':<14}{'all':>7}{total_n:>6}{cells}"
        f"   goal ≤ {GOAL_FA:.0%}: {'met' if new_all <= GOAL_FA else 'MISSED'}"
    )
    lines.append("")
    lines.append(
        f"power on real {POWER_WINDOW} s pairs, the current window's requests all x{SHIFT}: "
        "share with the total p95 row regressed"
    )
    lines.append(f"{'pairs':<14}{'condition':<11}{'n':>5}{head}")
    best = 0.0
    for kind, cond in sorted({(k, c) for _, k, c in power}):
        n = power[("new", kind, cond)][0]
        cells = "".join(f"{power[(label, kind, cond)][1] / n:>15.1%}" for label in LABELS)
        lines.append(f"{kind:<14}{cond:<11}{n:>5}{cells}")
        best = max(best, power[("new", kind, cond)][1] / n)
    return lines, new_all <= GOAL_FA, best >= GOAL_POWER


# --- the noise floor --------------------------------------------------------------------


def _log_p95(samples: list[Sample]) -> float:
    merged = intervals.merge(intervals.decode(s.hist) for s in samples)
    return math.log(max(intervals.percentile_ms(merged, 95), 1e-6))


def _lag1(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    d = [x - m for x in xs]
    c0 = sum(v * v for v in d)
    return sum(d[i] * d[i + 1] for i in range(len(d) - 1)) / c0 if c0 else 0.0


def noise_floor(series: list[Series]) -> list[str]:
    """How much a run's p95 itself moves between two runs of one build: the floor under any
    test's power (what the per-second spread means for a 2-minute run)."""
    w = POWER_WINDOW
    need = math.log(SHIFT) / (NORMAL_99 + NORMAL_95) / math.sqrt(2)
    lines = [
        f"the noise floor: run-level p95 of {w} s windows (merged histograms), by condition",
        f"{'condition':<10}{'sd log p95/s':>13}{'lag-1':>7}{'window p95 ms':>18}"
        f"{'sd log ratio, simult.':>23}{'b2b':>7}",
    ]
    for cond in sorted({s.condition for s in series}):
        group = [s for s in series if s.condition == cond]
        per_second = [math.log(max(x.p95, 1e-6)) for s in group for x in s.total]
        lag = statistics.median(_lag1([math.log(max(x.p95, 1e-6)) for x in s.total]) for s in group)
        win = {
            s.name: [_log_p95(s.total[a : a + w]) for a in range(0, len(s.total) - w + 1, w)]
            for s in group
        }
        sim = [
            win[x.name][i] - win[y.name][i]
            for x, y in itertools.combinations(group, 2)
            if x.started == y.started
            for i in range(min(len(win[x.name]), len(win[y.name])))
        ]
        b2b = [v[i + 1] - v[i] for v in win.values() for i in range(len(v) - 1)]
        levels = [math.exp(v) for vs in win.values() for v in vs]
        lines.append(
            f"{cond:<10}{statistics.pstdev(per_second):>13.2f}{lag:>7.2f}"
            f"{min(levels):>9.2f}–{max(levels):<8.2f}"
            f"{math.sqrt(statistics.fmean(d * d for d in sim)) if sim else math.nan:>23.3f}"
            f"{math.sqrt(statistics.fmean(d * d for d in b2b)):>7.3f}"
        )
    lines.append(
        f"  (for {GOAL_POWER:.0%} power at x{SHIFT} with {GOAL_FA:.0%} false alarms a run's log "
        f"p95 needs a standard error of at most {need:.3f}: log({SHIFT}) / (z99 + z95) / sqrt 2)"
    )
    return lines


# --- synthetic --------------------------------------------------------------------------


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


Second = tuple[Sample, dict[str, Sample]]


def _pool(series: list[Series], condition: str) -> list[Second]:
    """Every recorded second of a condition (whole run and endpoints), slowest p95 last."""
    pool = [
        (s.total[i], {k: v[i] for k, v in s.endpoints.items()})
        for s in series
        if s.condition == condition
        for i in range(len(s.total))
    ]
    return sorted(pool, key=lambda sec: sec[0].p95)


def ar1_run(pool: list[Second], rho: float, rng: random.Random, slower: bool = False) -> Baseline:
    """A synthetic run: recorded seconds of one condition drawn by a Gaussian AR(1) latent at
    lag-1 autocorrelation ``rho`` (its quantile picks the second of that rank in p95), so the
    seconds are real — their histograms, their spread — and only their order is synthetic."""
    s = math.sqrt(1 - rho * rho)
    x = rng.gauss(0, 1)
    picked = []
    for _ in range(POWER_WINDOW):
        x = rho * x + s * rng.gauss(0, 1)
        picked.append(pool[min(int(_normal_cdf(x) * len(pool)), len(pool) - 1)])
    total = [_slower(t) if slower else t for t, _ in picked]
    names = sorted(picked[0][1])
    eps = {k: [_slower(e[k]) if slower else e[k] for _, e in picked] for k in names}
    return make_baseline(
        total,
        eps,
        [t.rps * (t.span or 1.0) for t in total],
        {k: [x.rps * (x.span or 1.0) for x in v] for k, v in eps.items()},
        "synthetic",
    )


def synthetic_table(series: list[Series], reps: int, seed: int) -> tuple[list[str], bool, bool]:
    head = "".join(f"{label:>15}" for label in LABELS)
    lines = [
        f"synthetic AR(1) runs of {POWER_WINDOW} s made of the recorded seconds, {reps} pairs a row",
        f"{'condition':<10}{'rho':>5}  false alarms (any row){head[24:]:>21}   power at x{SHIFT}"
        " (p95 row)",
        f"{'':<17}" + head + "   " + head,
    ]
    ok_fa = ok_power = True
    rng = random.Random(seed)
    for condition in sorted({s.condition for s in series}):
        pool = _pool(series, condition)
        for rho in (0.5, 0.8):
            fa: dict[str, int] = defaultdict(int)
            pw: dict[str, int] = defaultdict(int)
            for _ in range(reps):
                base = ar1_run(pool, rho, rng)
                same = ar1_run(pool, rho, rng)
                slow = ar1_run(pool, rho, rng, slower=True)
                for label in LABELS:
                    fa[label] += _flagged(base, same, label)[0]
                    pw[label] += _flagged(base, slow, label)[1]
            lines.append(
                f"{condition:<10}{rho:>5}  "
                + "".join(f"{fa[k] / reps:>15.1%}" for k in LABELS)
                + "   "
                + "".join(f"{pw[k] / reps:>15.1%}" for k in LABELS)
            )
            ok_fa &= fa["new"] / reps <= GOAL_FA
            ok_power &= pw["new"] / reps >= GOAL_POWER
    return lines, ok_fa, ok_power


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=100, help="AR(1) pairs per row")
    parser.add_argument(
        "--any", type=int, default=0, help="also draw this many 'any' pairs (minutes apart)"
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--data", type=Path, default=DATA, help="folder of recorded series")
    parser.add_argument(
        "--windows",
        default=",".join(map(str, WINDOWS)),
        help="A/A window lengths in seconds ('' skips the real pairs)",
    )
    args = parser.parse_args(argv)
    windows = tuple(int(w) for w in args.windows.split(",") if w.strip())
    started = time.monotonic()
    series = read_series(args.data)
    if not series:
        print(f"no recorded series in {DATA} (bench/record_series.py records them)")
        return 1
    print(
        "series: "
        + ", ".join(f"{s.name} ({s.condition}, {len(s.total)} s, {s.started})" for s in series)
    )
    print("methods: " + ", ".join(f"{k} = {v}" for k, v in DESCRIPTIONS.items()))
    print()
    print("\n".join(noise_floor(series)), flush=True)
    print()
    verdicts: dict[str, bool] = {}
    if windows:
        real, verdicts["false alarms real"], verdicts["power real"] = real_tables(
            series, args.any, windows
        )
        print("\n".join(real), flush=True)
        print()
    if args.synthetic:
        synth, verdicts["false alarms synthetic"], verdicts["power synthetic"] = synthetic_table(
            series, args.synthetic, args.seed
        )
        print("\n".join(synth))
    print(
        f"\ngoals for 'new' (false alarms ≤ {GOAL_FA:.0%}, power ≥ {GOAL_POWER:.0%}): "
        + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in verdicts.items())
    )
    print(f"({time.monotonic() - started:.0f} s)")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
