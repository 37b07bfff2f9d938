"""Latency histograms: cheap recording in workers, exact merging in the coordinator.

Workers record each latency as an integer number of microseconds appended to a plain list
(≈0.06 µs); once per snapshot the list is counted in C (``collections.Counter``) and folded
into an HdrHistogram with one ``record_value(value, count)`` per distinct value (≈0.07 µs per
recorded value overall), against ≈1.4 µs for ``record_value`` per request
(``bench/bench_load_recording.py``). Snapshots travel encoded (HdrHistogram's compressed
base64 form), so nothing assumes the coordinator shares memory with a worker; percentiles are
read from merged histograms, never averaged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
PERCENTILES: dict[str, float] = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def fold(values: Iterable[int], into: HdrHistogram | None = None) -> HdrHistogram:
    """Record microsecond values (any iterable of ints) into a histogram, counting first."""
    hist = into if into is not None else new_histogram()
    for value, count in Counter(values).items():
        hist.record_value(min(max(value, LOWEST_US), HIGHEST_US), count)
    return hist


def encode(hist: HdrHistogram) -> str:
    return bytes(hist.encode()).decode("ascii")


def decode(encoded: str) -> HdrHistogram:
    return HdrHistogram.decode(encoded.encode("ascii"))


def merge(into: HdrHistogram, encoded: str) -> HdrHistogram:
    """Add an encoded histogram into ``into`` and return it."""
    into.decode_and_add(encoded.encode("ascii"))
    return into


def merged(encoded_parts: Iterable[str]) -> HdrHistogram:
    hist = new_histogram()
    for part in encoded_parts:
        merge(hist, part)
    return hist


def percentiles_ms(hist: HdrHistogram, percentiles: Iterable[float]) -> dict[float, float]:
    """Values (ms) at the given percentiles; 0.0 for an empty histogram."""
    wanted = list(percentiles)
    if hist.get_total_count() == 0:
        return dict.fromkeys(wanted, 0.0)
    values = hist.get_percentile_to_value_dict(wanted)
    return {p: values[p] / 1000.0 for p in wanted}


def value_at_ms(hist: HdrHistogram, percentile: float) -> float:
    return percentiles_ms(hist, [percentile])[percentile]


def mean_ms(hist: HdrHistogram) -> float:
    """Mean in ms from the counts array (``HdrHistogram.get_mean_value`` walks every value in
    pure Python: ≈0.35 s for a histogram with a few hundred distinct values)."""
    total = int(hist.get_total_count())
    if total == 0:
        return 0.0
    weighted = 0
    value_at = hist.get_value_from_index
    lowest = hist.get_lowest_equivalent_value
    highest = hist.get_highest_equivalent_value
    for index, count in enumerate(list(hist.counts)):
        if count:
            value = value_at(index)
            # the middle of the value's equivalence range, as HdrHistogram's own mean does
            weighted += count * (lowest(value) + (highest(value) - lowest(value) + 1) // 2)
    return float(weighted) / total / 1000.0


def summary_ms(hist: HdrHistogram) -> dict[str, float]:
    """min, mean, p50, p90, p95, p99, p999 and max in milliseconds (zeros when empty)."""
    if hist.get_total_count() == 0:
        return dict.fromkeys(["min", "mean", *PERCENTILES, "max"], 0.0)
    pct = percentiles_ms(hist, PERCENTILES.values())
    out = {"min": hist.get_min_value() / 1000.0, "mean": mean_ms(hist)}
    out.update({name: pct[p] for name, p in PERCENTILES.items()})
    out["max"] = hist.get_max_value() / 1000.0
    return {k: round(v, 3) for k, v in out.items()}
