"""``battletest run`` marks the cases the history judges broken, quarantined or flaky, so the
report lists them apart (a broken test is never marked flaky)."""

from __future__ import annotations

from pathlib import Path

from battletest.config import load_config
from battletest.quality.store import CaseRecord, HistoryStore, RunRecord, sqlite_url
from battletest.results import Case, Status, SuiteResult
from battletest.run import annotate_cases, history_health


def test_broken_and_flaky_tests_are_marked_apart(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "h.db")
    with HistoryStore(url) as store:
        for i in range(6):
            rid = store.start_run(RunRecord(commit=f"c{i}"))
            store.add_cases(
                rid,
                [
                    CaseRecord("tests/t.py::broke", "failed" if i >= 3 else "passed"),
                    CaseRecord("tests/t.py::wobbly", "failed" if i == 2 else "passed"),
                ],
                commit=f"c{i}",
            )
        rid = store.start_run(RunRecord(commit="c5"))  # the same code again: wobbly flips
        store.add_cases(rid, [CaseRecord("tests/t.py::wobbly", "failed")], commit="c5")
        rid = store.start_run(RunRecord(commit="c5"))
        store.add_cases(rid, [CaseRecord("tests/t.py::wobbly", "passed")], commit="c5")
    config = load_config(None, None, {})
    notes: list[str] = []
    health = history_health(url, config, notes)
    assert health is not None and notes == []
    suite = SuiteResult.from_cases(
        "pytest",
        [
            Case(name="tests/t.py::broke", status=Status.FAILED),
            Case(name="tests/t.py::wobbly", status=Status.PASSED),
            Case(name="tests/t.py::fine", status=Status.PASSED),
        ],
        1.0,
    )
    annotate_cases([suite], health)
    broke, wobbly, fine = suite.cases
    assert broke.details["broken"] is True and broke.details["broken_since"] == "c3"
    assert "failed all 3 run(s)" in broke.details["broken_reason"]
    assert wobbly.details.get("flaky") is True and "broken" not in wobbly.details
    assert fine.details == {}
