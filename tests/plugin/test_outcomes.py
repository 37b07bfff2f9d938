"""Outcomes of a user's pytest suite written as a battletest SuiteResult (``--bt-results``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from battletest.pytest_plugin import read_results
from battletest.results import Status

pytestmark = pytest.mark.slow

USER_SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("database not reachable")

@pytest.mark.smoke
def test_passes():
    assert 1 + 1 == 2

@pytest.mark.api
def test_fails():
    assert {"status": 500} == {"status": 200}, "expected 200 from GET /health"

def test_setup_error(broken):
    pass

@pytest.mark.skip(reason="needs the PMS")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known bug 42")
def test_known_bug():
    assert False

def test_deselected_by_k():
    pass
"""


def _by_name(path: Path) -> dict[str, object]:
    suite = read_results(path)
    return {c.name.split("::")[-1]: c for c in suite.cases}


def test_a_failing_user_test_shows_as_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_SUITE)
    out = pytester.path / "out" / "pytest.json"
    result = pytester.runpytest("--bt-results", str(out), "-k", "not deselected")
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, xfailed=1, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    suite = read_results(out)
    assert suite.name == "pytest"
    assert suite.status is Status.FAILED
    cases = {c.name.split("::")[-1]: c for c in suite.cases}
    assert set(cases) == {
        "test_passes",
        "test_fails",
        "test_setup_error",
        "test_skipped",
        "test_known_bug",
    }

    assert cases["test_passes"].status is Status.PASSED
    assert cases["test_passes"].details["markers"] == ["smoke"]
    assert cases["test_passes"].reproduce is None

    failed = cases["test_fails"]
    assert failed.status is Status.FAILED
    assert "expected 200 from GET /health" in failed.message
    assert failed.reproduce == "pytest test_user.py::test_fails"
    assert "AssertionError" in failed.details["traceback"]
    assert failed.details["location"].startswith("test_user.py:")

    error = cases["test_setup_error"]
    assert error.status is Status.ERROR
    assert error.message == "setup: RuntimeError: database not reachable"

    assert cases["test_skipped"].status is Status.SKIPPED
    assert "needs the PMS" in cases["test_skipped"].message
    assert cases["test_known_bug"].status is Status.SKIPPED
    assert cases["test_known_bug"].message == "xfail: known bug 42"


def test_all_passing_suite_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    out = pytester.path / "pytest.json"
    pytester.runpytest("--bt-results", str(out)).assert_outcomes(passed=2)
    suite = read_results(out)
    assert suite.status is Status.PASSED
    assert [c.status for c in suite.cases] == [Status.PASSED, Status.PASSED]


def test_collection_error_is_an_error_case(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken="import not_a_module_anywhere\n")
    out = pytester.path / "pytest.json"
    pytester.runpytest("--bt-results", str(out))
    (case,) = read_results(out).cases
    assert case.status is Status.ERROR
    assert "not_a_module_anywhere" in case.message


def test_tests_that_never_ran_are_not_reported_as_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    assert False\n\ndef test_b():\n    pass\n")
    out = pytester.path / "pytest.json"
    pytester.runpytest("--bt-results", str(out), "-x")
    assert [c.name.split("::")[-1] for c in read_results(out).cases] == ["test_a"]


def test_results_are_collected_from_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_SUITE)
    out = pytester.path / "pytest.json"
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--bt-results", str(out)
    )
    result.assert_outcomes(passed=2, failed=1, errors=1, skipped=1, xfailed=1)
    cases = read_results(out).cases
    statuses = sorted(c.status.value for c in cases)
    assert statuses == ["error", "failed", "passed", "passed", "skipped", "skipped"]
    markers = {c.name.split("::")[-1]: c.details["markers"] for c in cases}
    assert markers["test_passes"] == ["smoke"]
    assert markers["test_fails"] == ["api"]


def test_results_path_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = pytester.path / "from-env.json"
    monkeypatch.setenv("BATTLETEST_RESULTS", str(out))
    pytester.makepyfile("def test_a():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert [c.status for c in read_results(out).cases] == [Status.PASSED]
