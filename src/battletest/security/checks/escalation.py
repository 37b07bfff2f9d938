"""Mass assignment and privilege escalation through writable properties (API3:2023).

Three shapes of write, each confirmed by reading the object back:

- a create (``POST`` on a collection with an item route): a control object and one with the
  extra properties, compared;
- an update of an object the scanner created (``PUT``/``PATCH`` on an item): the property
  before and after;
- an update of the caller's own profile (``PUT``/``PATCH /me``-style, no id): one property at a
  time, the old value written back afterwards.

The extra properties are the privileged ones the request schema does not declare writable
(``role``, ``is_admin``…) and the role-like ones it does declare, with values that raise the
privilege: the schema's enum values ranked above the current one, values a privileged
identity's profile holds, common role names. A 5xx answer is never counted as clean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from battletest.results import Finding
from battletest.security.checks.inject import body_media, encode_body
from battletest.security.checks.privilege import ROLE_PROPERTY, escalation_values, observe_roles
from battletest.security.context import ScanContext, ScanIdentity
from battletest.security.framework import Outcome
from battletest.spec import Operation
from battletest.transport import Exchange

PRIVILEGED_PROPERTIES: dict[str, Any] = {
    "role": "admin",
    "is_admin": True,
    "admin": True,
    "isAdmin": True,
    "roles": ["admin"],
}


def candidates(ctx: ScanContext, op: Operation, current: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Property → values to try, most privileged first."""
    props = op.body_properties()
    writable = {k for k, v in props.items() if not v.get("readOnly")}
    out: dict[str, list[Any]] = {}
    for key, value in PRIVILEGED_PROPERTIES.items():
        if key not in writable:
            values = escalation_values(ctx, key, None, current.get(key))
            out[key] = [value] if not isinstance(value, str) else values
    for key in sorted(writable):
        if ROLE_PROPERTY.match(key) and key not in out:
            values = escalation_values(ctx, key, props[key], current.get(key))
            if values:
                out[key] = values
    for key, value in current.items():  # a role-like property the profile shows
        if ROLE_PROPERTY.match(key) and key not in out and key not in props:
            out[key] = escalation_values(ctx, key, None, value)
    return {k: [v for v in vs if v != current.get(k)] for k, vs in out.items() if vs}


def _finding(
    ctx: ScanContext, op: Operation, ex: Exchange, read: Exchange, key: str, value: Any, was: Any
) -> Finding:
    return ctx.finding(
        op,
        ex,
        parameter=key,
        note=f"read back {key}={value!r} (before: {was!r})",
        extra={"read_back": read.evidence(ctx.secrets)["response"]},
    )


def _write(
    ctx: ScanContext, op: Operation, who: ScanIdentity, path: str, body: dict[str, Any]
) -> Exchange:
    """The write, encoded as the operation declares (JSON, URL-encoded form, multipart)."""
    headers: dict[str, str] = {}
    kwargs = encode_body(body_media(op), body, headers)
    kwargs.setdefault("headers", headers)
    return ctx.send(op.method, path, who, **kwargs)


_SELF = re.compile(r"(^|[/._-])(me|self|my|profile|account|whoami)([/._-]|$)", re.I)


def profile_reader(ctx: ScanContext, op: Operation) -> Operation | None:
    """The GET that reads back the caller's own profile a write changes: a GET on the same
    path, or (RPC style) a GET naming the profile like the write (``/rpc/profile.get`` for
    ``/rpc/profile.update``)."""
    if op.path_params:
        return None
    same = ctx.find("GET", op.url_path)
    if same is not None and op.method in {"PUT", "PATCH"}:
        return same
    m = _SELF.search(op.url_path)
    if m is None:
        return None
    word = m.group(2).lower()
    head = op.url_path[: m.start(2)]
    for reader in ctx.all_operations:
        if reader.method != "GET" or reader.path_params or not reader.url_path.startswith(head):
            continue
        found = _SELF.search(reader.url_path)
        if found is not None and found.group(2).lower() == word:
            return reader
    return None


def _write_body(
    ctx: ScanContext, op: Operation, who: ScanIdentity, before: Mapping[str, Any]
) -> dict[str, Any]:
    """The rest of the body a write sends beside the injected property: PUT replaces the
    object, so it carries the object's writable values (else a valid body); PATCH nothing."""
    if op.method != "PUT":
        return {}
    props = op.body_properties()
    kept = {k: before[k] for k in props if k in before and not props[k].get("readOnly")}
    return {**ctx.body_for(op, who), **kept}


def update(
    ctx: ScanContext,
    op: Operation,
    who: ScanIdentity,
    path: str,
    read_path: str,
    *,
    restore: bool,
) -> Outcome:
    """One property at a time on an update of ``path``, read back through ``GET read_path``;
    ``restore`` writes the old value back (the caller's own profile)."""
    first = ctx.send("GET", read_path, who)
    before = first.json()
    if not first.ok or not isinstance(before, dict):
        return Outcome.inconclusive(
            f"the object could not be read back as JSON (HTTP {first.status})"
        )
    for admin in ctx.admins[:1]:
        if admin is not who and not op.path_params:
            seen = ctx.send("GET", read_path, admin).json()
            if isinstance(seen, dict):
                observe_roles(ctx, seen)
    findings: list[Finding] = []
    errors: list[str] = []
    for key, values in candidates(ctx, op, before).items():
        for value in values[:2]:
            body = {**_write_body(ctx, op, who, before), key: value}
            ex = _write(ctx, op, who, path, body)
            if ex.status >= 500:
                errors.append(f"{key}={value!r}: HTTP {ex.status}")
                continue
            if not ex.ok:
                continue
            read = ctx.send("GET", read_path, who)
            after = read.json()
            if isinstance(after, dict) and after.get(key) == value and before.get(key) != value:
                findings.append(_finding(ctx, op, ex, read, key, value, before.get(key)))
                if restore and key in before:  # put the identity back as it was
                    _write(ctx, op, who, path, {**body, key: before[key]})
                break
    if findings:
        return Outcome.found(*findings)
    if errors:
        return Outcome.inconclusive(f"the service failed on {', '.join(errors[:3])}")
    return Outcome.clean()


_USER_FIELD = re.compile(r"^(user|username|user_?name|login|member|account|user_?id|email)$", re.I)


def role_change_fields(op: Operation) -> tuple[str, str] | None:
    """(the field naming a user, the role-like field) of an operation that sets a user's
    role: a body property (``POST /rpc/members.setRole`` with username and role) or the path
    parameter (``PATCH /users/{username}`` with role), or None."""
    props = op.body_properties()
    role = next((k for k in props if ROLE_PROPERTY.match(k)), None)
    if op.path_params:
        last = op.path_params[-1]
        user = last if len(op.path_params) == 1 and _USER_FIELD.match(last) else None
    else:
        user = next((k for k in props if _USER_FIELD.match(k)), None)
    return (user, role) if user and role else None


def self_role_change(ctx: ScanContext, op: Operation, who: ScanIdentity) -> Outcome | None:
    """A privileged role-setting operation called by ``who`` on a test identity's profile
    (another unprivileged identity's when there is one, else its own) with a higher role;
    confirmed when that identity's own profile then shows the role, or a GET refused to it
    before now answers; its configured role is written back afterwards. None: not such an
    operation (or no identity's username to name)."""
    from battletest.security.checks.privilege import refused_paths
    from battletest.security.values import example

    fields = role_change_fields(op)
    victim = next((i for i in ctx.unprivileged if i is not who and i.username), who)
    name = victim.username or (victim.name if victim is who else None)
    if fields is None or not name:
        return None
    user, role = fields
    values = escalation_values(ctx, role, op.body_properties()[role], victim.role)
    if not values:
        return None
    refused = sorted(refused_paths(ctx))
    base = example(op.request_body, ctx.rng)
    body = base if isinstance(base, dict) else {}
    if op.path_params:  # the user is named by the path: the body sets the role alone
        path = op.fill({user: name}) or op.url_path
        body = {}
    else:
        path, body = op.url_path, {**body, user: name}
    ex = _write(ctx, op, who, path, {**body, role: values[0]})
    if ex.status in (401, 403):
        return Outcome.clean()
    if not ex.ok:
        if ex.status >= 500:
            return Outcome.inconclusive(
                f"the service failed on {role}={values[0]!r}: HTTP {ex.status}"
            )
        return None  # refused for its content: the generic probe decides
    reader = next(
        (r for o in ctx.all_operations if o.method != "GET" and (r := profile_reader(ctx, o))),
        None,
    )
    proof = ""
    if reader is not None:
        read = ctx.send("GET", reader.url_path, victim).json()
        if isinstance(read, dict) and read.get(role) == values[0]:
            proof = f"{reader.url_path} read as {victim.name} now shows {role}={values[0]!r}"
    for refused_path in refused[:3]:
        if not proof and ctx.send("GET", refused_path, victim).ok:
            proof = f"GET {refused_path}, refused to {victim.name} before, now answers 2xx"
    _write(ctx, op, who, path, {**body, role: victim.role})  # back as it was
    if not proof:
        return Outcome.clean(f"HTTP {ex.status}, but {victim.name}'s privileges did not change")
    whose = "its own" if victim is who else f"{victim.name}'s"
    return Outcome.found(
        ctx.finding(
            op,
            ex,
            parameter=role,
            note=f"{who.name} ({who.role}) set {whose} {role} to {values[0]!r}: {proof}; "
            f"{role} written back to {victim.role!r}",
        )
    )
