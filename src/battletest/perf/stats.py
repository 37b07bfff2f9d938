"""The statistics behind a regression verdict.

Per-interval samples of a load run (per-second p50/p95/p99 and throughput) are **not
independent**: a slow second is followed by slow seconds (GC, a neighbour's build, a full
queue). A test that counts each second as a separate piece of evidence — the one-sided
Mann-Whitney U test (``mann_whitney_u``) this module used to apply — is far too sure of itself:
on AR(1) series of 120 seconds with lag-1 autocorrelation 0.5 it raises 8.9 % false alarms at a
nominal 1 % (0.8: 21 %; ``bench/bench_regression.py``).

``shift_test`` takes **blocks of consecutive intervals** as the unit of evidence instead:

1. The series' memory is measured from the data: the Politis–White (2004) automatic block
   length (circular block bootstrap, with the Patton–Politis–White 2009 correction), from the
   autocovariances of both runs pooled (each about its own mean: under "no change" they are
   one process).
2. The block is ``BLOCK_FACTOR`` (3) times that length — 1 when the series has no memory — and
   at most a third of the shorter run. Why 3×: Politis–White minimises the error of a *variance
   estimate*; a test also needs block means that are nearly uncorrelated. On AR(1) series of
   120 s at lag-1 autocorrelation 0.8, blocks of 1× (2×) that length still gave 3.4 % (1.2 %)
   false alarms at nominal 1 %, 3× gave 0.6 %. (A moving-block bootstrap of the mean with 1×
   blocks gave 4.3 % at 0.5 and 5.5 % at 0.8, which is why the block means are tested directly.)
3. One value per non-overlapping block — the mean of its log values, or a ``statistic`` the
   caller computes from the block (``compare`` reads a block's p95 from the merge of its
   intervals' histograms) — and the block values are compared by a one-sided **Welch t-test**
   of "the shift is at most ``margin``" (0 by default) (Student's t
   with Welch–Satterthwaite degrees of freedom, so a handful of blocks gives a wide, honest
   interval rather than a normal approximation's narrow one). When the series has no memory
   (block 1) and is short — at most ``EXACT_LIMIT`` splits of the pooled values into the two
   groups, about 8 intervals a side — the test is the **exact permutation test** of the mean
   difference instead (all ``C(n₁+n₂, n₂)`` splits enumerated).

Values are compared on the log scale (a +15 % slowdown is the same shift at 1 ms and at 1 s, and
one slow second weighs less than on the raw scale). Nothing is random: the same inputs give the
same p-value, ``shift_test(x, y, "greater")`` equals ``shift_test(y, x, "less")``, and identical
inputs give p = 1.

``holm`` adjusts a family of p-values (Holm 1979) so that the chance of *any* false regression
among a comparison's rows stays at alpha: a CI gate fails on a single regressed row, so the
family-wise error is the error a team pays for (Benjamini–Hochberg would bound only the share of
false rows among the flagged ones, and lets more false rows through as endpoints are added).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

MIN_SAMPLES = 5  # intervals a side below which there is no test at all
MIN_BLOCKS = 3  # blocks a side at the least (caps the block length)
BLOCK_FACTOR = 3
# splits the exact permutation test enumerates: short memoryless series, C(8+8, 8) = 12,870
EXACT_LIMIT = 20_000
LOG_FLOOR = 1e-6  # ms or requests/s; per-interval values at or below it count as this
Alternative = Literal["greater", "less"]
TestMethod = Literal["exact-permutation", "block-welch", "none"]


@dataclass(frozen=True, slots=True)
class ShiftTest:
    """Is ``current`` shifted above (or below) ``baseline``? A one-sided p-value and how."""

    method: TestMethod
    p_value: float | None  # None: fewer than MIN_SAMPLES intervals on a side
    block: int  # block length (intervals), the unit of evidence
    n_baseline: int
    n_current: int
    blocks_baseline: int
    blocks_current: int
    shift: float | None = None  # the observed shift of the block values (log), worse way up
    se: float | None = None  # its standard error (Welch only)
    df: float | None = None  # Welch–Satterthwaite degrees of freedom (Welch only)

    def significant(self, alpha: float) -> bool:
        return self.p_value is not None and self.p_value < alpha


# --- block length ------------------------------------------------------------------------


def _autocovariances(series: Sequence[Sequence[float]], max_lag: int) -> list[float]:
    """Autocovariances at lags 0..max_lag pooled over ``series`` (each about its own mean)."""
    total = [0.0] * (max_lag + 1)
    count = 0
    for xs in series:
        n = len(xs)
        mean = sum(xs) / n
        d = [x - mean for x in xs]
        for k in range(min(max_lag, n - 1) + 1):
            total[k] += sum(d[t] * d[t + k] for t in range(n - k))
        count += n
    return [v / count for v in total]


def _flat_top(t: float) -> float:
    t = abs(t)
    return 1.0 if t <= 0.5 else (2.0 * (1.0 - t) if t <= 1.0 else 0.0)


def block_length(*series: Sequence[float]) -> int:
    """Politis–White automatic block length (circular block bootstrap), in intervals, of one
    series or of several runs of one process (autocovariances pooled, each about its mean).

    1 for a series without autocorrelation (or too short to tell), at most ``n / 3``.
    """
    n = sum(len(xs) for xs in series)
    shortest = min((len(xs) for xs in series), default=0)
    if shortest < 4:
        return 1
    kn = max(5, int(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + kn, shortest - 1)
    acv = _autocovariances(series, m_max)
    if acv[0] <= 0:
        return 1
    acf = [a / acv[0] for a in acv]
    bound = 2.0 * math.sqrt(math.log10(n) / n)
    m_hat = m_max
    for m in range(0, m_max - kn + 1):
        if all(abs(acf[m + k]) < bound for k in range(1, kn + 1)):
            m_hat = m
            break
    big_m = min(2 * m_hat, m_max)
    if big_m == 0:
        return 1
    g = 2.0 * sum(_flat_top(k / big_m) * k * acv[k] for k in range(1, big_m + 1))
    g0 = acv[0] + 2.0 * sum(_flat_top(k / big_m) * acv[k] for k in range(1, big_m + 1))
    if g0 <= 0 or g == 0:
        return 1
    d_cb = 4.0 / 3.0 * g0 * g0
    b = (2.0 * g * g / d_cb) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    return int(min(max(round(b), 1), max(n // 3, 1)))


# --- the test ----------------------------------------------------------------------------


def _logs(values: Sequence[float]) -> list[float]:
    return [math.log(max(float(v), LOG_FLOOR)) for v in values]


def _block_means(xs: Sequence[float], block: int) -> list[float]:
    k = len(xs) // block
    return [sum(xs[i * block : (i + 1) * block]) / block for i in range(k)]


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 3e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (any positive df)."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


def _welch(xs: list[float], ys: list[float], alternative: Alternative, margin: float) -> _Welch:
    """One-sided Welch t-test of H0: the shift (mean(ys) − mean(xs), or its negative for
    ``"less"``) is at most ``margin``; Welch–Satterthwaite degrees of freedom."""
    k1, k2 = len(xs), len(ys)
    m1, m2 = sum(xs) / k1, sum(ys) / k2
    v1 = sum((x - m1) ** 2 for x in xs) / (k1 - 1) / k1
    v2 = sum((y - m2) ** 2 for y in ys) / (k2 - 1) / k2
    diff = m2 - m1 if alternative == "greater" else m1 - m2
    if v1 + v2 <= 0:
        return _Welch(0.0 if diff > margin else 1.0, diff, 0.0, math.inf)
    df = (v1 + v2) ** 2 / (v1 * v1 / (k1 - 1) + v2 * v2 / (k2 - 1))
    se = math.sqrt(v1 + v2)
    return _Welch(t_sf((diff - margin) / se, df), diff, se, df)


@dataclass(frozen=True, slots=True)
class _Welch:
    p: float
    diff: float
    se: float
    df: float


def _permutation_p(
    xs: list[float], ys: list[float], alternative: Alternative, margin: float = 0.0
) -> float:
    """Exact one-sided permutation p-value of H0: shift ≤ ``margin`` (the current values moved
    back by the margin, then the share of all splits of the pooled values into groups of these
    sizes whose "current" sum is at least as extreme)."""
    sign = 1.0 if alternative == "greater" else -1.0
    ys = [y - sign * margin for y in ys]
    pooled = xs + ys
    observed = sign * sum(ys)  # with fixed group sizes the mean difference is monotone in it
    eps = 1e-9 * (1.0 + sum(abs(v) for v in pooled))
    hits = count = 0
    for idx in combinations(range(len(pooled)), len(ys)):
        count += 1
        if sign * sum(pooled[i] for i in idx) >= observed - eps:
            hits += 1
    return hits / count


BlockStatistic = Callable[[int, int, int], float]
"""``(side, start, stop) → value`` of the block of intervals ``start..stop`` of the baseline
(side 0) or the current run (side 1), on the log scale."""


def shift_test(
    baseline: Sequence[float],
    current: Sequence[float],
    alternative: Alternative = "greater",
    *,
    margin: float = 0.0,
    statistic: BlockStatistic | None = None,
) -> ShiftTest:
    """Is ``current`` shifted above (``"greater"``) or below (``"less"``) ``baseline`` by more
    than ``margin`` (on the log scale: ``math.log(1.05)`` is "more than 5 % slower")?

    Both are per-interval series in time order (positive values: ms or requests/s): they give
    the block length, and, without ``statistic``, each block's value (the mean of its logs).
    ``statistic`` computes a block's value otherwise — e.g. the log p95 of the merged
    histograms of its intervals (``compare`` does that when both runs kept them).
    """
    n1, n2 = len(baseline), len(current)
    if n1 < MIN_SAMPLES or n2 < MIN_SAMPLES:
        return ShiftTest("none", None, 1, n1, n2, 0, 0)
    xs, ys = _logs(baseline), _logs(current)
    # under "no change" both runs come from one process: estimate its memory from both
    memory = block_length(xs, ys)
    block = 1 if memory <= 1 else BLOCK_FACTOR * memory
    block = max(1, min(block, min(n1, n2) // MIN_BLOCKS))
    if statistic is None:
        ux, uy = _block_means(xs, block), _block_means(ys, block)
    else:
        ux = [statistic(0, i * block, (i + 1) * block) for i in range(n1 // block)]
        uy = [statistic(1, i * block, (i + 1) * block) for i in range(n2 // block)]
    exact = block == 1 and math.comb(n1 + n2, n2) <= EXACT_LIMIT
    method: TestMethod = "exact-permutation" if exact else "block-welch"
    sign = 1.0 if alternative == "greater" else -1.0
    diff = sign * (sum(uy) / len(uy) - sum(ux) / len(ux))
    se: float | None = None
    df: float | None = None
    if (xs == ys and statistic is None) or ux == uy:
        p = 1.0
    elif exact:
        p = _permutation_p(ux, uy, alternative, margin)
    else:
        w = _welch(ux, uy, alternative, margin)
        p, se, df = w.p, w.se, w.df
    return ShiftTest(method, min(max(p, 0.0), 1.0), block, n1, n2, len(ux), len(uy), diff, se, df)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (None stays None and is not counted in the family)."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min((m - rank) * p, 1.0))
        out[i] = running
    return out


# --- the previous method -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UTest:
    """Result of a one-sided Mann-Whitney U test of ``current`` against ``baseline``."""

    u: float
    p_value: float | None  # None when either side has fewer than MIN_SAMPLES
    n_baseline: int
    n_current: int

    def significant(self, alpha: float) -> bool:
        return self.p_value is not None and self.p_value < alpha


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Average ranks (1-based) and the tie term Σ(t³ − t) of the pooled values."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    return ranks, ties


def mann_whitney_u(
    baseline: Sequence[float], current: Sequence[float], alternative: Alternative = "greater"
) -> UTest:
    """Is ``current`` stochastically greater (or less) than ``baseline``? One-sided p-value,
    normal approximation with tie and continuity corrections; assumes independent samples."""
    n1, n2 = len(baseline), len(current)
    if n1 < MIN_SAMPLES or n2 < MIN_SAMPLES:
        return UTest(0.0, None, n1, n2)
    ranks, ties = _ranks([*current, *baseline])
    u_current = sum(ranks[:n2]) - n2 * (n2 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:  # every value identical: no evidence of any difference
        return UTest(u_current, 1.0, n1, n2)
    diff = u_current - mean if alternative == "greater" else mean - u_current
    z = (diff - 0.5) / math.sqrt(var)
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return UTest(u_current, min(max(p, 0.0), 1.0), n1, n2)


__all__ = [
    "MIN_SAMPLES",
    "BlockStatistic",
    "ShiftTest",
    "UTest",
    "block_length",
    "holm",
    "mann_whitney_u",
    "shift_test",
    "t_sf",
]
