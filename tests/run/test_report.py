"""report.json against the committed schema, junit.xml against the XSD, and run folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from battletest.report import write_run_folder
from battletest.report.json import SCHEMA_PATH, report_json_schema, validate
from battletest.report.junit import XSD_PATH, render
from battletest.report.rundir import create_run_folder, update_latest
from battletest.results import Case, GateResult, Report, RunInfo, Status, SuiteResult

STARTED = datetime(2026, 11, 29, 14, 0, 0, tzinfo=UTC)


def sample_report(run_id: str = "abcd1234") -> Report:
    cases = [
        Case(name="GET /x", status=Status.PASSED, duration_ms=12.5),
        Case(
            name="POST /x",
            status=Status.FAILED,
            duration_ms=30,
            message="server error 500",
            reproduce="curl -X POST http://127.0.0.1:1/x",
        ),
        Case(name="PUT /x", status=Status.SKIPPED, message="out of time"),
        Case(name="tool \x01 broke", status=Status.ERROR, message="bad schema \x02"),
    ]
    suites = [SuiteResult.from_cases("contract", cases, 1.5)]
    gates = [
        GateResult(name="no_failed_cases", limit=0, measured=2, passed=False, reason="x"),
        GateResult(name="coverage", limit=80, passed=None, reason="not measured"),
    ]
    run = RunInfo(id=run_id, started_at=STARTED, version="0.1.0", seed=3)
    return Report.build(run, suites, gates)


def test_the_committed_report_schema_matches_the_model() -> None:
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == report_json_schema(), (
        "schemas/report.schema.json drifted from results.Report; regenerate it and update "
        "docs/reference/report-json.md"
    )


def test_a_report_validates_and_a_broken_one_does_not() -> None:
    doc = json.loads(sample_report().model_dump_json())
    assert validate(doc) == []
    assert {
        "schema_version",
        "run",
        "summary",
        "suites",
        "test_results",
        "failed_tests",
        "performance_metrics",
        "gates",
    } <= set(doc)
    broken = json.loads(json.dumps(doc))
    del broken["summary"]["success_rate"]
    broken["suites"][0]["cases"][0]["status"] = "sort of"
    problems = validate(broken)
    assert any("success_rate" in p for p in problems)
    assert any("suites/0/cases/0/status" in p for p in problems)


def test_junit_xml_is_valid_against_the_xsd_and_carries_failures() -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    doc = etree.fromstring(render(sample_report()))
    assert schema.validate(doc), schema.error_log
    suite = doc.find("testsuite")
    assert suite is not None and suite.get("name") == "contract"
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == ("4", "1", "1", "1")
    failure = doc.find(".//testcase[@name='POST /x']/failure")
    assert failure is not None and "curl -X POST" in (failure.text or "")


VENDORED_XSD = Path(__file__).resolve().parent / "data" / "junit-10.xsd"


def test_junit_xml_is_valid_against_the_vendored_jenkins_junit_schema() -> None:
    """The schema CI servers validate against (tests/run/data/README.md), not only our own."""
    schema = etree.XMLSchema(etree.parse(str(VENDORED_XSD)))
    assert schema.validate(etree.fromstring(render(sample_report()))), schema.error_log
    broken = etree.fromstring(
        b"<testsuites><testsuite name='x'><testcase/></testsuite></testsuites>"
    )
    assert not schema.validate(broken)


def test_the_xsd_rejects_a_broken_junit_file() -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    broken = etree.fromstring(
        b"<testsuites><testsuite name='x'><testcase/></testsuite></testsuites>"
    )
    assert not schema.validate(broken)


def test_run_folders_are_never_overwritten_and_latest_follows(tmp_path: Path) -> None:
    first = write_run_folder(sample_report("aaaa0001"), tmp_path)
    second = write_run_folder(sample_report("aaaa0001"), tmp_path)
    assert first != second and first.name == "20261129T140000Z-aaaa0001"
    assert second.name == "20261129T140000Z-aaaa0001-1"
    assert (first / "report.json").is_file() and (first / "junit.xml").is_file()
    latest = tmp_path / "latest"
    assert latest.is_symlink() and latest.resolve() == second.resolve()
    assert json.loads((latest / "report.json").read_text())["run"]["id"] == "aaaa0001"


def test_a_real_latest_folder_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "latest").mkdir()
    folder = create_run_folder(tmp_path, STARTED, "bbbb0002")
    assert update_latest(folder) is None
    assert (tmp_path / "latest").is_dir() and not (tmp_path / "latest").is_symlink()


def test_an_out_path_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    from battletest.errors import ConfigError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="--out"):
        create_run_folder(blocker, STARTED, "cccc0003")
