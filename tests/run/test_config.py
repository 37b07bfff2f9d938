"""The config model: the demo's format, layering, secrets, errors with key paths, the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from battletest.config import SCHEMA_PATH, UNSET, env_overrides, load_config
from battletest.errors import ConfigError, ConfigErrors
from battletest.sections import full_config_schema, load_checked_config

# The battletest.toml format the demo writes (the agreed contract), verbatim.
DEMO_FORMAT = """
[target]
url = "http://127.0.0.1:8000"
spec = "http://127.0.0.1:8000/openapi.json"   # file path or URL
health = "/health"

[auth]
login_path = "/v1/auth/login"        # JSON body {"username": ..., "password": ...}
login_format = "json"                # json | form
token_field = "access_token"
refresh_path = "/v1/auth/refresh"    # JSON body {"refresh_token": ...}
refresh_token_field = "refresh_token"
logout_path = "/v1/auth/logout"
tenant_claim = "hotel_id"            # JWT claim carrying the tenant
api_key_header = "X-API-Key"

[[identities]]                       # one table per identity
name = "admin"                       # unique
role = "admin"                       # guest | staff | admin | service | ...
tenant = "h1"                        # optional
username = "admin@demo.test"
password = "env:DEMO_ADMIN_PASSWORD"

[[identities]]
name = "service"
role = "service"
api_key = "btk_secret_key_value"

[[rbac]]                             # what SHOULD hold
method = "DELETE"
path = "/v1/users/{user_id}"
roles = ["admin"]

[rate_limits]
window_s = 60
per_client = 120
login_lockout_threshold = 5
service_quota = 1000

[[dependencies]]
name = "pms"
url = "http://127.0.0.1:9001"

[profiles.prod]
seed = 5

[profiles.staging.suites.contract]
examples = 9
"""

ENV = {"DEMO_ADMIN_PASSWORD": "s3cret-admin-pw"}


@pytest.fixture
def demo_toml(tmp_path: Path) -> Path:
    path = tmp_path / "battletest.toml"
    path.write_text(DEMO_FORMAT, encoding="utf-8")
    return path


def test_the_demo_format_loads_with_secrets_from_the_environment(demo_toml: Path) -> None:
    cfg = load_config(demo_toml, environ=ENV)
    assert cfg.target.url == "http://127.0.0.1:8000"
    assert cfg.identities[0].password == "s3cret-admin-pw"
    assert cfg.rbac[0].roles == ["admin"]
    assert cfg.rate_limits.service_quota == 1000
    assert cfg.dependencies[0].name == "pms"
    assert "s3cret-admin-pw" in cfg.secrets()
    assert "btk_secret_key_value" in cfg.secrets()


def test_the_redacted_config_holds_no_secret(demo_toml: Path) -> None:
    cfg = load_config(demo_toml, environ=ENV)
    text = json.dumps(cfg.redacted())
    assert "s3cret-admin-pw" not in text
    assert "btk_secret_key_value" not in text
    assert cfg.redacted()["identities"][0]["password"] == "***"


def test_missing_secret_variable_names_the_variable_and_the_key(demo_toml: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(demo_toml, environ={})
    assert "identities[0].password" in str(err.value)
    assert "DEMO_ADMIN_PASSWORD" in str(err.value)


def test_unknown_key_is_rejected_with_its_path_and_the_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text('[target]\nurl = "http://127.0.0.1:1"\nhealth_path = "/h"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    message = str(err.value)
    assert "unknown key 'target.health_path'" in message
    assert "health" in message and "url" in message


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text("[targets]\nurl = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'targets'"):
        load_config(path, environ={})


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text('[rate_limits]\nper_client = "lots"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "rate_limits.per_client" in str(err.value)
    assert "'lots'" in str(err.value)


def test_bad_value_explains_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"target\.url.*http://"):
        load_config(None, overrides={"target.url": "ftp://x"}, environ={}, cwd=Path("/"))


def test_profiles_overlay_the_base_and_unknown_profiles_are_refused(demo_toml: Path) -> None:
    assert load_config(demo_toml, "staging", environ=ENV).suites.contract.examples == 9
    prod = load_config(demo_toml, "prod", environ=ENV)
    assert prod.seed == 5 and prod.is_prod and not prod.destructive_allowed
    with pytest.raises(ConfigError, match="unknown profile 'stagin'"):
        load_config(demo_toml, "stagin", environ=ENV)


def test_prod_allows_destructive_suites_only_when_told() -> None:
    cfg = load_config(None, "prod", {"allow_destructive": True}, environ={}, cwd=Path("/"))
    assert cfg.is_prod and cfg.destructive_allowed
    assert load_config(None, "dev", environ={}, cwd=Path("/")).destructive_allowed


def test_environment_overrides_the_file_and_flags_override_the_environment(
    demo_toml: Path,
) -> None:
    env = {**ENV, "BATTLETEST_SUITES__CONTRACT__EXAMPLES": "4", "BATTLETEST_SEED": "8"}
    cfg = load_config(demo_toml, environ=env)
    assert cfg.suites.contract.examples == 4 and cfg.seed == 8
    cfg = load_config(demo_toml, overrides={"seed": 9, "parallel": None}, environ=env)
    assert cfg.seed == 9 and cfg.parallel == 1


def test_a_target_flag_replaces_the_files_app(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text('[target]\napp = "pkg.main:app"\n')
    cfg = load_config(
        path, overrides={"target.url": "http://127.0.0.1:9", "target.app": UNSET}, environ={}
    )
    assert cfg.target.url == "http://127.0.0.1:9" and cfg.target.app is None


def test_environment_variables_of_other_tools_are_not_config_keys() -> None:
    assert env_overrides({"BATTLETEST_BASE_URL": "x", "BATTLETEST_TARGET__URL": "y"}) == {
        "target": {"url": "y"}
    }


def test_environment_values_are_read_by_pydantic_settings(tmp_path: Path) -> None:
    env = {
        "BATTLETEST_SEED": "8",
        "battletest_verbose": "true",  # names are case-insensitive
        "BATTLETEST_SUITES__ENABLED": '["contract", "auth"]',  # lists as JSON
        "BATTLETEST_LOAD__DURATION": "1m30s",
        "BATTLETEST_IDENTITIES": '[{"name": "svc", "api_key": "env:SVC_KEY"}]',
        "SVC_KEY": "k-123",
        "BATTLETEST_PROXY_TOKEN": "not a config key",
    }
    cfg = load_config(None, environ=env, cwd=tmp_path)
    assert cfg.seed == 8 and cfg.verbose and cfg.suites.enabled == ["contract", "auth"]
    assert cfg.load.duration == "1m30s" and cfg.identities[0].api_key == "k-123"
    with pytest.raises(ConfigError, match="give lists and tables as JSON"):
        load_config(None, environ={"BATTLETEST_SUITES__ENABLED": "contract,auth"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"unknown key 'target\.urll'"):
        load_config(None, environ={"BATTLETEST_TARGET__URLL": "x"}, cwd=tmp_path)


def test_every_unknown_key_is_reported_at_once_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text(
        'colour = "blue"\n[target]\nurl = "http://127.0.0.1:1"\nhealth_path = "/h"\n'
        "[load]\nvu = 3\n[security]\ndepht = 'basic'\n[rate_limits]\nper_client = 'lots'\n"
    )
    with pytest.raises(ConfigErrors) as err:
        load_checked_config(path, environ={})
    lines = str(err.value).splitlines()
    assert len(lines) == 5 and not any("more)" in line for line in lines)
    by_key = {k: next(line for line in lines if k in line) for k in (
        "'colour'", "'target.health_path'", "'load.vu'", "[security] depht", "per_client"
    )}  # fmt: skip
    assert "allowed here:" in by_key["'colour'"] and "target" in by_key["'colour'"]
    assert (
        "allowed here:" in by_key["'target.health_path'"]
        and "health" in by_key["'target.health_path'"]
    )
    assert "vus" in by_key["'load.vu'"] and "depth" in by_key["[security] depht"]
    assert "'lots'" in by_key["per_client"]


def test_the_cli_prints_one_battletest_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from battletest.cli import main

    (tmp_path / "battletest.toml").write_text("colour = 1\nshape = 2\n[target]\nport = 3\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "validate"])
    err = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2
    assert len(err) == 3 and all(line.startswith("battletest: error: ") for line in err)
    assert [k for k in ("'colour'", "'shape'", "'target.port'") if any(k in e for e in err)] == [
        "'colour'", "'shape'", "'target.port'"
    ]  # fmt: skip


def test_pyproject_tool_table_is_found(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.battletest]\nseed = 3\n[tool.battletest.target]\n'
        'url = "http://127.0.0.1:5"\n'
    )
    cfg = load_config(cwd=tmp_path, environ={})
    assert cfg.seed == 3 and cfg.target.url == "http://127.0.0.1:5"


def test_identities_need_credentials_and_unique_names() -> None:
    with pytest.raises(ConfigError, match="username\\+password, api_key, token"):
        load_config(None, overrides={"identities": [{"name": "a"}]}, environ={}, cwd=Path("/"))
    dup = [{"name": "a", "token": "t"}, {"name": "a", "token": "u"}]
    with pytest.raises(ConfigError, match="unique"):
        load_config(None, overrides={"identities": dup}, environ={}, cwd=Path("/"))


def test_unknown_suite_in_config_names_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="available: contract, auth"):
        load_config(None, overrides={"suites.enabled": ["fuzz"]}, environ={}, cwd=Path("/"))


def test_not_toml_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text("[target\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


def test_the_committed_schema_matches_the_model() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == full_config_schema(), (
        "src/battletest/schemas/config.schema.json drifted from the Config model; regenerate "
        "it with battletest.sections.full_config_schema()"
    )


def test_the_schema_rejects_unknown_keys_like_the_model() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"target": {"url": "http://x"}})
    assert not validator.is_valid({"target": {"nope": 1}})
    assert not validator.is_valid({"nope": 1})
