"""Privilege, inferred: which operations are privileged, and which values raise a privilege.

Without an RBAC matrix an operation counts as privileged on evidence: the spec says so (admin-like
scopes, an admin tag, "admin only" in its summary, an admin-like path), or the identities' own
answers do — a GET that a privileged identity reads and every unprivileged identity is refused
(401/403) makes that path privileged, for its other methods too (not its POST, which may be a
public sign-up). Escalation values for role-like properties come from the schema's enum, from
what a privileged identity's own profile says, and from common role names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from battletest.security.context import ScanContext
from battletest.spec import Operation

_ADMIN_SCOPE = re.compile(r"admin|superuser|manage", re.I)
_ADMIN_TAG = re.compile(
    r"^(admin|admins|administration|internal|management|back-?office|moderation)$", re.I
)
_ADMIN_TEXT = re.compile(
    r"\b(admins?|administrators?|managers?|moderators?)[- ]only\b|"
    r"\brequires? (an? )?(admin|administrator|manager|moderator)\b|"
    r"\bonly (for )?(admins?|administrators?|managers?)\b",
    re.I,
)
ROLE_PROPERTY = re.compile(
    r"^(is_?)?(role|roles|admin|is_?admin|isAdmin|superuser|is_?superuser|"
    r"permissions?|scopes?|groups?|privileges?|level|access_?level|user_?type|account_?type)$",
    re.I,
)
# from least to most privileged: the rank of a role name decides which enum value to try
_RANKS = (
    ("anonymous", "visitor", "viewer", "reader", "read"),
    ("user", "member", "customer", "client", "basic", "free", "write"),
    ("editor", "employee", "agent", "support", "operator", "author"),
    ("moderator", "manager", "supervisor", "owner", "maintainer"),
    ("admin", "administrator", "superuser", "root", "superadmin", "sysadmin"),
)
COMMON_ROLES = ("admin", "administrator", "superuser")
MAX_PROBED = 25  # GET operations asked as a privileged and an unprivileged identity


def rank(value: Any) -> int:
    """How privileged a role value sounds (-1: unknown)."""
    text = str(value).lower()
    for level in range(len(_RANKS) - 1, -1, -1):
        if any(word in text for word in _RANKS[level]):
            return level
    return -1


def declared_privileged(ctx: ScanContext, op: Operation) -> bool:
    """The spec says so: admin-like scopes, tags or summary, or an admin-like path."""
    if any(_ADMIN_SCOPE.search(s) for s in op.scopes) or ctx.admin_like(op):
        return True
    if any(_ADMIN_TAG.match(t) for t in op.tags):
        return True
    return _ADMIN_TEXT.search(f"{op.summary} {op.description}") is not None


def refused_paths(ctx: ScanContext) -> set[str]:
    """URL paths of GETs (without path parameters) a privileged identity reads and every
    unprivileged one is refused (asked once per scan, at most ``MAX_PROBED`` operations)."""
    cached: set[str] | None = ctx.state.get("privilege:refused")
    if cached is not None:
        return cached
    found: set[str] = set()
    ctx.state["privilege:refused"] = found
    admins, low = ctx.admins, ctx.unprivileged
    if not admins or not low or ctx.settings.rbac:
        return found
    probed = 0
    for op in ctx.all_operations:
        if op.method != "GET" or op.path_params or probed >= MAX_PROBED:
            continue
        path = op.url_path + ctx.query(op)
        probed += 1
        if not ctx.send("GET", path, admins[0]).ok:
            continue
        if all(ctx.send("GET", path, who).status in (401, 403) for who in low):
            found.add(op.url_path)
    return found


def evidenced_privileged(ctx: ScanContext, op: Operation) -> bool:
    """The answers say so: a GET on the same path was refused to every unprivileged identity
    while a privileged one read it, or one above it (POST excepted: it may be a public
    sign-up)."""
    if op.method == "POST" or ctx.settings.rbac:
        return False
    return any(op.url_path == p or op.url_path.startswith(p + "/") for p in refused_paths(ctx))


def escalation_values(
    ctx: ScanContext, name: str, schema: Mapping[str, Any] | None, current: Any
) -> list[Any]:
    """Values to try for a role-like property, most privileged first: the schema's enum
    values above ``current``, what privileged identities' own profiles hold, common names."""
    schema = schema or {}
    kind = schema.get("type")
    if kind == "boolean" or (current is False and kind is None):
        return [True]
    if kind == "array" or isinstance(current, list):
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return [[v] for v in escalation_values(ctx, name, items, None)[:2]]
    observed = ctx.state.get(f"privilege:observed:{name}", [])
    enum = [v for v in schema.get("enum") or [] if v is not None]
    if enum:
        above = [v for v in enum if rank(v) > rank(current) and v != current]
        return sorted(above, key=rank, reverse=True)[:2]
    values = [*observed, *COMMON_ROLES]
    return [v for v in dict.fromkeys(values) if v != current][:3]


def observe_roles(ctx: ScanContext, profile: Mapping[str, Any]) -> None:
    """Remember the role-like values a privileged identity's own profile holds."""
    for key, value in profile.items():
        if ROLE_PROPERTY.match(key) and isinstance(value, str):
            seen: list[Any] = ctx.state.setdefault(f"privilege:observed:{key}", [])
            if value not in seen:
                seen.append(value)
