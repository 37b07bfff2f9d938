"""JWT helpers for the auth suite: read claims without verifying, and forge attack tokens.

Forged tokens are what an attacker would send: ``alg: none``, a tampered payload or signature,
an expired token signed with the real key when that key is known.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt as pyjwt


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        json.loads(_unb64(parts[0]))
        json.loads(_unb64(parts[1]))
    except ValueError:
        return False
    return True


def header(token: str) -> dict[str, Any]:
    value = json.loads(_unb64(token.split(".")[0]))
    return value if isinstance(value, dict) else {}


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified."""
    value = json.loads(_unb64(token.split(".")[1]))
    return value if isinstance(value, dict) else {}


def forge_alg_none(token: str, **changes: Any) -> str:
    """The same claims (with ``changes``) under ``alg: none`` and an empty signature."""
    body = {**claims(token), **changes}
    head = {"alg": "none", "typ": "JWT"}
    return f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(body).encode())}."


def tamper_payload(token: str, **changes: Any) -> str:
    """Claims changed (default: ``sub`` altered) but the original signature kept."""
    h, _, sig = token.split(".")
    body = claims(token)
    body.update(changes or {"sub": f"{body.get('sub', '')}x"})
    return f"{h}.{_b64(json.dumps(body).encode())}.{sig}"


def tamper_signature(token: str) -> str:
    """The last signature byte flipped."""
    h, p, sig = token.split(".")
    raw = bytearray(_unb64(sig) or b"\0")
    raw[-1] ^= 0x01
    return f"{h}.{p}.{_b64(bytes(raw))}"


def sign(payload: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    return pyjwt.encode(payload, key, algorithm=algorithm)


def forge_expired(token: str, key: str, algorithm: str = "HS256", ago_s: int = 3600) -> str:
    """The token's claims, expired ``ago_s`` seconds ago, signed with the real key."""
    now = int(time.time())
    body = {**claims(token), "exp": now - ago_s, "iat": now - ago_s - 60}
    if "nbf" in body:
        body["nbf"] = now - ago_s - 60
    return sign(body, key, algorithm)


def verifies_with(token: str, key: str, algorithm: str = "HS256") -> bool:
    """Whether ``key`` verifies the token's signature (expiry ignored)."""
    try:
        pyjwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={
                "verify_exp": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except pyjwt.PyJWTError:
        return False
    return True


def seconds_left(token: str) -> float | None:
    exp = claims(token).get("exp")
    return float(exp) - time.time() if isinstance(exp, int | float) else None


__all__ = [
    "claims",
    "forge_alg_none",
    "forge_expired",
    "header",
    "looks_like_jwt",
    "seconds_left",
    "sign",
    "tamper_payload",
    "tamper_signature",
    "verifies_with",
]
