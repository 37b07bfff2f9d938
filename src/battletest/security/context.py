"""What checks share during one scan: the client, identities, discovered objects and helpers.

``ScanContext`` sends requests as an identity, harvests object ids from list operations, creates
objects through the API (and remembers them: only these may be changed or deleted unless
destructive work is allowed), fills path parameters, finds the login and reset operations, and
builds findings with the scan's redaction. It is created per scan; nothing here is global.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from battletest.errors import AuthError, TargetUnreachable
from battletest.results import Finding
from battletest.security.canary import Canary
from battletest.security.framework import CheckInfo, make_finding
from battletest.security.sequences import Observations, observed_input, session_sequence
from battletest.security.settings import LoginSettings, ScanSettings
from battletest.security.values import example, fresh_id
from battletest.spec import Operation, path_matches, properties_of
from battletest.transport import (
    ANONYMOUS,
    USER_COLLECTIONS,
    USER_PARAMS,
    Exchange,
    Inconclusive,
    PolicyRefused,
    Transport,
)
from battletest.transport.identities import AuthConfig, Identity, IdentitySession, parse_cookie

_LOGIN = re.compile(r"(^|/)(login|signin|sign-in|token|session|sessions|authenticate)$", re.I)
_RESET = re.compile(r"(reset|forgot|recover)", re.I)
_WRAPPERS = ("data", "item", "result", "object")  # envelopes around one object
_ID_NAME = re.compile(r"^(?P<stem>[A-Za-z0-9]*?)[_-]?(id|uuid|Id|ID|Uuid|UUID)$")
_ROLE = re.compile(r"^(is_?)?(role|roles|admin|superuser|permissions?|scopes?|privileges?)$", re.I)
_SELF_PATH = re.compile(r"(^|[/._-])(me|self|whoami|profile)([/._-]|$)", re.I)


@dataclass(slots=True)
class Created:
    """An object the scanner created (it may change and delete these)."""

    identity: str
    collection: str
    id: str
    body: dict[str, Any]
    response: Any


@dataclass(slots=True)
class ScanIdentity:
    """A user the scanner acts as: the transport's identity credentials plus what the checks
    need (role, tenant). Logging in is the transport's (``IdentitySession.login``)."""

    name: str
    role: str = "user"
    tenant: str | None = None
    token: str | None = None  # a bearer token (often a JWT)
    api_key: str | None = None
    api_key_header: str = "X-API-Key"  # the header, query parameter or cookie it goes in
    api_key_in: str = "header"  # [auth] api_key_in: header, query or cookie
    cookies: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    basic: bool = False  # HTTP Basic with username and password (no login operation)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization and API key headers, as the transport's session sends them (cookies
        are sent apart)."""
        session = self.session()
        if session is None:
            return {}
        return {name: value for where, name, value in session.credentials() if where == "header"}

    def session(self, settings: LoginSettings | None = None) -> IdentitySession | None:
        """This identity as the transport's ``IdentitySession`` (its credentials as they are
        now), or None when it has none."""
        if not (
            self.token
            or self.api_key
            or self.cookies
            or (self.password is not None and self.username)
        ):
            return None
        login = settings or LoginSettings()
        auth = AuthConfig(
            login_path=login.path,
            login_format=login.format,
            username_field=login.username_field,
            password_field=login.password_field,
            token_field=login.token_field,
            api_key_header=self.api_key_header,
            api_key_in=self.api_key_in,  # type: ignore[arg-type]
        )
        kinds = {"bearer": self.token, "api_key": self.api_key, "cookie": self.cookies}
        kind = next((k for k, given in kinds.items() if given), "basic" if self.basic else "login")
        ident = Identity(
            name=self.name,
            role=self.role,
            kind=kind,  # type: ignore[arg-type]
            username=self.username if self.password is not None else None,
            password=self.password,
            token=self.token,
            api_key=self.api_key,
            cookie="; ".join(f"{k}={v}" for k, v in self.cookies.items()) or None,
        )
        return IdentitySession(ident, auth)

    @property
    def jwt(self) -> str | None:
        return self.token if self.token and self.token.count(".") == 2 else None

    @property
    def cookie_auth(self) -> bool:
        return bool(self.cookies) and not self.token and not self.api_key

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.api_key, self.password, *self.cookies.values()) if s]


def login(client: Transport, identity: ScanIdentity, settings: LoginSettings) -> ScanIdentity:
    """Log an identity in with username and password through the transport's identity login;
    keep its token or session cookie."""
    if identity.token or identity.api_key or identity.cookies or not identity.username:
        return identity
    if not settings.path and identity.password is not None:
        identity.basic = True  # no login operation: the credentials go as HTTP Basic
        return identity
    if not settings.path:
        raise AuthError(
            f"identity {identity.name!r} has a username but no login path is known",
            hint="set [auth] login_path to the login operation",
        )
    session = identity.session(settings)
    assert session is not None  # it has a username and password
    key = f"{identity.name} (login)"  # a client of its own: its cookie jar is not reused
    try:
        session.login(client(key))
    finally:
        client.release(key)
    identity.token = session.access_token
    identity.cookies = dict(session.cookies)
    return identity


def identities_from(
    items: Iterable[Any], api_key_header: str = "X-API-Key", api_key_in: str = "header"
) -> list[ScanIdentity]:
    """ScanIdentity objects from config identities (objects or dicts with the same keys); an
    API key goes where ``[auth]`` puts it, a ``cookie`` string is its session cookies."""
    out = []
    for item in items:
        get = item.get if isinstance(item, dict) else (lambda k, d=None, i=item: getattr(i, k, d))
        cookies = dict(get("cookies", None) or {}) | parse_cookie(get("cookie", None) or "")
        out.append(
            ScanIdentity(
                name=str(get("name")),
                role=str(get("role", "user") or "user"),
                tenant=get("tenant"),
                token=get("token"),
                api_key=get("api_key"),
                api_key_header=api_key_header,
                api_key_in=api_key_in,
                cookies=cookies,
                username=get("username"),
                password=get("password"),
            )
        )
    return out


@dataclass
class ScanContext:
    client: Transport
    settings: ScanSettings
    operations: list[Operation]
    identities: list[ScanIdentity] = field(default_factory=list)
    all_operations: list[Operation] = field(default_factory=list)
    extra_secrets: list[str] = field(default_factory=list)
    seed: int = 0
    created: list[Created] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # per-scan cache shared by checks
    _ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # (collection, id) → the identity an item names as its owner (a field equal to its username)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    current: CheckInfo | None = None  # the check now running (set by Scanner.run)
    log_source: Callable[[], str] | None = None  # the target's captured output, when known
    observed: Observations = field(default_factory=Observations)  # values seen in answers
    _canary: Canary | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        if not self.all_operations:
            self.all_operations = list(self.operations)

    # -- identities -------------------------------------------------------------------------

    @property
    def secrets(self) -> list[str]:
        found = list(self.extra_secrets)
        for ident in self.identities:
            found += ident.secrets()
        if self.settings.jwt_secret:
            found.append(self.settings.jwt_secret)
        return found

    def privileged(self, identity: ScanIdentity) -> bool:
        return identity.role in self.settings.privileged_roles

    @property
    def unprivileged(self) -> list[ScanIdentity]:
        return [i for i in self.identities if not self.privileged(i)]

    @property
    def admins(self) -> list[ScanIdentity]:
        return [i for i in self.identities if self.privileged(i)]

    def pair(self) -> tuple[ScanIdentity, ScanIdentity] | None:
        """Two different identities, preferring two of the same unprivileged role."""
        found = self.pairs()
        return found[0] if found else None

    def pairs(self, *, same_tenant: bool | None = None) -> list[tuple[ScanIdentity, ScanIdentity]]:
        """Ordered pairs of different unprivileged identities of one role (then any role);
        ``same_tenant`` keeps pairs whose tenants are equal (True) or differ (False)."""
        low = self.unprivileged
        out = [
            (a, b)
            for a in low
            for b in low
            if a is not b and (same_tenant is None or (a.tenant == b.tenant) == same_tenant)
        ]
        return sorted(out, key=lambda p: p[0].role != p[1].role)

    def relogin(self) -> None:
        """Log every username/password identity in again (after tokens were let expire)."""
        for ident in self.identities:
            if ident.username and ident.password and not ident.api_key:
                ident.token, ident.cookies = None, {}
                login(self.client, ident, self.settings.login)

    def jwt_identity(self) -> ScanIdentity | None:
        return next((i for i in self.identities if i.jwt), None)

    # -- requests ---------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        identity: ScanIdentity | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Exchange:
        # the identity's credentials go where the transport's session puts them (header,
        # query or cookie), unless the request already carries them
        session = identity.session(self.settings.login) if identity else None
        # keyed by identity: paced within its own budget, watched by the transport
        key = identity.name if identity is not None else ANONYMOUS
        ex = self.client.send(method, path, headers=headers, key=key, session=session, **kwargs)
        if ex.status == 401 and identity is not None and _lapsed(identity):
            # the identity's own token expired during the scan: log in again, send once more
            identity.token = None
            login(self.client, identity, self.settings.login)
            return self.send(method, path, identity, headers=headers, **kwargs)
        if method == "DELETE" and ex.ok:
            self._deleted(path.split("?", 1)[0])
        elif identity is not None and ex.ok and "json" in (ex.header("content-type") or ""):
            body = ex.json()
            if isinstance(body, dict | list):  # a consumer may need what this answer holds
                self.observed.note(identity.name, self.operation_of(method, path), ex, body)
        elif method == "GET" and identity is not None and ex.status in (400, 422):
            op = self.operation_of(method, path)
            if op is not None and "?" not in path:  # it wants a filter among its options
                self.state.setdefault("needs-filter", set()).add(op.key)
        return ex

    def operation_of(self, method: str, path: str) -> Operation | None:
        """The spec operation a concrete request path is for (literal paths first)."""
        bare = path.split("?", 1)[0].rstrip("/") or "/"
        found = self.find(method, bare)
        if found is not None:
            return found
        for op in self.all_operations:
            if op.method == method and op.path_params:
                pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.url_path)) + "$"
                if re.match(pattern, bare):
                    return op
        return None

    def _deleted(self, path: str) -> None:
        """An object the scanner created is gone: later checks create another."""
        for obj in list(self.created):
            if path.rstrip("/") == f"{obj.collection}/{obj.id}":
                self.created.remove(obj)
                self.forget_listings(obj.collection)

    def finding(self, op: Operation | None, ex: Exchange | None, **kw: Any) -> Finding:
        """A finding of the running check, evidence redacted with every known secret."""
        assert self.current is not None, "findings are made while a check runs"
        return make_finding(self.current, op, ex, secrets=self.secrets, **kw)

    # -- the operation graph ----------------------------------------------------------------

    def find(self, method: str, path: str) -> Operation | None:
        return next(
            (o for o in self.all_operations if o.method == method and o.url_path == path), None
        )

    def item_op(self, collection: str, method: str = "GET") -> Operation | None:
        return next(
            (
                o
                for o in self.all_operations
                if o.method == method and o.collection_path() == collection
            ),
            None,
        )

    def is_create(self, op: Operation) -> bool:
        """POST on a collection whose items can be read back."""
        return op.method == "POST" and not op.path_params and self.item_op(op.url_path) is not None

    def referenced(self, name: str, schema: Mapping[str, Any] | None = None) -> str | None:
        """The collection an input named like an object id points at (``ticket_id``,
        ``ticketId`` → ``/tickets``): one with an item operation whose last segment is the
        stem or its plural; None when the name says no id or no collection fits."""
        m = _ID_NAME.match(name)
        if m is None or not m.group("stem"):
            return None
        stem = re.sub(r"[^a-z0-9]", "", m.group("stem").lower())
        wanted = {stem, stem + "s", stem + "es"} | (
            {stem[:-1] + "ies"} if stem.endswith("y") else set()
        )
        found = sorted(
            {
                c
                for o in self.all_operations
                if (c := o.collection_path()) is not None
                and re.sub(r"[^a-z0-9]", "", c.rsplit("/", 1)[-1].lower()) in wanted
            },
            key=lambda c: ("{" in c, len(c)),
        )
        return found[0] if found else None

    def can_create(self, collection: str) -> bool:
        """The scanner can make an object in ``collection``: a POST on it, or a PUT on its
        item with a GET to tell a free id (``PUT /vehicles/{plate}``)."""
        if self.find("POST", collection) is not None:
            return True
        put, get = self.item_op(collection, "PUT"), self.item_op(collection, "GET")
        return put is not None and get is not None and len(put.path_params) == 1

    def in_spec(self, path: str) -> bool:
        for op in self.all_operations:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.url_path)) + "/?$"
            if re.match(pattern, path):
                return True
        return False

    def admin_like(self, op: Operation) -> bool:
        return any(path_matches(op.url_path, g) for g in self.settings.admin_paths)

    def login_op(self) -> Operation | None:
        wanted = self.settings.login.path
        for op in self.all_operations:
            if op.method != "POST":
                continue
            if wanted and op.url_path == wanted:
                return op
            if not wanted and _LOGIN.search(op.url_path.rstrip("/")):
                props = op.body_properties()
                if self.settings.login.password_field in props or not props:
                    return op
        return None

    def reset_op(self) -> tuple[Operation, str] | None:
        wanted = self.settings.login.reset_path
        for op in self.all_operations:
            if op.method != "POST" or (wanted and op.url_path != wanted):
                continue
            if not wanted and not _RESET.search(op.url_path):
                continue
            props = op.body_properties()
            field_name = self.settings.login.reset_field or next(
                (p for p in props if re.search(r"email|user|login", p, re.I)), None
            )
            if field_name:
                return op, field_name
        return None

    # -- objects ----------------------------------------------------------------------------

    def ids(self, identity: ScanIdentity, collection: str) -> list[str]:
        """Ids of objects ``identity`` sees in ``collection`` (listed, then created). A listing
        refused with 400/422 is asked again when its query changed (a real filter value became
        known)."""
        key = (identity.name, collection)
        lister = self.find("GET", collection)
        asked = collection + self.query(lister, identity) if lister is not None else ""
        refused: dict[tuple[str, str], str] = self.state.setdefault("refused-listings", {})
        if key not in self._ids or refused.get(key, asked) != asked:
            found: list[str] = []
            refused.pop(key, None)
            item = self.item_op(collection)
            param = item.path_params[-1] if item else "id"
            if lister is not None:
                ex = self.send("GET", asked, identity)
                if ex.ok:
                    found = extract_ids(ex.json(), param)
                    self._note_owners(collection, ex.json(), param)
                elif ex.status in (400, 422):
                    refused[key] = asked
            self._ids[key] = found
        own = [
            c.id for c in self.created if c.identity == identity.name and c.collection == collection
        ]
        known = self.settings.objects.get(collection, {}).get(identity.name, [])
        return list(dict.fromkeys([*own, *known, *self._ids[key]]))

    def listed_by(self, identity: ScanIdentity, collection: str) -> set[str]:
        """Ids ``identity`` may rightly know in ``collection``: what it lists, created, was
        configured with, and what the listings name it the owner of."""
        named = {
            i for (c, i), who in self.owners.items() if c == collection and who == identity.name
        }
        return set(self.ids(identity, collection)) | named

    def owner(self, collection: str, object_id: str) -> str | None:
        """The identity that created the object, was configured with it, or that the listing
        names as its owner (None when nothing says)."""
        for c in self.created:
            if c.collection == collection and c.id == object_id:
                return c.identity
        for name, ids in self.settings.objects.get(collection, {}).items():
            if object_id in ids:
                return name
        return self.owners.get((collection, object_id))

    def _note_owners(self, collection: str, body: Any, param: str) -> None:
        """Owners from a listing: an item field (top level, or one level down) equal to an
        identity's username, or to the id or e-mail its own profile (``GET /me``) answers, or
        named like one of that profile's own reference fields with its value (``member_id``);
        only an item that names exactly one identity is attributed."""
        names = {i.username: i.name for i in self.identities if i.username}
        marks: dict[tuple[str | None, str], set[str]] = {}
        for ident in self.identities:
            if ident.username:
                marks.setdefault((None, ident.username), set()).add(ident.name)
            for k, v in self.me(ident).items() if names or ident.username else ():
                if not isinstance(v, str | int) or isinstance(v, bool) or not str(v):
                    continue
                if k in ("id", "email"):
                    marks.setdefault((None, str(v)), set()).add(ident.name)
                elif _ID_NAME.match(k):
                    marks.setdefault((k, str(v)), set()).add(ident.name)
        # a value several identities share (a tenant) names no one owner
        marks = {m: who for m, who in marks.items() if len(who) == 1}
        if not marks:
            return
        for item in listed_items(body):
            ids = extract_ids(item, param)
            if not ids:
                continue
            pairs = [
                *item.items(),
                *(kv for sub in item.values() if isinstance(sub, dict) for kv in sub.items()),
            ]
            owners: set[str] = set()
            for k, v in pairs:
                if isinstance(v, str | int) and not isinstance(v, bool) and k not in ("id", param):
                    owners |= marks.get((None, str(v)), set()) | marks.get((k, str(v)), set())
            if len(owners) == 1:
                self.owners[(collection, ids[0])] = owners.pop()

    def forget_listings(self, collection: str) -> None:
        """Drop the cached listings of ``collection`` (an object was created or deleted)."""
        for key in [k for k in self._ids if k[1] == collection]:
            del self._ids[key]

    def fill(self, op: Operation, identity: ScanIdentity, *, own: bool = False) -> str | None:
        """``op.url_path`` with its path parameters set from ``identity``'s own objects;
        ``own``: the last one names an object the scanner created as ``identity`` (created
        now when needed), for writes — any object it sees with ``allow_destructive``."""
        if not op.path_params:
            return op.url_path + self.query(op, identity)
        values: dict[str, str] = {}
        segments = op.url_path.split("/")
        last = max(i for i, seg in enumerate(segments) if seg.startswith("{"))
        for i, seg in enumerate(segments):
            if seg.startswith("{") and seg.endswith("}"):
                collection = "/".join(segments[:i]) or "/"
                concrete = _fill_prefix(collection, values)
                mine = self.profile_value(identity, seg[1:-1], collection)
                if mine is not None:  # a user path: the identity's own profile
                    values[seg[1:-1]] = mine
                    continue
                if own and i == last and not self.settings.allow_destructive:
                    made = self.owned(identity, collection) if concrete == collection else None
                    if made is None:
                        return None
                    values[seg[1:-1]] = made.id
                    continue
                found = self.ids(identity, concrete) if concrete else []
                if not found and concrete == collection and self.may_write:
                    made = self.owned(identity, collection)
                    found = [made.id] if made else []
                if not found:  # an id an answer gave (a link, or a property of its name)
                    schema = next((p.schema for p in op.parameters if p.name == seg[1:-1]), None)
                    seen = observed_input(self, identity, op, seg[1:-1], schema)
                    found = [str(seen)] if seen is not None else []
                if not found:
                    return None
                values[seg[1:-1]] = found[0]
        filled = op.fill(values)
        return filled + self.query(op, identity) if filled else None

    def profile_value(self, identity: ScanIdentity, param: str, collection: str) -> str | None:
        """``identity``'s own value for a path parameter naming a user (``/users/{username}``,
        ``/members/{email}``): its username or e-mail; for an id parameter of a user
        collection (``/users/{user_id}``), the id its own profile (``GET /me``) answers.
        None for any other parameter."""
        norm = re.sub(r"[^a-z]", "", param.lower())
        users = collection.rstrip("/").rsplit("/", 1)[-1].lower() in USER_COLLECTIONS
        if norm not in USER_PARAMS and not (users and norm in {"name", "id", "uid"}):
            return None
        me = self.me(identity)
        if "email" in norm:
            email = me.get("email")
            if isinstance(email, str):
                return email
            return identity.username if identity.username and "@" in identity.username else None
        if norm in {"username", "user", "login", "member", "account", "name"}:
            named = identity.username or me.get("username")
            return str(named) if named else None
        own_id = me.get("id")
        return (
            str(own_id) if isinstance(own_id, str | int) and not isinstance(own_id, bool) else None
        )

    def me(self, identity: ScanIdentity) -> dict[str, Any]:
        """``identity``'s own profile as its self operation (``GET /me``, ``/users/me``,
        ``/rpc/profile.get``) answers it ({} when there is none), asked once; its id and
        e-mail are noted on the write policy as that identity's own."""
        key = f"me:{identity.name}"
        if key not in self.state:
            self.state[key] = {}
            reader = next(
                (
                    o
                    for o in self.all_operations
                    if o.method == "GET" and not o.path_params and _SELF_PATH.search(o.url_path)
                ),
                None,
            )
            if reader is not None:
                ex = self.send("GET", reader.url_path, identity)
                body = ex.json() if ex.ok else None
                if isinstance(body, dict):
                    inner = next(
                        (body[w] for w in _WRAPPERS if isinstance(body.get(w), dict)), body
                    )
                    self.state[key] = inner
                    policy = getattr(self.client, "policy", None)
                    if policy is not None:
                        policy.note_identity(*(inner.get(k) for k in ("id", "email", "username")))
        found: dict[str, Any] = self.state[key]
        return found

    def query(self, op: Operation, identity: ScanIdentity | None = None) -> str:
        """``?name=value`` for the operation's required query parameters ('' when none): a
        configured value, an id of ``identity``'s objects for a reference (``job_id``), else a
        valid example."""
        from urllib.parse import urlencode

        given = self.settings.parameters
        chosen = [
            p for p in op.parameters if p.location == "query" and (p.required or p.name in given)
        ]
        if not chosen and op.key in self.state.get("needs-filter", ()):
            # it answered 4xx without its optional filters: the first one with a real value
            chosen = next(
                (
                    [p]
                    for p in op.parameters
                    if p.location == "query"
                    and observed_input(
                        self, identity, op, p.name, p.schema, p.description, shared=True
                    )
                    is not None
                ),
                [],
            )
        if not chosen:
            return ""

        def value(p: Any) -> Any:
            if given.get(p.name):
                return given[p.name]
            collection = self.referenced(p.name) if identity is not None else None
            if identity is not None and collection is not None and "{" not in collection:
                seen = self.ids(identity, collection)
                if seen:
                    return seen[0]
            real = observed_input(self, identity, op, p.name, p.schema, p.description, shared=True)
            return real if real is not None else example(p.schema, self.rng, p.name)

        return "?" + urlencode({p.name: value(p) for p in chosen})

    def body_for(
        self,
        op: Operation,
        identity: ScanIdentity | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A valid body for ``op`` (its JSON body, or ``schema``: a form's); the tenant property
        gets ``identity``'s tenant, a required reference or number a value an answer gave."""
        schema = op.body_schema if schema is None else schema
        value = example(schema, self.rng)
        if not isinstance(value, dict):
            return {}
        required = set((schema or {}).get("required") or ())
        for key in [k for k in value if k not in required and _ROLE.match(k)]:
            if not isinstance(value[key], dict):  # a permissions object is data, not a role
                del value[key]  # an optional role is left as it is (escalation probes set it)
        props = properties_of(schema)
        for key in [k for k in value if k in required and k in props]:
            if any(w in props[key] for w in ("example", "examples", "enum", "const", "format")):
                continue
            real = observed_input(self, identity, op, key, props[key], body=True)
            if real is not None:  # a reference or a number an answer gave, not junk
                value[key] = real
        claim = self.settings.tenant_claim
        if identity is not None and identity.tenant and claim and claim in value:
            value[claim] = identity.tenant
        return value

    def create(
        self, identity: ScanIdentity, collection: str, extra: Mapping[str, Any] | None = None
    ) -> tuple[Created | None, Exchange | None]:
        """Create an object through ``POST collection``; remember it as the scanner's own."""
        op = self.find("POST", collection)
        item = next(
            (
                self.item_op(collection, m)
                for m in ("GET", "DELETE", "PATCH", "PUT")
                if self.item_op(collection, m)
            ),
            None,
        )
        if op is None:
            put = self.item_op(collection, "PUT")
            if put is not None and len(put.path_params) == 1 and "{" not in collection:
                return self._put_create(identity, collection, put, extra)
        if op is None or item is None:
            return None, None
        body = {**self.body_for(op, identity), **(extra or {})}
        ex = self.send("POST", collection, identity, json_body=body)
        self.forget_listings(collection)  # listings are read again after a creation
        if not ex.ok:
            return None, ex
        param = item.path_params[-1]
        answer = ex.json()
        found = extract_ids(answer, param) if isinstance(answer, dict | list) else []
        if isinstance(answer, list) and len(answer) != 1:
            found = []  # the answer is a listing, not the created object
        found = (
            found
            or _location_id(ex, collection)
            or self._listed_as_new(identity, collection, body, param)
        )
        if not found:
            return None, ex
        obj = Created(identity.name, collection, found[0], body, answer)
        self.created.append(obj)
        policy = getattr(self.client, "policy", None)
        if policy is not None:  # the transport may not know this id's name: say it is ours
            policy.note_created(f"{collection}/{found[0]}")
        return obj, ex

    def _put_create(
        self,
        identity: ScanIdentity,
        collection: str,
        put: Operation,
        extra: Mapping[str, Any] | None,
    ) -> tuple[Created | None, Exchange | None]:
        """Create by ``PUT`` on an id the scanner chooses (``PUT /vehicles/{plate}``): a fresh,
        marked id that the item's GET answers 404 for, claimed as the scanner's own before the
        PUT (the write policy lets battletest write only what it created)."""
        getter = self.item_op(collection, "GET")
        if getter is None:  # without a read, a free id cannot be told from a taken one
            return None, None
        param = put.path_params[-1]
        schema = next((p.schema for p in put.parameters if p.name == param), None)
        policy = getattr(self.client, "policy", None)
        for _ in range(3):
            fresh = fresh_id(schema, self.rng)
            path = put.fill({param: fresh}) or ""
            if self.send("GET", getter.fill({param: fresh}) or path, identity).status != 404:
                continue  # taken, or not tellable: never write over it
            if policy is not None:
                policy.note_created(path)
            body = {**self.body_for(put, identity), **(extra or {})}
            ex = self.send("PUT", path, identity, json_body=body)
            self.forget_listings(collection)
            if not ex.ok:
                if policy is not None:
                    policy.deleted.add(path)  # nothing was made there
                return None, ex
            obj = Created(identity.name, collection, fresh, body, ex.json())
            self.created.append(obj)
            return obj, ex
        return None, None

    def _listed_as_new(
        self, identity: ScanIdentity, collection: str, body: Mapping[str, Any], param: str
    ) -> list[str]:
        """The id of the object just created when the answer named none: the item of the
        collection's listing that carries the create body's unique (``battletest-``) values."""
        lister = self.find("GET", collection)
        marks = [v for v in strings_of(body) if "battletest" in v]
        if lister is None or not marks:
            return []
        ex = self.send("GET", collection + self.query(lister), identity)
        if not ex.ok:
            return []
        import json

        for item in listed_items(ex.json()):
            text = json.dumps(item)
            if any(m in text for m in marks):  # a listing may show only some properties
                return extract_ids(item, param)[:1]
        return []

    def owned(self, identity: ScanIdentity, collection: str) -> Created | None:
        """An object ``identity`` created in this scan, creating one when needed (once)."""
        for c in self.created:
            if c.identity == identity.name and c.collection == collection:
                return c
        key = f"create-failed:{identity.name}:{collection}"
        if key in self.state:
            return None
        obj, _ = self.create(identity, collection)
        if obj is None:
            self.state[key] = True
        return obj

    @property
    def may_write(self) -> bool:
        """The scan may send writes of its own: active checks are allowed and the transport
        is not read-only (LIVE_SMOKE, production), where a create is never even tried."""
        policy = getattr(self.client, "policy", None)
        return self.settings.active_allowed and not getattr(policy, "read_only", False)

    def may_modify(self, collection: str, object_id: str) -> bool:
        return self.settings.allow_destructive or any(
            c.collection == collection and c.id == object_id for c in self.created
        )

    def canary(self) -> Canary:
        if self._canary is None:
            self._canary = Canary(self.settings.canary_host)
        return self._canary

    def remove_created(self) -> None:
        """Delete what the scanner created, each object as the identity that created it (best
        effort: an identity that can no longer act keeps its objects; an unreachable target
        ends the cleanup)."""
        by_name = {i.name: i for i in self.identities}
        for obj in reversed(list(self.created)):  # a delete drops it from the list
            item = self.item_op(obj.collection, "DELETE")
            ident = by_name.get(obj.identity)
            if item is None or ident is None:
                continue
            path = item.fill({item.path_params[-1]: obj.id}) if len(item.path_params) == 1 else None
            if path:
                try:
                    self.send("DELETE", path, ident)
                except TargetUnreachable:
                    break
                except Exception:  # cleanup never hides the scan's result
                    continue
        self.created.clear()

    def cleanup(self) -> None:
        """Run the session sequence (a fresh login's refresh and logout; a full scan's only,
        not one of chosen checks), delete what the scanner created (best effort) and stop the
        canary."""
        if self.may_write and not self.settings.checks:
            with contextlib.suppress(PolicyRefused, Inconclusive):  # best effort
                session_sequence(self)
        self.remove_created()
        if self._canary is not None:
            self._canary.close()
            self._canary = None


def _lapsed(identity: ScanIdentity) -> bool:
    """A username/password identity whose JWT has passed its ``exp``."""
    import time

    from battletest.auth.jwt import Jwt

    if not (identity.username and identity.password and identity.jwt):
        return False
    token = Jwt.parse(identity.jwt)
    exp = token.claims.get("exp") if token else None
    return isinstance(exp, int | float) and exp <= time.time()


def extract_ids(body: Any, param: str = "id") -> list[str]:
    """Object ids in a response: a list, an object, or an envelope holding a list."""
    items: list[Any]
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict) and any(k in body for k in (param, "id")):
        items = [body]
    elif isinstance(body, dict) and any(isinstance(body.get(w), dict) for w in _WRAPPERS):
        return extract_ids(next(body[w] for w in _WRAPPERS if isinstance(body.get(w), dict)), param)
    elif isinstance(body, dict):
        lists = [v for v in body.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        items = lists[0] if lists else [body]
    else:
        return []
    keys = [param, "id", "uuid", "_id"]
    out: list[str] = []
    for it in items:
        if not isinstance(it, dict):
            continue
        for k in keys:
            if k in it and isinstance(it[k], str | int) and not isinstance(it[k], bool):
                out.append(str(it[k]))
                break
    return out


def listed_items(body: Any) -> list[dict[str, Any]]:
    """The objects a response carries: a list's items, an envelope's list, or the object (an
    object with an id is itself, not an envelope, whatever lists it holds)."""
    if isinstance(body, list):
        return [it for it in body if isinstance(it, dict)]
    if isinstance(body, dict) and any(k in body for k in ("id", "uuid", "_id")):
        return [body]
    if isinstance(body, dict):
        lists = [v for v in body.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        return [it for it in lists[0] if isinstance(it, dict)] if lists else [body]
    return []


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_of(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return []


def _location_id(ex: Exchange, collection: str) -> list[str]:
    """The created object's id from a ``Location`` header under ``collection``."""
    from urllib.parse import urlsplit

    location = ex.response_headers.get("location")
    if not location:
        return []
    path = urlsplit(location).path.rstrip("/")
    head, _, last = path.rpartition("/")
    return [last] if last and head.endswith(collection.rstrip("/")) else []


def _fill_prefix(prefix: str, values: Mapping[str, str]) -> str | None:
    try:
        return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], prefix)
    except KeyError:
        return None


def sensitive_secrets(identities: Iterable[ScanIdentity]) -> list[str]:
    return [s for i in identities for s in i.secrets()]
