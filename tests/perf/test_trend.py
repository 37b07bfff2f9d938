"""The trend over the last N runs, read from a real SQLite history store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from battletest.perf.trend import read_trend, trend_dicts
from battletest.quality.store import HistoryStore, sqlite_url
from battletest.report import write_run_folder
from battletest.results import Report, RunInfo

from .helpers import load_metrics, load_report


def _record(url: str, n: int) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with HistoryStore(url) as store:
        for i in range(n):
            report = load_report(load_metrics(10 + i, seed=i), f"run{i}")
            run = report.run.model_copy(update={"started_at": start + timedelta(hours=i)})
            store.record_report(Report.build(run, report.suites, []), commit=f"c{i}", branch="main")
        # a run without a load suite is not part of the trend
        plain = RunInfo(id="noload", started_at=start + timedelta(days=2), version="t")
        store.record_report(Report.build(plain, [], []), commit=None, branch=None)


def test_last_n_runs_oldest_first(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "history.db")
    _record(url, 6)
    points = read_trend(url, last=4)
    assert [p.run_id for p in points] == ["run2", "run3", "run4", "run5"]
    assert [p.values["p50"] for p in points] == [12.0, 13.0, 14.0, 15.0]
    assert points[0].values["p99"] == 24.0 and points[0].values["rps"] == 200.0
    assert points[-1].commit == "c5"
    assert trend_dicts(points)[0]["run_id"] == "run2"


def test_no_history_is_an_empty_trend_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    assert read_trend(sqlite_url(db)) == []
    assert not db.exists()
    assert read_trend(sqlite_url(db), last=0) == []


def test_compare_prints_the_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from battletest.cli import main

    url = sqlite_url(tmp_path / "history.db")
    _record(url, 3)
    out, bdir = tmp_path / "runs", tmp_path / "b"
    write_run_folder(load_report(load_metrics(10, seed=1), "a"), out)
    with pytest.raises(SystemExit):
        main(["baseline", "save", "--out", str(out), "--dir", str(bdir)])
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "baseline",
                "compare",
                "--out",
                str(out),
                "--dir",
                str(bdir),
                "--trend",
                "5",
                "--db",
                url,
            ]
        )
    text = capsys.readouterr().out
    assert exc.value.code == 0
    # the compared run ("a") is not in the history store: it is shown last, after the 3 recorded
    assert "trend over the last 4 runs" in text
    assert text.index("run0") < text.index("run1") < text.index("run2") < text.index("\na ")


def test_attach_comparison_adds_the_trend_for_the_dashboard(tmp_path: Path) -> None:
    from battletest.perf import attach_comparison
    from battletest.perf.baseline import from_report, save
    from battletest.report import html as report_html

    url = sqlite_url(tmp_path / "history.db")
    _record(url, 4)
    save(from_report(load_report(load_metrics(10, seed=1)), "default"), tmp_path)
    report = load_report(load_metrics(10.2, seed=9), "now")
    result = attach_comparison(
        report.suites, tmp_path, trend_last=3, history_url=url, run=report.run
    )
    assert result is not None and result.passed
    load = report.suites[0].metrics
    # the last 3 runs are the two latest recorded ones and this one, which is not recorded yet
    assert [p["run_id"] for p in load["trend"]] == ["run2", "run3", "now"]
    assert load["trend"][-1]["p50"] == 10.2 and load["trend"][-1]["rps"] == 200.0
    page = report_html.render(report)
    assert 'id="trend-table"' in page and 'id="baseline-table"' in page
