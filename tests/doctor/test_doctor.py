"""`battletest doctor`: one line per check with the fix, against real loopback services."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from battletest.doctor import OPTIONAL_TOOLS, Check, Mark, Tool, check_tools, diagnose, render

USERS = {"alice": "pw-alice"}
API_KEY = "svc-key"
NO_TOOLS = ()


def _api() -> Any:
    from fastapi import Depends, FastAPI, HTTPException, Security
    from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

    app = FastAPI(title="tiny")
    bearer = HTTPBearer(auto_error=False)
    key = APIKeyHeader(name="X-API-Key", auto_error=False)

    def caller(
        cred: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
        api_key: str | None = Security(key),
    ) -> str:
        if cred is not None and cred.credentials.startswith("tok-"):
            return cred.credentials[4:]
        if api_key == API_KEY:
            return "service"
        raise HTTPException(401, "no credentials")

    @app.post("/auth/login")
    def login(body: dict[str, str]) -> dict[str, str]:
        if USERS.get(body.get("username", "")) != body.get("password"):
            raise HTTPException(401, "bad credentials")
        return {"access_token": "tok-" + body["username"]}

    @app.get("/me")
    def me(who: str = Depends(caller)) -> dict[str, str]:
        return {"who": who}

    return app


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    from battletest.netutil import serve_app

    with serve_app(_api()) as url:
        yield url


def _config(tmp_path: Path, url: str, password: str = "pw-alice", key: str = API_KEY) -> Path:
    path = tmp_path / "battletest.toml"
    path.write_text(
        f"""
[target]
url = "{url}"
startup_timeout_s = 1

[auth]
login_path = "/auth/login"

[[identities]]
name = "alice"
username = "alice"
password = "{password}"

[[identities]]
name = "svc"
role = "service"
api_key = "{key}"
"""
    )
    return path


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_tools_found_or_the_install_line() -> None:
    tools = (Tool("chromium", "chromium", "x"), Tool("wrk", "wrk", "y"))
    checks = check_tools(tools, which=lambda n: "/usr/bin/chromium" if n == "chromium" else None)
    assert [c.line() for c in checks] == [
        "✓ tool chromium: /usr/bin/chromium",
        "✗ tool wrk: not found (optional: y) → apt-get install wrk",
    ]
    assert not any(c.failed for c in checks)  # optional tools never fail the doctor
    assert {t.name for t in OPTIONAL_TOOLS} == {
        "chromium",
        "chromedriver",
        "nginx",
        "haproxy",
        "wrk",
    }


@pytest.mark.network
def test_all_good(tmp_path: Path, api_url: str) -> None:
    checks = diagnose(str(_config(tmp_path, api_url)), tools=NO_TOOLS)
    by = _by_name(checks)
    assert [c.mark for c in checks] == [Mark.OK] * 5, render(checks)
    assert by["target"].detail == f"{api_url}: answers"
    assert "OpenAPI 3.1" in by["spec"].detail and "/openapi.json" in by["spec"].detail
    assert by["identity alice"].detail.startswith("logged in via POST /auth/login; GET /me → 200")
    assert by["identity svc"].detail.startswith("API key set; GET /me → 200")
    assert render(checks).endswith("ready to run.")


@pytest.mark.network
def test_bad_credentials_are_named_with_the_fix(tmp_path: Path, api_url: str) -> None:
    path = _config(tmp_path, api_url, password="wrong", key="stale-key")
    checks = diagnose(str(path), tools=NO_TOOLS)
    by = _by_name(checks)
    assert by["identity alice"].mark is Mark.FAIL
    assert "alice" in by["identity alice"].detail
    assert by["identity svc"].mark is Mark.FAIL
    assert "answered 401: the credentials are not accepted" in by["identity svc"].detail
    assert "api_key_header" in by["identity svc"].fix
    assert render(checks).endswith("2 checks failed.")


def test_invalid_config_skips_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text("[target]\nurl = 'ftp://x'\n")
    checks = diagnose(str(path), tools=NO_TOOLS)
    assert [c.mark for c in checks] == [Mark.FAIL, Mark.SKIP, Mark.SKIP, Mark.SKIP]
    assert "must start with http:// or https://" in checks[0].detail
    assert checks[1].line() == "– target: not checked → fix the config first"


@pytest.mark.network
def test_unreachable_target(tmp_path: Path) -> None:
    from battletest.netutil import free_port

    url = f"http://127.0.0.1:{free_port()}"
    checks = diagnose(str(_config(tmp_path, url)), tools=NO_TOOLS)
    target = _by_name(checks)["target"]
    assert target.mark is Mark.FAIL
    assert "not reachable" in target.detail
    assert target.fix == "start the service, or fix --target / [target].url"
    assert [c.mark for c in checks[2:]] == [Mark.SKIP, Mark.SKIP]


@pytest.mark.network
def test_invalid_spec_shows_the_first_problem(tmp_path: Path, api_url: str) -> None:
    spec = tmp_path / "openapi.json"
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t"},  # version missing
        "paths": {"/me": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    spec.write_text(json.dumps(doc))
    checks = diagnose(
        str(_config(tmp_path, api_url)), overrides={"target.spec": str(spec)}, tools=NO_TOOLS
    )
    check = _by_name(checks)["spec"]
    assert check.mark is Mark.FAIL
    assert "'version' is a required property" in check.detail


@pytest.mark.network
def test_no_identities_when_the_spec_needs_them(tmp_path: Path, api_url: str) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text(f'[target]\nurl = "{api_url}"\n')
    check = _by_name(diagnose(str(path), tools=NO_TOOLS))["identities"]
    assert check.mark is Mark.FAIL
    assert check.fix == "add [[identities]] (battletest init stubs them from the spec)"


def _doctor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "battletest", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.slow
@pytest.mark.network
def test_cli_exit_codes(tmp_path: Path, api_url: str) -> None:
    good = _doctor("--config", str(_config(tmp_path, api_url)), cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[0].startswith("✓ config: ")
    bad = _doctor("--config", str(_config(tmp_path, api_url, password="x")), cwd=tmp_path)
    assert bad.returncode == 1
    assert "✗ identity alice:" in bad.stdout
    missing = _doctor("--config", "nope.toml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "battletest: error: config file nope.toml not found (check the --config path)"
    )


@pytest.mark.slow
@pytest.mark.network
def test_doctor_against_the_demo(tmp_path: Path) -> None:
    proc = _doctor(cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "the built-in demo" in lines[1]
    assert lines[2].startswith("✓ spec: http://127.0.0.1:")
    identities = [ln for ln in lines if ln.startswith("✓ identity ")]
    assert len(identities) >= 3
    assert any("API key set" in ln for ln in identities)
    assert lines[-1].startswith("ready to run.")


@pytest.mark.slow
@pytest.mark.network
def test_init_then_doctor_against_a_running_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first-day journey: init from the spec, export the secrets, doctor says ready."""
    import httpx

    from battletest.demo import start
    from battletest.scaffold import init_config, uncomment_identities

    with start() as demo:
        spec = tmp_path / "openapi.json"
        spec.write_text(httpx.get(demo.spec_url, timeout=10).text)
        path, _ = init_config(str(spec), tmp_path / "battletest.toml")
        text = path.read_text().replace(
            '# url = "http://127.0.0.1:8000"', f'url = "{demo.base_url}"'
        )
        path.write_text(text)
        # before the templates are uncommented: no identity, the operations that need one named
        first = [c for c in diagnose(str(path), tools=NO_TOOLS) if c.failed]
        assert [c.name for c in first] == ["identities"] and "need credentials" in first[0].detail
        path.write_text(uncomment_identities(text))
        guest = next(i for i in demo.identities if i.role == "guest")
        service = demo.identity("service")
        for name, value in {
            "BT_USER_USERNAME": guest.username,
            "BT_USER_PASSWORD": guest.password,
            "BT_SERVICE_API_KEY": service.api_key,
        }.items():
            monkeypatch.setenv(name, value or "")
        checks = diagnose(str(path), tools=NO_TOOLS)
        assert [c.mark for c in checks] == [Mark.OK] * 5, render(checks)
        assert render(checks).endswith("ready to run.")
        assert checks[1].detail == f"{demo.base_url}: answers"

        monkeypatch.setenv("BT_SERVICE_API_KEY", "btk_revoked")
        failed = [c for c in diagnose(str(path), tools=NO_TOOLS) if c.failed]
        assert [c.name for c in failed] == ["identity service"]


def _basic_api() -> Any:
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.security import HTTPBasic, HTTPBasicCredentials

    app = FastAPI(title="basic")
    basic = HTTPBasic(auto_error=False)

    def caller(cred: HTTPBasicCredentials | None = Depends(basic)) -> str:  # noqa: B008
        if cred is None or USERS.get(cred.username) != cred.password:
            raise HTTPException(401, "bad credentials", headers={"WWW-Authenticate": "Basic"})
        return cred.username

    @app.get("/me")
    def me(who: str = Depends(caller)) -> dict[str, str]:
        return {"who": who}

    return app


@pytest.mark.network
def test_http_basic_spec_is_named_and_no_token_is_claimed(tmp_path: Path) -> None:
    """With an ``http/basic`` scheme the doctor says what was sent and what the scheme needs,
    never "token set" for an identity that has no token."""
    from battletest.netutil import serve_app

    with serve_app(_basic_api()) as url:
        path = tmp_path / "battletest.toml"
        path.write_text(
            f'[target]\nurl = "{url}"\nstartup_timeout_s = 1\n\n'
            '[[identities]]\nname = "alice"\nusername = "alice"\npassword = "wrong"\n'
        )
        by = _by_name(diagnose(str(path), tools=NO_TOOLS))
    alice = by["identity alice"]
    assert alice.mark is Mark.FAIL, alice.line()
    assert "token set" not in alice.line()
    assert "GET /me answered 401" in alice.detail
    assert "a username and password (HTTP Basic)" in alice.fix
