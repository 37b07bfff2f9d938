"""The ``pytest`` suite runs the user's tests under coverage.py: line and branch percent for the
coverage gates and the uncovered functions in ``coverage_gaps``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.run.conftest import make_config

from battletest.run import execute
from battletest.suites.pytest_suite import child_argv, coverage_metrics, coverage_sources

CALC = """\
def add(a, b):
    if a < 0:
        return b
    return a + b


def never_called(x):
    total = 0
    for i in range(x):
        total += i
    return total
"""
TEST = """\
from mypkg.calc import add


def test_add():
    assert add(1, 2) == 3
"""


def _project(root: Path) -> None:
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "calc.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(TEST)


@pytest.mark.slow
def test_the_coverage_gates_measure_the_users_own_source(
    api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    cfg = make_config(api_url, tmp_path, suites={"pytest": {"path": "tests"}})
    out = execute(cfg, only=["pytest"])
    suite = out.report.suites[0]
    assert [c.status.value for c in suite.cases] == ["passed"], suite.cases
    cov = suite.metrics["coverage"]
    assert cov["line"] is not None and 0 < cov["line"] < 100
    assert cov["branch"] is not None and 0 < cov["branch"] < 100
    gates = {g.name: g for g in out.report.gates}
    assert gates["line_coverage"].measured == cov["line"]
    assert gates["branch_coverage"].measured == cov["branch"]
    assert gates["line_coverage"].passed is False  # below the default 80%
    gaps = {g["function"]: g for g in suite.metrics["coverage_gaps"]}
    assert gaps["never_called"]["kind"] == "uncovered"
    assert gaps["never_called"]["file"] == "mypkg/calc.py"
    assert not any(g["file"].startswith("tests/") for g in suite.metrics["coverage_gaps"])
    assert out.folder is not None  # the dashboard lists the gap
    assert "never_called" in (out.folder / "report.html").read_text()


def test_the_child_runs_under_coverage_only_when_switched_on(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from battletest.config import Config

    cfg = Config.model_validate({"suites": {"pytest": {"path": "t", "source": ["lib", "app"]}}})
    ctx: Any = SimpleNamespace(config=cfg)
    argv = child_argv(ctx, Path("t"), tmp_path / "r.json", tmp_path / ".coverage")
    assert argv[1:7] == [
        "-m",
        "coverage",
        "run",
        "--branch",
        f"--data-file={tmp_path / '.coverage'}",
        "--source=lib,app",
    ]
    assert argv[7:9] == ["-m", "pytest"]
    assert child_argv(ctx, Path("t"), tmp_path / "r.json")[1:3] == ["-m", "pytest"]


def test_the_sources_default_to_src_then_the_package_folders(tmp_path: Path) -> None:
    assert coverage_sources(["lib"], tmp_path) == ["lib"]
    _project(tmp_path)
    (tmp_path / "tests" / "__init__.py").write_text("")
    assert coverage_sources([], tmp_path) == [str(tmp_path / "mypkg")]
    (tmp_path / "src").mkdir()
    assert coverage_sources([], tmp_path) == [str(tmp_path / "src")]


def test_missing_coverage_data_is_a_note(tmp_path: Path) -> None:
    metrics = coverage_metrics(tmp_path / ".coverage", tmp_path)
    assert list(metrics) == ["coverage_note"]
    assert "no coverage data" in metrics["coverage_note"]
