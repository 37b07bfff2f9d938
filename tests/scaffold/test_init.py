"""`battletest init`: a commented battletest.toml from an OpenAPI spec, valid for the loader."""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from battletest.cli import cli
from battletest.config import load_config
from battletest.errors import ConfigError, SpecError, UsageError
from battletest.scaffold import (
    PROFILES,
    init_config,
    render_config,
    required_env,
    template_env,
    uncomment_identities,
    validate_config_text,
)


def _demo_spec() -> dict[str, Any]:
    from battletest.demo.app import create_app, openapi_document
    from battletest.demo.options import DemoOptions

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            DemoOptions.build(),
            str(Path(tmp) / "db.sqlite"),
            "http://127.0.0.1:1",
            "http://127.0.0.1:2",
        )
        return openapi_document(app)


OAUTH_SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "Shop", "version": "1"},
    "servers": [{"url": "https://api.shop.example/v2"}],
    "components": {
        "securitySchemes": {
            "oauth": {
                "type": "oauth2",
                "flows": {"password": {"tokenUrl": "/oauth/token", "scopes": {}}},
            }
        }
    },
    "security": [{"oauth": []}],
    "paths": {
        "/orders": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/admin/refunds": {"post": {"responses": {"201": {"description": "ok"}}}},
        "/health": {"get": {"security": [], "responses": {"200": {"description": "ok"}}}},
    },
}


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "openapi.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def demo_spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("spec"), _demo_spec())


def _env(text: str) -> dict[str, str]:
    return {name: f"value-of-{name}" for name in required_env(text)}


def test_demo_spec_gives_its_auth_flow_and_three_kinds_of_identity(
    tmp_path: Path, demo_spec_file: Path
) -> None:
    path, text = init_config(str(demo_spec_file), tmp_path / "battletest.toml")
    config = load_config(path, environ=_env(text))
    assert config.auth.login_path == "/v1/auth/login"
    assert config.auth.refresh_path == "/v1/auth/refresh"
    assert config.auth.logout_path == "/v1/auth/logout"
    assert config.auth.api_key_header == "X-API-Key"
    # one commented template per declared scheme (bearer via the login, the API key header)
    assert config.identities == []
    assert text.count("# [[identities]]    # security scheme") == 2
    edited = uncomment_identities(text)
    config = load_config(_save(tmp_path, edited), environ=_env(edited))
    assert [(i.name, i.role) for i in config.identities] == [
        ("user", "user"),
        ("service", "service"),
    ]
    # secrets come from the environment, never from the file
    assert config.identities[0].password == "value-of-BT_USER_PASSWORD"
    assert config.identities[1].api_key == "value-of-BT_SERVICE_API_KEY"
    assert '# password = "env:BT_USER_PASSWORD"' in text
    assert config.target.spec == str(demo_spec_file)


def test_every_section_is_present_and_commented(tmp_path: Path, demo_spec_file: Path) -> None:
    _, text = init_config(str(demo_spec_file), tmp_path / "battletest.toml")
    data = tomllib.loads(text)
    assert "# [[identities]]" in text
    for section in (
        "target",
        "auth",
        "rate_limits",
        "suites",
        "gates",
        "load",
        "security",
        "resilience",
        "profiles",
    ):
        assert section in data, section
    for commented in ("# [[rbac]]", "# [[dependencies]]", "# url = ", "# app = "):
        assert commented in text
    assert sorted(data["profiles"]) == sorted(PROFILES)
    comment_lines = [ln for ln in text.splitlines() if ln.lstrip().startswith("#")]
    assert len(comment_lines) > 60


def test_rbac_skeleton_lists_every_secured_operation(tmp_path: Path, demo_spec_file: Path) -> None:
    from battletest.spec import load_spec

    _, text = init_config(str(demo_spec_file), tmp_path / "battletest.toml")
    spec = load_spec(str(demo_spec_file), None)
    secured = [op for op in spec.operations if op.secured]
    assert secured
    for op in secured:
        assert f'# method = "{op.method}"\n# path = "{op.path}"' in text
    # uncommenting the skeleton gives valid [[rbac]] rules
    uncommented = text.replace("# [[rbac]]", "[[rbac]]").replace("# method = ", "method = ")
    uncommented = uncommented.replace('# path = "/v1', 'path = "/v1').replace(
        "# roles = [", "roles = ["
    )
    config = load_config(_save(tmp_path, uncommented), environ=_env(text))
    assert len(config.rbac) == len(secured)
    admin_only = {(r.method, r.path): r.roles for r in config.rbac}
    assert admin_only[("DELETE", "/v1/users/{user_id}")][0] == "admin"
    assert "user" not in admin_only[("DELETE", "/v1/users/{user_id}")]


def _save(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edited.toml"
    path.write_text(text)
    return path


def test_every_profile_loads_with_safe_defaults(tmp_path: Path, demo_spec_file: Path) -> None:
    path, text = init_config(str(demo_spec_file), tmp_path / "battletest.toml")
    env = _env(text)
    prod = load_config(path, "prod", environ=env)
    assert prod.mode == "LIVE_SMOKE"
    assert not prod.destructive_allowed
    assert set(prod.suites.enabled) <= {"contract", "errors"}
    dev = load_config(path, "dev", environ=env)
    assert dev.mode == "LIVE"  # no target URL yet: a service of your own (docs/transport.md)
    assert len(dev.suites.enabled) >= len(prod.suites.enabled)
    ci = load_config(path, "ci", environ=env)
    assert ci.seed == 1


def test_load_section_is_valid_for_the_load_engine(tmp_path: Path, demo_spec_file: Path) -> None:
    from battletest.load.options import LoadSettings

    path, text = init_config(str(demo_spec_file), tmp_path / "battletest.toml")
    for profile in (None, "ci"):
        config = load_config(path, profile, environ=_env(text))
        settings = LoadSettings.coerce(config.load.model_dump())
        assert settings.executor_spec().kind == "constant-vus"


def test_oauth_password_flow_and_server_url(tmp_path: Path) -> None:
    spec = _write(tmp_path, OAUTH_SPEC)
    path, text = init_config(str(spec), tmp_path / "battletest.toml")
    config = load_config(path, environ=_env(text))
    # the server's path (/v2) is the base path battletest puts before every operation path,
    # so the target is the origin alone (a target ending in /v2 would send /v2/v2/…)
    assert config.target.url == "https://api.shop.example"
    assert config.auth.login_path == "/oauth/token"
    assert config.auth.login_format == "form"
    assert config.mode == "LIVE_SMOKE"  # an external URL: read-only until you say otherwise
    edited = uncomment_identities(text)
    assert [
        i.name for i in load_config(_save(tmp_path, edited), environ=_env(edited)).identities
    ] == ["user"]
    assert '# path = "/v2/admin/refunds"\n# roles = ["admin"]' in text


def test_spec_without_security_stubs_a_commented_identity(tmp_path: Path) -> None:
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    path, text = init_config(str(_write(tmp_path, doc)), tmp_path / "battletest.toml")
    assert load_config(path, environ={}).identities == []
    assert "# [[identities]]" in text
    assert required_env(text) == []


def test_without_a_spec_the_file_is_generic_and_valid(tmp_path: Path) -> None:
    path, text = init_config(None, tmp_path / "battletest.toml")
    load_config(path, environ=_env(text))
    assert '# spec = "openapi.json"' in text


def test_profiles_enable_only_suites_this_install_can_run() -> None:
    text = render_config(None, None, available=["contract", "errors"])
    data = tomllib.loads(text)
    assert data["suites"]["enabled"] == ["contract", "errors"]
    assert data["profiles"]["dev"]["suites"]["enabled"] == ["contract", "errors"]
    assert "not available in this install yet: auth, pytest, load, security, resilience" in text


def test_unset_secret_is_one_error_naming_the_variable(
    tmp_path: Path, demo_spec_file: Path
) -> None:
    _, text = init_config(str(demo_spec_file), tmp_path / "battletest.toml")
    with pytest.raises(ConfigError, match="BT_USER_USERNAME is not set"):
        load_config(_save(tmp_path, uncomment_identities(text)), environ={})


def test_validation_catches_a_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        validate_config_text("[target]\nurl = 'nope'\n", tmp_path / "x.toml")


def test_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "battletest.toml"
    out.write_text("# mine\n")
    with pytest.raises(UsageError, match="already exists"):
        init_config(None, out)
    assert out.read_text() == "# mine\n"
    init_config(None, out, force=True)
    assert out.read_text() != "# mine\n"


def test_bad_spec_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        init_config(str(tmp_path / "missing.json"), tmp_path / "battletest.toml")
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    with pytest.raises(SpecError, match="not an OpenAPI"):
        init_config(str(bad), tmp_path / "battletest.toml")


def test_cli_writes_the_file_and_says_what_to_export(tmp_path: Path, demo_spec_file: Path) -> None:
    out = tmp_path / "bt.toml"
    result = CliRunner().invoke(cli, ["init", "--spec", str(demo_spec_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert "BT_SERVICE_API_KEY=…" in result.output
    assert out.is_file()


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "bt.toml"
    out.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "battletest", "init", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"battletest: error: {out} already exists (pass --force to overwrite it, or --output PATH)"
    )


def _doc(
    schemes: dict[str, Any], *, responses: dict[str, Any] | None = None, url: str | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {"securitySchemes": schemes},
        "security": [{n: []} for n in schemes],
        "paths": {
            "/things": {
                "get": {"responses": responses or {"200": {"description": "ok"}}},
            },
            "/ping": {"get": {"security": [], "responses": {"200": {"description": "ok"}}}},
        },
    }
    if url:
        doc["servers"] = [{"url": url}]
    return doc


def test_a_spec_that_declares_nothing_gets_auto_and_no_api_key_header(tmp_path: Path) -> None:
    doc = _doc({})
    doc.pop("security")
    path, text = init_config(str(_write(tmp_path, doc)), tmp_path / "battletest.toml")
    config = load_config(path, environ={})
    assert config.suites.errors.error_format == "auto"
    assert config.suites.errors.correlation_header == "auto"
    assert "auth" not in config.suites.enabled  # nothing is secured: the auth suite has no case
    assert 'api_key_header = "X-API-Key"' not in text.replace("# api_key_header", "")
    assert config.identities == [] and "[[identities]]\nname" not in text
    assert template_env(text) == []  # init asks to export nothing


def test_declared_error_format_and_correlation_header_are_used(tmp_path: Path) -> None:
    problem = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
    responses = {
        "200": {"description": "ok", "headers": {"X-Request-Id": {"schema": {"type": "string"}}}},
        "404": {"description": "no", **problem},
    }
    path, _ = init_config(str(_write(tmp_path, _doc({}, responses=responses))), tmp_path / "b.toml")
    config = load_config(path, environ={})
    assert config.suites.errors.error_format == "rfc7807"
    assert config.suites.errors.correlation_header == "X-Request-Id"


def test_one_template_per_scheme_including_http_basic_and_query_keys(tmp_path: Path) -> None:
    schemes = {
        "basicAuth": {"type": "http", "scheme": "basic"},
        "queryKey": {"type": "apiKey", "in": "query", "name": "api_key"},
        "machines": {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "https://auth.example/token", "scopes": {}}
            },
        },
    }
    path, text = init_config(
        str(_write(tmp_path, _doc(schemes, url="http://127.0.0.1:8000"))), tmp_path / "b.toml"
    )
    config = load_config(path, environ={})
    assert config.mode == "LIVE"  # a loopback target
    assert (config.auth.api_key_header, config.auth.api_key_in) == ("api_key", "query")
    assert "security scheme 'basicAuth': a username and password (HTTP Basic)" in text
    edited = uncomment_identities(text)
    identities = load_config(_save(tmp_path, edited), environ=_env(edited)).identities
    assert [(i.name, i.kind) for i in identities] == [
        ("user", "basic"),
        ("service", None),
        ("user_machines", "client_credentials"),
    ]


def test_init_notes_the_operations_that_need_credentials(tmp_path: Path) -> None:
    spec = _write(tmp_path, _doc({"bearer": {"type": "http", "scheme": "bearer"}}))
    result = CliRunner().invoke(cli, ["init", "--spec", str(spec), "-o", str(tmp_path / "b.toml")])
    assert result.exit_code == 0, result.output
    assert "note: 1 of 2 operations need credentials the config does not have" in result.output
    assert "GET /things" in result.output and "BT_USER_TOKEN=…" in result.output
