"""`battletest demo serve`: the written config, clean shutdown with no orphans, bad input."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import psutil
import pytest
from tests.clitools import stop_process

from battletest.cli import main
from battletest.demo import start
from battletest.demo.policy import RBAC
from battletest.errors import ExitCode, UsageError

pytestmark = [pytest.mark.network]
FAST_FLAGS = ["--port", "0", "--kdf-time-cost", "1", "--kdf-memory-kib", "64"]


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    config = tmp_path / "battletest.toml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "battletest",
            "demo",
            "serve",
            *FAST_FLAGS,
            "--write-config",
            str(config),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not config.exists() or "[[dependencies]]" not in config.read_text():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "demo serve did not write its config"
        time.sleep(0.1)
    time.sleep(0.1)
    return proc, tomllib.loads(config.read_text())


def _children(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def _assert_gone(procs: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, f"orphaned demo processes: {alive}"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_writes_config_and_stops_every_child(tmp_path: Path, sig: signal.Signals) -> None:
    proc, config = _serve(tmp_path, "--token-ttl", "300", "--cors-origin", "http://app.example")
    try:
        children = _children(proc)
        assert len(children) == 3
        target = config["target"]
        assert isinstance(target, dict)
        assert httpx.get(str(target["url"]) + "/health").status_code == 200
        assert str(target["spec"]).endswith("/openapi.json")
        idents = config["identities"]
        assert isinstance(idents, list)
        roles = sorted(i["role"] for i in idents)
        assert roles == ["admin", "guest", "guest", "service", "staff", "staff"]
        staff = [i for i in idents if i["role"] == "staff"]
        assert {i["tenant"] for i in staff} == {"h1", "h2"}
        service = next(i for i in idents if i["role"] == "service")
        r = httpx.get(str(target["url"]) + "/v1/calls", headers={"X-API-Key": service["api_key"]})
        assert r.status_code == 200
        admin = next(i for i in idents if i["name"] == "admin")
        login = httpx.post(
            str(target["url"]) + "/v1/auth/login",
            json={"username": admin["username"], "password": admin["password"]},
        )
        assert login.json()["expires_in"] == 300
        cors = httpx.get(str(target["url"]) + "/health", headers={"Origin": "http://app.example"})
        assert cors.headers["access-control-allow-origin"] == "http://app.example"
        rbac = config["rbac"]
        assert isinstance(rbac, list) and len(rbac) == len(RBAC)
        assert {"method": "DELETE", "path": "/v1/users/{user_id}", "roles": ["admin"]} in rbac
        assert config["auth"]["tenant_claim"] == "hotel_id"  # type: ignore[index]
        assert config["rate_limits"] == {
            "window_s": 60,
            "per_client": 120,
            "login_lockout_threshold": 5,
            "service_quota": 1000,
        }
        deps = config["dependencies"]
        assert isinstance(deps, list) and [d["name"] for d in deps] == ["pms", "tts"]
        assert httpx.get(deps[0]["url"] + "/health").json()["service"] == "pms"
    finally:
        out, _ = stop_process(proc, sig)
    assert proc.returncode == 0, out
    assert "demo stopped" in out and "admin@demo.test" in out
    _assert_gone(children)


@pytest.mark.slow
def test_children_exit_when_the_launcher_is_killed(tmp_path: Path) -> None:
    proc, _ = _serve(tmp_path)
    children = _children(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    _assert_gone(children)


def test_non_loopback_host_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "serve", "--host", "0.0.0.0"])
    assert exc.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("battletest: error: the demo only listens on loopback")
    assert err.count("\n") == 1


def test_busy_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exc:
            main(["demo", "serve", "--port", str(port)])
    assert exc.value.code == ExitCode.USAGE
    assert "pass --port 0" in capsys.readouterr().err


def test_unwritable_config_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "serve", *FAST_FLAGS, "--write-config", "/nonexistent/dir/bt.toml"])
    assert exc.value.code == ExitCode.USAGE
    assert "choose a writable path" in capsys.readouterr().err


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown demo option"):
        start(prot=1)
    with pytest.raises(UsageError, match="vulnerability switch"):
        start(vulns={"sqli", "nope"})
    with pytest.raises(UsageError, match="token_ttl_s must be > 0"):
        start(token_ttl_s=0)
    with pytest.raises(UsageError, match="does not exist"):
        start(db=str(tmp_path / "missing" / "x.db"))


@pytest.mark.slow
def test_db_file_persists_between_runs(tmp_path: Path) -> None:
    db = tmp_path / "concierge.db"
    fast = {"kdf_time_cost": 1, "kdf_memory_kib": 64, "db": str(db)}
    with start(**fast) as demo:
        svc = demo.identity("service").auth_headers()
        call = httpx.post(
            demo.base_url + "/v1/calls",
            headers=svc,
            json={"caller": "+15550100001", "hotel_id": "h1"},
        ).json()
    assert db.exists()
    with start(**fast) as demo:
        svc = demo.identity("service").auth_headers()
        again = httpx.get(demo.base_url + f"/v1/calls/{call['id']}", headers=svc)
        assert again.status_code == 200
