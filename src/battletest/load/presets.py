"""Presets: named load shapes users know, as ``LoadSettings`` values.

Each preset scales with ``vus`` (or ``rate``) and ``duration`` when given; the stages are
fractions of the duration (see docs/load.md for the table).
"""

from __future__ import annotations

from typing import Any

from battletest.durations import parse_duration
from battletest.errors import UsageError

# name: (default peak, default duration, stages as (fraction of duration, fraction of peak))
PRESETS: dict[str, tuple[float, str, tuple[tuple[float, float], ...]]] = {
    "baseline": (5, "1m", ((0.0, 1.0), (1.0, 1.0))),
    "stress": (20, "5m", ((0.2, 0.5), (0.2, 0.5), (0.2, 1.0), (0.2, 1.0), (0.2, 0.0))),
    "spike": (
        50,
        "2m",
        ((0.2, 0.1), (0.1, 0.1), (0.05, 1.0), (0.15, 1.0), (0.05, 0.1), (0.35, 0.1), (0.1, 0.0)),
    ),
    "soak": (10, "1h", ((0.05, 1.0), (0.9, 1.0), (0.05, 0.0))),
    "breakpoint": (1000, "10m", ((1.0, 1.0),)),
}


def preset_settings(
    name: str, vus: int | None = None, rate: float | None = None, duration: Any = None
) -> dict[str, Any]:
    """``[load]`` keys for preset ``name``; breakpoint ramps the arrival rate to ``rate``."""
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}", hint=f"use one of {', '.join(PRESETS)}")
    peak, default_duration, stages = PRESETS[name]
    total = parse_duration(duration if duration is not None else default_duration)
    if name == "breakpoint":
        top = rate if rate is not None else peak
        return {
            "executor": "ramping-arrival-rate",
            "rate": 1.0,
            "stages": [(total, top)],
        }
    if name == "baseline":
        return {"executor": "constant-vus", "vus": vus or int(peak), "duration": total}
    top = vus or int(peak)
    return {
        "executor": "ramping-vus",
        "vus": 0,
        "stages": [
            (round(frac * total, 3), max(0, round(level * top)))
            for frac, level in stages
            if frac > 0
        ],
    }
