"""The users the scanner acts as: credentials in, ready-to-send headers and cookies out.

An identity comes from the config (``[[identities]]``: token, api_key or username+password with
the login settings) or is built directly in code. ``login`` turns username+password into a
bearer token or a session cookie through the target's login operation.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from battletest.errors import AuthError
from battletest.security.settings import LoginSettings
from battletest.transport import Transport
from battletest.transport.identities import IDENTITY


@dataclass(slots=True)
class ScanIdentity:
    name: str
    role: str = "user"
    tenant: str | None = None
    token: str | None = None  # a bearer token (often a JWT)
    api_key: str | None = None
    api_key_header: str = "X-API-Key"
    cookies: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    basic: bool = False  # HTTP Basic with username and password (no login operation)

    @property
    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.basic and self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        if self.api_key:
            out[self.api_key_header] = self.api_key
        return out

    @property
    def jwt(self) -> str | None:
        return self.token if self.token and self.token.count(".") == 2 else None

    @property
    def cookie_auth(self) -> bool:
        return bool(self.cookies) and not self.token and not self.api_key

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.api_key, self.password, *self.cookies.values()) if s]


def login(client: Transport, identity: ScanIdentity, settings: LoginSettings) -> ScanIdentity:
    """Log an identity in with username and password; keep its token or session cookie."""
    if identity.token or identity.api_key or identity.cookies or not identity.username:
        return identity
    if not settings.path and identity.password is not None:
        identity.basic = True  # no login operation: the credentials go as HTTP Basic
        return identity
    if not settings.path:
        raise AuthError(
            f"identity {identity.name!r} has a username but no login path is known",
            hint="set [security.login] path (or [auth] login_path) to the login operation",
        )
    fields = {
        settings.username_field: identity.username,
        settings.password_field: identity.password,
    }
    purpose = IDENTITY["battletest_purpose"]
    if settings.format == "form":
        ex = client.send(
            "POST",
            settings.path,
            content=urlencode(fields),  # a password with + & % must arrive as typed
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            purpose=purpose,
        )
    else:
        ex = client.send("POST", settings.path, json_body=fields, purpose=purpose)
    if not ex.ok:
        raise AuthError(
            f"identity {identity.name!r} could not log in at {settings.path}: HTTP {ex.status}",
            hint="check its username and password in the config",
        )
    body = ex.json()
    token = body.get(settings.token_field) if isinstance(body, dict) else None
    if isinstance(token, str) and token:
        identity.token = token
        return identity
    cookies = {
        c.split("=", 1)[0].strip(): c.split("=", 1)[1].split(";", 1)[0]
        for c in ex.response_headers.get_list("set-cookie")
        if "=" in c
    }
    if not cookies:
        raise AuthError(
            f"identity {identity.name!r} logged in at {settings.path} but got no "
            f"'{settings.token_field}' field and no cookie",
            hint="set [security.login] token_field to the field holding the token",
        )
    identity.cookies = cookies
    return identity


def identities_from(items: Iterable[Any], api_key_header: str = "X-API-Key") -> list[ScanIdentity]:
    """ScanIdentity objects from config identities (objects or dicts with the same keys)."""
    out = []
    for item in items:
        get = item.get if isinstance(item, dict) else (lambda k, d=None, i=item: getattr(i, k, d))
        out.append(
            ScanIdentity(
                name=str(get("name")),
                role=str(get("role", "user") or "user"),
                tenant=get("tenant"),
                token=get("token"),
                api_key=get("api_key"),
                api_key_header=api_key_header,
                cookies=dict(get("cookies", None) or {}),
                username=get("username"),
                password=get("password"),
            )
        )
    return out
