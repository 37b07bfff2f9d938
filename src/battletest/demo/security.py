"""Passwords (argon2id), JWTs (PyJWT, HS256), sliding-window rate limits and login lockout.

The planted token flaws live here behind their switches: ``jwt_alg_none`` accepts unsigned
tokens, ``weak_jwt_secret`` signs with a dictionary word, ``no_token_expiry`` skips ``exp``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jwt.warnings import InsecureKeyLengthWarning

from battletest.demo.options import WEAK_JWT_SECRET, DemoOptions

ISSUER = "battletest-demo"


class Passwords:
    def __init__(self, options: DemoOptions, precomputed: Mapping[str, str] | None = None) -> None:
        self.hasher = hasher_for(options)
        self.precomputed = dict(precomputed or {})
        # verifying against this keeps unknown-user logins as slow as wrong-password ones
        self.dummy_hash = self.precomputed.pop("", "") or self.hasher.hash(secrets.token_hex(8))

    def hash(self, password: str) -> str:
        """A fresh argon2id hash (a precomputed one for the seed passwords, used once)."""
        return self.precomputed.pop(password, "") or self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False


def hasher_for(options: DemoOptions) -> PasswordHasher:
    return PasswordHasher(
        time_cost=options.kdf_time_cost, memory_cost=options.kdf_memory_kib, parallelism=1
    )


def hash_seed_passwords(options: DemoOptions, passwords: list[str]) -> dict[str, str]:
    """Hashes for the seed users plus the dummy hash (key ""), computed ahead of time.

    argon2 releases the GIL, so the app process runs this in a thread while it imports FastAPI.
    """
    hasher = hasher_for(options)
    hashes = {p: hasher.hash(p) for p in passwords}
    hashes[""] = hasher.hash(secrets.token_hex(8))
    return hashes


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: float


class Tokens:
    def __init__(self, options: DemoOptions, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.secret = (
            WEAK_JWT_SECRET if options.vuln("weak_jwt_secret") else secrets.token_urlsafe(48)
        )
        # verified access tokens → claims: the signature check is the costliest step per
        # request, so each token is verified once; expiry is still checked on every use
        self.verified: dict[str, dict[str, Any]] = {}

    def issue(self, user_id: str, role: str, hotel_id: str | None, kind: str) -> IssuedToken:
        now = self.clock()
        ttl = self.options.token_ttl_s if kind == "access" else self.options.refresh_ttl_s
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": ISSUER,
            "sub": user_id,
            "role": role,
            "hotel_id": hotel_id,
            "typ": kind,
            "jti": jti,
            "iat": int(now),
            "exp": now + ttl,
        }
        with warnings.catch_warnings():
            if self.options.vuln("weak_jwt_secret"):
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            token = jwt.encode(claims, self.secret, algorithm="HS256")
        return IssuedToken(token, jti, now + ttl)

    def decode(self, token: str, kind: str = "access") -> dict[str, Any]:
        claims = self.verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self.verified) >= 10_000:
                self.verified.clear()
            self.verified[token] = claims
        if claims.get("typ") != kind or not isinstance(claims.get("sub"), str):
            raise InvalidToken("wrong token type")
        exp = claims.get("exp")
        if not self.options.vuln("no_token_expiry") and (  # PLANTED (no_token_expiry) if on
            not isinstance(exp, int | float) or self.clock() >= exp
        ):
            self.verified.pop(token, None)
            raise InvalidToken("Signature has expired")
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            if self.options.vuln("jwt_alg_none") and str(header.get("alg", "")).lower() == "none":
                return _unverified_claims(token)  # PLANTED VULNERABILITY (jwt_alg_none)
            with warnings.catch_warnings():
                if self.options.vuln("weak_jwt_secret"):  # the short key is the point
                    warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims: dict[str, Any] = jwt.decode(
                    token,
                    self.secret,
                    algorithms=["HS256"],
                    issuer=ISSUER,
                    # expiry is checked in decode() against our clock, also for cached tokens
                    options={"require": ["exp", "sub", "jti", "typ"], "verify_exp": False},
                )
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(str(exc)) from None
        return claims


def _unverified_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) < 2:
        raise ValueError("malformed token")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(claims, dict):
        raise ValueError("malformed token")
    return claims


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window_s`` per key (exact sliding log)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int) -> float:
        """Record a request; return 0.0 when allowed, else seconds until a slot frees up."""
        now = self.clock()
        log = self.hits.setdefault(key, deque())
        horizon = now - self.window_s
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= limit:
            return max(0.001, log[0] + self.window_s - now)
        log.append(now)
        if len(self.hits) > 50_000:  # bound memory under a flood of distinct clients
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > horizon}
        return 0.0


class Lockout:
    """Locks a username after ``threshold`` consecutive failed logins, for ``lockout_s``."""

    def __init__(
        self, threshold: int, lockout_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.lockout_s = lockout_s
        self.clock = clock
        self.failures: dict[str, int] = {}
        self.locked_until: dict[str, float] = {}

    def retry_after(self, username: str) -> float:
        until = self.locked_until.get(username.lower(), 0.0)
        remaining = until - self.clock()
        if remaining <= 0 and until:
            self.locked_until.pop(username.lower(), None)
            self.failures.pop(username.lower(), None)
        return max(0.0, remaining)

    def failed(self, username: str) -> None:
        key = username.lower()
        self.failures[key] = self.failures.get(key, 0) + 1
        if self.failures[key] >= self.threshold:
            self.locked_until[key] = self.clock() + self.lockout_s

    def succeeded(self, username: str) -> None:
        self.failures.pop(username.lower(), None)
