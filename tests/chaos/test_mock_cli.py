"""``battletest mock …`` and ``battletest chaos scenarios``: in-process, plus one real serve."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.clitools import run_cli, stop_process

from battletest.chaos.mock import MockServer
from battletest.netutil import free_port


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(list(argv), capsys)


@pytest.fixture
def mock():
    with MockServer([{"path": "/r", "response": {"body": "ok"}}]) as m:
        yield m


@pytest.mark.network
def test_activate_status_deactivate(capsys: pytest.CaptureFixture[str], mock: MockServer) -> None:
    code, out, _ = run(capsys, "mock", "activate", "throttling", "--for", "30s", "--url", mock.url)
    assert code == 0 and f"throttling active on {mock.url} for 30s" in out
    assert httpx.get(mock.url + "/r").status_code == 429
    code, out, _ = run(capsys, "mock", "status", "--url", mock.url)
    assert code == 0 and "throttling: " in out and "1 request(s) journaled" in out
    code, out, _ = run(capsys, "mock", "deactivate", "--url", mock.url)
    assert code == 0 and "deactivated 1 scenario(s)" in out
    assert httpx.get(mock.url + "/r").status_code == 200


@pytest.mark.network
def test_activate_on_a_path_via_env_url(
    capsys: pytest.CaptureFixture[str], mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATTLETEST_MOCK_URL", mock.url)
    code, out, _ = run(
        capsys, "mock", "activate", "auth_failure", "--for", "2m", "--path", "/other"
    )
    assert code == 0 and "on /other for 120s" in out
    assert httpx.get(mock.url + "/r").status_code == 200


@pytest.mark.network
def test_unknown_scenario_exits_2(capsys: pytest.CaptureFixture[str], mock: MockServer) -> None:
    code, _, err = run(capsys, "mock", "activate", "meltdown", "--for", "3s", "--url", mock.url)
    assert code == 2
    assert err.startswith(
        "battletest: error: unknown failure scenario 'meltdown'; known: auth_failure"
    )


def test_bad_duration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "mock", "activate", "slow", "--for", "soon")
    assert code == 2 and "invalid --for 'soon'" in err


def test_no_mock_running_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "mock", "activate", "slow", "--for", "3s", "--url", url)
    assert code == 3 and f"no mock admin API at {url}" in err


@pytest.mark.network
def test_not_a_mock_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    from battletest.netutil import serve_app

    async def app(scope, receive, send):  # a server that is not a battletest mock
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"nope"})

    with serve_app(app) as url:
        code, _, err = run(capsys, "mock", "status", "--url", url)
    assert code == 3 and "is not a battletest mock" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mock", "serve"], "nothing to serve"),
        (["mock", "serve", "a.toml", "--spec", "b.json"], "not both"),
        (["mock", "serve", "--save", "x.json", "--spec", "b.json"], "add --record URL"),
        (["mock", "serve", "missing.toml"], "stub file 'missing.toml' not found"),
        (["mock", "serve", "--spec", "missing.json"], "spec file missing.json not found"),
        (["mock", "serve", "--record", "http://x", "--host", "0.0.0.0"], "not loopback"),
    ],
)
def test_serve_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_bad_stub_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "stubs.toml"
    f.write_text('[[stubs]]\nname = "a"\npath = "/a"\nquery = { q = { glob = "*" } }\n')
    code, _, err = run(capsys, "mock", "serve", str(f))
    assert code == 2
    assert err == (
        "battletest: error: stubs.toml: stub 'a' query 'q': unknown matcher 'glob'; "
        "use one of equals, contains, matches, present, absent, any_of\n"
    )


def test_chaos_scenarios_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "chaos", "scenarios")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "throttling",
        "timeout",
        "service_failure",
        "quota_exceeded",
        "auth_failure",
        "slow",
        "flapping",
        "outage",
    ]


@pytest.mark.slow
@pytest.mark.network
def test_serve_for_real_until_ctrl_c(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs.toml"
    stubs.write_text(
        '[[stubs]]\nmethod = "GET"\npath = "/reservations/{id}"\n'
        '[stubs.response]\njson = { id = "{{ request.path_params.id }}" }\n'
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "battletest", "mock", "serve", str(stubs), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"mock serving 1 stub(s) on http://127.0.0.1:{port}" in line
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/reservations/7", timeout=5).json() == {"id": "7"}
        battletest = [sys.executable, "-m", "battletest", "mock"]
        activate = subprocess.run(
            [*battletest, "activate", "outage", "--for", "60s", "--url", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert activate.returncode == 0, activate.stderr
        deadline = time.monotonic() + 60
        while True:  # the port closes right after the admin API answered
            try:
                httpx.get(url + "/reservations/7", timeout=2)
            except httpx.ConnectError:
                break
            assert time.monotonic() < deadline, "the outage did not close the port"
            time.sleep(0.05)
    finally:
        out, err = stop_process(proc)
    assert proc.returncode == 0, err
    assert "mock stopped" in out
