"""The ``[history]``, ``[flaky]`` and ``[impact]`` settings of the quality subsystem.

They are read from ``battletest.toml`` (top-level tables) or ``[tool.battletest.*]`` in
``pyproject.toml`` in the project root; unknown keys are rejected with the fix in the message.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from battletest.errors import ConfigError, validated


class FlakyPolicy(BaseModel):
    """``[flaky]``: how flakiness is judged and handled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(default=14, ge=1, description="Days of history judged.")
    min_samples: int = Field(default=10, ge=1, description="Runs needed before a rate counts.")
    flaky_rate: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Not used: a failure rate alone never makes a test flaky (same-code flips "
        "do); accepted so older configs still load.",
    )
    quarantine_rate: float = Field(
        default=0.20,
        ge=0,
        le=1,
        description="A flaky test is quarantined above this failure rate (never a broken one).",
    )
    max_retries: int = Field(default=2, ge=0, le=5, description="Retries for known-flaky tests.")


class HistorySettings(BaseModel):
    """``[history]``: where runs are recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite at .battletest/history.db in the project.",
    )
    record: bool = Field(default=True, description="Record pytest sessions (--bt-no-history).")


class ImpactSettings(BaseModel):
    """``[impact]``: test impact selection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: bool = Field(default=False, description="Record per-test coverage on every run.")
    file_map: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Glob of a non-Python file → test id patterns it affects ('*' = all).",
    )
    always_run: list[str] = Field(default_factory=list, description="Test id patterns always run.")
    ignore: list[str] = Field(
        default_factory=lambda: ["*.md", "*.rst", "docs/*", "LICENSE*", ".gitignore"],
        description="Changed files (any kind, Python too) that affect no test.",
    )


class QualitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    history: HistorySettings = HistorySettings()
    flaky: FlakyPolicy = FlakyPolicy()
    impact: ImpactSettings = ImpactSettings()


SECTIONS = ("history", "flaky", "impact")
DEFAULT_DB = ".battletest/history.db"  # relative to the project root


def load_settings(root: Path, *, strict_toml: bool = True) -> QualitySettings:
    """The quality settings of the project at ``root`` (defaults when nothing is configured).

    ``strict_toml=False`` (the pytest plugin): a file that is not TOML gives the defaults — it
    is the config loader's to report — while a bad ``[history]``/``[flaky]``/``[impact]`` is
    still an error.
    """
    raw: dict[str, Any] = {}
    source = root / "battletest.toml"
    try:
        if source.is_file():
            raw = _read(source)
        else:
            pyproject = root / "pyproject.toml"
            if pyproject.is_file():
                raw = _read(pyproject).get("tool", {}).get("battletest", {})
                source = pyproject
    except ConfigError:
        if strict_toml:
            raise
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    picked = {k: raw[k] for k in SECTIONS if k in raw}
    return validated(
        QualitySettings,
        picked,
        source.name + ": [{where}] {problem}",
        hint="see docs/quality.md for the [history], [flaky] and [impact] keys",
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}", hint="fix the syntax") from exc


__all__ = ["FlakyPolicy", "HistorySettings", "ImpactSettings", "QualitySettings", "load_settings"]
