"""SARIF 2.1.0 output validated against the official schema, and ``battletest scan`` end to end
on the library app: exit codes, JSON, SARIF, baselines, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from battletest.cli import main
from battletest.netutil import free_port
from battletest.results import Finding, Report, RunInfo, Severity, utcnow
from battletest.security import run_security_suite
from battletest.security.suite import to_suite

from .harness import people, run_scan, served

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

pytestmark = [pytest.mark.network]


def _valid_sarif(log: dict[str, Any]) -> None:
    errors = sorted(Draft4Validator(SCHEMA).iter_errors(log), key=str)
    assert errors == [], [e.message for e in errors][:5]


def test_sarif_of_real_findings_is_valid_sarif_2_1_0(tmp_path: Path) -> None:
    from battletest.report import sarif

    outcome = run_scan({"cors-reflect", "headers", "no-auth"}, ["cors", "headers", "authn"])
    assert len(outcome.findings) >= 3
    log = sarif.sarif_log(outcome.findings, artifact_uri="openapi.json")
    _valid_sarif(log)
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert {"cors", "security-headers", "auth-missing"} <= set(rules)
    assert rules["cors"]["properties"]["security-severity"] == "8.0"
    assert "API8:2023" in rules["cors"]["properties"]["tags"]
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]["battletestFinding/v1"]
    # the run folder writer: an empty log when no security suite ran, results when it did
    info = RunInfo(id="r1", started_at=utcnow(), version="0")
    empty = Report.build(info, [], [])
    _valid_sarif(json.loads(sarif.write(empty, tmp_path).read_text()))
    from battletest.security import ScanSettings

    suite = to_suite(outcome, ScanSettings())
    path = sarif.write(Report.build(info, [suite], []), tmp_path)
    written = json.loads(path.read_text())
    _valid_sarif(written)
    assert len(written["runs"][0]["results"]) == len(outcome.findings)


def test_sarif_schema_rejects_a_broken_log() -> None:
    from battletest.report import sarif

    log = sarif.sarif_log([Finding(check_id="x", title="t", severity=Severity.LOW)])
    del log["runs"][0]["tool"]
    assert list(Draft4Validator(SCHEMA).iter_errors(log))


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with served({"cors-reflect", "version"}) as (base, spec):
        spec_file = tmp_path / "openapi.json"
        spec_file.write_text(json.dumps(spec))
        yield base, spec_file


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["scan", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.slow
def test_scan_command_exit_codes_json_sarif_and_baseline(
    library: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, spec = library
    common = ["--target", base, "--spec", str(spec), "--checks", "cors,version-disclosure"]
    code, out, err = _scan(capsys, *common, "--sarif", str(tmp_path / "s.sarif"))
    assert code == 1  # the CORS finding is high, at the default --fail-on high
    assert "scan: [1/2] version-disclosure" in err and "scan: [2/2] cors" in err
    assert "cors" in out and "version-disclosure" in out and "requests in" in out
    _valid_sarif(json.loads((tmp_path / "s.sarif").read_text()))

    folder = tmp_path / "runs"
    code, out, _ = _scan(
        capsys, *common, "--fail-on", "critical", "--json", "--out", str(folder), "--seed", "1"
    )
    assert code == 0
    printed = json.loads(out)
    # --json prints the very document the run folder's report.json holds
    written = [json.loads(p.read_text()) for p in folder.glob("**/report.json")]
    assert printed in written
    [suite] = printed["suites"]
    assert suite["name"] == "security"
    assert {f["check_id"] for f in suite["findings"]} == {"cors", "version-disclosure"}
    code, out, _ = _scan(capsys, *common, "--fail-on", "critical", "--json")
    assert code == 0 and [s["name"] for s in json.loads(out)["suites"]] == ["security"]

    accepted = tmp_path / "baseline.json"
    code, _, _ = _scan(capsys, *common, "--write-baseline", str(accepted))
    assert code == 1 and accepted.exists()
    code, out, _ = _scan(capsys, *common, "--baseline", str(accepted))
    assert code == 0
    assert "accepted by the baseline" in out


def test_scan_command_bad_input(
    library: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, spec = library
    code, _, err = _scan(capsys, "--target", base, "--spec", str(spec), "--checks", "nope")
    assert code == 2 and "battletest: error: unknown check 'nope'" in err
    code, _, err = _scan(
        capsys, "--target", base, "--spec", str(spec), "--baseline", str(tmp_path / "missing.json")
    )
    assert code == 2 and "--write-baseline" in err
    code, _, err = _scan(capsys, "--spec", str(spec))
    assert code == 2 and "no target to scan" in err
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = _scan(capsys, "--target", dead, "--spec", str(spec))
    assert code == 3 and "cannot reach" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[security]\ndepth = "deep"\n')
    code, _, err = _scan(capsys, "--config", str(bad), "--target", base, "--spec", str(spec))
    assert code == 2 and "depth" in err and "comprehensive" in err


@pytest.mark.slow
def test_run_security_suite_for_battletest_run() -> None:
    with served({"no-auth"}) as (base, spec):
        suite = run_security_suite(base, spec, people("ana", "ben"))
    assert suite.name == "security" and suite.status.value == "failed"
    assert any(f.check_id == "auth-missing" for f in suite.findings)
    assert suite.metrics["requests"] > 0


@pytest.mark.slow
def test_security_suite_entry_for_the_run_pipeline() -> None:
    from types import SimpleNamespace

    from battletest.config import Config
    from battletest.security.suite import security_suite

    with served({"version"}) as (base, spec):
        config = Config.model_validate(
            {"security": {"checks": ["version-disclosure"], "depth": "basic"}}
        )
        ctx = SimpleNamespace(target=SimpleNamespace(base_url=base), spec=spec, config=config)
        suite = security_suite(ctx)
    assert [f.check_id for f in suite.findings] == ["version-disclosure"]
    assert suite.status.value == "passed"  # low is below the default fail_on high
