"""Control APIs stay on loopback, or sit behind a token when remote access is allowed.

``battletest proxy --api 0.0.0.0:PORT`` (and the mock server's admin API) refuse a
non-loopback address with one line and exit 2; with ``--allow-remote`` they need a token, and
then a control request without it gets 401. The servers here listen on 0.0.0.0 (the remote
code path) but every request goes to 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest
from tests.clitools import stop_process

from battletest.chaos.mock import MockServer
from battletest.chaos.proxy import FaultProxy
from battletest.cli import main
from battletest.errors import SafetyError
from battletest.netutil import TOKEN_HEADER, free_port, token_matches, wait_for_port

pytestmark = pytest.mark.chaos
TOKEN = "ctl-token-8c1f"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    _, err = capsys.readouterr()
    return int(exit_info.value.code or 0), err


def test_proxy_refuses_a_non_loopback_control_api(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(capsys, "proxy", "--api", f"0.0.0.0:{free_port()}")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("battletest: error: the proxy control API")
    assert "not loopback" in err and "--allow-remote" in err


def test_allow_remote_without_a_token_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATTLETEST_PROXY_TOKEN", raising=False)
    code, err = _cli(capsys, "proxy", "--api", f"0.0.0.0:{free_port()}", "--allow-remote")
    assert code == 2 and err.count("\n") == 1 and "needs a token" in err


def test_a_remote_proxy_api_needs_its_token_on_every_request() -> None:
    with FaultProxy(api="0.0.0.0:0", api_token=TOKEN, allow_remote=True) as faults:
        port = str(faults.api_url).rsplit(":", 1)[1]
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/proxies").status_code == 401
        assert httpx.get(f"{base}/version", headers={TOKEN_HEADER: "wrong"}).status_code == 401
        assert httpx.get(f"{base}/proxies", headers={TOKEN_HEADER: TOKEN}).status_code == 200
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{base}/reset", headers=bearer).status_code == 204


def test_loopback_proxy_api_needs_no_token_for_toxiproxy_clients() -> None:
    with FaultProxy(api="127.0.0.1:0") as faults:
        assert httpx.get(f"{faults.api_url}/proxies").status_code == 200
        assert httpx.get(f"{faults.api_url}/version").json()["version"]


@pytest.mark.slow
def test_the_proxy_command_serves_remotely_with_a_token_and_its_subcommands_send_it() -> None:
    port = free_port()
    env = {**os.environ, "BATTLETEST_PROXY_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "battletest", "proxy", "--api", f"0.0.0.0:{port}", "--allow-remote"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/proxies").status_code == 401
        assert httpx.get(f"{base}/proxies", headers={TOKEN_HEADER: TOKEN}).status_code == 200

        def proxy_list(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
            argv = [sys.executable, "-m", "battletest", "proxy", "--api", f"127.0.0.1:{port}"]
            return subprocess.run(
                [*argv, "list"], env=environ, capture_output=True, text=True, timeout=60
            )

        listed = proxy_list(env)
        assert listed.returncode == 0, listed.stderr
        refused = proxy_list({k: v for k, v in env.items() if k != "BATTLETEST_PROXY_TOKEN"})
        assert refused.returncode == 2 and "needs its token" in refused.stderr
    finally:
        stop_process(proc, signal.SIGTERM)


def test_mock_refuses_a_non_loopback_address_without_allow_remote_and_a_token() -> None:
    with pytest.raises(SafetyError, match="not loopback"):
        MockServer(host="0.0.0.0")
    with pytest.raises(SafetyError, match="needs a token"):
        MockServer(host="0.0.0.0", allow_remote=True)


def test_mock_cli_refuses_a_non_loopback_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(
        capsys, "mock", "serve", "--upstream", "http://127.0.0.1:9", "--host", "0.0.0.0"
    )
    assert code == 2 and err.count("\n") == 1 and "not loopback" in err


def test_a_remote_mock_admin_api_needs_its_token() -> None:
    stub = {"method": "GET", "path": "/x", "response": {"json": {"ok": True}}}
    with MockServer(
        [stub], host="0.0.0.0", allow_remote=True, admin_token=TOKEN, admin_port=0
    ) as mock:
        for base in (
            f"http://127.0.0.1:{mock.port}",
            mock.admin_url.replace("0.0.0.0", "127.0.0.1"),
        ):
            assert httpx.get(f"{base}/__admin/health").status_code == 401
            ok = httpx.get(f"{base}/__admin/health", headers={TOKEN_HEADER: TOKEN})
            assert ok.status_code == 200 and ok.json()["stubs"] == 1
        # the stubs themselves are what the mock serves: no token for them
        assert httpx.get(f"http://127.0.0.1:{mock.port}/x").json() == {"ok": True}


def test_token_comparison() -> None:
    assert token_matches({"x-battletest-token": TOKEN}, TOKEN)
    assert token_matches({"authorization": f"Bearer {TOKEN}"}, TOKEN)
    assert not token_matches({"authorization": f"Basic {TOKEN}"}, TOKEN)
    assert not token_matches({}, TOKEN)
    assert not token_matches({"x-battletest-token": TOKEN[:-1]}, TOKEN)
