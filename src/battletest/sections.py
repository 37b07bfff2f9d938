"""The config sections other subsystems own, handed to the foundation's config loader.

``[security]`` is the scanner's ``ScanSettings`` and ``[resilience]`` the resilience suite's
``ResilienceConfig``. ``battletest.config`` keeps them as tables and imports neither subsystem;
the composing layer (the CLI commands, ``run``, the pytest plugin, ``doctor``, ``init``) passes
these models in, so each section is validated by its owner with every other config error:

    load_config(path, profile, sections=config_sections())
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from battletest.config import Config, config_json_schema, load_config


def config_sections() -> dict[str, type[BaseModel]]:
    """Section name → the owning subsystem's model (imported on first use)."""
    from battletest.chaos.resilience import ResilienceConfig
    from battletest.security.settings import ScanSettings

    return {"security": ScanSettings, "resilience": ResilienceConfig}


def load_checked_config(*args: Any, **kwargs: Any) -> Config:
    """``load_config`` with every delegated section validated by its owner's model."""
    return load_config(*args, sections=config_sections(), **kwargs)


def full_config_schema() -> dict[str, Any]:
    """The JSON Schema of the whole config file (committed at schemas/config.schema.json)."""
    return config_json_schema(config_sections())


__all__ = ["config_sections", "full_config_schema", "load_checked_config"]
