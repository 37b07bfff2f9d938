"""`battletest run` and `battletest config` from the outside: exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.run.apps import SECRET

from battletest.cli import main
from battletest.config import SCHEMA_PATH
from battletest.report.json import validate

APP_TOML = """
[target]
health = "/health"

[auth]
login_path = "/auth/login"
refresh_path = "/auth/refresh"
logout_path = "/auth/logout"
jwt_secret = "env:BT_TEST_JWT_SECRET"

[[identities]]
name = "admin"
role = "admin"
username = "admin@t.test"
password = "{admin_password}"

[suites.contract]
examples = 2
"""


def write_config(tmp_path: Path, admin_password: str = "pw-admin-1", extra: str = "") -> Path:
    path = tmp_path / "battletest.toml"
    path.write_text(APP_TOML.replace("{admin_password}", admin_password) + extra)
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BT_TEST_JWT_SECRET", SECRET)
    monkeypatch.chdir(tmp_path)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("battletest: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.slow
@pytest.mark.network
def test_run_against_a_running_api_exits_0_with_reports_and_json(
    api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    code, out, err = run_cli(
        [
            "run",
            "--config",
            str(cfg),
            "--api-url",
            api_url,
            "--suites",
            "contract,auth,errors",
            "--out",
            str(tmp_path / "reports"),
            "--seed",
            "5",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["summary"]["verdict"] == "pass" and summary["seed"] == 5
    folder = Path(summary["run_folder"])
    assert folder.parent == tmp_path / "reports" and (tmp_path / "reports" / "latest").is_symlink()
    report = json.loads((folder / "report.json").read_text())
    assert validate(report) == []
    assert [s["name"] for s in report["suites"]] == ["contract", "auth", "errors"]
    assert SECRET not in (folder / "report.json").read_text()
    assert report["run"]["config"]["auth"]["jwt_secret"] == "***"
    assert "verdict: PASS" in err and "seed 5" in err


FLASK_APP = """
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/hello")
def hello():
    return jsonify(message="hi")
"""

FLASK_SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "flask", "version": "1"},
    "paths": {
        "/hello": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["message"],
                                    "properties": {"message": {"type": "string"}},
                                }
                            }
                        },
                    }
                }
            }
        }
    },
}


@pytest.mark.slow
@pytest.mark.network
def test_run_launches_a_flask_app_through_a2wsgi(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "flaskdemo.py").write_text(FLASK_APP)
    (tmp_path / "openapi.json").write_text(json.dumps(FLASK_SPEC))
    code, out, err = run_cli(
        [
            "run",
            "--app",
            "flaskdemo:app",
            "--spec",
            "openapi.json",
            "--suites",
            "contract",
            "--out",
            "reports",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["summary"]["passed"] == 1
    report = json.loads((Path(summary["run_folder"]) / "report.json").read_text())
    assert report["run"]["target"].startswith("http://127.0.0.1:")
    assert report["test_results"][0]["name"] == "GET /hello"


def test_a_target_refusing_connections_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from battletest.netutil import free_port

    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_cli(
        ["run", "--target", url, "--suites", "contract", "--out", "reports"], capsys
    )
    assert code == 3
    line = one_error_line(err)
    assert url in line and "ConnectError" in line and "start the service" in line


def test_an_unknown_suite_exits_2_naming_the_available_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_cli(["run", "--target", "http://127.0.0.1:9", "--suites", "fuzz"], capsys)
    assert code == 2
    line = one_error_line(err)
    assert "suite 'fuzz' is unknown" in line and "contract, auth, errors, pytest" in line


def test_a_suite_missing_from_the_table_is_not_built_yet() -> None:
    from battletest.config import Config
    from battletest.errors import UsageError
    from battletest.run import SUITES, select_suites

    table = {k: v for k, v in SUITES.items() if k != "resilience"}
    with pytest.raises(UsageError, match="suite 'resilience' is not built yet") as err:
        select_suites(Config(), only=["resilience"], table=table)
    assert "resilience" not in str(err.value).split("available suites:")[1]


def test_update_golden_without_golden_mode_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--target", "http://127.0.0.1:9", "--mode", "LIVE", "--update-golden"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "--update-golden needs --mode GOLDEN" in one_error_line(err)


def test_an_unknown_config_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, extra="\n[suites.contract2]\nexamples = 1\n")
    code, _, err = run_cli(["run", "--config", str(cfg)], capsys)
    assert code == 2 and "unknown key 'suites.contract2'" in one_error_line(err)


def test_a_wrong_type_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('parallel = "many"\n')
    code, _, err = run_cli(["run", "--config", str(cfg)], capsys)
    assert code == 2 and "'parallel'" in one_error_line(err)


def test_a_missing_secret_variable_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BT_TEST_JWT_SECRET")
    code, _, err = run_cli(["run", "--config", str(write_config(tmp_path))], capsys)
    assert code == 2 and "BT_TEST_JWT_SECRET is not set" in one_error_line(err)


@pytest.mark.network
def test_a_failing_login_exits_2(
    api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, admin_password="wrong")
    code, _, err = run_cli(
        [
            "run",
            "--config",
            str(cfg),
            "--target",
            api_url,
            "--suites",
            "contract",
            "--out",
            "reports",
        ],
        capsys,
    )
    assert code == 2
    line = one_error_line(err)
    assert "login of identity 'admin'" in line and "HTTP 401" in line
    assert "wrong" not in line.split("identity")[1]  # the password is not echoed


@pytest.mark.network
def test_a_spec_that_is_not_openapi_exits_2(
    api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spec.json").write_text('{"hello": "world"}')
    code, _, err = run_cli(
        [
            "run",
            "--target",
            api_url,
            "--spec",
            "spec.json",
            "--suites",
            "contract",
            "--out",
            "reports",
        ],
        capsys,
    )
    assert code == 2 and "is not an OpenAPI 2.0/3.x document" in one_error_line(err)


def test_config_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["config", "schema"], capsys)
    assert code == 0 and json.loads(out) == json.loads(SCHEMA_PATH.read_text())


def test_config_validate_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    code, out, _ = run_cli(["config", "validate", "--config", str(cfg)], capsys)
    assert code == 0 and out.startswith("ok: ")
    code, out, _ = run_cli(["config", "show", "--config", str(cfg)], capsys)
    shown = json.loads(out)
    assert code == 0 and shown["auth"]["jwt_secret"] == "***" and SECRET not in out


SLOW_APP = """
import time
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/slow")
def slow() -> dict:
    time.sleep(20)
    return {"ok": True}
"""


@pytest.mark.slow
@pytest.mark.network
def test_ctrl_c_mid_run_keeps_partial_results_and_exits_130(tmp_path: Path) -> None:
    (tmp_path / "slowapp.py").write_text(SLOW_APP)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "battletest",
            "run",
            "--app",
            "slowapp:app",
            "--suites",
            "contract",
            "--out",
            "reports",
            "--seed",
            "1",
            "--verbose",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "ok GET /health" in line or not line:
            break
    assert "ok GET /health" in seen, seen
    time.sleep(0.5)  # now inside GET /slow
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + rest
    assert "Traceback" not in rest
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    assert report["run"]["interrupted"] is True
    names = [c["name"] for c in report["test_results"]]
    assert "GET /health" in names
    assert "interrupted" in rest


@pytest.mark.slow
@pytest.mark.network
def test_a_failed_gate_exits_1(
    insecure_api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    code, _, err = run_cli(
        [
            "run",
            "--config",
            str(cfg),
            "--target",
            insecure_api_url,
            "--suites",
            "auth",
            "--out",
            "reports",
        ],
        capsys,
    )
    assert code == 1
    assert "[auth] FAIL alg none: GET /me" in err and "verdict: FAIL" in err


@pytest.mark.network
def test_a_run_leaves_no_hypothesis_folder_in_the_working_directory(
    api_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "battletest",
            "run",
            "--target",
            api_url,
            "--suites",
            "contract",
            "--out",
            "reports",
            "--examples",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert not (tmp_path / ".hypothesis").exists()
