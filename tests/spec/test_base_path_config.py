"""A document with a base path: the config's login and RBAC paths name its operations as the
target serves them (``/v2/user/login``), or as the document writes them (``/user/login``)."""

from __future__ import annotations

from pathlib import Path

import httpx

from battletest.config import load_config
from battletest.redact import Redactor
from battletest.spec import from_document
from battletest.suites.base import SuiteContext
from battletest.transport import Identities, Transport

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "pets", "version": "1"},
    "basePath": "/v2",
    "securityDefinitions": {"bearer": {"type": "apiKey", "in": "header", "name": "Authorization"}},
    "security": [{"bearer": []}],
    "paths": {
        "/user/login": {"post": {"responses": {"200": {"description": "ok"}}}},
        "/pets/{id}": {"get": {"responses": {"200": {"description": "ok"}}}},
    },
}


def _ctx(tmp_path: Path, login: str, rbac: str) -> SuiteContext:
    path = tmp_path / "battletest.toml"
    path.write_text(
        f'[auth]\nlogin_path = "{login}"\n'
        '[[identities]]\nname = "a"\nrole = "admin"\ntoken = "t"\nkind = "bearer"\n'
        f'[[rbac]]\nmethod = "GET"\npath = "{rbac}"\nroles = ["admin"]\n'
    )
    config = load_config(path, None, environ={})
    http = Transport(
        "http://127.0.0.1:1", transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    return SuiteContext(
        config=config,
        target=None,  # type: ignore[arg-type]
        spec=from_document(SWAGGER),
        identities=Identities(config.identities, config.auth, http),
        http=http,
        seed=1,
        progress=None,  # type: ignore[arg-type]
        redactor=Redactor(),
    )


def test_login_and_rbac_paths_with_the_base_path_name_the_operations(tmp_path: Path) -> None:
    for login, rbac in (("/v2/user/login", "/v2/pets/{id}"), ("/user/login", "/pets/{id}")):
        ctx = _ctx(tmp_path, login, rbac)
        assert ctx.spec is not None
        login_op = ctx.spec.operation("POST", "/v2/user/login")
        pet = ctx.spec.operation("GET", "/v2/pets/{id}")
        assert login_op is not None and pet is not None
        assert ctx.identity_for(login_op) is None  # the login is called as nobody
        assert ctx.allowed_roles(pet) == ["admin"]
        session = ctx.identity_for(pet)
        assert session is not None and session.name == "a"
