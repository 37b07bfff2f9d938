"""``battletest proxy``: serve with --config, and the client subcommands, with exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.clitools import stop_process

from battletest.chaos.proxy import FaultProxy
from battletest.cli import main
from battletest.netutil import free_port, wait_for_port

pytestmark = pytest.mark.chaos


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.slow
def test_subcommands_drive_a_running_server(
    capsys: pytest.CaptureFixture[str], faults_api: FaultProxy, echo_server: Any
) -> None:
    api = ["proxy", "--api", str(faults_api.api_url)]
    code, out, _ = run_cli(capsys, *api, "add", "pms", "--upstream", echo_server.address)
    assert code == 0 and out.startswith("proxy pms: 127.0.0.1:")
    code, out, _ = run_cli(
        capsys, *api, "toxic", "pms", "latency", "--latency", "200", "--jitter=50",
        "--toxicity", "0.5",
    )  # fmt: skip
    assert code == 0
    assert out.strip() == (
        "toxic latency_downstream on pms: latency downstream toxicity=0.5 latency=200 jitter=50"
    )
    toxic = faults_api.toxics("pms")[0]
    assert toxic["attributes"] == {"latency": 200, "jitter": 50} and toxic["toxicity"] == 0.5

    code, out, _ = run_cli(capsys, *api, "list")
    assert code == 0 and "pms  127.0.0.1:" in out and "latency_downstream: latency" in out
    code, out, _ = run_cli(capsys, *api, "list", "--json")
    assert json.loads(out)["pms"]["upstream"] == echo_server.address

    assert run_cli(capsys, *api, "disable", "pms")[0] == 0
    assert faults_api.get("pms")["enabled"] is False
    assert run_cli(capsys, *api, "enable", "pms")[0] == 0
    assert faults_api.get("pms")["enabled"] is True
    assert run_cli(capsys, *api, "remove", "pms", "latency_downstream")[0] == 0
    assert faults_api.toxics("pms") == []
    faults_api.toxic("pms", "timeout", timeout=1)
    faults_api.disable("pms")
    assert run_cli(capsys, *api, "reset")[0] == 0
    assert faults_api.get("pms")["enabled"] is True and faults_api.toxics("pms") == []
    assert run_cli(capsys, *api, "remove", "pms")[0] == 0
    assert faults_api.list() == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["toxic", "pms", "earthquake"], "unknown toxic type 'earthquake'"),
        (["toxic", "pms", "latency", "--bogus", "1"], "has no attribute 'bogus'"),
        (["toxic", "pms", "latency", "--toxicity", "1.5"], "toxicity must be in [0, 1]"),
        (["toxic", "pms", "latency", "--latency"], "attribute --latency needs a value"),
        (["toxic", "ghost", "latency"], "proxy not found: 'ghost'"),
        (["add", "x", "--upstream", "nohost"], "is not host:port"),
        (["disable", "ghost"], "proxy not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    faults_api: FaultProxy,
    echo_server: Any,
    argv: list[str],
    message: str,
) -> None:
    faults_api.add("pms", echo_server.address)
    code, _, err = run_cli(capsys, "proxy", "--api", str(faults_api.api_url), *argv)
    assert code == 2
    assert err.startswith("battletest: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert faults_api.toxics("pms") == []


def test_unreachable_api_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "proxy", "--api", f"127.0.0.1:{free_port()}", "list")
    assert code == 3 and "no proxy control API answers" in err


def test_api_from_environment(
    capsys: pytest.CaptureFixture[str], faults_api: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATTLETEST_PROXY_API", str(faults_api.api_url))
    code, out, _ = run_cli(capsys, "proxy", "list")
    assert code == 0 and out.strip() == "no proxies"


def _serve(*args: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "battletest"
    return subprocess.Popen(
        [str(exe), "proxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
def test_serve_populates_from_config_and_answers_toxiproxy_clients(
    tmp_path: Path, echo_server: Any
) -> None:
    port = free_port()
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps([{"name": "pms", "listen": "127.0.0.1:0", "upstream": echo_server.address}])
    )
    server = _serve("--api", f"127.0.0.1:{port}", "--config", str(config))
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        proxies = httpx.get(f"http://127.0.0.1:{port}/proxies").json()
        assert proxies["pms"]["upstream"] == echo_server.address
    finally:
        out, _ = stop_process(server, signal.SIGTERM)
    assert "proxy pms: 127.0.0.1:" in out and "control API on" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{oops", "is not valid JSON"),
        ('{"name": "x"}', "a JSON list of proxies"),
        ('[{"name": "x"}]', "missing required field: upstream"),
        ('[{"name": "x", "upstream": "h:1", "speed": 3}]', "unknown field(s) ['speed']"),
        ('[{"name": "x", "upstream": "h:1"}, {"name": "x", "upstream": "h:2"}]', "more than once"),
        (None, "does not exist"),
    ],
)
def test_serve_rejects_a_bad_populate_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, message: str
) -> None:
    config = tmp_path / "proxies.json"
    if content is not None:
        config.write_text(content)
    port = free_port()
    code, _, err = run_cli(capsys, "proxy", "--api", f"127.0.0.1:{port}", "--config", str(config))
    assert code == 2
    assert err.startswith("battletest: error: ") and message in err
    with pytest.raises(OSError):  # nothing was left listening
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_serve_refuses_a_busy_api_port(
    capsys: pytest.CaptureFixture[str], faults_api: FaultProxy
) -> None:
    taken = str(faults_api.api_url).split("://", 1)[1]
    code, _, err = run_cli(capsys, "proxy", "--api", taken)
    assert code == 2 and "cannot be bound" in err


def test_serve_with_config_and_a_subcommand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, "proxy", "--config", str(tmp_path / "p.json"), "list")
    assert code == 2 and "--config is for serving" in err


def test_types_lists_every_kind_with_its_attributes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "proxy", "types")
    assert code == 0
    assert "latency (tcp): delay every chunk" in out and "  --jitter [0]" in out
    assert "http_throttle (http):" in out and "  --retry-after [1]" in out
