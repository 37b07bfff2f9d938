"""``battletest config``: show, validate and describe the configuration (docs/config.md)."""

from __future__ import annotations

import json

import click

from battletest.config import SCHEMA_PATH, find_config_file
from battletest.sections import load_checked_config


@click.group("config", context_settings={"help_option_names": ["-h", "--help"]})
def config_command() -> None:
    """Show, check and describe the configuration (battletest.toml)."""


@config_command.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the config file."""
    click.echo(SCHEMA_PATH.read_text(encoding="utf-8"), nl=False)


@config_command.command("show")
@click.option("--config", "path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--profile", "--environment", "profile", help="Profile to apply.")
def show_cmd(path: str | None, profile: str | None) -> None:
    """Print the resolved configuration (secrets redacted) as JSON."""
    click.echo(json.dumps(load_checked_config(path, profile).redacted(), indent=2))


@config_command.command("validate")
@click.option("--config", "path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--profile", "--environment", "profile", help="Profile to apply.")
def validate_cmd(path: str | None, profile: str | None) -> None:
    """Check the configuration; one line per problem when it is invalid (all of them)."""
    cfg = load_checked_config(path, profile)
    where = path or find_config_file() or "defaults"
    click.echo(f"ok: {where} (profile {cfg.profile}, {len(cfg.identities)} identities)")


__all__ = ["config_command"]
