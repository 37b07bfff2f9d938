"""Histogram recording, encoding and merging: the merge of the parts is the whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battletest.load import histogram

latencies = st.lists(st.integers(min_value=0, max_value=20_000_000), min_size=1, max_size=400)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(parts=st.lists(latencies, min_size=1, max_size=6))
def test_merge_of_encoded_parts_equals_the_whole(parts: list[list[int]]) -> None:
    whole = histogram.fold(v for part in parts for v in part)
    merged = histogram.merged(histogram.encode(histogram.fold(p)) for p in parts)
    assert merged.get_total_count() == whole.get_total_count() == sum(map(len, parts))
    assert merged.get_min_value() == whole.get_min_value()
    for p in (50.0, 90.0, 99.0, 99.9, 100.0):
        assert merged.get_value_at_percentile(p) == whole.get_value_at_percentile(p)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(values=latencies)
def test_fold_equals_recording_one_by_one(values: list[int]) -> None:
    one_by_one = histogram.new_histogram()
    for v in values:
        one_by_one.record_value(max(v, 1))
    folded = histogram.fold(values)
    for p in (0.0, 50.0, 99.0, 100.0):
        assert folded.get_value_at_percentile(p) == one_by_one.get_value_at_percentile(p)
    assert folded.get_total_count() == one_by_one.get_total_count()


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=50, max_size=500))
def test_percentiles_are_within_the_histogram_precision(values: list[int]) -> None:
    ordered = sorted(values)
    hist = histogram.fold(values)
    for q in (50.0, 99.0):
        rank = max(0, -(-len(ordered) * int(q) // 100) - 1)  # nearest rank, 0-based
        got = histogram.value_at_ms(hist, q) * 1000
        # HdrHistogram rounds the rank to nearest: either neighbour, at 3 significant digits
        assert any(
            abs(got - ordered[k]) <= ordered[k] * 0.001 + 1 for k in (rank - 1, rank) if k >= 0
        )


def test_summary_of_a_merge_equals_the_summary_of_the_whole() -> None:
    parts = [[120, 130, 5000], [90, 110, 250_000], [1, 2, 3]]
    whole = histogram.fold(v for part in parts for v in part)
    merged = histogram.merged(histogram.encode(histogram.fold(p)) for p in parts)
    summary = histogram.summary_ms(merged)
    assert summary == histogram.summary_ms(whole)
    assert summary["min"] == 0.001 and 250.0 <= summary["max"] <= 250.2
    assert summary["mean"] == round(whole.get_mean_value() / 1000.0, 3)


def test_empty_histogram_summarises_to_zeros() -> None:
    assert set(histogram.summary_ms(histogram.new_histogram()).values()) == {0.0}
    assert histogram.percentiles_ms(histogram.new_histogram(), [95.0]) == {95.0: 0.0}
