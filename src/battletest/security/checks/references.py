"""Object references outside the path: query parameters and body properties that name an object.

A reference is an input whose name or format says it holds an object's id (``ticket_id``,
``orderId``, ``uuid``, ``format: uuid``) and whose stem names a collection of the spec
(``ticket_id`` → ``/tickets``). ``reference_bola`` asks for identity A's object through such an
input as identity B: reported when B's answer carries A's object — the unique values the
scanner wrote into it, or the same answer A gets while a missing id gets another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from battletest.security.checks.common import signature
from battletest.security.checks.inject import Probe, Slot, body_media, probe_for
from battletest.security.context import (
    Created,
    ScanContext,
    ScanIdentity,
    extract_ids,
    strings_of,
)
from battletest.security.framework import Outcome
from battletest.spec import Operation
from battletest.transport import Exchange


@dataclass(frozen=True, slots=True)
class Reference:
    """An input of an operation that names an object of ``collection``."""

    location: str  # query | body | form
    name: str
    collection: str  # the collection's URL path template, or the creating operation's path
    numeric: bool = False  # the input is a number (a JSON body gets the id as one)
    creator: Operation | None = None  # RPC style: the operation that makes such objects

    @property
    def label(self) -> str:
        return f"{self.location} {self.name}"


def references(ctx: ScanContext, op: Operation) -> list[Reference]:
    """Query parameters and top-level body properties of ``op`` that name another object
    (none on a create: naming an object there links to it, it does not read it)."""
    if ctx.is_create(op) or op.method not in {"GET", "POST"}:
        return []
    out: list[Reference] = []
    inputs = [(p.location, p.name, p.schema) for p in op.parameters if p.location == "query"]
    where = "body" if body_media(op) == "json" else "form"
    inputs += [(where, n, dict(s)) for n, s in op.body_properties().items()]
    for location, name, schema in inputs:
        if schema.get("readOnly"):
            continue
        collection = ctx.referenced(name)
        bare = name.lower() in {"id", "uuid"} or schema.get("format") == "uuid"
        if collection is None and bare and op.method == "GET" and ctx.item_op(op.url_path):
            collection = op.url_path  # ?id= on the collection itself
        numeric = schema.get("type") in {"integer", "number"}
        if collection is not None:
            out.append(Reference(location, name, collection, numeric))
            continue
        creator = creator_for(ctx, name)
        if creator is not None and creator is not op:
            out.append(Reference(location, name, creator.url_path, numeric, creator))
    return out


_CREATE_VERBS = frozenset({"create", "add", "new", "register", "book", "open", "submit", "make"})


def _words(path: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", path)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def creator_for(ctx: ScanContext, name: str) -> Operation | None:
    """RPC style (``POST /rpc/plots.create`` for ``plot_id``): a POST without path parameters
    whose path names the reference's stem (or its plural) and a create verb."""
    m = re.match(r"^(?P<stem>[A-Za-z0-9]+?)[_-]?(id|Id|ID|uuid|Uuid|UUID)$", name)
    if m is None:
        return None
    stem = m.group("stem").lower()
    forms = {stem, stem + "s", stem + "es"}
    for op in ctx.all_operations:
        if op.method != "POST" or op.path_params or not op.body_properties():
            continue
        words = set(_words(op.url_path))
        if words & forms and words & _CREATE_VERBS:
            return op
    return None


def own_object_id(ctx: ScanContext, who: ScanIdentity, ref: Reference) -> str | None:
    """The id of an object the scanner made as ``who`` through ``ref``'s creator."""
    made = _rpc_create(ctx, who, ref)
    return made.id if made is not None else None


def _rpc_create(ctx: ScanContext, who: ScanIdentity, ref: Reference) -> Created | None:
    """An object made through the reference's creating operation as ``who`` (once per scan
    and identity), remembered as the scanner's own."""
    assert ref.creator is not None
    for c in ctx.created:
        if c.identity == who.name and c.collection == ref.collection:
            return c
    key = f"create-failed:{who.name}:{ref.collection}"
    if key in ctx.state:
        return None
    ctx.state[key] = True
    probe = probe_for(ctx, ref.creator, who)
    if probe is None or probe.body is None:
        return None
    ex = probe.send()
    found = extract_ids(ex.json(), ref.name) if ex.ok else []
    if not found:
        return None
    del ctx.state[key]
    made = Created(who.name, ref.collection, found[0], probe.body, ex.json())
    ctx.created.append(made)
    return made


def _ask(
    ctx: ScanContext, op: Operation, who: ScanIdentity, ref: Reference, value: str
) -> Exchange | None:
    probe: Probe | None = probe_for(ctx, op, who)
    if probe is None:
        return None
    sent: str | int = (
        int(value) if ref.numeric and ref.location == "body" and value.isdigit() else value
    )
    return probe.send(Slot(ref.location, ref.name, value, optional=True), sent)


def _foreign(
    ctx: ScanContext, a: ScanIdentity, b: ScanIdentity, ref: Reference
) -> tuple[str, list[str]] | None:
    """An object of A that B has no claim to: (id, the unique values the scanner wrote)."""
    collection = ref.collection
    if ref.creator is not None:
        made = _rpc_create(ctx, a, ref)
        if made is None:
            return None
        return made.id, [v for v in strings_of(made.body) if "battletest" in v]
    if ctx.can_create(collection) and "{" not in collection:
        made = ctx.owned(a, collection)
        if made is not None:
            return made.id, [v for v in strings_of(made.body) if "battletest" in v]
    theirs = ctx.listed_by(b, collection)
    for object_id in ctx.ids(a, collection):
        if object_id not in theirs and ctx.owner(collection, object_id) in (None, a.name):
            return object_id, []
    return None


def _carries(
    op: Operation, ex: Exchange | None, mine: Exchange, missing: Exchange | None, marks: list[str]
) -> bool:
    """B's answer carries A's object: the values the scanner wrote into it, or (reads) the
    answer A gets while a missing id gets another."""
    if ex is None or not ex.ok:
        return False
    if marks:
        return all(m in ex.text for m in marks)
    if op.method != "GET":  # a write's answer must carry the object itself
        return False
    return signature(ex) == signature(mine) and (
        missing is None or signature(missing) != signature(mine)
    )


def reference_bola(ctx: ScanContext, op: Operation) -> Outcome:
    """BOLA through each reference input of ``op``: A's object named as B."""
    refs = references(ctx, op)
    pairs = ctx.pairs(same_tenant=True) or ctx.pairs()
    if not refs or not pairs:
        return Outcome.inconclusive("needs two unprivileged identities and a reference input")
    findings = []
    reason = ""
    for ref in refs:
        for a, b in pairs:
            target = _foreign(ctx, a, b, ref)
            if target is None:
                reason = f"{a.name} has no object in {ref.collection} that {b.name} does not own"
                continue
            object_id, marks = target
            mine = _ask(ctx, op, a, ref, object_id)
            if mine is None or not mine.ok:
                status = mine.status if mine is not None else "no request"
                reason = f"{a.name} cannot reach its own object through {ref.label}: {status}"
                continue
            marks = [m for m in marks if m in mine.text]
            missing = _ask(ctx, op, b, ref, f"{object_id}0404")
            reached = [_ask(ctx, op, b, ref, object_id) for _ in range(2)]

            if all(_carries(op, ex, mine, missing, marks) for ex in reached):
                proof = reached[0]
                assert proof is not None
                findings.append(
                    ctx.finding(
                        op,
                        proof,
                        parameter=ref.label,
                        note=f"{b.name} got {a.name}'s object {object_id} of {ref.collection} "
                        f"through {ref.label}, twice",
                    )
                )
            reason = ""
            break
    if findings:
        return Outcome.found(*findings)
    return Outcome.inconclusive(reason) if reason else Outcome.clean()
