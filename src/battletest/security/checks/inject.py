"""What the injection, XSS and SSRF checks share: payload sets, injection points, a base request.

An injection point (``Slot``) is one parameter of one operation — path, query, header, cookie
or a top-level JSON body property — discovered from the spec. ``base_request`` builds a request
that works (filled path, required parameters, a valid body, an identity that may call it);
``Probe.send(slot, value)`` sends it again with one value replaced. Payload sets are data in
``battletest/security/payloads/*.json``; ``payloads(family, key, depth)`` keeps the entries a
depth sends.
"""

from __future__ import annotations

import json
import re
import time
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
from battletest.transport import Exchange

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

    location: str  # path | query | header | cookie | body
    name: str
    value: str
    numeric: bool = False

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

    def send(self, slot: Slot | None = None, value: Any = None) -> Exchange:
        path_values, query = dict(self.path_values), dict(self.query)
        headers, cookies = dict(self.headers), dict(self.cookies)
        body = dict(self.body) if self.body is not None else None
        if slot is not None:
            where: dict[str, Any] = {
                "path": path_values,
                "query": query,
                "header": headers,
                "cookie": cookies,
                "body": body if body is not None else {},
            }[slot.location]
            if slot.location == "body":
                where[slot.name] = value
            else:  # header values cannot end in whitespace; a trailing "-- " still comments
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
            kwargs["json_body"] = body
        return self.ctx.send(self.op.method, path, self.identity, **kwargs)

    def timed(self, slot: Slot | None = None, value: Any = None) -> tuple[Exchange, float]:
        t0 = time.perf_counter()
        ex = self.send(slot, value)
        return ex, time.perf_counter() - t0


_ENDS_SESSION = re.compile(r"(logout|log-out|signout|sign-out|revoke)", re.I)


def ends_session(op: Operation) -> bool:
    """Logout-like operations: probing them would revoke the scan identities' tokens."""
    return _ENDS_SESSION.search(op.url_path) is not None


def injectable(ctx: ScanContext, op: Operation) -> bool:
    """GET operations with parameters and POST operations with a JSON body (not logout)."""
    if ends_session(op):
        return False
    if op.method == "GET":
        return any(p.location in {"path", "query", "header", "cookie"} for p in op.parameters)
    return op.method == "POST" and bool(op.body_properties())


def base_request(ctx: ScanContext, op: Operation) -> Probe | str:
    """A request for ``op`` the target accepts, or why there is none: GET needs a 2xx; POST a
    2xx from some identity, else an answer below 500 (not 401/403 on a secured operation)."""
    cache_key = f"probe:{op.key}"
    if cache_key in ctx.state:
        cached: Probe | str = ctx.state[cache_key]
        return cached
    result: Probe | str = "no identity can fill its path parameters"
    people: list[ScanIdentity | None] = [*ctx.identities] if op.secured else [None]
    if op.secured and not ctx.identities:
        result = "secured operation and no identity configured"
    elif not op.secured and op.path_params:
        people = [*ctx.identities] or [ScanIdentity(name="anonymous")]
    for who in people:
        filled = ctx.fill(op, who) if who is not None else _anonymous_fill(ctx, op)
        if filled is None:
            continue
        path, _, qs = filled.partition("?")
        values = _path_values(op.url_path, path)
        query = dict(parse_qsl(qs, keep_blank_values=True))
        for p in op.parameters:
            if p.location == "query" and p.name not in query:
                query[p.name] = ctx.settings.parameters.get(p.name) or _text(ctx, p.schema, p.name)
        headers = {
            p.name: ctx.settings.parameters.get(p.name) or _text(ctx, p.schema, p.name)
            for p in op.parameters
            if p.location == "header" and p.name.lower() not in _SKIP_HEADERS
        }
        cookies = {
            p.name: ctx.settings.parameters.get(p.name) or _text(ctx, p.schema, p.name)
            for p in op.parameters
            if p.location == "cookie"
        }
        body = ctx.body_for(op, who) if op.body_schema is not None else None
        probe = Probe(ctx, op, who, values, query, headers, cookies, body)
        ex = probe.send()
        probe.base = ex
        if ex.ok:
            result = probe
            break
        # a POST refused for its content (422, 409, a wrong password…) still reaches the code
        # under test; a secured one refused with 401/403 does not: another identity may pass
        refused = op.secured and ex.status in {401, 403}
        if op.method != "GET" and ex.status < 500 and not refused:
            if isinstance(result, str):
                result = probe
            continue
        if isinstance(result, str):
            result = f"no working request (HTTP {ex.status} for {op.method} {ex.url})"
    if isinstance(result, Probe):
        result.slots = _slots(op, result)
    ctx.state[cache_key] = result
    return result


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


def _slots(op: Operation, probe: Probe) -> list[Slot]:
    out: list[Slot] = []
    current = {
        "path": probe.path_values,
        "query": probe.query,
        "header": probe.headers,
        "cookie": probe.cookies,
    }
    for p in op.parameters:
        value = current.get(p.location, {}).get(p.name)
        if value is None or not (_is_text(p.schema) or _is_number(p.schema)):
            continue
        out.append(Slot(p.location, p.name, str(value), numeric=_is_number(p.schema)))
    if probe.body is not None:
        for name, schema in op.body_properties().items():
            value = probe.body.get(name)
            if isinstance(value, str) and _is_text(schema):
                out.append(Slot("body", name, value))
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
    for slot in probe.slots:
        result = test(probe, slot)
        if result is not None:
            found.append(result)
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
