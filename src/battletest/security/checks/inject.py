"""What the injection, XSS and SSRF checks share: payload sets, injection points, a base request.

An injection point (``Slot``) is one input of one operation — a path, query, header or cookie
parameter, a JSON body property at any depth (nested objects and array items), or a field of a
form or multipart body — discovered from the spec, on every method but DELETE. ``base_request``
builds a request that works (filled path — the scanner's own object for PUT/PATCH —, required
parameters only, a valid body, an identity that may call it); ``Probe.send(slot, value)`` sends
it again with one value replaced (an optional parameter is sent only when it is the one probed).
Payload sets are data in ``battletest/security/payloads/*.json``; ``payloads(family, key,
depth)`` keeps the entries a depth sends.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from battletest.results import Finding
from battletest.security.context import ScanContext, ScanIdentity
from battletest.security.framework import Outcome
from battletest.spec import Operation
from battletest.transport import Exchange, PolicyRefused

DEPTH_RANK = {"basic": 0, "standard": 1, "comprehensive": 2}
_SKIP_HEADERS = {"authorization", "content-type", "content-length", "accept", "host", "cookie"}


@cache
def payload_file(family: str) -> dict[str, Any]:
    """One shipped payload file (``payloads/<family>.json``)."""
    text = resources.files("battletest.security").joinpath(f"payloads/{family}.json").read_text()
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def payloads(family: str, key: str, depth: str) -> list[dict[str, Any]]:
    """The entries of ``family[key]`` that ``depth`` sends (basic ⊂ standard ⊂ comprehensive)."""
    rank = DEPTH_RANK[depth]
    entries: list[dict[str, Any]] = payload_file(family)[key]
    return [e for e in entries if DEPTH_RANK[e["depth"]] <= rank]


@dataclass(frozen=True, slots=True)
class Slot:
    """One injection point: where the value goes and what it was in the working request."""

    location: str  # path | query | header | cookie | body (JSON) | form (form or multipart)
    name: str  # body: the property's path, dotted ("bike.model", "tags.0")
    value: str
    numeric: bool = False
    optional: bool = False  # left out of the working request; sent only when probed

    @property
    def label(self) -> str:
        return f"{self.location} {self.name}"


@dataclass(slots=True)
class Probe:
    """A working request for one operation that can be re-sent with one value replaced."""

    ctx: ScanContext
    op: Operation
    identity: ScanIdentity | None
    path_values: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    body: dict[str, Any] | None
    base: Exchange | None = None
    slots: list[Slot] = field(default_factory=list)
    media: str = "json"  # json | form | multipart: how ``body`` is encoded
    files: frozenset[str] = frozenset()  # multipart fields sent as file parts

    def send(self, slot: Slot | None = None, value: Any = None) -> Exchange:
        path_values, query = dict(self.path_values), dict(self.query)
        headers, cookies = dict(self.headers), dict(self.cookies)
        body = copy.deepcopy(self.body) if self.body is not None else None
        if slot is not None:
            if slot.location in {"body", "form"}:
                body = set_at(body if body is not None else {}, slot.name, value)
            else:  # header values cannot end in whitespace; a trailing "-- " still comments
                where: dict[str, Any] = {
                    "path": path_values,
                    "query": query,
                    "header": headers,
                    "cookie": cookies,
                }[slot.location]
                where[slot.name] = str(value).strip() if slot.location != "query" else str(value)
        path = (
            self.op.fill({k: quote(v, safe="") for k, v in path_values.items()}) or self.op.url_path
        )
        if query:
            path += "?" + urlencode(query)
        kwargs: dict[str, Any] = {"headers": headers}
        if cookies:
            merged = dict(self.identity.cookies) if self.identity else {}
            merged.update(cookies)
            kwargs["cookies"] = merged
        if body is not None:
            kwargs.update(encode_body(self.media, body, headers, self.files))
        return self.ctx.send(self.op.method, path, self.identity, **kwargs)

    def timed(self, slot: Slot | None = None, value: Any = None) -> tuple[Exchange, float]:
        t0 = time.perf_counter()
        ex = self.send(slot, value)
        return ex, time.perf_counter() - t0


_ENDS_SESSION = re.compile(r"(logout|log-out|signout|sign-out|revoke)", re.I)
WRITES = frozenset({"PUT", "PATCH"})
MAX_BODY_SLOTS = 12  # injection points per body (nested properties and array items included)


def ends_session(op: Operation) -> bool:
    """Logout-like operations: probing them would revoke the scan identities' tokens."""
    return _ENDS_SESSION.search(op.url_path) is not None


def writes_object(op: Operation) -> bool:
    """A write to one object named in the path (``PATCH /jobs/{id}``, ``POST /jobs/{id}/close``):
    probed on an object the scanner created."""
    return op.method not in {"GET", "HEAD", "OPTIONS"} and bool(op.path_params)


def injectable(ctx: ScanContext, op: Operation) -> bool:
    """Operations with inputs on every method but DELETE (each probe would delete the object),
    not logout. PUT/PATCH write the scanner's own object (an item path), or — with
    ``allow_destructive`` only — the caller's own profile."""
    if ends_session(op) or op.method in {"DELETE", "HEAD", "OPTIONS", "TRACE"}:
        return False
    if op.method in WRITES and not op.path_params and not ctx.settings.allow_destructive:
        return False
    if op.method == "GET":
        return any(p.location in {"path", "query", "header", "cookie"} for p in op.parameters)
    return bool(op.body_properties()) or any(p.location != "path" for p in op.parameters)


def set_at(body: Any, dotted: str, value: Any) -> Any:
    """``body`` with the value at a dotted property path (``a.b``, ``tags.0``) replaced."""
    keys = dotted.split(".")
    node = body
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def encode_body(
    media: str, body: Any, headers: dict[str, str], files: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Transport keyword arguments sending ``body`` as JSON, a URL-encoded form or multipart."""
    if media == "json" or not isinstance(body, dict):
        return {"json_body": body}
    if media == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return {
            "content": urlencode({k: _form_value(v) for k, v in body.items()}),
            "headers": headers,
        }
    boundary = f"battletest-{uuid.uuid4().hex}"
    parts = []
    for name, value in body.items():
        disposition = f'form-data; name="{name}"'
        if name in files:
            disposition += f'; filename="{name}.txt"'
        parts.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{_form_value(value)}\r\n"
        )
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return {"content": ("".join(parts) + f"--{boundary}--\r\n").encode(), "headers": headers}


def body_media(op: Operation) -> str:
    kind = op.request_content_type or ""
    return (
        "form"
        if "x-www-form-urlencoded" in kind
        else "multipart"
        if "multipart" in kind
        else "json"
    )


def request_body(
    ctx: ScanContext, op: Operation, who: ScanIdentity | None
) -> tuple[str, dict[str, Any] | None, frozenset[str]]:
    """(encoding, a valid body, multipart file fields) for ``op``'s preferred request body."""
    from battletest.spec import properties_of

    media = body_media(op)
    if op.request_body is None:
        return media, None, frozenset()
    if media == "json":
        return media, ctx.body_for(op, who), frozenset()
    value = ctx.body_for(op, who, op.request_body)
    files = frozenset(
        k
        for k, v in properties_of(op.request_body).items()
        if v.get("format") in {"binary", "base64"} or v.get("contentMediaType")
    )
    return media, value if isinstance(value, dict) else {}, files


def _given(ctx: ScanContext, name: str) -> str | None:
    return ctx.settings.parameters.get(name)


def base_request(ctx: ScanContext, op: Operation) -> Probe | str:
    """A request for ``op`` the target accepts, or why there is none: GET needs a 2xx; other
    methods a 2xx from some identity, else an answer below 500 (not 401/403 on a secured
    operation). Only required (and configured) parameters are sent; PUT/PATCH write an object
    the scanner created (unless destructive work is allowed)."""
    cache_key = f"probe:{op.key}"
    if cache_key in ctx.state:
        cached: Probe | str = ctx.state[cache_key]
        stale = not (isinstance(cached, Probe) and cached.base is not None and cached.base.ok)
        # a request not accepted is built again once answers showed new values (a real id)
        if not stale or ctx.state.get(f"{cache_key}:seen") == ctx.observed.count:
            return cached
    ctx.state[f"{cache_key}:seen"] = ctx.observed.count
    result: Probe | str = "no identity can fill its path parameters"
    people: list[ScanIdentity | None] = [*ctx.identities] if op.secured else [None]
    if op.secured and not ctx.identities:
        result = "secured operation and no identity configured"
    elif not op.secured and op.path_params:
        people = [*ctx.identities] or [ScanIdentity(name="anonymous")]
    own = writes_object(op)
    for who in people:
        probe = probe_for(ctx, op, who, own=own)
        if probe is None:
            continue
        if who is not None:
            _refer_to_own(ctx, op, who, probe)
        ex = probe.send()
        probe.base = ex
        if ex.ok:
            result = probe
            break
        # a write refused for its content (422, 409, a wrong password…) still reaches the code
        # under test; a secured one refused with 401/403 does not: another identity may pass
        refused = op.secured and ex.status in {401, 403}
        if op.method != "GET" and ex.status < 500 and not refused:
            if isinstance(result, str):
                result = probe
            continue
        if isinstance(result, str):
            result = f"no working request (HTTP {ex.status} for {op.method} {ex.url})"
    if isinstance(result, Probe):
        result.slots = _slots(ctx, op, result)
    ctx.state[cache_key] = result
    return result


def probe_for(
    ctx: ScanContext, op: Operation, who: ScanIdentity | None, *, own: bool = False
) -> Probe | None:
    """An unsent request for ``op`` as ``who``: its path filled from ``who``'s objects (the
    scanner's own for ``own``), required and configured parameters, a valid body; None when
    the path cannot be filled."""
    filled = ctx.fill(op, who, own=own) if who is not None else _anonymous_fill(ctx, op)
    if filled is None:
        return None
    path, _, qs = filled.partition("?")
    values = _path_values(op.url_path, path)
    query = dict(parse_qsl(qs, keep_blank_values=True))
    headers = {
        p.name: _given(ctx, p.name) or _text(ctx, p.schema, p.name)
        for p in op.parameters
        if p.location == "header"
        and p.name.lower() not in _SKIP_HEADERS
        and (p.required or _given(ctx, p.name))
    }
    cookies = {
        p.name: _given(ctx, p.name) or _text(ctx, p.schema, p.name)
        for p in op.parameters
        if p.location == "cookie" and (p.required or _given(ctx, p.name))
    }
    media, body, files = request_body(ctx, op, who)
    return Probe(ctx, op, who, values, query, headers, cookies, body, media=media, files=files)


def _refer_to_own(ctx: ScanContext, op: Operation, who: ScanIdentity, probe: Probe) -> None:
    """Inputs that name an object made by another operation (``plot_id`` of
    ``POST /rpc/plots.create``) get the id of one the scanner made as ``who``."""
    from battletest.security.checks.references import own_object_id, references

    for ref in references(ctx, op):
        if ref.creator is None:
            continue
        made = None
        if ref.location == "query" and ref.name in probe.query:
            made = own_object_id(ctx, who, ref)
            if made is not None:
                probe.query[ref.name] = made
        elif probe.body is not None and ref.name in probe.body:
            made = own_object_id(ctx, who, ref)
            if made is not None:
                number = ref.numeric and made.isdigit() and probe.media == "json"
                probe.body[ref.name] = int(made) if number else made


def _anonymous_fill(ctx: ScanContext, op: Operation) -> str | None:
    if op.path_params:
        return None
    return op.url_path + ctx.query(op)


def _path_values(template: str, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for t, p in zip(template.split("/"), path.split("/"), strict=False):
        if t.startswith("{") and t.endswith("}"):
            out[t[1:-1]] = p
    return out


def _text(ctx: ScanContext, schema: Mapping[str, Any], name: str) -> str:
    from battletest.security.values import example

    return str(example(schema, ctx.rng, name))


def _is_text(schema: Mapping[str, Any] | None) -> bool:
    if not isinstance(schema, Mapping):
        return True
    kind = schema.get("type")
    if kind is None:
        options = [s for k in ("anyOf", "oneOf") for s in schema.get(k) or []]
        return not options or any(_is_text(s) for s in options if s.get("type") != "null")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _is_number(schema: Mapping[str, Any] | None) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") in {"integer", "number"}


def _text_leaves(
    value: Any, schema: Any, prefix: str = "", depth: int = 0
) -> list[tuple[str, str]]:
    """(dotted path, value) of the text values in a body: nested objects and array items."""
    from battletest.spec import item_schema, properties_of

    out: list[tuple[str, str]] = []
    if depth > 4:
        return out
    if isinstance(value, dict):
        props = properties_of(schema)
        for key, sub in value.items():
            out += _text_leaves(sub, props.get(key), f"{prefix}{key}.", depth + 1)
    elif isinstance(value, list):
        items = item_schema(schema) if isinstance(schema, Mapping) else None
        for i, sub in enumerate(value[:2]):
            out += _text_leaves(sub, items, f"{prefix}{i}.", depth + 1)
    elif isinstance(value, str) and _is_text(schema) and prefix:
        out.append((prefix[:-1], value))
    return out


def _slots(ctx: ScanContext, op: Operation, probe: Probe) -> list[Slot]:
    out: list[Slot] = []
    current = {
        "path": probe.path_values,
        "query": probe.query,
        "header": probe.headers,
        "cookie": probe.cookies,
    }
    for p in op.parameters:
        if p.location == "header" and p.name.lower() in _SKIP_HEADERS:
            continue
        if p.location == "path" and writes_object(op) and not ctx.settings.allow_destructive:
            continue  # another id in a write's path names an object the scanner does not own
        value = current.get(p.location, {}).get(p.name)
        optional = value is None
        if optional:  # an optional parameter: a valid value, sent only when it is probed
            value = _text(ctx, p.schema, p.name)
        if not (_is_text(p.schema) or _is_number(p.schema)):
            continue
        out.append(Slot(p.location, p.name, str(value), _is_number(p.schema), optional))
    if probe.body is not None:
        where = "body" if probe.media == "json" else "form"
        leaves = _text_leaves(probe.body, op.request_body)
        out += [Slot(where, name, value) for name, value in leaves[:MAX_BODY_SLOTS]]
    return out


def each_slot(
    ctx: ScanContext, op: Operation, test: Callable[[Probe, Slot], Any | None]
) -> tuple[list[Any], str]:
    """Run ``test`` on every injection point of ``op``; the findings and a reason when none
    could be tested ('' when all were)."""
    probe = base_request(ctx, op)
    if isinstance(probe, str):
        return [], probe
    if not probe.slots:
        return [], ""
    found = []
    refused: list[str] = []
    for slot in probe.slots:
        try:
            result = test(probe, slot)
        except PolicyRefused as exc:  # this input cannot be probed within the write policy
            refused.append(f"{slot.label}: {exc}")
            continue
        if result is not None:
            found.append(result)
    if refused and len(refused) == len(probe.slots):
        return found, f"every input refused by the write policy ({refused[0]})"
    return found, ""


Proof = tuple[Exchange, str, str]  # the answer that proves it, the finding's title, a note


def each_finding(
    ctx: ScanContext, op: Operation | None, test: Callable[[Probe, Slot], Proof | None]
) -> Outcome:
    """Run ``test`` on each injection point of ``op``; each proof is a finding on that point;
    an operation none of whose points could be probed is inconclusive."""
    assert op is not None

    def found(probe: Probe, slot: Slot) -> Finding | None:
        proof = test(probe, slot)
        if proof is None:
            return None
        ex, title, note = proof
        return ctx.finding(op, ex, parameter=slot.label, title=title, note=note)

    findings, reason = each_slot(ctx, op, found)
    return Outcome.inconclusive(reason) if reason else Outcome.found(*findings)


def fill(template: str, **values: Any) -> str:
    """``{A}``-style placeholders of a payload replaced (other braces left alone)."""
    return re.sub(
        r"\{([A-Z][A-Z0-9]?)\}", lambda m: str(values.get(m.group(1), m.group(0))), template
    )
