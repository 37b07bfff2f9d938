"""Per-interval latency histograms of a load run, as the regression test reads them.

The load engine keeps each interval's HdrHistogram (µs, encoded) in its per-second series
(``SecondSample.hist``), and a baseline of format 3 stores them. The regression test takes a
run-level percentile of a *block* of consecutive intervals from the merge of their histograms:
the p95 of 20 seconds × 200 requests is read from 4,000 latencies, where a single second's p95
rests on its 10 slowest requests and swings by a factor of two on a shared machine.

``Counts`` is the sparse form (a value per non-empty HdrHistogram bucket, its highest equivalent
value, with its count), cheap to merge and to read a percentile from. Decoding is cached: a
comparison reads each interval once per metric, the benchmark reads each recorded second many
times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from hdrh.histogram import HdrHistogram


@dataclass(frozen=True, slots=True)
class Counts:
    """A latency histogram as ascending values (µs) with their counts."""

    values: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


EMPTY = Counts((), ())


@lru_cache(maxsize=16_384)
def decode(encoded: str) -> Counts:
    """The sparse form of an encoded HdrHistogram ("" → empty); a ValueError if malformed."""
    if not encoded:
        return EMPTY
    try:
        hist = HdrHistogram.decode(encoded.encode("ascii"))
    except Exception as exc:  # hdrh raises assorted errors (zlib, struct, its own) on bad input
        raise ValueError(f"not an encoded HdrHistogram ({type(exc).__name__})") from None
    highest = hist.get_highest_equivalent_value
    value_at = hist.get_value_from_index
    pairs = [(highest(value_at(i)), c) for i, c in enumerate(list(hist.counts)) if c]
    return Counts(tuple(v for v, _ in pairs), tuple(c for _, c in pairs))


def merge(parts: Iterable[Counts]) -> Counts:
    """One histogram of all ``parts`` (counts of equal values added)."""
    acc: dict[int, int] = {}
    for part in parts:
        for value, count in zip(part.values, part.counts, strict=True):
            acc[value] = acc.get(value, 0) + count
    keys = sorted(acc)
    return Counts(tuple(keys), tuple(acc[k] for k in keys))


def percentile_ms(hist: Counts, percentile: float) -> float:
    """The value (ms) at ``percentile`` by HdrHistogram's rule (the smallest recorded value
    with at least ``round(percentile% × total)`` values at or below it); 0.0 when empty."""
    total = hist.total
    if total == 0:
        return 0.0
    target = max(int(min(percentile, 100.0) * total / 100 + 0.5), 1)
    running = 0
    for value, count in zip(hist.values, hist.counts, strict=True):
        running += count
        if running >= target:
            return value / 1000.0
    return hist.values[-1] / 1000.0


def scaled(hist: Counts, factor: float) -> Counts:
    """Every latency × ``factor`` (the benchmark's "this build is 15 % slower")."""
    return merge([Counts(tuple(round(v * factor) for v in hist.values), hist.counts)])


__all__ = ["EMPTY", "Counts", "decode", "merge", "percentile_ms", "scaled"]
