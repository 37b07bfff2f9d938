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

import base64
import struct
import zlib
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


_EXTERNAL = struct.Struct(">II")  # cookie, length of the compressed payload
_PAYLOAD = struct.Struct(">IIIIQQd")  # cookie, varint bytes, index offset, digits, low, high, ratio


@lru_cache(maxsize=64)
def _layout(lowest: int, highest: int, digits: int) -> HdrHistogram:
    """An empty histogram of these settings: index → value (each setting seen once)."""
    return HdrHistogram(lowest, highest, digits)


def _varints(data: bytes, start: int, stop: int) -> list[int]:
    """HdrHistogram's V2 counts: ZigZag LEB128 varints (a negative one is a run of zeros)."""
    out: list[int] = []
    value = shift = 0
    for i in range(start, stop):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        out.append((value >> 1) ^ -(value & 1))
        value = shift = 0
    return out


@lru_cache(maxsize=16_384)
def decode(encoded: str) -> Counts:
    """The sparse form of an encoded HdrHistogram ("" → empty); a ValueError if malformed.

    Reads the V2 wire format directly (base64 of a header and a zlib-compressed run of
    varints): hdrh's own decoder fills the whole counts array (tens of thousands of slots for
    1 µs – 1 h at 3 digits) and walking it took ~1 ms per interval, the cost of a comparison.
    """
    if not encoded:
        return EMPTY
    try:
        raw = base64.b64decode(encoded, validate=True)
        _, length = _EXTERNAL.unpack_from(raw)
        inner = zlib.decompress(raw[_EXTERNAL.size : _EXTERNAL.size + length])
        _, size, offset, digits, lowest, highest, _ = _PAYLOAD.unpack_from(inner)
        counts = _varints(inner, _PAYLOAD.size, _PAYLOAD.size + size)
        hist = _layout(lowest, highest, digits)
    except (ValueError, struct.error, zlib.error) as exc:
        raise ValueError(f"not an encoded HdrHistogram ({type(exc).__name__})") from None
    if offset:  # never written by battletest's histograms
        raise ValueError("not an encoded HdrHistogram (normalizing index offset)")
    highest_of, value_at = hist.get_highest_equivalent_value, hist.get_value_from_index
    values: list[int] = []
    kept: list[int] = []
    index = 0
    for c in counts:
        if c < 0:  # a run of -c empty buckets
            index -= c
            continue
        if c:
            values.append(highest_of(value_at(index)))
            kept.append(c)
        index += 1
    return Counts(tuple(values), tuple(kept))


def merge(parts: Iterable[Counts]) -> Counts:
    """One histogram of all ``parts`` (counts of equal values added)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
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
