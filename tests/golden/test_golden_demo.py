"""GOLDEN against the demo over real sockets: snapshots of one instance, compared with a fresh
instance (new ids, tokens, timestamps: no difference) and with the insecure demo (the planted
differences fail their operations' cases)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.clitools import run_cli
from tests.demo.conftest import FAST

from battletest.demo import start

pytestmark = [pytest.mark.network, pytest.mark.slow]


def golden_run(
    tmp: Path, capsys: pytest.CaptureFixture[str], *, insecure: bool = False, name: str
) -> tuple[int, dict[str, Any], str]:
    with start(insecure=insecure, **FAST) as demo:
        config = tmp / f"{name}.toml"
        demo.write_config(config)
        argv = ["run", "--config", str(config), "--target", demo.base_url, "--mode", "GOLDEN"]
        argv += ["--suites", "contract,errors", "--golden-dir", str(tmp / "golden")]
        argv += ["--out", str(tmp / name), "--no-history", "--examples", "3"]
        code, _, err = run_cli(argv, capsys)
    report = json.loads((tmp / name / "latest" / "report.json").read_text(encoding="utf-8"))
    return code, report, err


def golden_cases(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for s in report["suites"] for c in s["cases"] if c["name"].startswith("golden: ")]


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("golden")


def test_first_run_writes_then_a_fresh_instance_matches_and_the_insecure_one_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = golden_run(tmp_path, capsys, name="first")
    assert code == 0, err
    cases = golden_cases(first)
    assert cases and all(c["status"] == "skipped" for c in cases)
    assert all("snapshot written (first run" in c["message"] for c in cases)
    assert any("GOLDEN: snapshots written for" in n for n in first["run"]["notes"])
    files = {p.name for p in (tmp_path / "golden").iterdir()}
    assert {"GET_v1_calls_{call_id}.json", "masks.json", "index.json"} <= files
    assert first["run"]["seed"] == 0  # the snapshots' seed: the same inputs every run

    code, second, err = golden_run(tmp_path, capsys, name="second")
    cases = golden_cases(second)
    differing = [(c["name"], c["message"]) for c in cases if c["status"] != "passed"]
    assert differing == [], differing  # new ids, tokens, times: no false difference
    assert code == 0, err
    assert not any("had no snapshot" in n or "stale" in n for n in second["run"]["notes"])

    code, third, _ = golden_run(tmp_path, capsys, insecure=True, name="insecure")
    assert code == 1
    failed = {c["name"]: c for c in golden_cases(third) if c["status"] == "failed"}
    lines = {n: [x for g in c["details"]["golden"] for x in g["lines"]] for n, c in failed.items()}
    # planted: no security headers, a password hash in the user list, cacheable tokens
    assert any("header x-content-type-options: missing" in x for x in lines["golden: GET /health"])
    assert any("password_hash: extra property" in x for x in lines["golden: GET /v1/users"])
    assert any("header cache-control: missing" in x for x in lines["golden: POST /v1/auth/login"])
    assert failed["golden: GET /health"]["reproduce"].startswith("curl")
    html = (tmp_path / "insecure" / "latest" / "report.html").read_text(encoding="utf-8")
    assert "Answer differences" in html and 'data-case="contract::golden: GET /health"' in html
    # the snapshots were compared, never rewritten by a differing run
    after = json.loads((tmp_path / "golden" / "GET_health.json").read_text(encoding="utf-8"))
    assert after["answers"][0]["headers"]["x-content-type-options"] == "nosniff"
