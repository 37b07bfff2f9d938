"""Where the config is silent, the API document decides: the API key's place and name."""

from __future__ import annotations

from pathlib import Path

import httpx

from battletest.config import AuthConfig, Identity, load_config
from battletest.security.suite import settings_from
from battletest.spec import from_document
from battletest.transport import Identities, Transport

KEY = "k-planted-0123"


def _spec(location: str, name: str):  # type: ignore[no-untyped-def]
    return from_document(
        {
            "openapi": "3.0.3",
            "info": {"title": "keys", "version": "1"},
            "components": {
                "securitySchemes": {"key": {"type": "apiKey", "in": location, "name": name}}
            },
            "security": [{"key": []}],
            "paths": {"/things": {"get": {"responses": {"200": {"description": "ok"}}}}},
        }
    )


def _sent_with(auth: AuthConfig, spec) -> httpx.Request:  # type: ignore[no-untyped-def]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    http = Transport("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    ident = Identity(name="svc", kind="api_key", api_key=KEY)
    Identities([ident], auth, http, spec=spec)
    http("svc").get("/things")
    return seen[0]


def test_the_specs_api_key_place_and_name_are_the_default() -> None:
    query = _sent_with(AuthConfig(), _spec("query", "key"))
    assert query.url.params.get("key") == KEY and "x-api-key" not in query.headers
    header = _sent_with(AuthConfig(), _spec("header", "X-Service-Key"))
    assert header.headers.get("x-service-key") == KEY and "key" not in header.url.params
    cookie = _sent_with(AuthConfig(), _spec("cookie", "sid"))
    assert f"sid={KEY}" in cookie.headers.get("cookie", "")


def test_the_config_wins_where_it_says_where_the_key_goes() -> None:
    auth = AuthConfig(api_key_header="X-Mine", api_key_in="header")
    request = _sent_with(auth, _spec("query", "key"))
    assert request.headers.get("x-mine") == KEY and "key" not in request.url.params
    # only the name set: the place still comes from the spec
    named = _sent_with(AuthConfig(api_key_header="apikey"), _spec("query", "key"))
    assert named.url.params.get("apikey") == KEY


def test_the_scanner_times_out_as_target_request_timeout_s_says(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text('[target]\nurl = "http://127.0.0.1:1"\nrequest_timeout_s = 3.5\n')
    assert settings_from(load_config(path, None, environ={})).timeout_s == 3.5
    path.write_text(path.read_text() + "[security]\ntimeout_s = 7\n")
    from battletest.sections import load_checked_config

    assert settings_from(load_checked_config(path, None, environ={})).timeout_s == 7
