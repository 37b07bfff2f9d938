"""The one redaction function every reporter passes output through.

Removes bearer tokens, JWTs, values of secret-looking keys and headers (password, token,
api key, authorization, cookie, secret), e-mail addresses, and any value listed as a known
secret (passwords and keys from the config). Works on strings and on nested JSON-like data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key)",
    re.IGNORECASE,
)
_PATTERNS = (
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail
    re.compile(
        r"(?i)((?:x-api-key|api[-_]?key|password|passwd|secret|access_token|refresh_token)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"
    ),
)


class Redactor:
    """Redaction with a set of known secret values (from the config) on top of the patterns."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        for pattern in _PATTERNS:
            value = pattern.sub(_mask_match, value)
        return value

    def __call__(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {
                k: (
                    MASK
                    if isinstance(k, str)
                    and SECRET_KEY.search(k)
                    and v not in (None, "")
                    and not isinstance(v, dict | list | bool)
                    else self(v)
                )
                for k, v in data.items()
            }
        if isinstance(data, list | tuple):
            return [self(v) for v in data]
        return data


def _mask_match(m: re.Match[str]) -> str:
    text = m.group(0)
    if text.lower().startswith(("bearer", "basic")):
        return text.split()[0] + " " + MASK
    if m.lastindex and m.group(1) and not text.startswith("eyJ") and "@" not in text:
        return m.group(1) + MASK
    return MASK


def redact(data: Any, secrets: Iterable[str] = ()) -> Any:
    """Redact ``data`` (a string or JSON-like value)."""
    return Redactor(secrets)(data)


__all__ = ["MASK", "Redactor", "redact"]
