"""Broken authorization: object level (API1), function level (API5), property level (API3:
mass assignment; excessive data exposure is in ``dataprotect.py``), and cross-tenant access."""

from __future__ import annotations

from typing import Any

from battletest.results import Finding, Severity
from battletest.security.checks import escalation, privilege
from battletest.security.checks.references import reference_bola, references
from battletest.security.context import (
    ScanContext,
    ScanIdentity,
    extract_ids,
    strings_of,
)
from battletest.security.framework import Outcome, Scanner
from battletest.security.settings import RbacVerdict
from battletest.spec import Operation
from battletest.transport import Exchange


def _mass_target(ctx: ScanContext, op: Operation) -> str | None:
    """Which write mass assignment tries: a create, an update of an item (the scanner's own
    object), the caller's own profile (``PUT``/``PATCH`` with no id, or a POST naming the
    profile, read back by a GET on the path or one naming the profile)."""
    if ctx.is_create(op):
        return "create"
    if op.method == "POST" and not op.path_params and escalation.profile_reader(ctx, op):
        return "profile"  # RPC style: POST /rpc/profile.update, read by GET /rpc/profile.get
    if op.method not in {"PUT", "PATCH"} or not op.body_properties():
        return None
    if not op.path_params:
        return "profile" if escalation.profile_reader(ctx, op) is not None else None
    return "item" if ctx.find("GET", op.url_path) is not None else None


def _split_path(ctx: ScanContext, op: Operation, who: ScanIdentity) -> tuple[str, str] | None:
    """(concrete collection path, last id) for an item operation filled as ``who``."""
    path = ctx.fill(op, who)
    if path is None:
        return None
    collection, _, last = path.split("?", 1)[0].rpartition("/")
    return collection, last


def _foreign_object(
    ctx: ScanContext, op: Operation, owner: ScanIdentity, other: ScanIdentity
) -> tuple[str, str, bool] | None:
    """An object of ``owner`` that ``other`` does not list: (item path, id, scanner-created)."""
    collection_tpl = (
        op.url_path.split("/{" + op.path_params[-1] + "}")[0] if op.path_params else None
    )
    if collection_tpl is None:
        return None
    if len(op.path_params) == 1 and ctx.can_create(collection_tpl):
        obj = ctx.owned(owner, collection_tpl)
        if obj is not None:
            return (op.fill({op.path_params[0]: obj.id}) or "") + ctx.query(op), obj.id, True
    suffix = op.url_path.split("{" + op.path_params[-1] + "}", 1)[1]
    if _split_path(ctx, op, owner) is None:
        if "{" in collection_tpl:
            return None
        collection = collection_tpl  # nothing it lists; a listing may still name it the owner
    else:
        collection = (ctx.fill(op, owner) or "").split("?", 1)[0]
        if suffix:
            collection = collection[: -len(suffix)]
        collection = collection.rpartition("/")[0]
    theirs = ctx.listed_by(other, collection)
    named = sorted(ctx.listed_by(owner, collection) - set(ctx.ids(owner, collection)))
    for object_id in [*ctx.ids(owner, collection), *named]:  # listed, then named its owner's
        if object_id not in theirs and ctx.owner(collection, object_id) in (None, owner.name):
            return f"{collection}/{object_id}{suffix}{ctx.query(op)}", object_id, False
    return None


def _declared_public(ctx: ScanContext, op: Operation) -> bool:
    """A read the spec declares public (no credential) while other operations need one: any
    caller may read its objects, so object-level authorization is not expected of it."""
    return op.method == "GET" and not op.secured and any(o.secured for o in ctx.all_operations)


def _privileged(ctx: ScanContext, op: Operation) -> bool:
    """Privileged by the RBAC matrix, else by the spec or by the identities' answers."""
    for rule in ctx.settings.rbac:
        if rule.method.upper() == op.method and rule.path in (op.url_path, op.path):
            return not any(i.role in rule.roles for i in ctx.unprivileged)
    return privilege.declared_privileged(ctx, op) or privilege.evidenced_privileged(ctx, op)


def _verdicts(ctx: ScanContext, op: Operation) -> list[RbacVerdict]:
    """The auth suite's decided ``[[rbac]]`` pairs on ``op`` (under ``battletest run``)."""
    given: list[RbacVerdict] = ctx.state.get("rbac_verdicts") or []
    return [v for v in given if v.method.upper() == op.method and v.path in (op.url_path, op.path)]


def _reused_finding(ctx: ScanContext, op: Operation, accepted: list[RbacVerdict]) -> Finding:
    """One finding for the forbidden calls of ``op`` the auth suite saw accepted: the first
    one's request and answer, every identity named in the note."""
    calls = "; ".join(
        f"{v.identity} ({v.role}) got HTTP {v.status} in {v.case!r}" for v in accepted
    )
    roles = ", ".join(sorted({v.role for v in accepted}))
    note = f"[[rbac]] leaves {roles} out, yet {calls} (the auth suite's cases, not sent again)"
    first = accepted[0]
    found = ctx.finding(op, None, note=note)
    evidence = {**first.evidence, "note": note, "auth_cases": [v.case for v in accepted]}
    return found.model_copy(update={"evidence": evidence, "reproduce": first.reproduce})


def _read_path(ctx: ScanContext, op: Operation, path: str) -> str | None:
    """Where a write's effect reads back: a GET on the same path, else on the object the
    path's last id names (``/jobs/7/refund`` → ``/jobs/7``)."""
    if ctx.find("GET", op.url_path) is not None:
        return path.split("?", 1)[0]
    segments = op.url_path.split("/")
    last = max((i for i, s in enumerate(segments) if s.startswith("{")), default=-1)
    if last < 0 or ctx.find("GET", "/".join(segments[: last + 1])) is None:
        return None
    return "/".join(path.split("?", 1)[0].split("/")[: last + 1])


def _privileged_write(
    ctx: ScanContext,
    op: Operation,
    path: str,
    who: ScanIdentity,
    helper: ScanIdentity,
    own_object: bool,
) -> Outcome:
    """A privileged write as ``who``; on the scanner's own object a valid body is sent and
    the change is read back as ``helper``, elsewhere an empty body first."""
    body = ctx.body_for(op) if op.body_schema is not None else None
    read_path = _read_path(ctx, op, path) if own_object else None
    before = ctx.send("GET", read_path, helper) if read_path is not None else None
    if own_object or body is None:
        ex = ctx.send(op.method, path, who, **({"json_body": body} if body is not None else {}))
    else:
        ex = ctx.send(op.method, path, who, json_body={})
        if ex.status in (400, 422) and (ctx.settings.allow_destructive or ctx.is_create(op)):
            ex = ctx.send(op.method, path, who, json_body=body)
    if ex.ok:
        note = f"{who.name} ({who.role}) got HTTP {ex.status}"
        if before is not None and before.ok and read_path is not None:
            after = ctx.send("GET", read_path, helper)
            marks = [v for v in strings_of(body) if "battletest" in v]
            if op.method == "DELETE":
                changed = after.status in (404, 410)
            elif marks:
                changed = any(m in after.text and m not in before.text for m in marks)
            else:
                changed = after.text != before.text
            if not changed:
                return Outcome.clean(f"HTTP {ex.status}, but {helper.name} reads no change")
            note += f"; {helper.name} reads the change back (HTTP {after.status})"
        return Outcome.found(ctx.finding(op, ex, note=note))
    if ex.status in (401, 403):
        return Outcome.clean()
    hint = "" if ctx.settings.allow_destructive else " (rerun with --allow-destructive)"
    return Outcome.inconclusive(
        f"HTTP {ex.status}: the input was checked before authorization{hint}"
    )


def _on_object(
    ctx: ScanContext, op: Operation, ex: Exchange, note: str, severity: Severity | None = None
) -> Outcome:
    """A BOLA finding on the id of the object another identity reached."""
    return Outcome.found(
        ctx.finding(op, ex, parameter=op.path_params[-1], severity=severity, note=note)
    )


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="bola",
        title="Another user's object can be read, changed or deleted (BOLA)",
        owasp="API1:2023",
        cwe="CWE-639",
        severity=Severity.HIGH,
        group="bola",
        modifies=True,
        applies=lambda ctx, op: (
            (
                (bool(op.path_params) and op.method in {"GET", "PUT", "PATCH", "DELETE"})
                or bool(references(ctx, op))
            )
            and not _privileged(ctx, op)
            and not _declared_public(ctx, op)
        ),
        phase=40,
        remediation="Check on every request that the caller owns (or may access) the object "
        "named by the id, not only that the caller is logged in.",
    )
    def bola(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Identity A's object (created by the scanner, or listed by A and not by B) is read,
        changed or deleted as identity B; reported when B succeeds and A reads back the same
        object (GET) or the change (PUT/PATCH/DELETE)."""
        assert op is not None
        if not op.path_params:  # the object is named in the query or the body
            return reference_bola(ctx, op)
        pairs = ctx.pairs(same_tenant=True) or ctx.pairs()
        if not pairs:
            return Outcome.inconclusive("needs two unprivileged identities")
        target = None
        top = op.url_path.split("/{" + op.path_params[-1] + "}")[0]
        if "{" not in top:  # every identity's listing first: an item may name its owner
            for who in ctx.unprivileged:
                ctx.ids(who, top)
        for a, b in pairs:
            target = _foreign_object(ctx, op, a, b)
            if target is not None:
                break
        if target is None:
            a, b = pairs[0]
            return Outcome.inconclusive(f"{a.name} has no object that {b.name} does not own")
        path, object_id, created = target
        if op.method == "GET":
            mine = ctx.send("GET", path, a)
            if not mine.ok:
                return Outcome.inconclusive(
                    f"{a.name} cannot read its own object: HTTP {mine.status}"
                )
            ex = ctx.send("GET", path, b)
            if _same_object(ex, mine, object_id, op) and _same_object(
                ctx.send("GET", path, b), mine, object_id, op
            ):
                return _on_object(ctx, op, ex, f"{b.name} read {a.name}'s object {object_id}")
            return Outcome.clean()
        if not (created or ctx.settings.allow_destructive):
            return Outcome.inconclusive("only objects the scanner created are changed")
        read = ctx.item_op(op.collection_path() or "", "GET")
        read_path = path if read else None
        if op.method == "DELETE":
            ex = ctx.send("DELETE", path, b)
            gone = read_path is not None and ctx.send("GET", read_path, a).status == 404
            if ex.ok and gone:
                return _on_object(
                    ctx,
                    op,
                    ex,
                    f"{b.name} deleted {a.name}'s object {object_id}; {a.name} now gets 404",
                    Severity.CRITICAL,
                )
            return Outcome.clean()
        strings = [
            k
            for k, v in op.body_properties().items()
            if _is_string(v) and not v.get("enum") and not v.get("format")
        ]
        if not strings or read_path is None:
            return Outcome.inconclusive("no string property to change and read back")
        marker = f"battletest-bola-{ctx.rng.randrange(10**6)}"
        body = {strings[0]: marker}
        ex = ctx.send(op.method, path, b, json_body=body)
        back = ctx.send("GET", read_path, a)
        if ex.ok and marker in back.text:
            return _on_object(
                ctx,
                op,
                ex,
                f"{b.name} changed {a.name}'s object {object_id}; read back shows {marker}",
                Severity.CRITICAL,
            )
        return Outcome.clean()

    @scanner.check(
        id="bfla",
        title="Privileged function callable by an unprivileged identity (BFLA)",
        owasp="API5:2023",
        cwe="CWE-285",
        severity=Severity.HIGH,
        group="bfla",
        modifies=True,
        applies=lambda ctx, op: _privileged(ctx, op) or any(v.accepted for v in _verdicts(ctx, op)),
        phase=45,
        remediation="Enforce the role check on the server for every privileged operation.",
    )
    def bfla(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Calls operations reserved to privileged roles (RBAC rules, admin-like scopes in the
        spec, admin-like paths) as an unprivileged identity; reported on a 2xx (twice for
        reads). State-changing calls send an empty body first, a valid one only on the
        scanner's own objects or with --allow-destructive. Under ``battletest run`` the auth
        suite owns the ``[[rbac]]`` pairs it decided: such a pair is not sent again, and each
        forbidden call the auth suite saw accepted is this check's finding."""
        assert op is not None
        verdicts = _verdicts(ctx, op)
        accepted = [v for v in verdicts if v.accepted]
        reused = [_reused_finding(ctx, op, accepted)] if accepted else []
        low = ctx.unprivileged
        decided = {v.identity for v in verdicts}
        if (low and low[0].name in decided) or not _privileged(ctx, op):
            if reused:
                return Outcome.found(*reused)
            mine = next(v for v in verdicts if v.identity == low[0].name)
            return Outcome.clean(
                f"reused from the auth suite: {mine.identity} ({mine.role}) got HTTP "
                f"{mine.status} in {mine.case!r}"
            )
        outcome = _bfla_probe(ctx, op, low)
        if reused:  # the auth suite's findings on other roles, beside the scanner's own probe
            return Outcome.found(*outcome.findings, *reused)
        return outcome

    def _bfla_probe(ctx: ScanContext, op: Operation, low: list[ScanIdentity]) -> Outcome:
        if not low:
            return Outcome.inconclusive("needs an unprivileged identity")
        who = low[0]
        helper = (ctx.admins or low)[0]
        raised = escalation.self_role_change(ctx, op, who)  # a role set on a user's profile
        if raised is not None:
            return raised
        path = ctx.fill(op, helper) if op.path_params else op.url_path
        if path is None and op.method != "GET" and not ctx.settings.allow_destructive:
            path = ctx.fill(op, helper, own=True)  # an object created for the test
        if path is None:
            return Outcome.inconclusive(f"no object id known for {', '.join(op.path_params)}")
        if op.method == "GET":
            ex = ctx.send("GET", path, who)
            if ex.ok and ctx.send("GET", path, who).ok:
                return Outcome.found(ctx.finding(op, ex, note=f"{who.name} ({who.role}) got 2xx"))
            return Outcome.clean()
        collection = op.collection_path()
        if (
            op.method == "DELETE"
            and len(op.path_params) == 1
            and collection
            and ctx.admins
            and ctx.can_create(collection)
        ):
            obj, _ = ctx.create(ctx.admins[0], collection)
            if obj is not None:
                own_path = op.fill({op.path_params[0]: obj.id}) or path
                ex = ctx.send("DELETE", own_path, who)
                if ex.ok:
                    return Outcome.found(
                        ctx.finding(
                            op,
                            ex,
                            note=f"{who.name} ({who.role}) deleted object {obj.id} that "
                            f"{ctx.admins[0].name} created: HTTP {ex.status}",
                        )
                    )
                if ex.status in (401, 403):
                    return Outcome.clean()
        own_object = False
        if op.path_params and not ctx.settings.allow_destructive:
            _, _, last = path.rpartition("/")
            if not ctx.may_modify(path.rpartition("/")[0], last):
                mine = ctx.fill(op, helper, own=True)  # an object created for the test
                if mine is None:
                    return Outcome.inconclusive(
                        f"no object of the scanner's own for {', '.join(op.path_params)} "
                        "(only those are changed)"
                    )
                path = mine
            own_object = True
        return _privileged_write(ctx, op, path, who, helper, own_object)

    @scanner.check(
        id="mass-assignment",
        title="Privileged or undeclared property accepted on write (mass assignment)",
        owasp="API3:2023",
        cwe="CWE-915",
        severity=Severity.HIGH,
        group="mass-assignment",
        modifies=True,
        applies=lambda ctx, op: not _privileged(ctx, op) and _mass_target(ctx, op) is not None,
        phase=50,
        remediation="Bind request bodies to an explicit allow-list of writable properties; "
        "never copy role, admin flags or ownership from input.",
    )
    def mass_assignment(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Writes privileged properties the request schema does not declare writable (role,
        is_admin, admin…, owner_id when the object has one) and role-like properties it does
        declare, with values ranked above the current one (the schema's enum, a privileged
        identity's profile, common role names), on creates, on updates of the scanner's own
        objects and on the caller's own profile; reported when the value reads back."""
        assert op is not None
        people = ctx.unprivileged or ctx.identities
        if not people:
            return Outcome.inconclusive("needs an identity")
        who = people[0]
        kind = _mass_target(ctx, op)
        if kind == "profile":
            reader = escalation.profile_reader(ctx, op)
            assert reader is not None
            return escalation.update(ctx, op, who, op.url_path, reader.url_path, restore=True)
        if kind == "item":
            path = ctx.fill(op, who, own=True)
            if path is None:
                return Outcome.inconclusive("no object of the scanner's own to update")
            reader = ctx.item_op(op.collection_path() or "", "GET")
            if reader is None or reader.url_path != op.url_path:
                return Outcome.inconclusive("no GET on the same item to read the change back")
            return escalation.update(ctx, op, who, path, path, restore=False)
        writable = {k for k, v in op.body_properties().items() if not v.get("readOnly")}
        item = ctx.item_op(op.url_path)
        assert item is not None
        obj, _ = ctx.create(who, op.url_path)
        if obj is None:
            return Outcome.inconclusive("could not create a control object")
        path = item.fill({item.path_params[-1]: obj.id}) or ""
        first = ctx.send("GET", path, who)
        control = first.json()
        if not isinstance(control, dict):
            return Outcome.inconclusive("the object could not be read back as JSON")
        extra = {k: vs[0] for k, vs in escalation.candidates(ctx, op, control).items()}
        if "owner_id" in control and "owner_id" not in writable:
            others = [i for i in ctx.identities if i is not who]
            other_obj = ctx.owned(others[0], op.url_path) if others else None
            other = (
                ctx.send(
                    "GET", item.fill({item.path_params[-1]: other_obj.id}) or "", others[0]
                ).json()
                if other_obj
                else None
            )
            if isinstance(other, dict) and other.get("owner_id") != control["owner_id"]:
                extra["owner_id"] = other["owner_id"]
        attacked_obj, ex_or_none = ctx.create(who, op.url_path, extra)
        if attacked_obj is None or ex_or_none is None:
            if ex_or_none is not None and ex_or_none.status >= 500:
                return Outcome.inconclusive(
                    f"the write with extra properties failed: HTTP {ex_or_none.status}"
                )
            return Outcome.clean("the write with extra properties was refused")
        ex = ex_or_none
        apath = item.fill({item.path_params[-1]: attacked_obj.id}) or ""
        read = ctx.send("GET", apath, who)
        if not read.ok and "owner_id" in extra:
            read = ctx.send("GET", apath, next(i for i in ctx.identities if i is not who))
        attacked = read.json()
        if not isinstance(attacked, dict):
            return Outcome.inconclusive("the object could not be read back as JSON")
        accepted = [k for k, v in extra.items() if attacked.get(k) == v and control.get(k) != v]
        return Outcome.found(
            *[
                ctx.finding(
                    op,
                    ex,
                    parameter=k,
                    note=f"read back {k}={attacked.get(k)!r} (control: {control.get(k)!r})",
                    extra={"read_back": read.evidence(ctx.secrets)["response"]},
                )
                for k in accepted
            ]
        )

    @scanner.check(
        id="cross-tenant",
        title="Another tenant's data reachable",
        owasp="API1:2023",
        cwe="CWE-639",
        severity=Severity.HIGH,
        group="tenant",
        modifies=True,
        applies=lambda ctx, op: (
            op.method == "GET" and bool(ctx.pairs(same_tenant=False)) and not _privileged(ctx, op)
        ),
        phase=41,
        remediation="Derive the tenant from the authenticated identity, never from input the "
        "client sets; scope every query and lookup by it.",
    )
    def cross_tenant(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Identity B's object (created by the scanner, or listed by B only) is asked for by
        identity A of another tenant: by id, in A's listing, and — when ``tenant_header`` is
        configured — with B's tenant in that header; reported when A gets it."""
        assert op is not None
        header = ctx.settings.tenant_header
        pairs = [(a, b) for a, b in ctx.pairs(same_tenant=False) if a.tenant and b.tenant]
        if not pairs:
            return Outcome.inconclusive("needs two identities with different tenants")
        a, b = pairs[0]
        assert b.tenant is not None
        if op.path_params:
            target = _foreign_object(ctx, op, b, a)
            if target is None:
                return Outcome.inconclusive(f"{b.name} has no object that {a.name} does not own")
            path, object_id, _ = target
        else:
            path = op.url_path + ctx.query(op)
            listing = ctx.send("GET", path, b)
            if not listing.ok:
                return Outcome.clean(f"{b.name} cannot read it at all (HTTP {listing.status})")
            own = ctx.owned(b, op.url_path) if ctx.find("POST", op.url_path) else None
            theirs = (
                {own.id} if own else set(ctx.ids(b, op.url_path)) - set(ctx.ids(a, op.url_path))
            )
            if not theirs:
                return Outcome.clean("no object differs between the two tenants' listings")
            object_id = sorted(theirs)[0]
        variants: list[tuple[str | None, dict[str, str]]] = [(None, {})]
        if header:
            variants.append((header, {header: b.tenant}))
        for parameter, headers in variants:
            ex = ctx.send("GET", path, a, headers=headers)
            if _has(ex, object_id, op) and _has(
                ctx.send("GET", path, a, headers=headers), object_id, op
            ):
                how = f"with {parameter}: {b.tenant}" if parameter else "directly"
                return Outcome.found(
                    ctx.finding(
                        op,
                        ex,
                        parameter=parameter,
                        note=f"{a.name} (tenant {a.tenant}) got {b.name}'s object {object_id} "
                        f"(tenant {b.tenant}) {how}",
                    )
                )
        return Outcome.clean()


def _is_string(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("type") == "string":
        return True
    return any(_is_string(s) for key in ("anyOf", "oneOf") for s in schema.get(key) or [])


def _same_object(ex: Exchange, mine: Exchange, object_id: str, op: Operation) -> bool:
    """B's answer carries A's object: by id in JSON, or byte for byte (audio, files)."""
    if _has(ex, object_id, op):
        return True
    return ex.ok and bool(mine.response_body) and ex.response_body == mine.response_body


def _has(ex: Exchange, object_id: str, op: Operation) -> bool:
    """A 2xx response carrying the object ``object_id`` (by its id property)."""
    param = op.path_params[-1] if op.path_params else "id"
    return ex.ok and object_id in extract_ids(ex.json(), param)
