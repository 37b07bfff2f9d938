"""``battletest load --har``: a recording as a TOML scenario on the load engine's executors.

The recording becomes the scenario model every TOML scenario compiles to (``flow.py``): one
task whose steps are the recorded requests in order, each correlated value an extractor on the
step whose answer carries it (so every virtual user re-extracts its own token and ids), the
recorded pauses between requests as think times divided by ``--speed``. The scenario file is
written next to the run (``har-scenario.toml``) so what ran can be read and rerun with
``--scenario``. Which executor runs it is the usual flags' choice; ``--loop N`` is
per-vu-iterations with N iterations (each VU replays the episode N times).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from battletest.errors import ConfigError
from battletest.replay.convert import scenario_toml, to_scenario
from battletest.replay.har import read_episode

SCENARIO_FILE = "har-scenario.toml"


def har_scenario_file(
    har: str | Path,
    folder: str | Path,
    *,
    speed: float = 1.0,
    inputs: Mapping[str, Any] | None = None,
) -> Path:
    """Write the recording ``har`` as a TOML scenario into ``folder``; its path."""
    episode = read_episode(har)
    if not episode.entries:
        raise ConfigError(f"{har} holds no requests", hint="record some traffic first")
    given = dict(inputs or {})
    missing = [name for name in episode.inputs if name not in given]
    if missing:
        raise ConfigError(
            f"{Path(har).name} needs values for {', '.join('{{input.' + m + '}}' for m in missing)}",
            hint="give each with --var NAME=VALUE",
        )
    table = to_scenario(episode, speed=speed, inputs=given)
    out = Path(folder) / SCENARIO_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scenario_toml(table), encoding="utf-8")
    return out


__all__ = ["SCENARIO_FILE", "har_scenario_file"]
