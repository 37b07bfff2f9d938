"""Data protection: what responses expose (API3) and what the target's own logs keep.

``data-exposure`` reads each GET as an identity that may and judges every object the answer
carries against the schema documented *for that object* (a listing's items against the item
schema, not the envelope's) and against its owner: the reader's own API key or e-mail address
in its own profile is what it is entitled to; a password hash is never, and another identity's
contact data or token is exposure. Properties an open schema (no ``additionalProperties:
false``) does not declare are undocumented output, not a finding: the scan gathers them into
one note.

``pii-in-logs``: teams claim their logs are redacted and rarely test it. When battletest
launched the target and captured its output (a ``log_source``), this check sends bodies carrying
marked e-mail addresses, phone numbers and card numbers, then reads the output for them
verbatim — and for the scan identities' tokens and passwords.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from battletest.results import Finding, Severity
from battletest.security.checks.inject import base_request, ends_session
from battletest.security.context import ScanContext, ScanIdentity, extract_ids
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation, properties_of
from battletest.transport import Exchange

# named like a credential, a hash or card data (the last dotted part: ``owner.password_hash``)
_SENSITIVE = re.compile(
    r"(^|_)(password|passwd|secret|cvv|cvc|ssn)($|_)|^(hash|password_?hash|hashed_?password|"
    r"api_?key|access_?token|refresh_?token|session_?token|token|card_?number|pan|private_?key|"
    r"pin|salt)$",
    re.I,
)
# credentials a user holds for itself: its own key, token or client secret in its own profile
# or object is what it may read; a hash, a password or card data is exposure even to its owner
_ENTITLED = re.compile(
    r"^(api_?key|(access_?|refresh_?|session_?|auth_?)?token|(client_?|webhook_?)?secret)$", re.I
)
# contact data: the reader's own is its own; another identity's, read by a non-privileged one,
# is exposure
_CONTACT = re.compile(r"^(e_?mail|email_?address|phone|phone_?number|mobile|telephone)$", re.I)
# paths that answer the caller's own profile (no id in the path names whose it is)
_OWN_PATH = re.compile(r"/(me|self|profile|account|whoami|current[-_]?user|user)/?$", re.I)
_EMPTY: tuple[Any, ...] = (None, "", [], {}, "***", "[redacted]")
MINE, THEIRS = "mine", "theirs"


@dataclass(slots=True)
class _Read:
    """What one read of an operation shows, per property (``parent.key`` one level down)."""

    valued: set[str] = field(default_factory=set)  # with a value in some object
    not_mine: set[str] = field(default_factory=set)  # … in an object not the reader's own
    theirs: set[str] = field(default_factory=set)  # … in another scan identity's object
    undeclared: set[str] = field(default_factory=set)  # top-level, absent from the item schema
    closed: bool = False  # the item schema forbids other properties
    declared: bool = False  # the item schema declares any property at all


def _logs(ctx: ScanContext) -> str | None:
    return "battletest did not launch the target: no log source" if not ctx.log_source else None


def planted(ctx: ScanContext) -> dict[str, str]:
    """One marked value per PII kind (the card number passes the Luhn check)."""
    k = ctx.rng.randrange(10**5, 10**6)
    return {
        "e-mail address": f"bt.pii.{k}@example.com",
        "phone number": f"+1 555 {k // 1000:03d} {k % 1000:03d}9",
        "card number": luhn(f"4{k:06d}00000000"),
    }


def luhn(partial: str) -> str:
    """``partial`` with the check digit that makes it a valid card number."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return partial + str((10 - total % 10) % 10)


def _field_value(name: str, values: dict[str, str]) -> str:
    lower = name.lower()
    if "phone" in lower or "mobile" in lower or "tel" in lower:
        return values["phone number"]
    if "card" in lower or "pan" in lower:
        return values["card number"]
    return values["e-mail address"]


def register(scanner: Scanner) -> None:
    register_exposure(scanner)

    @scanner.check(
        id="pii-in-logs",
        title="PII or credentials written to the service's logs",
        owasp="API8:2023",
        cwe="CWE-532",
        severity=Severity.MEDIUM,
        group="data",
        requires=_logs,
        phase=90,  # after every other probe, before the bursts (which may lock identities out)
        remediation="Redact PII and credentials in the logging layer (a formatter or filter "
        "applied to every record), and log identifiers instead of personal data.",
    )
    def pii_in_logs(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends up to three POST bodies whose text properties carry a marked e-mail address,
        phone number or card number, then reads the target's captured output; reported per
        kind found verbatim, and when a scan identity's token or password appears."""
        assert ctx.log_source is not None
        values = planted(ctx)
        sent = 0
        last = None
        posts = [o for o in ctx.operations if o.method == "POST" and o.body_properties()]
        for candidate in [o for o in posts if not ends_session(o)]:
            if sent >= 3:
                break
            probe = base_request(ctx, candidate)
            if isinstance(probe, str) or probe.body is None:
                continue
            body = dict(probe.body)
            for name, value in body.items():
                if isinstance(value, str):
                    body[name] = _field_value(name, values)
            path = candidate.fill(probe.path_values) or candidate.url_path
            last = (candidate, ctx.send("POST", path, probe.identity, json_body=body))
            sent += 1
        time.sleep(0.3)  # let the target flush its log lines
        text = ctx.log_source()
        findings: list[Finding] = []
        for kind, value in values.items():
            if value in text and last is not None:
                line = next(line for line in text.splitlines() if value in line)
                findings.append(
                    ctx.finding(
                        last[0],
                        last[1],
                        parameter=kind,
                        title=f"{kind.capitalize()} written to the service's logs",
                        note=f"the {kind} the scan sent appears verbatim in the captured output",
                        extra={"log_line": line[:300]},
                    )
                )
        for who in ctx.identities:
            for secret in who.secrets():
                if len(secret) >= 8 and secret in text:
                    findings.append(
                        ctx.finding(
                            None,
                            None,
                            parameter="credentials",
                            severity=Severity.HIGH,
                            title=f"Credentials of {who.name} written to the service's logs",
                            note="a token, API key, password or session cookie of a scan "
                            "identity appears verbatim in the captured output",
                        )
                    )
                    break
        if sent == 0 and not findings:
            return Outcome.clean("no POST body to carry PII; only credentials were looked for")
        return Outcome.found(*findings)


def register_exposure(scanner: Scanner) -> None:
    @scanner.check(
        id="data-exposure",
        title="Sensitive or undeclared properties in responses (excessive data exposure)",
        owasp="API3:2023",
        cwe="CWE-213",
        severity=Severity.HIGH,
        group="data-exposure",
        active=False,
        applies=lambda ctx, op: op.method == "GET" and op != ctx.login_op(),
        phase=12,
        remediation="Serialise responses through an explicit response model; never return "
        "credentials, hashes, tokens or card data, nor other users' contact data.",
    )
    def data_exposure(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Reads the operation (as an identity that can) twice; in both reads: a property named
        like a password, hash or card data with a value (also one level down:
        ``owner.password_hash``); a key or token in an object not the reader's own; another
        identity's e-mail or phone read by a non-privileged identity; and, when the schema
        forbids other properties, the undeclared ones (low). An open schema's undeclared
        properties go into the scan's one note instead."""
        assert op is not None
        found = _first_readable(ctx, op)
        if isinstance(found, str):
            return Outcome.inconclusive(found)
        path, who, ex = found
        if ex.json() is None:
            return Outcome.clean("not a JSON response")
        first = _read(ctx, op, path, who, ex.json())
        second = _read(ctx, op, path, who, ctx.send("GET", path, who).json())
        findings: list[Finding] = []
        for key in sorted(first.valued & second.valued):
            name = key.rsplit(".", 1)[-1]
            if _SENSITIVE.search(name) and not _ENTITLED.match(name):
                note = f"response carries {key!r} with a value"
            elif _SENSITIVE.search(name) and key in first.not_mine & second.not_mine:
                note = f"response carries {key!r} with a value in an object not the reader's own"
            elif (
                _CONTACT.match(name)
                and key in first.theirs & second.theirs
                and who is not None
                and not ctx.privileged(who)
            ):
                findings.append(
                    ctx.finding(
                        op,
                        ex,
                        parameter=key,
                        severity=Severity.MEDIUM,
                        title="Another user's contact data in responses",
                        note=f"{who.name} reads {key!r} of another scan identity's object",
                    )
                )
                continue
            else:
                continue
            findings.append(ctx.finding(op, ex, parameter=key, note=note))
        undeclared = sorted(first.undeclared & second.undeclared)
        if undeclared and first.closed:
            findings.append(
                ctx.finding(
                    op,
                    ex,
                    parameter=", ".join(undeclared),
                    severity=Severity.LOW,
                    title="Property absent from the response schema returned",
                    note=f"{', '.join(map(repr, undeclared))} not declared in a response schema "
                    "that forbids other properties (additionalProperties: false)",
                )
            )
        elif undeclared:
            ctx.state.setdefault(UNDECLARED, {})[op.key] = undeclared
        return Outcome.found(*findings, reason=_reason(first, undeclared))


UNDECLARED = "undeclared_properties"  # ctx.state key: operation → open-schema leftovers


def undeclared_note(state: Mapping[str, Any]) -> str | None:
    """The scan's one note on properties open response schemas leave undeclared (None when
    there are none): each operation and the properties, at most 8 operations named."""
    seen: dict[str, list[str]] = state.get(UNDECLARED) or {}
    if not seen:
        return None
    shown = [
        f"{key} ({', '.join(props[:6])}{', …' if len(props) > 6 else ''})"
        for key, props in sorted(seen.items())[:8]
    ]
    more = f" and {len(seen) - 8} more" if len(seen) > 8 else ""
    return (
        f"{len(seen)} operations answer properties their response schemas do not declare: "
        f"{'; '.join(shown)}{more}. Those schemas allow other properties, so this is "
        "undocumented output (a documentation gap), not a finding"
    )


def _reason(read: _Read, undeclared: list[str]) -> str:
    if not read.declared:
        return "no sensitive property; the response schema declares no properties to compare"
    if undeclared and not read.closed:
        return f"no sensitive property; {len(undeclared)} undeclared in an open schema (noted)"
    return "no sensitive property"


def _first_readable(
    ctx: ScanContext, op: Operation
) -> tuple[str, ScanIdentity | None, Exchange] | str:
    """The first identity (then anonymous) whose GET of ``op`` answers 2xx, or why none did."""
    reason = f"no object id known for {', '.join(op.path_params)}"
    people: list[ScanIdentity | None] = [*ctx.identities, None]
    for who in people:
        path = ctx.fill(op, who) if who else (None if op.path_params else op.url_path)
        if path is None:
            continue
        ex = ctx.send("GET", path, who)
        if ex.ok:
            return path, who, ex
        reason = f"no identity may read it (HTTP {ex.status})"
    return reason


def _read(ctx: ScanContext, op: Operation, path: str, who: ScanIdentity | None, body: Any) -> _Read:
    items, schema = carried(body, op.response_schema())
    declared = set(properties_of(schema))
    out = _Read(declared=bool(declared), closed=_closed(schema))
    for item in items[:20]:
        keys = {k for k, v in item.items() if v not in _EMPTY}
        for key, value in item.items():
            nested = value[0] if isinstance(value, list) and value else value
            if isinstance(nested, dict):
                keys |= {f"{key}.{k}" for k, v in nested.items() if v not in _EMPTY}
        whose = _whose(ctx, op, path, who, item, single=len(items) == 1)
        out.valued |= keys
        if whose != MINE:
            out.not_mine |= keys
        if whose == THEIRS:
            out.theirs |= keys
        if declared:
            out.undeclared |= {k for k in item if k not in declared}
    return out


def carried(body: Any, schema: Any) -> tuple[list[dict[str, Any]], Mapping[str, Any] | None]:
    """The objects a response carries and the schema documented for them, found the same way:
    a list's items and the array's item schema; an object with an id (``id``, ``uuid``,
    ``_id``) and its own schema, whatever lists it holds; an envelope's first list of objects
    and that property's item schema; else the object and its schema. A polymorphic item schema
    (oneOf/anyOf) declares the properties of all its variants."""
    if isinstance(body, list):
        return [it for it in body if isinstance(it, dict)], _array_items(schema)
    if not isinstance(body, dict):
        return [], None
    if not any(k in body for k in ("id", "uuid", "_id")):
        for key, value in body.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                listed = [it for it in value if isinstance(it, dict)]
                return listed, _array_items(properties_of(_object(schema)).get(key))
    return [body], _object(schema)


def _array_items(schema: Any) -> Mapping[str, Any] | None:
    if not isinstance(schema, Mapping):
        return None
    items = schema.get("items")
    if isinstance(items, Mapping):
        return items
    for key in ("anyOf", "oneOf"):  # a nullable array: [array, null]
        for sub in schema.get(key) or []:
            found = sub.get("items") if isinstance(sub, Mapping) else None
            if isinstance(found, Mapping):
                return found
    return None


def _object(schema: Any) -> Mapping[str, Any] | None:
    return schema if isinstance(schema, Mapping) and "items" not in schema else None


def _closed(schema: Mapping[str, Any] | None) -> bool:
    """The schema forbids properties it does not declare."""
    if not isinstance(schema, Mapping):
        return False
    return (
        schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False
    )


def _whose(
    ctx: ScanContext,
    op: Operation,
    path: str,
    who: ScanIdentity | None,
    item: Mapping[str, Any],
    *,
    single: bool,
) -> str | None:
    """Whose object ``item`` is, as the scan can tell: the reader's own (a value equal to its
    username or one of its credentials, an object it created or was configured with, its own
    profile path), another scan identity's (its username, its object), else unknown (None)."""
    if who is None:
        return None
    values = {v for v in item.values() if isinstance(v, str)}
    for sub in item.values():
        if isinstance(sub, dict):
            values |= {v for v in sub.values() if isinstance(v, str)}
    if values & {s for s in (who.username, *who.secrets()) if s}:
        return MINE
    if single and not op.path_params and _OWN_PATH.search(path.split("?", 1)[0]):
        return MINE
    collection = op.collection_path() if op.path_params else op.url_path
    ids = extract_ids(item, op.path_params[-1] if op.path_params else "id")
    if single and op.url_path.endswith("}"):  # the path names the object read
        ids = [*ids, path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]]
    owners = {ctx.owner(collection, i) for i in ids if collection} - {None}
    if who.name in owners:
        return MINE
    others = {i.username for i in ctx.identities if i.name != who.name and i.username}
    if owners or values & others:
        return THEIRS
    return None
