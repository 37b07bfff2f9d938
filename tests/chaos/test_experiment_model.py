"""Experiment files and the analysis of a run, socket-free."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from battletest.chaos.experiment_model import (
    Interval,
    analyse_phase,
    intervals_from_series,
    load_experiment,
    parse_experiment,
    time_to_recover,
)
from battletest.errors import ScenarioError
from battletest.load import parse_threshold

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "concierge"


def minimal(**changes):
    doc = {
        "title": "t",
        "target": {"url": "http://127.0.0.1:1"},
        "steady_state": {"endpoints": [{"path": "/"}], "rate": 10, "thresholds": ["p95<100ms"]},
        "phases": {"before": "1s", "during": "2s", "after": "3s"},
        "method": [{"at": "0s", "action": "wait", "duration": "1s"}],
    }
    for key, value in changes.items():
        doc[key] = value
    return doc


def test_builtin_demo_experiments_parse() -> None:
    files = [
        "pms_latency_spike.toml",
        "pms_outage.toml",
        "tts_throttling.toml",
        "pms_partition.toml",
        "target_kill_restart.toml",
    ]
    titles = {load_experiment(EXAMPLES / f).title for f in files}
    assert titles == {
        "PMS latency spike",
        "PMS outage",
        "TTS throttling",
        "PMS partition",
        "Target kill and restart",
    }
    kill = load_experiment(EXAMPLES / "target_kill_restart.toml")
    assert kill.phases.before == 20 and kill.rollbacks[0].action == "process.restart"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": [{"action": "explode"}]}, "method.0.action"),
        ({"method": [{"action": "mock.activate", "mock": "pms"}]}, "needs scenario"),
        (
            {"method": [{"action": "mock.activate", "mock": "db", "scenario": "outage"}]},
            "unknown mock 'db'",
        ),
        ({"method": [{"action": "wait", "duration": "1s", "at": "5s"}]}, "after the fault phase"),
        ({"method": [{"action": "process.kill"}]}, "needs a target battletest owns"),
        ({"method": [{"action": "dependency.stop", "dependency": "pms"}]}, "needs the demo"),
        ({"phases": {"before": "soon", "during": "1s", "after": "1s"}}, "invalid duration 'soon'"),
        (
            {"steady_state": {"endpoints": [{"path": "/"}], "rate": 1, "thresholds": ["p95<1%"]}},
            "a latency needs a time unit",
        ),
        (
            {
                "steady_state": {
                    "endpoints": [{"path": "/"}],
                    "rate": 1,
                    "thresholds": ["mean<100ms"],
                }
            },
            "cannot be checked per interval",
        ),
        ({"target": {"demo": True, "url": "http://x"}}, "drop url"),
        ({"target": {}}, "needs demo = true"),
        ({"colour": "red"}, "colour"),
        (
            {
                "target": {"demo": True},
                "method": [{"action": "mock.activate", "mock": "pms", "scenario": "meltdown"}],
            },
            "unknown failure scenario 'meltdown'",
        ),
        ({"scenarios": {"mine": {"stauts": 500}}}, "scenario 'mine': unknown key(s)"),
    ],
)
def test_bad_experiment_is_one_clear_error(changes: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_experiment(minimal(**changes), "exp.toml")
    assert message in str(err.value) and str(err.value).startswith("exp.toml: ")


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_experiment(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("title = ")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_experiment(bad)


def series(*rows: tuple[float, float, int, float]):
    """(t_end, rps, errors, p95) rows → load-engine-like samples."""
    return [
        SimpleNamespace(t=t, rps=rps, errors=err, p50=p95 / 2, p95=p95, p99=p95 * 1.2)
        for t, rps, err, p95 in rows
    ]


def test_intervals_and_phase_verdicts() -> None:
    ivs = intervals_from_series(
        series((0.5, 20, 0, 10), (1.0, 20, 0, 12), (1.5, 20, 10, 900), (2.0, 20, 0, 11))
    )
    assert [iv.requests for iv in ivs] == [10, 10, 10, 10]
    steady = [parse_threshold("p95<100ms"), parse_threshold("error_rate<1%")]
    before = analyse_phase("before", ivs, 0.0, 1.0, steady)
    assert before.holds is True and before.requests == 20
    during = analyse_phase("during", ivs, 1.0, 1.5, steady)
    assert during.holds is False and during.errors == 10 and during.worst_p95_ms == 900
    assert [v.passed for v in during.thresholds] == [False, False]
    assert analyse_phase("during", ivs, 1.0, 1.5, []).holds is None


def test_latency_threshold_must_hold_in_every_interval() -> None:
    ivs = intervals_from_series(series((1, 10, 0, 10), (2, 10, 0, 400), (3, 10, 0, 10)))
    phase = analyse_phase("before", ivs, 0, 3, [parse_threshold("p95<300ms")])
    assert phase.holds is False and phase.thresholds[0].worst_interval_s == 1.0


def test_time_to_recover() -> None:
    ivs = intervals_from_series(
        series(
            (1.0, 10, 0, 10),  # before
            (2.0, 10, 10, 0),  # fault
            (2.5, 10, 5, 50),  # removed at 2.0; still failing
            (3.0, 10, 0, 400),  # too slow
            (3.5, 10, 0, 20),  # holds from 3.0 …
            (4.0, 10, 0, 20),
            (4.5, 10, 0, 20),
        )
    )
    steady = [parse_threshold("p95<100ms"), parse_threshold("error_rate<1%")]
    assert time_to_recover(ivs, 2.0, steady, window=1.0) == 1.0
    assert time_to_recover(ivs, 2.0, steady, window=5.0) is None  # never held that long


def test_intervals_without_requests_neither_hold_nor_break() -> None:
    def iv(start: float, requests: float, p95: float) -> Interval:
        return Interval(
            start=start, end=start + 1, requests=requests, errors=0, p50=0, p95=p95, p99=0
        )

    p95 = [parse_threshold("p95<100ms")]
    assert time_to_recover([iv(0, 0, 0)], 0.0, p95, 0.5) is None  # nothing completed yet
    stalled_then_ok = [iv(0, 0, 0), iv(1, 10, 900), iv(2, 10, 10), iv(3, 0, 0), iv(4, 10, 10)]
    assert time_to_recover(stalled_then_ok, 0.0, p95, 3.0) == 2.0
    assert analyse_phase("during", stalled_then_ok, 2, 5, p95).holds is True


def test_chaos_run_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from battletest.cli import main

    bad = tmp_path / "exp.toml"
    bad.write_text('title = "x"\n')
    for argv, message in (
        (["chaos", "run", str(tmp_path / "none.toml")], "not found"),
        (["chaos", "run", str(bad)], "exp.toml: target: Field required"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and err.count("\n") == 1


def test_user_defined_scenario_in_an_experiment() -> None:
    exp = parse_experiment(
        minimal(
            target={"demo": True},
            scenarios={"maintenance": {"like": "service_failure", "status": 503}},
            method=[{"action": "mock.activate", "mock": "pms", "scenario": "maintenance"}],
        )
    )
    assert exp.scenarios["maintenance"]["status"] == 503


def test_an_interval_straddling_the_fault_counts_against_the_fault() -> None:
    ivs = intervals_from_series(series((1.0, 10, 0, 10), (2.0, 10, 5, 10), (3.0, 10, 5, 10)))
    steady = [parse_threshold("error_rate<1%")]
    # the fault started at 1.9 s: the interval [1, 2] holds its errors; it is not "before"
    before = analyse_phase("before", ivs, 0.0, 1.9, steady)
    during = analyse_phase("during", ivs, 1.9, 3.0, steady, overlap=True)
    assert before.holds is True and before.requests == 10
    assert during.requests == 20 and during.errors == 10
