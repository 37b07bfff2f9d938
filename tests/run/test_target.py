"""Targets: a URL checked reachable, an ASGI app or a command launched, logs and shutdown."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from battletest.config import TargetConfig
from battletest.errors import ConfigError, TargetUnreachable
from battletest.netutil import free_port
from battletest.target import import_app, is_asgi, open_target
from battletest.transport import PolicyRefused

pytestmark = pytest.mark.network

ASGI_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    print("health was called", flush=True)
    return {"ok": True}
"""


def test_a_running_url_is_checked_and_used_as_is(api_url: str) -> None:
    with open_target(TargetConfig(url=api_url, health="/health")) as target:
        assert target.base_url == api_url and target.kind == "url" and target.pid is None


def test_an_unreachable_url_says_what_was_tried() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        pytest.raises(TargetUnreachable) as err,
        open_target(TargetConfig(url=url, health="/health", startup_timeout_s=0.3)),
    ):
        pass
    assert f"GET {url}/health" in str(err.value) and err.value.exit_code == 3


@pytest.mark.slow
def test_an_asgi_app_is_launched_with_logs_and_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "asgimod.py").write_text(ASGI_APP)
    monkeypatch.chdir(tmp_path)
    cfg = TargetConfig(app="asgimod:app", health="/health")
    with open_target(cfg, logs_dir=tmp_path / "logs") as target:
        assert httpx.get(f"{target.base_url}/health").json() == {"ok": True}
        pid = target.pid
        assert pid is not None
        proc = target.process
    assert proc is not None and proc.poll() is not None  # stopped on exit
    assert "health was called" in (tmp_path / "logs" / "target.log").read_text()


@pytest.mark.slow
def test_a_destructive_looking_health_path_is_refused_not_sent() -> None:
    """The reachability poll goes through the one transport, read-only: a health path that
    looks destructive is one clear line (exit 2), and the target never sees it."""
    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    from battletest.netutil import serve_app

    with (
        serve_app(app) as url,
        pytest.raises(PolicyRefused) as err,
        open_target(TargetConfig(url=url, health="/admin/reset-all")),
    ):
        pass
    assert err.value.exit_code == 2
    assert str(err.value).startswith("not run: ") and "reset" in str(err.value), err.value
    assert "/admin/reset-all" not in seen


def test_a_command_with_a_port_placeholder(tmp_path: Path) -> None:
    cfg = TargetConfig(
        command=f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1", health="/"
    )
    with open_target(cfg, logs_dir=tmp_path) as target:
        assert target.kind == "command"
        assert httpx.get(target.base_url + "/").status_code == 200


def test_a_command_that_dies_reports_its_log_tail(tmp_path: Path) -> None:
    cmd = f"{sys.executable} -c \"import sys; print('port {{port}} is cursed'); sys.exit(4)\""
    with (
        pytest.raises(TargetUnreachable) as err,
        open_target(TargetConfig(command=cmd), logs_dir=tmp_path),
    ):
        pass
    assert "exited with code 4" in str(err.value) and "cursed" in str(err.value)


def test_a_command_that_does_not_exist() -> None:
    with (
        pytest.raises(TargetUnreachable, match="could not start"),
        open_target(TargetConfig(command="/nonexistent/battletest-server {port}")),
    ):
        pass


def test_app_needs_module_and_attribute() -> None:
    with (
        pytest.raises(ConfigError, match="module:attribute"),
        open_target(TargetConfig(app="justamodule")),
    ):
        pass


def test_asgi_and_wsgi_apps_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask
    from tests.run.apps import api

    assert is_asgi(api) and not is_asgi(Flask("x"))
    (tmp_path / "factorymod.py").write_text(
        "from flask import Flask\n\ndef create():\n    return Flask('f')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    assert isinstance(import_app("factorymod:create"), Flask)
