"""Broken is not flaky: real git repositories, real pytest sessions, ``battletest flaky list``.

(a) A test that passes on commits c0-c14 and fails on every run from c15 on is *broken since
c15*: listed apart, never quarantined, and its failure fails the build.
(b) In a fresh project whose ``.gitignore`` is empty, the history database, ``__pycache__`` and
the run folders are untracked files that change every run; they are no edit to the code, so a
test that passes and fails on alternate runs of one commit is flaky.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from battletest.cli import cli
from battletest.quality.store import sqlite_url

from .conftest import commit_all, git

QUIET = ("-p", "no:faker", "-p", "no:hypothesispytest", "-p", "no:randomly")
ANSWER_TEST = """
from pathlib import Path

def test_answer():
    assert Path(__file__).with_name("answer.txt").read_text().strip() == "42"

def test_stable():
    assert True
"""
ALTERNATING_TEST = """
import os

def test_alternating():
    assert int(os.environ["BT_RUN"]) % 2 == 0

def test_stable():
    assert True
"""


def _new_repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gitignore: str) -> str:
    git(pytester.path, "init", "-q", "-b", "main")
    git(pytester.path, "config", "user.email", "t@example.com")
    git(pytester.path, "config", "user.name", "t")
    git(pytester.path, "config", "commit.gpgsign", "false")
    (pytester.path / ".gitignore").write_text(gitignore)
    pytester.makeini("[pytest]\n")
    url = sqlite_url(pytester.path / ".battletest" / "history.db")
    monkeypatch.setenv("BATTLETEST_HISTORY_URL", url)  # an inner session records only when named
    return url


def _flaky_list(url: str) -> list[str]:
    out = CliRunner().invoke(cli, ["flaky", "list", "--db", url])
    assert out.exit_code == 0, out.output
    return out.stdout.splitlines()


@pytest.mark.slow
def test_a_test_failing_since_c15_is_broken_and_fails_the_build(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _new_repo(pytester, monkeypatch, ".battletest/\n__pycache__/\n")
    pytester.makepyfile(test_answer=ANSWER_TEST)
    shas = []
    for i in range(20):
        (pytester.path / "answer.txt").write_text("41\n" if i >= 15 else "42\n")
        (pytester.path / "notes.txt").write_text(f"change {i}\n")  # every commit is new code
        shas.append(commit_all(pytester.path, f"c{i}"))
        result = pytester.runpytest("-q", *QUIET)
        result.assert_outcomes(passed=2 if i < 15 else 1, failed=0 if i < 15 else 1)

    lines = _flaky_list(url)
    assert lines[0].startswith("broken (1): failed every run since a commit")
    since, runs, _day, _time, test = lines[2].split()
    assert (since, runs, test) == (shas[15][:12], "5", "test_answer.py::test_answer")
    assert lines[3] == "no flaky tests"
    # Not quarantined: the next run on the broken code fails the build (no xfail, no retries).
    (pytester.path / "notes.txt").write_text("change 20\n")
    commit_all(pytester.path, "c20")
    result = pytester.runpytest("-q", *QUIET)
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "quarantine" not in result.stdout.str()


@pytest.mark.slow
def test_alternate_outcomes_on_one_commit_are_flaky_with_an_empty_gitignore(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _new_repo(pytester, monkeypatch, "")
    pytester.makepyfile(test_alternating=ALTERNATING_TEST)
    commit_all(pytester.path, "one commit")
    (pytester.path / "battletest-reports").mkdir()
    for run in range(4):
        monkeypatch.setenv("BT_RUN", str(run))
        (pytester.path / "battletest-reports" / f"run-{run}.json").write_text("{}")
        result = pytester.runpytest("-q", "--bt-no-retry", *QUIET)
        result.assert_outcomes(passed=2 if run % 2 == 0 else 1, failed=run % 2)
    untracked = git(pytester.path, "status", "--porcelain", "--untracked-files=all")
    assert ".battletest/history.db" in untracked and "battletest-reports/" in untracked

    lines = _flaky_list(url)
    assert lines[0] == "flaky (1): passed and failed on the same code"
    assert lines[2].split() == ["flaky", "50%", "4", "test_alternating.py::test_alternating"]
    assert not any(line.startswith("broken") for line in lines)
