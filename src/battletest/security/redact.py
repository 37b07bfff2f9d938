"""Redaction for everything the scanner writes: evidence, curl commands, reports.

Tokens (JWTs keep only their header's ``alg`` so a forged ``alg: none`` token stays visible as
such), passwords, API keys, cookies, e-mail addresses, phone numbers, card numbers and any secret
value the caller knows (from the config) are replaced before a finding leaves the scanner.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

from battletest.redact import Redactor

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-api-key", "api-key", "proxy-authorization"}
)
SECRET_FIELD = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|apikey|credential|card(_?number)?|cvv|ssn|hash",
    re.IGNORECASE,
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d[\d ().-]{7,}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w.])")
_KV = re.compile(
    r"""(?P<key>["']?(?:password|passwd|secret|token|access_token|refresh_token|api_key|apikey)["']?\s*[:=]\s*)(?P<q>["']?)(?P<val>[^"'&\s,}]+)""",
    re.IGNORECASE,
)


def _jwt_label(token: str) -> str:
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        alg = str(header.get("alg", "?")) if isinstance(header, dict) else "?"
    except (ValueError, TypeError):
        alg = "?"
    return f"[jwt alg={alg} redacted]"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact secrets and PII inside free text (bodies, curl commands).

    JWTs become ``[jwt alg=… redacted]`` first (so a forged ``alg: none`` token stays
    recognisable), then battletest's shared redaction runs, then card and phone numbers.
    """
    known = [s for s in secrets if s and len(s) >= 4]
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _JWT.sub(lambda m: _jwt_label(m.group(0)), text)
    text = _KV.sub(lambda m: f"{m.group('key')}{m.group('q')}{REDACTED}", text)
    text = _EMAIL.sub("[email]", text)
    text = Redactor(known).text(text)

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[card]" if 13 <= len(digits) <= 19 and _luhn(digits) else m.group(0)

    text = _CARD.sub(card, text)
    return _PHONE.sub(
        lambda m: "[phone]" if len(re.sub(r"\D", "", m.group(0))) >= 9 else m.group(0), text
    )


def redact_headers(headers: Iterable[tuple[str, str]], secrets: Iterable[str] = ()) -> list[str]:
    """``Name: value`` lines with secret header values replaced."""
    known = list(secrets)
    lines = []
    for name, value in headers:
        if name.lower() in SECRET_HEADERS or SECRET_FIELD.search(name):
            if value.lower().startswith("bearer "):
                value = "Bearer " + redact_text(value[7:], known)
                if not value.startswith("Bearer [jwt"):
                    value = f"Bearer {REDACTED}"
            else:
                value = REDACTED
        lines.append(f"{name}: {redact_text(value, known)}")
    return lines


def redact(data: Any, secrets: Iterable[str] = ()) -> Any:
    """Redact a JSON-like structure: secret-named fields blanked, strings scrubbed."""
    known = list(secrets)
    if isinstance(data, dict):
        return {
            k: (
                REDACTED
                if isinstance(k, str)
                and SECRET_FIELD.search(k)
                and isinstance(v, str | int | float)
                and not isinstance(v, bool)
                else redact(v, known)
            )
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact(v, known) for v in data]
    if isinstance(data, str):
        return redact_text(data, known)
    return data
