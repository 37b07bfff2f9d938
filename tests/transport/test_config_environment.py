"""The config's environment, mode and allow_destructive: what the write policy is decided from."""

from __future__ import annotations

from pathlib import Path

import pytest

from battletest.config import load_config
from battletest.errors import ConfigError


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("prod", "production"),
        ("production", "production"),
        ("prd", "production"),
        ("PROD", "production"),
        ("staging", "development"),
        (None, "development"),
    ],
)
def test_a_profile_named_like_production_is_production(
    tmp_path: Path, profile: str | None, expected: str
) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text("[profiles.PROD]\n")
    cfg = load_config(path, profile, environ={})
    assert cfg.environment == expected
    assert cfg.is_prod is (expected == "production")


def test_an_explicit_environment_wins_over_the_profile_name(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text(
        '[profiles.prod]\nenvironment = "staging"\n[profiles.live]\nenvironment = "production"\n'
    )
    assert load_config(path, "prod", environ={}).environment == "staging"
    live = load_config(path, "live", environ={})
    assert live.is_prod and live.read_only and not live.destructive_allowed


def test_mode_live_is_the_default_and_live_smoke_is_read_only(tmp_path: Path) -> None:
    cfg = load_config(None, environ={}, cwd=tmp_path)
    assert cfg.mode == "LIVE" and not cfg.read_only
    smoke = load_config(None, None, {"mode": "LIVE_SMOKE"}, environ={}, cwd=tmp_path)
    assert smoke.read_only
    allowed = load_config(
        None, "prod", {"mode": "LIVE_SMOKE", "allow_destructive": True}, environ={}, cwd=tmp_path
    )
    assert not allowed.read_only and allowed.destructive_allowed


def test_an_unknown_environment_is_one_config_error(tmp_path: Path) -> None:
    path = tmp_path / "battletest.toml"
    path.write_text('environment = "prodution"\n')
    with pytest.raises(ConfigError, match="environment"):
        load_config(path, environ={})
