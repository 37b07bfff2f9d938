"""Parsing of the durations and stage lists users type (``30s``, ``2m``, ``1m30s``, ``30s:50``)."""

from __future__ import annotations

import re

from battletest.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)?")
_SCALE = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str | float | int, *, what: str = "duration") -> float:
    """Seconds from ``"30s"``, ``"2m"``, ``"1m30s"``, ``"250ms"`` or a bare number of seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        raw = text.strip().lower()
        pos, seconds, parts = 0, 0.0, 0
        while pos < len(raw):
            m = _PART.match(raw, pos)
            if m is None or (m.group(2) is None and parts > 0):
                raise UsageError(
                    f"invalid {what} {text!r}",
                    hint="use a number of seconds or units like 30s, 2m, 1m30s, 250ms",
                )
            seconds += float(m.group(1)) * _SCALE[m.group(2)]
            pos, parts = m.end(), parts + 1
            if m.group(2) is None and pos < len(raw):
                raise UsageError(f"invalid {what} {text!r}", hint="write units after every number")
        if parts == 0:
            raise UsageError(f"invalid {what} {text!r}", hint="give a duration like 30s or 2m")
    if seconds < 0:
        raise UsageError(f"{what} {text!r} is negative", hint="give a duration like 30s")
    return seconds


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
