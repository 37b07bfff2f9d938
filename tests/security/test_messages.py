"""What the scan tells the user names things that exist: config keys the config accepts, and
no advice to pass a flag that was given."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from battletest.errors import AuthError
from battletest.security import ScanIdentity, ScanSettings, scan
from battletest.security.context import login
from battletest.security.settings import LoginSettings
from battletest.transport import Transport

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "components": {"securitySchemes": {"b": {"type": "http", "scheme": "bearer"}}},
    "security": [{"b": []}],
    "paths": {
        "/admin/users": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "made"}},
            }
        }
    },
}


@pytest.mark.parametrize("allow", [False, True])
def test_bfla_advises_allow_destructive_only_when_it_was_not_given(allow: bool) -> None:
    target = httpx.MockTransport(lambda r: httpx.Response(422, json={"detail": "invalid"}))
    people = [
        ScanIdentity(name="root", role="admin", token="t-root"),
        ScanIdentity(name="ana", role="user", token="t-ana"),
    ]
    settings = ScanSettings(checks=["bfla"], allow_destructive=allow)
    outcome = scan("http://api.test", SPEC, people, settings, transport=target)
    [run] = outcome.runs
    assert not run.conclusive and "HTTP 422" in run.reason
    assert ("--allow-destructive" in run.reason) is not allow


def test_a_username_without_a_login_path_names_the_auth_key() -> None:
    from battletest.config import Config

    client = Transport(
        "http://api.test", transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    who = ScanIdentity(name="kim", username="kim")  # no password, no login operation
    with pytest.raises(AuthError) as err:
        login(client, who, LoginSettings())
    hint = err.value.hint or ""
    assert "[auth] login_path" in hint and "[security.login]" not in hint
    assert "login_path" in Config.model_fields["auth"].annotation.model_fields  # type: ignore[union-attr]
