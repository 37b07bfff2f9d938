"""`battletest run` compares its load suite with the saved baseline: the perf_regression gate row,
the dashboard's comparison and trend sections, and a note when no baseline exists.

Whether two runs of one build differ is a statistical question about the machine they ran on: on
the shared, loaded machine the suite runs on, the second run may really be slower than the first
(another test's load arrived meanwhile), and no test over those two runs alone can know it was
not the code. How often the detector raises such false alarms is measured in
``bench/bench_regression.py``, not asserted here. What a run must get exactly right is asserted:
the wiring (which baseline, which rows, the gate row agreeing with them, the trend ending with this
run) and that a run compared with a baseline saved from its own measurements is never a
regression, however noisy they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.run.conftest import make_config

from battletest.perf.baseline import FORMAT_VERSION, from_run_folder, save
from battletest.quality.gates import evaluate_gates
from battletest.results import Case, Status, SuiteResult
from battletest.run import BASELINES, compare_with_baseline, execute

# short phases: 2 s at a fixed arrival rate, sampled every 0.25 s (≥ 5 usable intervals)
LOAD = {"rate": 40, "duration": "2s", "workers": 1, "snapshot_interval": 0.25}


@pytest.mark.slow
def test_a_second_run_is_compared_with_the_baseline_saved_from_the_first(
    api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    history = {"record": True, "url": f"sqlite:///{tmp_path}/history.db"}
    cfg = make_config(api_url, tmp_path, load=LOAD, history=history)

    first = execute(cfg, only=["load"])
    assert first.folder is not None
    assert "perf_regression" not in {g.name for g in first.report.gates}
    assert any("no baseline comparison" in n and "baseline save" in n for n in first.notes)
    saved = save(from_run_folder(first.folder), tmp_path / BASELINES)
    data = json.loads(saved.read_text())
    assert len(data["samples"]) >= 5 and data["version"] == FORMAT_VERSION
    assert data["shape"] == {"executor": "constant-arrival-rate", "rate": 40.0, "duration": 2.0}
    assert data["target_id"] == api_url.rstrip("/")

    second = execute(cfg, only=["load"])
    load = second.report.suites[0].metrics
    cmp = load["baseline"]
    assert cmp["baseline_run"] == first.report.run.id
    assert {(r["scope"], r["metric"]) for r in cmp["rows"]} >= {
        ("total", m) for m in ("p50", "p95", "p99", "rps")
    }
    # the trend ends with the run it is drawn for, after the recorded first run
    assert [r["run_id"] for r in load["trend"]][-2:] == [
        first.report.run.id,
        second.report.run.id,
    ]
    gate = next(g for g in second.report.gates if g.name == "perf_regression")
    regressed = [r for r in cmp["rows"] if r["verdict"] == "regression"]
    assert gate.passed is (not regressed) and gate.measured == len(regressed), gate.reason
    assert not any("no baseline comparison" in n for n in second.notes)
    assert second.folder is not None
    html = (second.folder / "report.html").read_text()
    assert 'id="baseline-table"' in html and 'id="trend-table"' in html
    written = json.loads((second.folder / "report.json").read_text())
    assert any(g["name"] == "perf_regression" for g in written["gates"])

    # the second run against a baseline saved from itself: identical samples, never a regression
    save(from_run_folder(second.folder), tmp_path / BASELINES)
    suites = [s.model_copy(deep=True) for s in second.report.suites]
    notes: list[str] = []
    compare_with_baseline(suites, None, notes, tmp_path / BASELINES, run=second.report.run)
    assert notes == []
    own = suites[0].metrics["baseline"]
    assert own["baseline_run"] == second.report.run.id and own["regressions"] == 0
    assert all(r["change_pct"] in (0.0, None) for r in own["rows"])
    assert all(r["p_value"] is None or r["p_value"] == 1.0 for r in own["rows"])
    row = next(g for g in evaluate_gates(suites, cfg.gates) if g.name == "perf_regression")
    assert row.passed is True, row.reason


def _load_result() -> SuiteResult:
    result = SuiteResult.from_cases("load", [Case(name="ran", status=Status.PASSED)], 1.0)
    result.metrics["requests"] = 10
    return result


def test_without_a_baseline_the_run_says_so_and_adds_no_gate(tmp_path: Path) -> None:
    notes: list[str] = []
    results = [_load_result()]
    compare_with_baseline(results, None, notes, tmp_path / "none")
    assert "baseline" not in results[0].metrics
    (note,) = notes
    assert "none/default.json does not exist" in note and "battletest baseline save" in note


def test_a_broken_baseline_is_a_note_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "default.json").write_text("{not json")
    notes: list[str] = []
    compare_with_baseline([_load_result()], None, notes, tmp_path)
    assert len(notes) == 1 and notes[0].startswith("no baseline comparison:")


def test_a_run_without_load_has_no_baseline_note(tmp_path: Path) -> None:
    notes: list[str] = []
    compare_with_baseline(
        [SuiteResult.from_cases("contract", [], 0.0)], None, notes, tmp_path / "none"
    )
    assert notes == []
