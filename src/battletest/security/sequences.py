"""Stateful sequences: a consumer's inputs from what its producers answered.

Every JSON answer the scan reads is noted per identity (``Observations.note``): each value under
its property name, normalised (``bookingId``, ``booking_id`` → ``bookingid``); a
nested object's id also as ``<property>id`` (``owner.id`` → ``ownerid``); an item's id as
``<collection stem>id`` (``/plots`` items → ``plotid``); its name-like values (name, title,
label) under the operation's tags and collection, for search parameters. The last answer of
each operation is kept for OpenAPI links. A consumer's input then gets, in order:

1. the value its producer's answer gives through an OpenAPI 3 link (``$response.body#/id``);
2. for a search parameter (``q``, ``search``, ``query`` …), a name seen in the answers of
   operations on the same collection or tag — a real name, not junk;
3. a value seen under the input's own name (``booking_id``, ``confirmation_code``,
   ``phone``), inferred from names and answers.

``session_sequence`` is the one sequence run as such: a fresh login of one identity (apart from
the scan's sessions), its refresh operation with the refresh token the login answered, then its
logout, at the end of the scan. Each sequence cleans up what it created: objects go with the
scan's cleanup, the session with its logout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from battletest.spec import LinkExchange, Operation, evaluate, links_to
from battletest.transport import Exchange

if TYPE_CHECKING:
    from battletest.security.context import ScanContext, ScanIdentity

MAX_VALUES = 20  # per identity and name, newest kept
MAX_DEPTH = 4
_NAMELIKE = frozenset({"name", "title", "label", "displayname", "fullname"})
_SEARCH = frozenset({"q", "query", "search", "term", "keyword", "keywords", "text", "find", "s"})
_REFERENCE = re.compile(r"(id|uuid|code|key|number|no|ref|token|plate|slug|phone)$")


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _stem(collection: str | None) -> str:
    """``/api/bookings`` → ``booking`` (the singular a reference names it by)."""
    last = norm((collection or "").rstrip("/").rsplit("/", 1)[-1].split(".")[0])
    if last.endswith("ies"):
        return last[:-3] + "y"
    if last.endswith(("ses", "xes")):
        return last[:-2]
    return last[:-1] if last.endswith("s") else last


_PLAIN = re.compile(r"^[\w.@+:/-]+$")


def _scalar(value: Any) -> bool:
    """A value worth reusing: a number, or a short text that is not one of the scanner's own
    probes echoed back (a marked value with payload characters in it)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        tainted = "battletest" in value and not _PLAIN.match(value)
        return 0 < len(value) <= 200 and not tainted
    return isinstance(value, int | float)


@dataclass
class Observations:
    """Values each identity has seen in answers, and each operation's last answer."""

    values: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # id → topic → names
    answers: dict[str, dict[str, LinkExchange]] = field(default_factory=dict)
    count: int = 0  # values noted so far that had not been seen before

    def _add(self, identity: str, key: str, value: Any) -> None:
        seen = self.values.setdefault(identity, {}).setdefault(key, [])
        if value in seen:
            seen.remove(value)
        else:
            self.count += 1
        seen.append(value)
        del seen[:-MAX_VALUES]

    def _walk(self, identity: str, body: Any, stem: str, topics: list[str], depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(body, list):
            for item in body[:50]:
                self._walk(identity, item, stem, topics, depth + 1)
            return
        if not isinstance(body, dict):
            return
        for key, value in body.items():
            k = norm(str(key))
            if _scalar(value):
                self._add(identity, k, value)
                if k in {"id", "uuid"} and stem:
                    self._add(identity, stem + k, value)
                if k in _NAMELIKE and isinstance(value, str):
                    for topic in topics:
                        kept = self.names.setdefault(identity, {}).setdefault(topic, [])
                        if value not in kept and len(kept) < MAX_VALUES:
                            kept.append(value)
            elif isinstance(value, dict):
                inner = value.get("id")
                if _scalar(inner):
                    self._add(identity, k + "id", inner)
                self._walk(identity, value, _stem(k), topics, depth + 1)
            elif isinstance(value, list):
                self._walk(identity, value, _stem(k) or stem, topics, depth + 1)

    def note(self, identity: str, op: Operation | None, ex: Exchange, body: Any) -> None:
        """One 2xx answer of ``op`` (None: not a spec operation) that ``identity`` read."""
        stem = _stem(op.collection_path() or op.url_path) if op is not None else ""
        topics = [*(op.tags if op is not None else ()), stem]
        self._walk(identity, body, stem, [t for t in topics if t], 0)
        if op is None:
            return
        split = urlsplit(ex.url)
        path_params: dict[str, str] = {}
        wire = [s for s in split.path.split("/") if s]
        tpl = [s for s in op.url_path.split("/") if s]
        if len(wire) >= len(tpl):
            wire = wire[len(wire) - len(tpl) :]  # the target's own prefix in front
            path_params = {t[1:-1]: w for t, w in zip(tpl, wire, strict=True) if t[:1] == "{"}
        self.answers.setdefault(identity, {})[op.key] = LinkExchange(
            url=ex.url,
            method=ex.method,
            status=ex.status,
            path_params=path_params,
            query=dict(parse_qsl(split.query)),
            request_body=_json_or_none(ex.request_body),
            response_headers=dict(ex.response_headers),
            response_body=body,
        )

    def seen(self, identity: str, name: str) -> list[Any]:
        """Values ``identity`` saw under ``name`` (normalised), newest first."""
        return list(reversed(self.values.get(identity, {}).get(norm(name), [])))

    def names_for(self, identity: str, op: Operation) -> list[str]:
        """Names ``identity`` saw in answers on ``op``'s collection or tags."""
        topics = [*op.tags, _stem(op.collection_path() or op.url_path)]
        found: list[str] = []
        for topic in topics:
            found += self.names.get(identity, {}).get(topic, [])
        return list(dict.fromkeys(found))

    def linked(
        self, identity: str, operations: list[Operation], consumer: Operation, name: str
    ) -> Any:
        """The value a link from a producer ``identity`` called gives ``consumer``'s input
        ``name`` (None when no link says, or its producer has not answered yet)."""
        answers = self.answers.get(identity, {})
        for producer, _status, link in links_to(operations, consumer):
            ex = answers.get(producer.key)
            if ex is None:
                continue
            for key, expression in link.parameters.items():
                if key.rpartition(".")[2] == name:  # "path.id" or "id"
                    value = evaluate(expression, ex)
                    if value is not None:
                        return value
            body = evaluate(link.request_body, ex) if link.request_body is not None else None
            if isinstance(body, Mapping) and name in body:
                return body[name]
        return None


def _json_or_none(raw: Any) -> Any:
    import json

    if isinstance(raw, bytes | str) and raw:
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return None


def search_like(name: str, description: str = "") -> bool:
    """A query parameter that searches by text (``q``, ``search``, "part of a name")."""
    return norm(name) in _SEARCH or bool(re.search(r"\b(search|part of)\b", description, re.I))


def observed_input(
    ctx: ScanContext,
    identity: ScanIdentity | None,
    op: Operation,
    name: str,
    schema: Mapping[str, Any] | None = None,
    description: str = "",
    *,
    body: bool = False,
    shared: bool = False,
) -> Any:
    """A real value for ``op``'s input ``name`` from what ``identity`` has seen: a link's
    value, a seen name for a search parameter, a value seen under the input's name. For a
    body property (``body``) only a reference (``plate``, ``code``, ``…_id``) or a number
    written as text is taken: other text stays the scanner's marked value; ``shared`` (a query
    filter) also takes what other identities saw. None: none seen."""
    if identity is None:
        return None
    who = identity.name
    obs = ctx.observed
    linked = obs.linked(who, ctx.all_operations, op, name)
    if linked is not None:
        return linked
    schema = schema or {}
    if schema.get("enum") or "const" in schema:
        return None
    if not body and search_like(name, description):
        names = obs.names_for(who, op)
        if names:
            return names[0]
    seen = obs.seen(who, name)
    if not seen and shared:  # a filter may take what another identity saw (its phone)
        seen = [v for other in ctx.identities for v in obs.seen(other.name, name)]
    kind = schema.get("type")
    fits = [v for v in seen if _fits(v, kind)]
    if not fits:
        return None
    value = fits[0]
    if body and not (_REFERENCE.search(norm(name)) or isinstance(value, int | float)):
        return None
    return str(value) if kind == "string" and not isinstance(value, str) else value


def _fits(value: Any, kind: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    if kind == "number":
        return isinstance(value, int | float)
    return bool(kind != "boolean")


# -- the session sequence: login → refresh → logout -------------------------------------

_REFRESH = re.compile(r"(^|[/._-])(refresh|token[/._-]?refresh|renew)([/._-]|$)", re.I)
_LOGOUT = re.compile(r"(^|[/._-])(logout|log-out|signout|sign-out)([/._-]|$)", re.I)
SEQUENCE_KEY = "session sequence"  # its own client: its cookies go nowhere else


def session_sequence(ctx: ScanContext) -> list[str]:
    """Log one username/password identity in anew, call the refresh operation with the refresh
    token its login answered (a body property named like one the login answer holds), then the
    logout operation with that session. The scan's own sessions are untouched; run at the end
    (a logout may end every session of its user). The operations reached, as ``METHOD path``."""
    from battletest.security.checks.authn import login_channel

    refresh = _find(ctx, _REFRESH)
    logout = _find(ctx, _LOGOUT)
    channel = login_channel(ctx)
    who = next((i for i in ctx.identities if i.username and i.password is not None), None)
    if (refresh is None and logout is None) or channel is None or channel.kind == "basic":
        return []
    if who is None or who.username is None or who.password is None:
        return []
    reached: list[str] = []
    client = ctx.client(SEQUENCE_KEY)
    try:
        lg = ctx.settings.login
        creds = {lg.username_field: who.username, lg.password_field: who.password}
        if channel.kind == "form":
            from urllib.parse import urlencode

            ex = ctx.client.send(
                "POST",
                channel.path,
                key=SEQUENCE_KEY,
                content=urlencode(creds),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                purpose="identity",
            )
        else:
            ex = ctx.client.send(
                "POST", channel.path, key=SEQUENCE_KEY, json_body=creds, purpose="identity"
            )
        if not ex.ok:
            return []
        answer = ex.json()
        token = _token(answer, lg.token_field)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for consumer in (refresh, logout):
            if consumer is None:
                continue
            # its body: the properties it declares that the login answered (refresh_token)
            props = consumer.body_properties()
            body = {k: answer[k] for k in props if isinstance(answer, dict) and k in answer}
            if consumer is refresh and props and not body:
                continue  # nothing the login answered fits what the refresh needs
            done = ctx.client.send(
                "POST",
                consumer.url_path,
                key=SEQUENCE_KEY,
                headers=headers,
                json_body=body or None,
                purpose="identity",
            )
            if done.ok:
                reached.append(consumer.key)
                renewed = _token(done.json(), lg.token_field) if consumer is refresh else None
                headers = {"Authorization": f"Bearer {renewed}"} if renewed else headers
    except Exception:  # a sequence never hides the scan's result
        return reached
    finally:
        client.cookies.clear()
        ctx.client.release(SEQUENCE_KEY)
    return reached


def _find(ctx: ScanContext, pattern: re.Pattern[str]) -> Operation | None:
    return next(
        (
            o
            for o in ctx.all_operations
            if o.method == "POST" and not o.path_params and pattern.search(o.url_path)
        ),
        None,
    )


def _token(body: Any, field_name: str | None) -> str | None:
    from battletest.security.checks.authn import token_in

    found = token_in(body, field_name)
    return found if isinstance(found, str) else None
