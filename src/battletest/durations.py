"""The one duration parser: every ``30s``, ``1m30s``, ``500ms`` or ``2h`` a user types.

Load options, scenario files, failure scenarios, experiments and ``battletest mock activate
--for`` all read durations here, so a form that works in one place works in every other.

Accepted: a number of seconds (``1.5``, ``30``; an int or float too), or one or more
``NUMBER UNIT`` parts summed, units ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``, ``d``
(``1m30s``, ``1h30m``, ``1.5s``, ``250ms``, ``2m 30s``). A bare number is seconds only on its
own: in ``1m30`` the ``30`` has no unit and is refused. Anything else — an empty string, a
negative value, ``30 sec``, ``1e3``, a boolean — is one ``UsageError`` line with the forms.
"""

from __future__ import annotations

import math
import re

from battletest.errors import UsageError

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|us|µs|s|m|h|d)?(?![a-zµ])", re.IGNORECASE)
_SCALE = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
FORMS = "a number of seconds or units like 30s, 1m30s, 500ms, 2h"


def parse_duration(
    text: str | float | int, *, what: str = "duration", positive: bool = False
) -> float:
    """Seconds from ``"30s"``, ``"1m30s"``, ``"500ms"``, ``"2h"``, ``"1.5"`` or a number.

    ``what`` names the value in the error (``"think time"``); ``positive`` refuses zero."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UsageError(f"invalid {what} {text!r}", hint=f"give {FORMS}")
    seconds = float(text) if isinstance(text, int | float) else _parse_text(text, what)
    if not math.isfinite(seconds):
        raise UsageError(f"invalid {what} {text!r}", hint=f"give {FORMS}")
    if seconds < 0:
        raise UsageError(f"{what} {text!r} is negative", hint=f"give {FORMS}")
    if positive and seconds == 0:
        raise UsageError(f"{what} {text!r} must be greater than zero", hint="e.g. 30s or 500ms")
    return seconds


def _parse_text(text: str, what: str) -> float:
    raw = text.strip()
    pos, seconds, parts, bare = 0, 0.0, 0, False
    while pos < len(raw):
        m = _PART.match(raw, pos)
        if m is None or bare:
            raise UsageError(f"invalid {what} {text!r}", hint=f"give {FORMS}")
        unit = m.group(2)
        bare = unit is None
        if bare and parts:  # "1m30": a number after a part needs its unit
            raise UsageError(f"invalid {what} {text!r}", hint="write a unit after every number")
        seconds += float(m.group(1)) * _SCALE[unit.lower() if unit else "s"]
        pos, parts = m.end(), parts + 1
    if parts == 0:
        raise UsageError(f"invalid {what} {text!r}", hint=f"give {FORMS}")
    return seconds


__all__ = ["FORMS", "parse_duration"]
