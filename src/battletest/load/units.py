"""Parsing of the stage lists users type (``30s:10,1m:50``); durations are the shared parser's
(``battletest.durations``: ``30s``, ``1m30s``, ``500ms``, ``2h``)."""

from __future__ import annotations

from battletest.durations import parse_duration
from battletest.errors import UsageError


def parse_stages(text: str) -> list[tuple[float, float]]:
    """``"30s:10,1m:50,30s:0"`` → [(30.0, 10.0), (60.0, 50.0), (30.0, 0.0)] (duration, target)."""
    stages: list[tuple[float, float]] = []
    for chunk in text.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        duration, sep, target = chunk.partition(":")
        if not sep:
            raise UsageError(
                f"invalid stage {chunk!r} in --stages",
                hint="write DURATION:TARGET pairs separated by commas, e.g. 30s:10,1m:50,30s:0",
            )
        try:
            value = float(target)
        except ValueError:
            raise UsageError(
                f"invalid stage target {target!r} in --stages", hint="targets are numbers"
            ) from None
        if value < 0:
            raise UsageError(f"stage target {target!r} is negative", hint="targets are >= 0")
        stages.append((parse_duration(duration, what="stage duration"), value))
    if not stages:
        raise UsageError("--stages is empty", hint="e.g. --stages 30s:10,1m:50,30s:0")
    return stages


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f}m{rest:02.0f}s"
