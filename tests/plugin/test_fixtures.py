"""bt_target, bt_client, bt_identities and bt_config, used by a user's tests (pytester) against
a real loopback service, an app battletest launches, and the built-in demo."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

TOKENS = {"alice": "tok-alice", "bob": "tok-bob"}
API_KEY = "svc-key-123"


def _api() -> Any:
    from fastapi import FastAPI, Header, HTTPException

    app = FastAPI()
    logins: list[str] = []

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/login")
    def login(body: dict[str, str]) -> dict[str, str]:
        user = body.get("username", "")
        if user not in TOKENS or body.get("password") != f"pw-{user}":
            raise HTTPException(401, "bad credentials")
        logins.append(user)
        return {"access_token": TOKENS[user]}

    @app.get("/whoami")
    def whoami(
        authorization: str | None = Header(None), x_api_key: str | None = Header(None)
    ) -> dict[str, Any]:
        by_token = {f"Bearer {t}": u for u, t in TOKENS.items()}
        if authorization in by_token:
            return {"who": by_token[authorization]}
        if x_api_key == API_KEY:
            return {"who": "service"}
        raise HTTPException(401, "who are you?")

    @app.get("/logins")
    def login_count() -> dict[str, int]:
        return {"count": len(logins)}

    @app.delete("/items/{item}")
    def delete(item: int) -> dict[str, int]:
        return {"deleted": item}

    return app


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    from battletest.netutil import serve_app

    with serve_app(_api()) as url:
        yield url


CONFIG = """
[auth]
login_path = "/login"

[[identities]]
name = "alice"
role = "user"
username = "alice"
password = "pw-alice"

[[identities]]
name = "svc"
role = "service"
api_key = "{key}"
"""


def test_client_and_identities_against_a_running_service(
    pytester: pytest.Pytester, api_url: str
) -> None:
    pytester.makefile(".toml", battletest=CONFIG.format(key=API_KEY))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smoke
        def test_health(bt_client, bt_target):
            assert bt_target.kind == "url"
            assert bt_client.get("/health").json() == {"status": "ok"}

        def test_three_kinds_of_caller(bt_identities):
            assert sorted(bt_identities) == ["alice", "anonymous", "svc"]
            assert bt_identities["alice"].get("/whoami").json() == {"who": "alice"}
            assert bt_identities["svc"].get("/whoami").json() == {"who": "service"}
            assert bt_identities.role("service").get("/whoami").json() == {"who": "service"}
            assert bt_identities.anonymous.get("/whoami").status_code == 401

        def test_logins_happen_once_per_session(bt_identities, bt_client):
            bt_identities["alice"].get("/whoami")
            assert bt_client.get("/logins").json() == {"count": 1}

        def test_config_is_the_resolved_one(bt_config):
            assert bt_config.target.url.startswith("http://127.0.0.1:")
            assert [i.name for i in bt_config.identities] == ["alice", "svc"]

        def test_a_user_failure(bt_client):
            assert bt_client.get("/whoami").status_code == 200
        """
    )
    result = pytester.runpytest("--bt-target", api_url, "-v")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*::test_a_user_failure FAILED*"])
    assert "assert 401 == 200" in result.stdout.str()


def test_live_smoke_client_is_read_only(pytester: pytest.Pytester, api_url: str) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smoke
        def test_reads_pass(bt_client):
            assert bt_client.get("/health").status_code == 200

        @pytest.mark.smoke
        def test_writes_refused(bt_client):
            bt_client.delete("/items/1")
        """
    )
    result = pytester.runpytest("--bt-target", api_url, "--bt-mode", "LIVE_SMOKE")
    result.assert_outcomes(passed=1, failed=1)
    assert "LIVE_SMOKE is read-only: DELETE /items/1 refused" in result.stdout.str()


def test_outside_live_smoke_writes_need_an_owned_object_or_allow_destructive(
    pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        def test_write(bt_client):
            assert bt_client.delete("/items/7").json() == {"deleted": 7}
        """
    )
    result = pytester.runpytest("--bt-target", api_url)
    result.assert_outcomes(failed=1)  # LIVE: item 7 is not an object the tests created
    assert "writes an object battletest did not create" in result.stdout.str()
    monkeypatch.setenv("BATTLETEST_ALLOW_DESTRUCTIVE", "true")
    pytester.runpytest("--bt-target", api_url).assert_outcomes(passed=1)


def test_wrong_password_fails_with_one_line(pytester: pytest.Pytester, api_url: str) -> None:
    pytester.makefile(".toml", battletest=CONFIG.format(key=API_KEY).replace("pw-alice", "wrong"))
    pytester.makepyfile("def test_x(bt_identities):\n    pass\n")
    result = pytester.runpytest("--bt-target", api_url)
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "battletest: " in out and "alice" in out
    assert "Traceback" not in out


def test_unreachable_target_errors_every_test_with_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from battletest.netutil import free_port

    monkeypatch.setenv("BATTLETEST_TARGET__STARTUP_TIMEOUT_S", "0.5")

    pytester.makepyfile("def test_a(bt_client):\n    pass\n\ndef test_b(bt_target):\n    pass\n")
    result = pytester.runpytest("--bt-target", f"http://127.0.0.1:{free_port()}")
    result.assert_outcomes(errors=2)
    assert "battletest: target http://127.0.0.1:" in result.stdout.str()
    assert "not reachable" in result.stdout.str()


def test_bad_config_file_errors_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", battletest="[target]\nurl = 'ftp://x'\n")
    pytester.makepyfile("def test_a(bt_config):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert "must start with http:// or https://" in result.stdout.str()


def test_bt_app_launches_the_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        myapi=textwrap.dedent(
            """
            async def app(scope, receive, send):
                if scope["type"] != "http":
                    return
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"hello from myapi"})
            """
        )
    )
    pytester.makepyfile(
        test_app="""
        def test_app(bt_target, bt_client):
            assert bt_target.kind == "app" and bt_target.pid
            assert bt_client.get("/").text == "hello from myapi"
        """
    )
    pytester.runpytest("--bt-app", "myapi:app").assert_outcomes(passed=1)


def test_no_target_uses_the_demo(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_demo(bt_target, bt_client, bt_identities, bt_config):
            assert bt_target.kind == "demo"
            assert bt_client.get("/health").status_code == 200
            assert "service" in bt_identities and "anonymous" in bt_identities
            assert bt_config.auth.login_path
            users = [n for n, c in bt_identities.items() if n not in ("anonymous", "service")]
            assert bt_identities[users[0]].get("/v1/me").status_code == 200
            assert bt_identities.anonymous.get("/v1/me").status_code == 401
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_battletest_run_hands_its_target_through_the_environment(
    pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATTLETEST_BASE_URL", api_url)
    monkeypatch.setenv("BATTLETEST_SPEC", "spec/openapi.json")
    pytester.makepyfile(
        """
        def test_bound(bt_target, bt_client, bt_config):
            assert bt_target.kind == "url"
            assert bt_client.get("/health").json() == {"status": "ok"}
            assert bt_config.target.spec == "spec/openapi.json"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("BATTLETEST_BASE_URL", "not-a-url")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "BATTLETEST_BASE_URL: 'not-a-url' is not a URL" in result.stderr.str()
