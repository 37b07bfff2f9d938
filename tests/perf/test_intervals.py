from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battletest.load import histogram
from battletest.perf import intervals

latencies = st.lists(st.integers(1, 5_000_000), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None)
@given(latencies, latencies, st.sampled_from([1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0]))
def test_merged_percentiles_are_hdrhistograms_own(a: list[int], b: list[int], p: float) -> None:
    """A block's percentile read from the sparse merge equals HdrHistogram's of all values."""
    sparse = intervals.merge(
        [
            intervals.decode(histogram.encode(histogram.fold(a))),
            intervals.decode(histogram.encode(histogram.fold(b))),
        ]
    )
    assert sparse.total == len(a) + len(b)
    assert intervals.percentile_ms(sparse, p) == histogram.value_at_ms(histogram.fold(a + b), p)


def test_empty_scaled_and_malformed() -> None:
    assert intervals.decode("") is intervals.EMPTY
    assert intervals.percentile_ms(intervals.EMPTY, 95) == 0.0
    slow = intervals.scaled(intervals.decode(histogram.encode(histogram.fold([1000, 2000]))), 1.5)
    assert slow.values == (1500, 3000) and slow.counts == (1, 1)
    with pytest.raises(ValueError, match="not an encoded HdrHistogram"):
        intervals.decode("HISTFAAAA-not-base64")
