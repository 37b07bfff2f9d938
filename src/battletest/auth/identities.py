"""Identities the suites act as: login (JSON or form), bearer tokens, API keys, refresh, logout.

An ``IdentitySession`` holds one identity's credentials and current tokens and turns them into
request headers. ``Identities`` holds several at once, logs each in on first use, and picks
one by name, role or what an operation's security requirement asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from battletest.auth import jwt
from battletest.config import AuthConfig, Identity
from battletest.errors import AuthError
from battletest.spec import SecurityScheme

PRIVILEGE = ("admin", "service", "staff", "manager", "user", "guest")


def _dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


@dataclass(slots=True)
class IdentitySession:
    """One identity's live credentials."""

    identity: Identity
    auth: AuthConfig
    access_token: str | None = None
    refresh_token: str | None = None
    logged_in: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def role(self) -> str:
        return self.identity.role

    @property
    def uses_login(self) -> bool:
        return bool(self.identity.username and self.auth.login_path)

    @property
    def bearer(self) -> str | None:
        return self.access_token or self.identity.token

    def headers(self) -> dict[str, str]:
        """Headers that authenticate a request as this identity."""
        if self.identity.api_key and not self.bearer:
            return {self.auth.api_key_header: self.identity.api_key}
        token = self.bearer
        return {"Authorization": f"Bearer {token}"} if token else {}

    def login(self, client: httpx.Client) -> None:
        """Log in (when the identity has a username) and keep the tokens; AuthError on failure."""
        if self.logged_in or not self.uses_login:
            self.logged_in = True
            return
        assert self.auth.login_path and self.identity.username is not None
        creds = {
            self.auth.username_field: self.identity.username,
            self.auth.password_field: self.identity.password or "",
        }
        try:
            if self.auth.login_format == "form":
                resp = client.post(self.auth.login_path, data=creds)
            else:
                resp = client.post(self.auth.login_path, json=creds)
        except httpx.HTTPError as exc:
            raise AuthError(
                f"login of identity {self.name!r} failed: {exc.__class__.__name__}",
                hint=f"check [auth].login_path ({self.auth.login_path})",
            ) from None
        if resp.status_code >= 400:
            raise AuthError(
                f"login of identity {self.name!r} at {self.auth.login_path} was refused "
                f"(HTTP {resp.status_code})",
                hint="check the identity's username/password and [auth].login_path",
            )
        try:
            body = resp.json()
        except ValueError:
            raise AuthError(
                f"login of identity {self.name!r}: the response is not JSON "
                f"({resp.headers.get('content-type', 'no content type')})",
                hint="check [auth].login_path points at the login endpoint",
            ) from None
        token = _dig(body, self.auth.token_field or "access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(
                f"login of identity {self.name!r}: no '{self.auth.token_field}' in the response",
                hint="set [auth].token_field to the field holding the access token",
            )
        self.access_token = token
        refresh = _dig(body, self.auth.refresh_token_field)
        self.refresh_token = refresh if isinstance(refresh, str) else None
        self.logged_in = True

    def refresh(self, client: httpx.Client) -> httpx.Response | None:
        """Exchange the refresh token for a new access token; the response, or None if unsupported."""
        if not (self.auth.refresh_path and self.refresh_token):
            return None
        resp = client.post(
            self.auth.refresh_path, json={self.auth.refresh_token_field: self.refresh_token}
        )
        if resp.status_code < 400:
            try:
                body = resp.json()
            except ValueError:
                return resp
            token = _dig(body, self.auth.token_field or "access_token")
            if isinstance(token, str) and token:
                self.access_token = token
            new_refresh = _dig(body, self.auth.refresh_token_field)
            if isinstance(new_refresh, str) and new_refresh:
                self.refresh_token = new_refresh
        return resp

    def expired(self, margin_s: float = 2.0) -> bool:
        token = self.bearer
        if not token or not jwt.looks_like_jwt(token):
            return False
        left = jwt.seconds_left(token)
        return left is not None and left < margin_s

    def ensure_fresh(self, client: httpx.Client) -> None:
        """Refresh (or log in again) when the access token is about to expire."""
        if not self.expired():
            return
        resp = self.refresh(client)
        if resp is None or resp.status_code >= 400:
            self.logged_in = False
            self.access_token = None
            self.login(client)


class Identities:
    """Several identities at once, logged in lazily with a client from ``client_for``."""

    def __init__(
        self,
        identities: list[Identity],
        auth: AuthConfig,
        client_for: Callable[[str], httpx.Client],
    ) -> None:
        self._sessions = {i.name: IdentitySession(i, auth) for i in identities}
        self._client_for = client_for

    def __iter__(self) -> Iterator[IdentitySession]:
        return iter(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, name: str) -> IdentitySession:
        session = self._sessions[name]
        client = self._client_for(name)
        session.login(client)
        session.ensure_fresh(client)
        return session

    def login_all(self) -> None:
        for name in self._sessions:
            self.get(name)

    def roles(self) -> list[str]:
        return sorted({s.role for s in self._sessions.values()})

    def with_role(self, role: str) -> IdentitySession | None:
        for s in self._sessions.values():
            if s.role == role:
                return self.get(s.name)
        return None

    def for_schemes(self, schemes: list[SecurityScheme]) -> IdentitySession | None:
        """The most privileged identity whose credentials fit one of the security schemes.

        ``schemes`` holds the scheme definitions of one security requirement alternative.
        """
        kinds = {_kind(s) for s in schemes}
        ranked = sorted(self._sessions.values(), key=lambda s: _rank(s.role))
        for s in ranked:
            ident = s.identity
            if "apiKey" in kinds and ident.api_key:
                return self.get(s.name)
            if kinds & {"bearer", "oauth2", "other"} and (ident.username or ident.token):
                return self.get(s.name)
        return None

    def most_privileged(self) -> IdentitySession | None:
        ranked = sorted(
            (s for s in self._sessions.values() if s.identity.username or s.identity.token),
            key=lambda s: _rank(s.role),
        )
        return self.get(ranked[0].name) if ranked else None


def _rank(role: str) -> int:
    return PRIVILEGE.index(role) if role in PRIVILEGE else len(PRIVILEGE)


def _kind(scheme: SecurityScheme) -> str:
    kind = scheme.kind
    if kind in ("apiKey", "bearer", "oauth2"):
        return kind
    return "oauth2" if kind == "openIdConnect" else "other"


__all__ = ["Identities", "IdentitySession"]
