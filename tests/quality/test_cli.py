"""`battletest flaky` and `battletest history`: output and exit codes, in-process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from battletest.cli import cli, main
from battletest.quality.store import CaseRecord, HistoryStore, RunRecord, sqlite_url


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "h.db")
    s = HistoryStore(url)
    old = time.time() - 200 * 86400
    rid = s.start_run(RunRecord(commit="old", started_at=old))
    s.add_cases(rid, [CaseRecord("tests/test_x.py::old", "passed")], commit="old", ts=old)
    for outcome in ("passed", "failed", "passed"):
        rid = s.start_run(RunRecord(commit="c1"))
        s.add_cases(
            rid,
            [
                CaseRecord("tests/test_x.py::flaky", outcome, file="tests/test_x.py"),
                CaseRecord("tests/test_x.py::stable", "passed", file="tests/test_x.py"),
            ],
            commit="c1",
        )
    s.close()
    return url


def test_flaky_list_and_report(db: str) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["flaky", "list", "--db", db])
    assert out.exit_code == 0
    lines = out.stdout.strip().splitlines()
    assert lines[2].split() == ["flaky", "33%", "3", "tests/test_x.py::flaky"]
    assert "stable" not in out.stdout
    report = runner.invoke(cli, ["flaky", "report", "--weeks", "1", "--db", db, "--json"])
    (row,) = json.loads(report.stdout)
    assert row["test"] == "tests/test_x.py::flaky" and row["file"] == "tests/test_x.py"
    assert row["failures"] == 1 and row["runs"] == 3 and row["last_flip"] != "-"


def test_quarantine_and_release_by_hand(db: str) -> None:
    runner = CliRunner()
    test = "tests/test_x.py::stable"
    assert (
        runner.invoke(
            cli, ["flaky", "quarantine", test, "--reason", "JIRA-1", "--db", db]
        ).exit_code
        == 0
    )
    listed = runner.invoke(cli, ["flaky", "list", "--db", db]).stdout.splitlines()
    assert ["quarantined", "0%", "3", test] in [line.split() for line in listed]
    assert runner.invoke(cli, ["flaky", "release", test, "--db", db]).exit_code == 0
    assert test not in runner.invoke(cli, ["flaky", "list", "--db", db]).stdout


def test_history_prune_keeps_recent_runs(db: str) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["history", "prune", "--keep", "90d", "--db", db])
    assert out.exit_code == 0
    assert out.stdout.strip() == "pruned 1 run(s) and 1 case result(s) older than 90d"
    stats = runner.invoke(cli, ["history", "stats", "--db", db]).stdout
    assert "bt_runs                      3" in stats


def test_without_a_store_the_commands_say_so(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["flaky", "list"]).stdout.strip() == "no flaky tests"
    assert "nothing to prune" in runner.invoke(cli, ["history", "prune", "--keep", "1d"]).stdout
    assert not (tmp_path / ".battletest").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["history", "prune", "--keep", "ninety days"],
        ["flaky", "quarantine", " "],
        ["flaky", "list", "--db", "oracle://u@h/db"],
        ["flaky", "report", "--weeks", "0"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) <= 3 and any(line.startswith(("battletest: error:", "Error:")) for line in err)
