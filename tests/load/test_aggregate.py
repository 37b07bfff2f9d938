"""The coordinator's merge of worker snapshots, without processes or sockets."""

from __future__ import annotations

import pytest

from battletest.load.result import Aggregator
from battletest.load.runtime import Recorder
from battletest.load.thresholds import parse_threshold


def _snapshot(
    at: float,
    latencies_us: list[int],
    lost: int = 0,
    vus: int = 2,
    worker: int = 0,
    final: bool = False,
    endpoints: int = 1,
    on: int = 0,
) -> dict[str, object]:
    """A worker's snapshot taken ``at`` seconds into the run; ``lost`` of the latencies are
    requests that got no response (they stay in the distribution, as k6 keeps them)."""
    rec = Recorder(endpoints)
    rec.lat[on].extend(latencies_us)
    rec.lost[on] = lost
    if lost:
        rec.errors["timeout"] = lost
    rec.bytes_in = 100 * len(latencies_us)
    return rec.snapshot(1, at, vus, final, worker)


def test_two_workers_merge_into_exact_totals_and_percentiles() -> None:
    agg = Aggregator(["/"], workers=2)
    # worker A is fast, worker B has the slow tail: averaging their p99s would be wrong
    agg.add(_snapshot(1.0, [1000] * 100, worker=0))
    agg.add(_snapshot(1.0, [1000] * 88 + [500_000] * 12, lost=2, worker=1))
    assert agg.complete_seconds() == [1]
    assert agg.total.requests == 200 and agg.total.failed == 2
    assert agg.errors == {"timeout": 2}
    assert agg.lookup("p95", None) == pytest.approx(500.0, rel=0.001)  # 12/200 are slow
    assert agg.lookup("p90", None) == pytest.approx(1.0, rel=0.001)
    assert agg.lookup("error_rate", None) == pytest.approx(0.01)
    assert agg.lookup("rps", None) == pytest.approx(200.0)
    assert agg.lookup("rps_ok", None) == pytest.approx(198.0)
    sample = agg.sample(1)
    assert (sample.vus, sample.errors, sample.rps, sample.span) == (4, 2, 200.0, 1.0)
    results = agg.evaluate([parse_threshold("p95<300ms"), parse_threshold("p90<2ms")])
    assert [r.passed for r in results] == [False, True]


def test_timed_out_requests_count_in_the_percentiles() -> None:
    agg = Aggregator(["/"], workers=1)
    # 10 answered at 1 ms, 10 timed out at the 500 ms timeout
    agg.add(_snapshot(1.0, [1000] * 10 + [500_000] * 10, lost=10, final=True))
    assert agg.lookup("max", None) == pytest.approx(500.0, rel=0.001)
    assert agg.lookup("p95", None) == pytest.approx(500.0, rel=0.001)
    assert agg.lookup("error_rate", None) == pytest.approx(0.5)
    results = agg.evaluate([parse_threshold("p95<1s"), parse_threshold("max<400ms")])
    assert [r.passed for r in results] == [True, False]


def test_an_interval_only_some_workers_reported_is_not_complete() -> None:
    agg = Aggregator(["/"], workers=2)
    agg.add(_snapshot(1.0, [2000]))
    assert agg.complete_seconds() == []
    assert agg.lookup("p50", "/") == pytest.approx(2.0, rel=0.001)
    assert agg.lookup("p50", "/other") is None
    assert Aggregator(["/"], 1).lookup("p99", None) is None  # nothing measured yet


def test_a_stalled_workers_late_snapshot_merges_with_the_same_second_of_the_others() -> None:
    agg = Aggregator(["/"], workers=2)
    for at in (1.02, 2.02, 3.02):
        agg.add(_snapshot(at, [1000] * 100, worker=0))
    # worker 1 stalled from 1.03 to 3.3: its next snapshot is taken at 3.3, not at 2.0
    agg.add(_snapshot(1.03, [1000] * 100, worker=1))
    assert agg.complete_seconds() == [1]
    agg.add(_snapshot(3.3, [9000] * 50, worker=1))
    assert agg.complete_seconds() == [1, 2, 3]
    second_2, second_3 = agg.sample(2), agg.sample(3)
    assert second_2.requests == 100 and second_2.p95 == pytest.approx(1.0, rel=0.01)
    assert second_3.requests == 150 and second_3.p95 == pytest.approx(9.0, rel=0.01)
    assert second_3.t == pytest.approx(3.3) and second_3.span == pytest.approx(1.28)


def test_the_last_interval_is_scored_at_its_real_length_or_left_out_when_tiny() -> None:
    agg = Aggregator(["/a", "/b"], workers=1)
    agg.add(_snapshot(1.0, [1000] * 100, endpoints=2))
    agg.add(_snapshot(2.0, [1000] * 100, endpoints=2, on=1))
    agg.add(_snapshot(2.6, [1000] * 30, endpoints=2, final=True))
    series = agg.series()
    assert [(s.t, s.span, s.rps) for s in series] == [
        (1.0, 1.0, 100.0),
        (2.0, 1.0, 100.0),
        (
            2.6,
            0.6,
            50.0,
        ),
    ]
    by_endpoint = agg.endpoint_series()
    assert [s.requests for s in by_endpoint["/a"]] == [100, 0, 30]
    assert [s.requests for s in by_endpoint["/b"]] == [0, 100, 0]
    assert [s.t for s in by_endpoint["/b"]] == [1.0, 2.0, 2.6]

    tiny = Aggregator(["/"], workers=1)
    tiny.add(_snapshot(1.0, [1000] * 100))
    tiny.add(_snapshot(1.05, [1000] * 3, final=True))  # the stop: in-flight requests finishing
    assert [s.t for s in tiny.series()] == [1.0]
    assert tiny.total.requests == 103  # still in the totals


def test_a_threshold_without_samples_fails_when_requests_were_attempted() -> None:
    agg = Aggregator(["/a", "/b"], workers=1)
    snap = _snapshot(1.0, [1000] * 5, endpoints=2)
    agg.add(snap)
    rows = agg.evaluate([parse_threshold("p95{name=/b}<1s"), parse_threshold("p95<1s")])
    assert [r.passed for r in rows] == [False, True]
    assert "FAILED" in rows[0].line
    nothing = Aggregator(["/"], workers=1)
    assert [r.passed for r in nothing.evaluate([parse_threshold("p95<1s")])] == [None]
