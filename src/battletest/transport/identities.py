"""The identities every suite acts as: credentials in, authenticated requests out.

An ``IdentitySession`` is one ``[[identities]]`` entry and its live credentials. Its kind says
how it authenticates (``Identity.kind``, or inferred from what is given):

- ``login``: username + password POSTed to ``[auth].login_path`` as JSON or as a URL-encoded
  form; the token is read from the answer (``[auth].token_field``, else the login operation's
  response schema, else common names such as ``access_token``, ``token``, ``jwt``), or the
  answer's ``Set-Cookie`` session is kept when there is no token;
- ``password`` / ``client_credentials``: the OAuth2 grants against ``[auth].token_url``;
- ``basic``: HTTP Basic on every request; ``bearer``: a static token; ``api_key``: a key in a
  header, query parameter or cookie (``[auth].api_key_in``); ``cookie``: a static session.

Tokens are refreshed when they expire (a JWT's ``exp`` or the grant's ``expires_in``), through
``[auth].refresh_path`` or the refresh-token grant, else by logging in again. Every token
issued is registered with the run's ``Redactor``. ``Identities`` holds them all; the transport
asks it for the session behind each client key to authenticate and watch its requests.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from battletest.auth import jwt
from battletest.config import AuthConfig, Identity
from battletest.errors import AuthError
from battletest.redact import Redactor

if TYPE_CHECKING:
    from battletest.transport.client import GuardedTransport, Transport

PRIVILEGE = ("admin", "service", "staff", "manager", "user", "guest")


def _both_spellings(names: tuple[str, ...]) -> tuple[str, ...]:
    """Each snake_case name, then its camelCase twin (``id_token``, ``idToken``)."""
    camel = (re.sub(r"_([a-z])", lambda m: m.group(1).upper(), n) for n in names)
    return tuple(dict.fromkeys(x for pair in zip(names, camel, strict=True) for x in pair))


# where an access token usually is in a login answer, when neither config nor schema says
TOKEN_FIELDS = (
    *_both_spellings(("access_token", "token", "jwt", "id_token", "auth_token")),
    *(f"data.{name}" for name in ("access_token", "token", "accessToken")),
    "result.token",
    "auth.token",
)
IDENTITY = {"battletest_purpose": "identity"}  # request extensions of login/refresh/logout


def _dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def token_fields_from_schema(schema: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted names of string properties that look like an access token, best first."""
    if not isinstance(schema, dict) or depth > 2:
        return []
    found: list[tuple[int, str]] = []
    nested: list[str] = []
    for name, sub in (schema.get("properties") or {}).items():
        low = name.lower()
        if not isinstance(sub, dict):
            continue
        if "token" in low or low == "jwt":
            if "refresh" in low or sub.get("type") not in (None, "string"):
                continue
            found.append((0 if "access" in low else 1 if low in {"token", "jwt"} else 2, name))
        elif sub.get("type") == "object" or "properties" in sub:
            nested += token_fields_from_schema(sub, f"{prefix}{name}.", depth + 1)
    return [prefix + n for _, n in sorted(found)] + nested


def infer_kind(identity: Identity, auth: AuthConfig) -> str:
    """How an identity authenticates when its ``kind`` is not given."""
    if identity.kind:
        return identity.kind
    if identity.username and auth.login_path:
        return "login"
    if identity.username and auth.token_url:
        return "password"
    if identity.client_id and auth.token_url:
        return "client_credentials"
    if identity.username:
        return "basic"
    if identity.token:
        return "bearer"
    if identity.api_key:
        return "api_key"
    if identity.cookie:
        return "cookie"
    return "client_credentials"


@dataclass(slots=True)
class IdentitySession:
    """One identity's live credentials, and what the transport learnt about them."""

    identity: Identity
    auth: AuthConfig
    redactor: Redactor | None = None
    token_fields: tuple[str, ...] = ()  # from the login operation's response schema
    clock: Callable[[], float] = time.time
    access_token: str | None = None
    refresh_token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    expires_at: float | None = None
    logged_in: bool = False
    broken: str | None = None  # why it stopped working (set by the transport)
    refuses: set[tuple[str, str]] = field(default_factory=set)  # refuse it even when renewed
    last_good: tuple[str, str] | None = None  # (method, URL) of a request that worked
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.identity.cookie and not self.cookies:
            self.cookies = parse_cookie(self.identity.cookie)
        for secret in (self.identity.password, self.identity.token, self.identity.api_key):
            self._secret(secret)

    # -------------------------------------------------------------------------- properties

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def role(self) -> str:
        return self.identity.role

    @property
    def kind(self) -> str:
        return infer_kind(self.identity, self.auth)

    @property
    def uses_login(self) -> bool:
        """Whether credentials are obtained from the target (and can be renewed)."""
        return self.kind in {"login", "password", "client_credentials"}

    @property
    def bearer(self) -> str | None:
        return self.access_token or (self.identity.token if self.kind == "bearer" else None)

    def _secret(self, value: str | None) -> None:
        if value and self.redactor is not None:
            self.redactor.add_secret(value)

    # ------------------------------------------------------------------------- credentials

    def credentials(self) -> list[tuple[str, str, str]]:
        """(where, name, value) of what authenticates a request: header, query or cookie."""
        ident, auth = self.identity, self.auth
        kind = self.kind
        out: list[tuple[str, str, str]] = []
        if kind == "basic":
            pair = f"{ident.username}:{ident.password or ''}".encode()
            out.append(("header", "Authorization", "Basic " + base64.b64encode(pair).decode()))
        elif kind == "api_key" and ident.api_key:
            out.append((auth.api_key_in, auth.api_key_header, ident.api_key))
        elif self.bearer:
            out.append(("header", "Authorization", f"Bearer {self.bearer}"))
        if kind == "bearer" and ident.api_key:
            out.append((auth.api_key_in, auth.api_key_header, ident.api_key))
        out += [("cookie", k, v) for k, v in self.cookies.items()]
        return out

    def headers(self) -> dict[str, str]:
        """Headers that authenticate a request as this identity (a query API key is added by
        the transport)."""
        out: dict[str, str] = {}
        cookies: list[str] = []
        for where, name, value in self.credentials():
            if where == "header":
                out[name] = value
            elif where == "cookie":
                cookies.append(f"{name}={value}")
        if cookies:
            out["Cookie"] = "; ".join(cookies)
        return out

    def authenticate(self, request: httpx.Request) -> None:
        """Add the credentials a request does not carry yet (header, query or cookie)."""
        present = request.headers.get("cookie", "")
        for where, name, value in self.credentials():
            if where == "header" and name not in request.headers:
                request.headers[name] = value
            elif where == "query" and name not in request.url.params:
                request.url = request.url.copy_add_param(name, value)
            elif where == "cookie" and f"{name}=" not in present:
                present = f"{present}; {name}={value}" if present else f"{name}={value}"
                request.headers["Cookie"] = present

    def sent_own_credentials(self, request: httpx.Request) -> bool:
        """Whether ``request`` carried this identity's current credentials."""
        creds = self.credentials()
        if not creds:
            return False
        for where, name, value in creds:
            if where == "header" and request.headers.get(name) != value:
                return False
            if where == "query" and request.url.params.get(name) != value:
                return False
            if where == "cookie" and f"{name}={value}" not in request.headers.get("cookie", ""):
                return False
        return True

    def reauthenticated(self, request: httpx.Request) -> httpx.Request:
        """``request`` again with this identity's current credentials in place of the old."""
        headers = httpx.Headers(request.headers)
        url = request.url
        cookie_parts = [
            c.strip()
            for c in headers.get("cookie", "").split(";")
            if c.strip() and c.split("=", 1)[0].strip() not in self.cookies
        ]
        for where, name, value in self.credentials():
            if where == "header":
                headers[name] = value
            elif where == "query":
                url = url.copy_set_param(name, value)
            else:
                cookie_parts.append(f"{name}={value}")
        if cookie_parts:
            headers["Cookie"] = "; ".join(cookie_parts)
        return httpx.Request(
            request.method,
            url,
            headers=headers,
            content=request.content,
            extensions=request.extensions,
        )

    def note_good(self, request: httpx.Request) -> None:
        if request.method in {"GET", "HEAD"}:
            self.last_good = (request.method, str(request.url))

    def still_works(self, via: GuardedTransport) -> bool:
        """Re-send the last request that worked for this identity: refused too, it is broken
        (True when there is none to compare with)."""
        if self.last_good is None:
            return True
        method, url = self.last_good
        probe = httpx.Request(method, url, extensions=IDENTITY)
        self.authenticate(probe)
        response = via.send_paced(probe)
        response.read()
        response.close()
        return response.status_code != 401

    # ------------------------------------------------------------------------------ logins

    def login(self, client: httpx.Client) -> None:
        """Obtain credentials from the target (login or OAuth2 grant); AuthError on failure."""
        if self.logged_in or not self.uses_login:
            self.logged_in = True
            return
        kind = self.kind
        if kind == "login":
            self._login(client)
        else:
            self._grant(client, kind)
        self.logged_in = True

    def _login(self, client: httpx.Client) -> None:
        auth, ident = self.auth, self.identity
        assert auth.login_path and ident.username is not None
        creds = {auth.username_field: ident.username, auth.password_field: ident.password or ""}
        as_form = auth.login_format == "form"
        resp = self._post(
            client,
            auth.login_path,
            "login",
            f"[auth].login_path ({auth.login_path})",
            "check the identity's username/password and [auth].login_path",
            data=creds if as_form else None,
            json=None if as_form else creds,
        )
        body = _json(resp)
        token = self._token_from(body)
        if token is None:
            cookies = {c.name: c.value or "" for c in resp.cookies.jar}
            if cookies:  # a cookie session
                self.cookies = cookies
                for value in cookies.values():
                    self._secret(value)
                return
            where = auth.token_field or ", ".join(("access_token", "token", "jwt"))
            raise AuthError(
                f"login of identity {self.name!r}: no token ({where}) and no session cookie "
                "in the answer",
                hint="set [auth].token_field to the field holding the access token",
            )
        self._keep(body, token)

    def _grant(self, client: httpx.Client, kind: str) -> None:
        auth, ident = self.auth, self.identity
        if not auth.token_url:
            raise AuthError(
                f"identity {self.name!r} uses the OAuth2 {kind} grant but no token URL is set",
                hint="set [auth].token_url to the token endpoint",
            )
        form: dict[str, str] = {"grant_type": kind}
        if kind == "password":
            form |= {"username": ident.username or "", "password": ident.password or ""}
        if ident.client_id:
            form |= {"client_id": ident.client_id, "client_secret": ident.client_secret or ""}
        if auth.scope:
            form["scope"] = auth.scope
        self._token_request(client, form, f"the OAuth2 {kind} grant")

    def _token_request(self, client: httpx.Client, form: dict[str, str], what: str) -> None:
        url = self.auth.token_url or ""
        resp = self._post(
            client,
            url,
            what,
            f"[auth].token_url ({url})",
            "check the identity's client_id/client_secret (or username/password)",
            data=form,
        )
        body = _json(resp)
        token = self._token_from(body)
        if token is None:
            raise AuthError(
                f"{what} of identity {self.name!r}: no access_token in the answer",
                hint="set [auth].token_field to the field holding the access token",
            )
        self._keep(body, token)

    def _post(
        self, client: httpx.Client, url: str, what: str, setting: str, refused: str, **body: Any
    ) -> httpx.Response:
        """POST a login or token request to the target; ``AuthError`` when it does not answer
        (hint: check ``setting``) or refuses (hint ``refused``; the status kept on the error)."""
        try:
            resp = client.post(_on_target(client, url), extensions=IDENTITY, **body)
        except httpx.HTTPError as exc:
            raise AuthError(
                f"{what} of identity {self.name!r} failed: {exc.__class__.__name__}",
                hint=f"check {setting}",
            ) from None
        if resp.status_code >= 400:
            error = AuthError(
                f"{what} of identity {self.name!r} at {url} was refused (HTTP {resp.status_code})",
                hint=refused,
            )
            error.status = resp.status_code  # type: ignore[attr-defined]
            raise error
        return resp

    def _token_from(self, body: Any) -> str | None:
        fields = [self.auth.token_field] if self.auth.token_field else []
        fields += [*self.token_fields, *TOKEN_FIELDS]
        for dotted in fields:
            value = _dig(body, dotted)
            if isinstance(value, str) and value:
                return value
        return None if self.auth.token_field else _find_token(body)

    def _keep(self, body: Any, token: str) -> None:
        self.access_token = token
        self._secret(token)
        refresh = _dig(body, self.auth.refresh_token_field)
        self.refresh_token = refresh if isinstance(refresh, str) and refresh else None
        self._secret(self.refresh_token)
        lifetime = _dig(body, "expires_in")
        self.expires_at = (
            self.clock() + float(lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool)
            else None
        )

    def refresh(self, client: httpx.Client) -> httpx.Response | None:
        """Exchange the refresh token for a new access token; the answer, or None if
        unsupported."""
        if not self.refresh_token:
            return None
        if self.kind in {"password", "client_credentials"} and self.auth.token_url:
            form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
            if self.identity.client_id:
                form |= {
                    "client_id": self.identity.client_id,
                    "client_secret": self.identity.client_secret or "",
                }
            resp = client.post(
                _on_target(client, self.auth.token_url), data=form, extensions=IDENTITY
            )
        elif self.auth.refresh_path:
            resp = client.post(
                self.auth.refresh_path,
                json={self.auth.refresh_token_field: self.refresh_token},
                extensions=IDENTITY,
            )
        else:
            return None
        if resp.status_code < 400:
            body = _json(resp)
            token = self._token_from(body)
            if token:
                old_refresh = self.refresh_token
                self._keep(body, token)
                self.refresh_token = self.refresh_token or old_refresh
        return resp

    def expired(self, margin_s: float = 2.0) -> bool:
        """Whether the token expires within ``margin_s`` (at most a quarter of its lifetime, so
        a 2-second token is not renewed before every request)."""
        if self.expires_at is not None:
            return self.expires_at - self.clock() < margin_s
        token = self.bearer
        if not token or not jwt.looks_like_jwt(token):
            return False
        claims = jwt.claims(token)
        exp, iat = claims.get("exp"), claims.get("iat")
        if isinstance(exp, int | float) and isinstance(iat, int | float) and exp > iat:
            margin_s = min(margin_s, (exp - iat) / 4)
        left = jwt.seconds_left(token)
        return left is not None and left < margin_s

    def ensure_fresh(self, client: httpx.Client) -> None:
        """Refresh (or log in again) when the access token is about to expire."""
        if not self.uses_login or not self.expired():
            return
        resp = self.refresh(client)
        if resp is None or resp.status_code >= 400:
            self.logged_in = False
            self.access_token = None
            self.login(client)

    def renew(self, client: httpx.Client) -> bool | None:
        """After a refusal: refresh, else log in again. True renewed, False failed, None when
        the credentials cannot be renewed (static ones)."""
        if not self.uses_login:
            return None
        kept = (self.access_token, dict(self.cookies))
        try:
            resp = self.refresh(client)
            if resp is not None and resp.status_code < 400:
                return True
            self.logged_in = False
            self.access_token = None
            self.cookies = {}
            self.login(client)
        except AuthError as exc:
            if getattr(exc, "status", None) in (429, 503):
                # a throttled login says nothing about the credentials: keep the old ones
                self.access_token, self.cookies = kept
                self.logged_in = True
                return None
            return False
        except httpx.HTTPError:
            return False
        return True


def _find_token(data: Any, depth: int = 0) -> str | None:
    """A token under one of the common names anywhere in the first levels of an answer."""
    if not isinstance(data, dict) or depth > 2:
        return None
    names = {n.rsplit(".", 1)[-1] for n in TOKEN_FIELDS}
    for key, value in data.items():
        if key in names and isinstance(value, str) and value:
            return value
    for value in data.values():
        found = _find_token(value, depth + 1)
        if found:
            return found
    return None


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def parse_cookie(text: str) -> dict[str, str]:
    """A ``Cookie`` string ('a=1; b=2') as names and values."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            out[name.strip()] = value.strip()
    return out


def _on_target(client: httpx.Client, url: str) -> str:
    """A token URL as a path on the target (the transport refuses other hosts anyway)."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Identities:
    """Several identities at once, logged in lazily with a client from ``client_for``."""

    def __init__(
        self,
        identities: list[Identity],
        auth: AuthConfig,
        client_for: Callable[[str], httpx.Client] | Transport,
        *,
        redactor: Redactor | None = None,
        spec: Any = None,
    ) -> None:
        if spec is not None:  # the spec's apiKey scheme names the key where the config does not
            auth = auth.api_key_from(getattr(spec, "security_schemes", {}).values())
        fields = tuple(_login_token_fields(spec, auth))
        self._sessions = {i.name: IdentitySession(i, auth, redactor, fields) for i in identities}
        self._client_for = client_for
        attach = getattr(client_for, "attach", None)
        if callable(attach):
            attach(self)

    def __iter__(self) -> Iterator[IdentitySession]:
        return iter(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def session(self, name: str) -> IdentitySession | None:
        """The session behind a client key, without logging it in."""
        return self._sessions.get(name)

    def get(self, name: str) -> IdentitySession:
        session = self._sessions[name]
        if session.broken:
            return session  # its requests are refused by the transport (inconclusive)
        client = self._client_for(name)
        session.login(client)
        session.ensure_fresh(client)
        return session

    def login_all(self) -> None:
        for name in self._sessions:
            self.get(name)

    def broken(self) -> dict[str, str]:
        """Identities that stopped working during the run, with why."""
        return {s.name: s.broken for s in self._sessions.values() if s.broken}

    def roles(self) -> list[str]:
        return sorted({s.role for s in self._sessions.values()})

    def with_role(self, role: str) -> IdentitySession | None:
        for s in self._sessions.values():
            if s.role == role:
                return self.get(s.name)
        return None

    def for_schemes(self, schemes: list[Any]) -> IdentitySession | None:
        """The most privileged identity whose credentials fit one of the security schemes.

        ``schemes`` holds the scheme definitions of one security requirement alternative.
        """
        kinds = {scheme_kind(s) for s in schemes}
        ranked = sorted(self._sessions.values(), key=lambda s: _rank(s.role))
        for s in ranked:
            if fits(s, kinds):
                return self.get(s.name)
        return None

    def most_privileged(self) -> IdentitySession | None:
        ranked = sorted(
            (s for s in self._sessions.values() if s.kind != "api_key"),
            key=lambda s: _rank(s.role),
        )
        return self.get(ranked[0].name) if ranked else None


def fits(session: IdentitySession, kinds: set[str]) -> bool:
    """Whether a session's credentials satisfy one of the scheme kinds."""
    kind = session.kind
    if "other" in kinds:
        return True
    if "apiKey" in kinds and session.identity.api_key:
        return True
    if "basic" in kinds and kind == "basic":
        return True
    if "cookie" in kinds and (
        kind in {"cookie", "login"}
        or (session.identity.api_key and session.auth.api_key_in == "cookie")
    ):
        return True
    return bool(kinds & {"bearer", "oauth2"}) and kind in {
        "login",
        "bearer",
        "password",
        "client_credentials",
    }


def _login_token_fields(spec: Any, auth: AuthConfig) -> list[str]:
    if spec is None or not auth.login_path:
        return []
    op = spec.operation("POST", auth.login_path) if hasattr(spec, "operation") else None
    if op is None:
        return []
    out: list[str] = []
    for status, response in op.responses.items():
        if not status.startswith("2"):
            continue
        for media, schema in (response.content or {}).items():
            if "json" in media:
                out += token_fields_from_schema(schema)
    return out


def _rank(role: str) -> int:
    return PRIVILEGE.index(role) if role in PRIVILEGE else len(PRIVILEGE)


def scheme_kind(scheme: Any) -> str:
    """A security scheme's kind (a ``spec.SecurityScheme`` or its raw mapping): apiKey, cookie
    (an apiKey carried in a cookie), basic, bearer, oauth2 or other."""
    if isinstance(scheme, dict):
        t = str(scheme.get("type", ""))
        http = str(scheme.get("scheme", "")).lower()
        where = scheme.get("in")
    else:
        t, http, where = scheme.type, str(scheme.scheme or "").lower(), scheme.location
    if t == "apiKey":
        return "cookie" if where == "cookie" else "apiKey"
    if t == "basic" or (t == "http" and http == "basic"):
        return "basic"
    if t == "http" and http == "bearer":
        return "bearer"
    if t in ("oauth2", "openIdConnect"):
        return "oauth2"
    return "other"


__all__ = [  # AuthConfig and Identity: what a session is made of (the scanner builds its own)
    "TOKEN_FIELDS",
    "AuthConfig",
    "Identities",
    "Identity",
    "IdentitySession",
    "fits",
    "infer_kind",
    "parse_cookie",
    "scheme_kind",
    "token_fields_from_schema",
]
