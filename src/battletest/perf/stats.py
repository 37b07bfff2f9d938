"""The statistics behind a regression verdict: a one-sided Mann-Whitney U test.

Why Mann-Whitney U over the per-interval samples (and not a bootstrap CI on a percentile): the
per-interval p50/p95/p99 and throughput values of a load run are neither normal nor
independent of the load level, but two runs of the same build draw them from the same
distribution; the rank test asks exactly "are the current samples stochastically larger than
the baseline's?" without assuming a shape, costs O(n log n) and is deterministic (a bootstrap
needs a seed and thousands of resamples). The p-value uses the normal approximation with a tie
correction and a continuity correction, which is accurate from about 8 samples per side; with
fewer than ``MIN_SAMPLES`` on either side the test reports "not enough samples" and a change
is never called a regression on that basis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

MIN_SAMPLES = 5
Alternative = Literal["greater", "less"]


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
    """Is ``current`` stochastically greater (or less) than ``baseline``? One-sided p-value."""
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


__all__ = ["MIN_SAMPLES", "UTest", "mann_whitney_u"]
