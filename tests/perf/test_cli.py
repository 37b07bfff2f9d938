"""``battletest baseline save | compare`` in-process, over run folders written by the real
report writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.clitools import run_cli as _cli

from battletest.report import write_run_folder

from .helpers import load_metrics, load_report


def _run(out: Path, p50: float, seed: int) -> Path:
    return write_run_folder(load_report(load_metrics(p50, seed=seed), f"run{seed}"), out)


def test_save_then_compare_same_and_slower(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, bdir = tmp_path / "reports", tmp_path / "baselines"
    _run(out, 10, 1)
    code, text, _ = _cli(["baseline", "save", "--out", str(out), "--dir", str(bdir)], capsys)
    assert code == 0 and "saved baseline 'default' from run run1" in text
    saved = json.loads((bdir / "default.json").read_text())
    assert len(saved["samples"]) == 20 and "GET /a" in saved["endpoints"]

    _run(out, 10, 2)
    code, text, _ = _cli(["baseline", "compare", "--out", str(out), "--dir", str(bdir)], capsys)
    assert code == 0, text
    assert "verdict: no regression" in text

    slow = _run(out, 13, 3)
    argv = ["baseline", "compare", "--run", str(slow), "--dir", str(bdir)]
    code, text, _ = _cli(argv, capsys)
    assert code == 1
    assert "REGRESSION" in text and "regression(s)" in text

    code, text, _ = _cli([*argv, "--json", "--threshold", "p50=50"], capsys)
    data = json.loads(text)
    assert data["current_run"] == "run3" and data["regressions"] >= 1


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["baseline", "save", "--out", "{tmp}/nothing"], "no run folder"),
        (["baseline", "save", "--run", "{tmp}/missing"], "does not exist"),
        (["baseline", "save", "--run", "{run}", "--scenario", "../x"], "cannot be a file name"),
        (["baseline", "compare", "--run", "{run}", "--dir", "{tmp}/none"], "no baseline"),
        (["baseline", "compare", "--run", "{run}", "--threshold", "p95"], "METRIC=PERCENT"),
        (["baseline", "compare", "--run", "{run}", "--dir", "{bad}"], "not a battletest baseline"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "reports", 10, 1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "default.json").write_text("{not json")
    subst = {"{tmp}": str(tmp_path), "{run}": str(run), "{bad}": str(bad)}
    args = list(argv)
    for k, v in subst.items():
        args = [a.replace(k, v) for a in args]
    code, _, err = _cli(args, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("battletest: error:") and text in lines[0]


def test_no_load_suite_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from battletest.results import Report, RunInfo, utcnow

    report = Report.build(RunInfo(id="x", started_at=utcnow(), version="t"), [], [])
    folder = write_run_folder(report, tmp_path)
    code, _, err = _cli(["baseline", "save", "--run", str(folder)], capsys)
    assert code == 2 and "no load measurements" in err


def test_cli_alpha_default_matches_the_library() -> None:
    from battletest.perf.cli import baseline
    from battletest.perf.compare import DEFAULT_ALPHA

    compare_cmd = baseline.commands["compare"]
    alpha = next(p for p in compare_cmd.params if p.name == "alpha")
    assert alpha.default == DEFAULT_ALPHA


def test_a_baseline_of_another_load_shape_is_refused_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, bdir = tmp_path / "reports", tmp_path / "baselines"
    _run(out, 10, 1)
    assert _cli(["baseline", "save", "--out", str(out), "--dir", str(bdir)], capsys)[0] == 0
    metrics = load_metrics(10, seed=2)
    metrics["load_shape"] = {"executor": "constant-vus", "vus": 50, "duration": 20.0}
    write_run_folder(load_report(metrics, "other"), out)
    argv = ["baseline", "compare", "--out", str(out), "--dir", str(bdir)]
    code, _, err = _cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1
    assert "was recorded with another load shape executor 'constant-arrival-rate'" in lines[0]
    assert "--force" in lines[0]
    code, text, _ = _cli([*argv, "--force"], capsys)
    assert code == 0 and "note: compared anyway (--force): load shape" in text


def test_the_old_method_can_be_chosen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, bdir = tmp_path / "reports", tmp_path / "baselines"
    _run(out, 10, 1)
    _cli(["baseline", "save", "--out", str(out), "--dir", str(bdir)], capsys)
    _run(out, 10, 2)
    argv = ["baseline", "compare", "--out", str(out), "--dir", str(bdir), "--json"]
    data = json.loads(_cli([*argv, "--method", "mann-whitney"], capsys)[1])
    assert data["method"] == "mann-whitney" and {r["test"] for r in data["rows"]} == {
        "mann-whitney"
    }
    data = json.loads(_cli(argv, capsys)[1])
    assert data["method"] == "block" and "mann-whitney" not in {r["test"] for r in data["rows"]}
