"""The coordinator's merge of worker snapshots, without processes or sockets."""

from __future__ import annotations

import pytest

from battletest.load.result import Aggregator
from battletest.load.runtime import Recorder
from battletest.load.thresholds import parse_threshold


def _snapshot(seq: int, latencies_us: list[int], lost: int = 0, vus: int = 2) -> dict[str, object]:
    rec = Recorder(1)
    rec.lat[0].extend(latencies_us)
    rec.lost[0] = lost
    if lost:
        rec.errors["timeout"] = lost
    rec.bytes_in = 100 * len(latencies_us)
    return rec.snapshot(seq, float(seq), vus, final=False)


def test_two_workers_merge_into_exact_totals_and_percentiles() -> None:
    agg = Aggregator(["/"], workers=2)
    # worker A is fast, worker B has the slow tail: averaging their p99s would be wrong
    agg.add(_snapshot(1, [1000] * 99))
    agg.add(_snapshot(1, [1000] * 87 + [500_000] * 12, lost=2))
    assert agg.complete_seconds() == [1]
    assert agg.total.requests == 200 and agg.total.failed == 2
    assert agg.errors == {"timeout": 2}
    assert agg.lookup("p95", None) == pytest.approx(500.0, rel=0.001)  # 12/198 are slow
    assert agg.lookup("p90", None) == pytest.approx(1.0, rel=0.001)
    assert agg.lookup("error_rate", None) == pytest.approx(0.01)
    assert agg.lookup("rps", None) == pytest.approx(200.0)
    sample = agg.sample(1)
    assert (sample.vus, sample.errors, sample.rps) == (4, 2, 200.0)
    results = agg.evaluate([parse_threshold("p95<300ms"), parse_threshold("p90<2ms")])
    assert [r.passed for r in results] == [False, True]


def test_an_interval_only_some_workers_reported_is_not_complete() -> None:
    agg = Aggregator(["/"], workers=2)
    agg.add(_snapshot(1, [2000]))
    assert agg.complete_seconds() == []
    assert agg.lookup("p50", "/") == pytest.approx(2.0, rel=0.001)
    assert agg.lookup("p50", "/other") is None
    assert Aggregator(["/"], 1).lookup("p99", None) is None  # nothing measured yet
