"""Coverage gaps from real coverage.py data, ranked by complexity and churn."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from battletest.cli import cli
from battletest.errors import UsageError
from battletest.quality.coverage_gaps import complexity, coverage_summary, find_gaps

from .conftest import commit_all, init_repo

CODE = """
def covered(x):
    return x + 1


def branchy(x):
    if x > 0:
        return "pos"
    return "neg"


def never(x):
    total = 0
    for i in range(x):
        if i % 2 and i > 3:
            total += i
    return total


def simple_never():
    return 1
"""

DRIVER = """
import mod
mod.covered(1)
mod.branchy(5)
"""


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    init_repo(tmp_path)
    (tmp_path / "mod.py").write_text(CODE)
    (tmp_path / "driver.py").write_text(DRIVER)
    commit_all(tmp_path)
    (tmp_path / "mod.py").write_text(CODE + "\n\ndef added_later():\n    return 2\n")
    commit_all(tmp_path)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            "--branch",
            "--data-file=.coverage",
            "--include=mod.py",
            "driver.py",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return tmp_path / ".coverage"


@pytest.mark.slow
def test_gaps_are_ranked_by_complexity_and_churn(data_file: Path) -> None:
    gaps = find_gaps(data_file, data_file.parent)
    by_name = {g.function: g for g in gaps}
    assert "covered" not in by_name
    assert by_name["never"].kind == "uncovered"
    assert by_name["never"].complexity == 4  # 1 + for + if + `and`
    assert by_name["branchy"].kind == "partial" and by_name["branchy"].missing_lines == 1
    assert by_name["never"].churn > 0
    order = [g.function for g in gaps]
    assert order.index("never") < order.index("simple_never")
    summary = coverage_summary(data_file)
    assert summary["line"] is not None and 0 < summary["line"] < 100
    assert summary["branch"] is not None and 0 < summary["branch"] < 100


@pytest.mark.slow
def test_gaps_command_prints_the_ranking(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(data_file.parent)
    result = CliRunner().invoke(cli, ["history", "gaps", "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("source: none found (pass --source)")
    assert len(lines) == 4 and "never" in lines[2]


@pytest.mark.slow
def test_files_no_test_imports_are_gaps_and_the_source_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented `coverage run --branch -m pytest` (no --source) records only imported
    files; history gaps adds the project's package files that no test imported."""
    pkg = tmp_path / "src" / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "used.py").write_text("def price(x):\n    return x * 2\n")
    (pkg / "forgotten.py").write_text(
        "def refund(order):\n    if order:\n        return order - 1\n    return 0\n"
    )
    (tmp_path / "drive.py").write_text(
        "import sys\nsys.path.insert(0, 'src')\nfrom shop import used\nused.price(2)\n"
    )
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", "--data-file=.coverage", "drive.py"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    data = tmp_path / ".coverage"
    assert "refund" not in {g.function for g in find_gaps(data, tmp_path)}  # coverage alone
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["history", "gaps"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "source: src — 1 file(s) there no test imports count as uncovered "
        "(the project's packages; --source to choose)"
    )
    assert any("src/shop/forgotten.py:1 refund (uncovered)" in ln for ln in lines)
    summary = coverage_summary(data, [str(tmp_path / "src")])
    assert summary["line"] is not None and summary["line"] < coverage_summary(data)["line"]


def test_missing_coverage_data_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no coverage data"):
        find_gaps(tmp_path / ".coverage", tmp_path)
    (tmp_path / "junk").write_text("not a database")
    with pytest.raises(UsageError, match=r"not coverage\.py data"):
        find_gaps(tmp_path / "junk", tmp_path)


def test_cyclomatic_complexity() -> None:
    fn = ast.parse(
        "def f(a, b):\n    if a and b or a:\n        return [x for x in a if x]\n    return 0\n"
    ).body[0]
    assert complexity(fn) == 1 + 1 + 2 + 1 + 1  # if, two boolean operators, comprehension, its if
