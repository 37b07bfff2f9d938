"""Flaky detection, quarantine and retries, through real pytest sessions (pytester)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from battletest.quality import store as store_mod
from battletest.quality.flaky import FlakyPolicy, analyse, pytest_state
from battletest.quality.store import CaseRecord, HistoryStore, RunRecord, sqlite_url

from .conftest import commit_all, init_repo

SEED = 1234
RUNS = 6
# Plugins the inner sessions do not need; they cost seconds of start-up each.
QUIET = ("-p", "no:faker", "-p", "no:hypothesispytest")
FLAKY_TEST = """
import os
import random

def test_stable():
    assert sum(range(10)) == 45

def test_flaky():
    run = int(os.environ["BT_RUN"])
    assert random.Random({seed} + run).random() > 0.4
"""


def _history(path: Path) -> HistoryStore:
    return HistoryStore(sqlite_url(path / ".battletest" / "history.db"))


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    init_repo(pytester.path)
    pytester.makeini("[pytest]\n")
    # Sessions started inside a test record only into a store named explicitly.
    db = pytester.path / ".battletest" / "history.db"
    monkeypatch.setenv("BATTLETEST_HISTORY_URL", sqlite_url(db))
    return pytester


@pytest.mark.slow
def test_a_seeded_flaky_test_is_flagged_and_a_stable_one_never(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_seeded=FLAKY_TEST.format(seed=SEED))
    commit_all(project.path)
    expected = [random.Random(SEED + run).random() > 0.4 for run in range(RUNS)]
    assert True in expected and False in expected  # the seed gives both outcomes
    for run, passes in enumerate(expected):
        monkeypatch.setenv("BT_RUN", str(run))
        result = project.runpytest("-q", "--bt-no-retry", *QUIET)
        result.assert_outcomes(passed=1 + passes, failed=0 if passes else 1)

    store = _history(project.path)
    found = {h.test_id: h for h in analyse(store)}
    with store.read() as conn:
        runs = conn.execute(sa.select(sa.func.count()).select_from(store_mod.runs)).scalar()
    store.close()
    assert runs == RUNS
    assert "test_seeded.py::test_stable" not in found
    flaky = found["test_seeded.py::test_flaky"]
    assert flaky.flaky and flaky.mixed_commits == 1
    assert flaky.runs == RUNS and flaky.failures == expected.count(False)
    assert flaky.file == "test_seeded.py"
    assert flaky.last_flip is not None


def test_the_same_outcomes_on_different_commits_are_not_flaky(store: HistoryStore) -> None:
    for i, outcome in enumerate(["passed", "failed", "passed"]):
        rid = store.start_run(RunRecord(commit=f"c{i}"))
        store.add_cases(rid, [CaseRecord("t::a", outcome)], commit=f"c{i}")
    assert analyse(store) == []  # fixed, then broken, then fixed: not enough samples for a rate


def test_flips_on_the_same_code_flag_and_the_rate_quarantines(store: HistoryStore) -> None:
    policy = FlakyPolicy(min_samples=10)
    for i in range(20):
        rid = store.start_run(RunRecord(commit="c"))
        store.add_cases(
            rid,
            [
                CaseRecord("t::often", "failed" if i % 4 == 1 else "passed"),  # 25%
                CaseRecord("t::rare", "failed" if i % 8 == 1 else "passed"),  # 15%
                CaseRecord("t::once", "failed" if i == 3 else "passed"),  # 5%
                CaseRecord("t::stable", "passed"),
            ],
            commit="c",
        )
    found = {h.test_id: h for h in analyse(store, policy)}
    assert set(found) == {"t::often", "t::rare", "t::once"}
    assert found["t::often"].quarantined and found["t::often"].flaky
    assert found["t::rare"].flaky and not found["t::rare"].quarantined
    assert found["t::once"].flaky and not found["t::once"].quarantined


def test_a_failure_rate_across_commits_alone_is_not_flaky(store: HistoryStore) -> None:
    # Failing every 4th commit, passing the others: each commit ran once, so no run shows the
    # test flipping on the same code — the code changed; the test is not flaky.
    for i in range(20):
        rid = store.start_run(RunRecord(commit=f"c{i}"))
        store.add_cases(
            rid, [CaseRecord("t::a", "failed" if i % 4 == 1 else "passed")], commit=f"c{i}"
        )
    assert analyse(store, FlakyPolicy(min_samples=10)) == []


def test_a_test_failing_on_every_run_since_a_commit_is_broken_not_quarantined(
    store: HistoryStore,
) -> None:
    # The case: passes on c0-c14, fails on every run from c15 on (25% of 20 runs).
    for i in range(20):
        rid = store.start_run(RunRecord(commit=f"c{i}"))
        store.add_cases(
            rid,
            [
                CaseRecord("t::broke", "failed" if i >= 15 else "passed"),
                CaseRecord("t::ok", "passed"),
            ],
            commit=f"c{i}",
            ts=1_000_000.0 + i,
        )
    (h,) = analyse(store, FlakyPolicy(min_samples=10), now=1_000_100.0)
    assert (h.test_id, h.status, h.broken_since, h.broken_runs) == ("t::broke", "broken", "c15", 5)
    assert not h.flaky and not h.quarantined
    assert h.reasons[0] == "broken since c15: failed all 5 run(s)"
    state = pytest_state(store, FlakyPolicy(min_samples=10))
    assert "t::broke" not in state.quarantined and "t::broke" not in state.flaky
    # Fixed on c20: no longer broken, and not flaky either (never flipped on the same code).
    rid = store.start_run(RunRecord(commit="c20"))
    store.add_cases(rid, [CaseRecord("t::broke", "passed")], commit="c20", ts=1_000_020.0)
    assert analyse(store, FlakyPolicy(min_samples=10), now=1_000_100.0) == []


def test_a_hand_quarantine_does_not_hide_a_broken_test(store: HistoryStore) -> None:
    store.set_quarantine("t::a", "quarantined", "JIRA-7")
    for i in range(3):
        rid = store.start_run(RunRecord(commit=f"c{i}"))
        store.add_cases(rid, [CaseRecord("t::a", "failed" if i else "passed")], commit=f"c{i}")
    (h,) = analyse(store)
    assert h.broken and h.broken_since == "c1" and not h.quarantined
    assert "the hand quarantine does not hide a broken test" in h.reasons
    assert "t::a" not in pytest_state(store).quarantined


def test_a_flaky_test_is_broken_once_its_streak_outlasts_its_flakiness(
    store: HistoryStore,
) -> None:
    # Flaky on commit c at 25% (P P P F, four times over), then failing on commit d. Flakes
    # rarer than 1 in 100 at 25% need 4 failures in a row (0.25**4 = 0.4%): the last failure on
    # c and two on d are still flakiness, a third on d is a break — since d, where it never passed.
    outcomes = ["passed", "passed", "passed", "failed"] * 4
    for i, outcome in enumerate(outcomes):
        rid = store.start_run(RunRecord(commit="c"))
        store.add_cases(rid, [CaseRecord("t::a", outcome)], commit="c", ts=1000.0 + i)
    for i in range(3):
        rid = store.start_run(RunRecord(commit="d"))
        store.add_cases(rid, [CaseRecord("t::a", "failed")], commit="d", ts=2000.0 + i)
        (h,) = analyse(store, now=3000.0)
        if i < 2:
            assert h.flaky and not h.broken, i
    assert h.broken and h.broken_since == "d" and h.broken_runs == 4 and not h.flaky
    assert "longer than its flakiness explains" in h.reasons[0]


def test_min_sample_size_guards_the_quarantine_rate(store: HistoryStore) -> None:
    for i in range(4):
        rid = store.start_run(RunRecord(commit="c"))
        store.add_cases(rid, [CaseRecord("t::a", "failed" if i == 1 else "passed")], commit="c")
    (h,) = analyse(store, FlakyPolicy(min_samples=10))
    assert h.flaky and not h.quarantined
    (h,) = analyse(store, FlakyPolicy(min_samples=4))
    assert h.flaky and h.quarantined


def test_hand_quarantine_and_release(store: HistoryStore) -> None:
    store.set_quarantine("t::x", "quarantined", "blocks the release")
    (h,) = analyse(store)
    assert h.quarantined and "blocks the release" in h.reasons[0]
    store.set_quarantine("t::x", "released")
    assert analyse(store) == []


def test_release_restarts_the_automatic_judgement(store: HistoryStore) -> None:
    for i in range(10):
        rid = store.start_run(RunRecord(commit="c"))
        store.add_cases(rid, [CaseRecord("t::a", "failed" if i % 2 else "passed")], commit="c")
    assert analyse(store)[0].quarantined
    store.set_quarantine("t::a", "released")
    assert analyse(store) == []


def test_old_results_fall_out_of_the_window(store: HistoryStore) -> None:
    import time

    old = time.time() - 30 * 86400
    rid = store.start_run(RunRecord(commit="c", started_at=old))
    store.add_cases(rid, [CaseRecord("t::a", "failed")], commit="c", ts=old)
    store.add_cases(rid, [CaseRecord("t::a", "passed")], commit="c", ts=old)
    assert analyse(store, FlakyPolicy(window_days=14)) == []
    assert len(analyse(store, FlakyPolicy(window_days=60))) == 1


QUARANTINED = """
from pathlib import Path

def test_quarantined():
    Path("ran.txt").write_text("yes")
    assert False, "fails today"

def test_fine():
    pass
"""


@pytest.mark.slow
def test_quarantine_keeps_the_build_green_while_the_test_still_runs(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_q=QUARANTINED)
    commit_all(project.path)
    store = _history(project.path)
    store.set_quarantine("test_q.py::test_quarantined", "quarantined", "ticket 42")
    store.close()
    result = project.runpytest("-rA", *QUIET)
    assert result.ret == 0
    result.assert_outcomes(passed=1, xfailed=1)
    assert (project.path / "ran.txt").read_text() == "yes"
    result.stdout.fnmatch_lines(
        [
            "*battletest: quarantined tests (cannot fail the build)*",
            "FAILED*test_q.py::test_quarantined",
        ]
    )
    store = _history(project.path)
    with store.read() as conn:
        row = conn.execute(
            sa.select(store_mod.cases.c.outcome, store_mod.cases.c.quarantined)
            .join(store_mod.tests, store_mod.tests.c.id == store_mod.cases.c.test)
            .where(store_mod.tests.c.test_id == "test_q.py::test_quarantined")
        ).one()
    store.close()
    assert tuple(row) == ("failed", 1)  # the history keeps the real outcome

    # Without the quarantine the same failure fails the build.
    store = _history(project.path)
    store.set_quarantine("test_q.py::test_quarantined", "released")
    store.close()
    assert project.runpytest(*QUIET).ret == 1


RETRIED = """
from pathlib import Path

def _attempt(name):
    path = Path(name)
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    return n

def test_known_flaky():
    assert _attempt("flaky.count") >= 2

def test_not_known():
    assert _attempt("other.count") >= 2
"""


@pytest.mark.slow
def test_known_flaky_tests_get_retries_and_others_none(project: pytest.Pytester) -> None:
    project.makepyfile(test_r=RETRIED)
    head = commit_all(project.path)
    store = _history(project.path)
    for outcome in ("passed", "failed"):  # it passed and failed on this commit: known flaky
        rid = store.start_run(RunRecord(commit=head))
        store.add_cases(rid, [CaseRecord("test_r.py::test_known_flaky", outcome)], commit=head)
    store.close()
    result = project.runpytest(*QUIET)
    result.assert_outcomes(passed=1, failed=1)
    assert (project.path / "flaky.count").read_text() == "2"
    assert (project.path / "other.count").read_text() == "1"
    result.stdout.fnmatch_lines(
        ["*battletest: retried known-flaky tests*", "test_r.py::test_known_flaky: 2 attempts"]
    )
    store = _history(project.path)
    (h,) = [h for h in analyse(store) if h.test_id == "test_r.py::test_known_flaky"]
    store.close()
    assert h.flaky


def test_no_history_option_records_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(test_a="def test_a():\n    pass\n")
    project.runpytest("--bt-no-history", *QUIET).assert_outcomes(passed=1)
    assert not (project.path / ".battletest" / "history.db").exists()


def test_a_nested_session_does_not_record_into_a_default_store(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATTLETEST_HISTORY_URL")
    project.makepyfile(test_a="def test_a():\n    pass\n")
    # Twice: the first inner session's own test clears PYTEST_CURRENT_TEST for the second.
    project.runpytest(*QUIET).assert_outcomes(passed=1)
    project.runpytest(*QUIET).assert_outcomes(passed=1)
    assert not (project.path / ".battletest" / "history.db").exists()


def test_a_bad_history_url_is_one_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_a="def test_a():\n    pass\n")
    result = project.runpytest("--bt-history-url", "mysql://u@h/db", *QUIET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*battletest:*SQLite or PostgreSQL*"])


def test_runs_with_uncommitted_edits_count_only_for_same_code_flips(store: HistoryStore) -> None:
    for i in range(20):  # each run on different uncommitted edits: says nothing about the test
        key = f"abc+{i:012x}"
        rid = store.start_run(RunRecord(commit="abc"))
        store.add_cases(rid, [CaseRecord("t::edited", "failed" if i % 3 else "passed")], commit=key)
    assert analyse(store, FlakyPolicy(min_samples=10)) == []
    for outcome in ("passed", "failed"):  # the same edits, both outcomes: flaky
        rid = store.start_run(RunRecord(commit="abc"))
        store.add_cases(rid, [CaseRecord("t::edited", outcome)], commit="abc+ffffffffffff")
    (h,) = analyse(store, FlakyPolicy(min_samples=10))
    assert h.flaky and not h.quarantined and h.mixed_commits == 1


def test_a_config_file_that_is_not_toml_does_not_break_pytest(project: pytest.Pytester) -> None:
    (project.path / "battletest.toml").write_text("this is [not toml\n")
    project.makepyfile(test_a="def test_a():\n    pass\n")
    project.runpytest(*QUIET).assert_outcomes(passed=1)


def test_a_bad_flaky_section_is_a_usage_error(project: pytest.Pytester) -> None:
    (project.path / "battletest.toml").write_text("[flaky]\nmax_retries = 9\n")
    project.makepyfile(test_a="def test_a():\n    pass\n")
    result = project.runpytest(*QUIET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*battletest: battletest.toml: [[]flaky.max_retries[]]*"])
