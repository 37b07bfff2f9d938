"""The write policy and its one classifier: what battletest may send to a target.

``classify`` decides, for a spec operation or a bare request, whether it is *safe* (a read),
*unsafe* (a write to one object, or a create) or *destructive* (a write whose target set is a
whole collection or chosen by a filter, or anything whose name, summary, description or path
says reset, wipe, purge, drop, delete, truncate, init, seed, shutdown, logout, revoke, …).

``WritePolicy`` turns that into a decision per request, from the config's environment:

- read-only (a production environment, or mode LIVE_SMOKE): only GET, HEAD and OPTIONS, and
  not even those on a destructive-looking operation;
- elsewhere: creates are allowed; a write to an object only when battletest created it in this
  run (tracked from ``Location`` headers and ids in create answers) or when it is a configured
  identity's own profile or settings (``/me``, ``/users/me/settings``, and a user item path
  whose parameter is a configured identity's username, id or e-mail: ``/users/dana``); never
  a DELETE of such a profile, collection-wide or destructive operations;
- ``allow_destructive = true`` lifts all of it for the profile.

Every refusal is a ``Decision`` (operation, method, path, kind, reason), kept in
``WritePolicy.decisions`` for the report (each suite's ``metrics.policy_decisions``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from battletest.errors import BattletestError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Words that make an operation destructive whatever its method. Matched as whole words of the
# operation id, summary, description and path (camelCase, snake_case and kebab-case split).
DESTRUCTIVE_WORDS = frozenset(
    {
        "reset",
        "wipe",
        "purge",
        "drop",
        "delete",
        "remove",
        "destroy",
        "truncate",
        "init",
        "initialize",
        "initialise",
        "reinit",
        "seed",
        "reseed",
        "shutdown",
        "reboot",
        "restart",
        "logout",
        "signout",
        "revoke",
        "flush",
        "erase",
        "nuke",
    }
)
# the verbs an item DELETE is named with: on one object they are its normal name, not a warning
ITEM_DELETE_WORDS = frozenset({"delete", "remove", "destroy", "erase"})
# query parameters that choose a set of objects instead of one (a filtered bulk write)
FILTER_PARAMS = frozenset(
    {
        "filter",
        "where",
        "query",
        "q",
        "ids",
        "all",
        "status",
        "before",
        "after",
        "older_than",
        "since",
        "until",
        "match",
        "selector",
        "search",
        "bulk",
    }
)
# path segments naming the calling identity itself (its own profile and settings)
SELF_SEGMENTS = frozenset({"me", "self", "current", "my", "whoami", "profile", "account"})
# collections of user accounts, and parameter names that name one user: a path such as
# ``/users/{username}`` with a configured identity's username in it is that identity's profile
USER_COLLECTIONS = frozenset(
    {"users", "user", "members", "member", "accounts", "people", "profiles", "customers"}
)
USER_PARAMS = frozenset({"username", "user", "userid", "login", "email", "member", "account"})
ID_FIELDS = ("id", "uuid", "_id", "slug")
_SEGMENT_ID = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|"
    r"[A-Za-z0-9_-]*\d[A-Za-z0-9_-]{5,})$",
    re.IGNORECASE,
)


class Risk(StrEnum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    DESTRUCTIVE = "destructive"


class DecisionKind(StrEnum):
    """Why the policy refused a request (the ``kind`` of each reported decision)."""

    READ_ONLY = "read_only"  # an unsafe method in production or LIVE_SMOKE
    DESTRUCTIVE_NAME = "destructive_name"  # the operation looks destructive by name/summary/path
    COLLECTION_WIDE = "collection_wide"  # DELETE/PUT/PATCH on a collection or a filtered set
    NOT_OWNED = "not_owned"  # a write to an object battletest did not create in this run
    DELETES_IDENTITY = "deletes_identity"  # a DELETE of the calling identity itself
    OFF_TARGET = "off_target"  # a request to another host than the target (never sent)


@dataclass(frozen=True, slots=True)
class Classification:
    risk: Risk
    kind: DecisionKind | None  # why destructive (None when safe/unsafe)
    reason: str
    item: bool  # the operation addresses one object (it has a path parameter)
    own: bool = False  # the path names the calling identity itself


@dataclass(frozen=True, slots=True)
class Decision:
    """One refusal: reported as a "not run" case and listed in the report."""

    kind: DecisionKind
    method: str
    path: str
    reason: str
    operation: str = ""

    def as_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        return data


class PolicyRefused(BattletestError):
    """A request the write policy does not let battletest send (the case is "not run")."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"not run: {decision.reason}",
            hint="set allow_destructive = true for this profile to allow it",
        )
        self.decision = decision


def words(*texts: str) -> set[str]:
    """Whole lower-case words of identifiers and prose (camelCase and separators split)."""
    out: set[str] = set()
    for text in texts:
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text or "")
        out |= {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w}
    return out


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def own_profile(path: str, identities: Iterable[str], template: str = "") -> bool:
    """Whether a concrete ``path`` is a configured identity's own profile or settings: a
    segment equal to one of ``identities`` (their usernames, ids, e-mails) right after a
    user collection (``/users/dana``, ``/members/7/settings``), or in a path parameter
    named like a user (``template`` ``/api/{username}/prefs``). At most one segment that is
    not an id may follow it (its settings); ``/users/dana/vehicles/DEP-1`` is not a profile."""
    known = {str(i) for i in identities if i}
    if not known:
        return False
    segments = _segments(path)
    named = path_params_of(template, path) if template else {}
    user_values = {v for k, v in named.items() if re.sub(r"[^a-z]", "", k.lower()) in USER_PARAMS}
    for i, seg in enumerate(segments):
        if seg not in known:
            continue
        rest = segments[i + 1 :]
        if len(rest) > 1 or (rest and _SEGMENT_ID.match(rest[0])):
            continue
        if seg in user_values or (i > 0 and segments[i - 1].lower() in USER_COLLECTIONS):
            return True
    return False


def classify(
    method: str,
    path: str,
    *,
    name: str = "",
    summary: str = "",
    description: str = "",
    query: Iterable[str] = (),
    item: bool | None = None,
    identities: Iterable[str] = (),
    concrete: str = "",
) -> Classification:
    """Safe, unsafe or destructive, with the reason. ``path`` is a spec template
    (``/items/{id}``) or a concrete path; ``item`` says whether it addresses one object (by
    default: the template has a parameter, or a segment looks like an id). ``identities``:
    the configured identities' usernames, ids and e-mails, so that a request path naming one
    (``concrete`` ``/users/dana`` of ``path`` ``/users/{username}``, or ``path`` itself when
    concrete) is that identity's own profile (writable, but never deleted)."""
    method = method.upper()
    segments = _segments(path)
    templated = any(s.startswith("{") for s in segments)
    is_item = (
        item
        if item is not None
        else any(s.startswith("{") or _SEGMENT_ID.match(s) for s in segments)
    )
    if concrete:
        profile = own_profile(concrete, identities, path if templated else "")
    else:
        profile = not templated and own_profile(path, identities)
    own = (any(s.lower() in SELF_SEGMENTS for s in segments) and not templated) or profile
    found = words(name, summary, description, *[s for s in segments if not s.startswith("{")])
    alarming = found & DESTRUCTIVE_WORDS
    if method == "DELETE" and is_item:
        alarming -= ITEM_DELETE_WORDS
    if found & {"password", "passwd", "pwd"}:
        alarming.discard("reset")  # a password reset resets one credential, not the data
    label = f"{method} {path}"
    filters = sorted(q for q in query if q.lower() in FILTER_PARAMS)
    if method == "DELETE" and own and (profile or not is_item):
        return Classification(
            Risk.DESTRUCTIVE,
            DecisionKind.DELETES_IDENTITY,
            f"{label} would delete the calling identity",
            is_item,
            own,
        )
    if method in {"DELETE", "PUT", "PATCH"}:
        if filters:
            return Classification(
                Risk.DESTRUCTIVE,
                DecisionKind.COLLECTION_WIDE,
                f"{label} writes a set of objects chosen by a filter ({', '.join(filters)})",
                is_item,
                own,
            )
        if not is_item and not own:
            return Classification(
                Risk.DESTRUCTIVE,
                DecisionKind.COLLECTION_WIDE,
                f"{label} is collection-wide (no item parameter)",
                is_item,
                own,
            )
    if alarming:
        hit = ", ".join(sorted(alarming))
        return Classification(
            Risk.DESTRUCTIVE,
            DecisionKind.DESTRUCTIVE_NAME,
            f"{label} looks destructive ({hit})",
            is_item,
            own,
        )
    if method in SAFE_METHODS:
        return Classification(Risk.SAFE, None, f"{label} is a read", is_item, own)
    return Classification(Risk.UNSAFE, None, f"{label} writes", is_item, own)


def classify_operation(
    op: Any,
    query: Iterable[str] | None = None,
    *,
    path: str = "",
    identities: Iterable[str] = (),
) -> Classification:
    """``classify`` for a ``spec.Operation`` (its id, summary, description and parameters);
    ``query``: the query parameters a request actually sends (default: those declared);
    ``path``: the concrete path of the request (it may name an identity's own profile)."""
    if query is None:
        query = [p.name for p in getattr(op, "parameters", ()) if p.location == "query"]
    item = any(p.location == "path" for p in getattr(op, "parameters", ())) or "{" in op.path
    return classify(
        op.method,
        op.path,
        concrete=path,
        identities=identities,
        name=getattr(op, "operation_id", "") or "",
        summary=getattr(op, "summary", "") or "",
        description=getattr(op, "description", "") or "",
        query=query if op.method in {"DELETE", "PUT", "PATCH"} else (),
        item=item,
    )


@dataclass
class WritePolicy:
    """Decides every request; tracks the objects battletest created in this run.

    ``operations``: the spec operations (matched to concrete paths, so a request is judged by
    its operation's name and summary too); ``owns_target``: battletest launched the target
    itself with its own data (``--app``, a command, the demo), so every object on it is its own
    — collection-wide and destructive operations are still refused.
    """

    read_only: bool = False
    allow_destructive: bool = False
    owns_target: bool = False
    why_read_only: str = "production"
    base_path: str = ""
    operations: list[Any] = field(default_factory=list)
    # the configured identities' usernames, ids and e-mails: their profiles are their own
    identities: set[str] = field(default_factory=set)
    decisions: list[Decision] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # paths of objects battletest created
    deleted: set[str] = field(default_factory=set)  # … and deleted again
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_config(
        cls,
        config: Any,
        *,
        operations: Iterable[Any] = (),
        base_path: str = "",
        owns_target: bool = False,
    ) -> WritePolicy:
        why = "production" if config.is_prod else "LIVE_SMOKE"
        return cls(
            read_only=config.read_only,
            allow_destructive=config.allow_destructive,
            owns_target=owns_target,
            why_read_only=f"{why} is read-only" if config.is_prod else "LIVE_SMOKE is read-only",
            base_path=base_path.rstrip("/"),
            operations=list(operations),
            identities={i.username for i in getattr(config, "identities", ()) if i.username},
        )

    def note_identity(self, *values: Any) -> None:
        """Usernames, ids or e-mails of a configured identity (its own profile is writable)."""
        with self._lock:
            self.identities |= {str(v) for v in values if isinstance(v, str | int) and str(v)}

    # ------------------------------------------------------------------ operations (static)

    def check_operation(self, op: Any) -> Decision | None:
        """The refusal of an operation as a whole (read-only and destructive rules), or None
        when it may be exercised (its requests are still checked one by one)."""
        if self.allow_destructive:
            return None
        c = classify_operation(op)
        label = f"{op.method} {op.path}"
        if self.read_only and op.method.upper() not in SAFE_METHODS:
            return Decision(
                DecisionKind.READ_ONLY,
                op.method,
                op.path,
                f"{self.why_read_only}: {label} refused",
                label,
            )
        if c.risk is Risk.DESTRUCTIVE:
            assert c.kind is not None
            return Decision(c.kind, op.method, op.path, c.reason, label)
        return None

    def refuse_operation(self, op: Any) -> Decision | None:
        """``check_operation``, recorded as a decision when it refuses."""
        decision = self.check_operation(op)
        if decision is not None:
            self._record(decision)
        return decision

    # --------------------------------------------------------------------- requests (dynamic)

    def operation_for(self, method: str, path: str) -> Any | None:
        rel = path
        if self.base_path and rel.startswith(self.base_path):
            rel = rel[len(self.base_path) :] or "/"
        for op in self.operations:
            if op.method.upper() == method.upper() and _matches(op.path, rel):
                return op
        return None

    def decide(
        self, method: str, url_path: str, query: Iterable[str] = (), *, purpose: str = ""
    ) -> Decision | None:
        """The refusal of one request, or None when it may be sent. ``purpose`` "identity"
        marks the identities' own login, refresh and logout requests (always allowed)."""
        method = method.upper()
        if self.allow_destructive or purpose == "identity":
            return None
        op = self.operation_for(method, url_path)
        rel = url_path
        if self.base_path and rel.startswith(self.base_path):
            rel = rel[len(self.base_path) :] or "/"
        with self._lock:
            known = set(self.identities)
        if op is not None:
            c = classify_operation(op, list(query), path=rel, identities=known)
            label = f"{op.method} {op.path}"
        else:
            c = classify(method, url_path, query=list(query), identities=known)
            label = ""
        if self.read_only and method not in SAFE_METHODS:
            return Decision(
                DecisionKind.READ_ONLY,
                method,
                url_path,
                f"{self.why_read_only}: {method} {url_path} refused",
                label,
            )
        if c.risk is Risk.DESTRUCTIVE:
            assert c.kind is not None
            return Decision(c.kind, method, url_path, c.reason, label)
        if method in SAFE_METHODS or method == "TRACE":  # TRACE changes nothing (RFC 9110)
            return None
        if c.own or self.owns_target:
            return None
        if method == "POST" and not c.item:
            return None  # a create: what it makes is battletest's own
        if not self.owned(url_path):
            return Decision(
                DecisionKind.NOT_OWNED,
                method,
                url_path,
                f"{method} {url_path} writes an object battletest did not create in this run",
                label,
            )
        return None

    def check(
        self, method: str, url_path: str, query: Iterable[str] = (), *, purpose: str = ""
    ) -> None:
        """Raise ``PolicyRefused`` (and record the decision) when the request is refused."""
        decision = self.decide(method, url_path, query, purpose=purpose)
        if decision is not None:
            self._record(decision)
            raise PolicyRefused(decision)

    def _record(self, decision: Decision) -> None:
        with self._lock:
            if decision not in self.decisions:
                self.decisions.append(decision)

    # ---------------------------------------------------------------------- owned objects

    def owned(self, url_path: str) -> bool:
        path = url_path.rstrip("/")
        with self._lock:
            return any(path == c or path.startswith(c + "/") for c in self.created)

    def note_created(self, path: str) -> None:
        path = path.rstrip("/")
        with self._lock:
            self.deleted.discard(path)  # a target may hand out a deleted object's id again
            if path in self.created:
                self.created.remove(path)
            if path:
                self.created.append(path)

    def observe(
        self, method: str, url_path: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> str | None:
        """Track an object a create answer names (``Location``, else an id in the JSON body),
        and the objects battletest deleted; the path of the created object, or None."""
        if method.upper() == "DELETE":
            if (200 <= status < 300 or status in (404, 410)) and self.owned(url_path):
                with self._lock:
                    self.deleted.add(url_path.rstrip("/"))
            return None
        if method.upper() not in {"POST", "PUT"} or not 200 <= status < 300:
            return None
        location = headers.get("location")
        if location:
            created = urlsplit(location).path
            self.note_created(created)
            return created
        if method.upper() != "POST":
            return None
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return None
        ident = _id_of(data)
        if ident is None or not self.has_item_route(url_path):
            return None
        created = url_path.rstrip("/") + "/" + ident
        self.note_created(created)
        return created

    def has_item_route(self, collection: str) -> bool:
        """Whether the spec addresses one object of the collection a POST went to:
        ``POST /calls/{id}/events`` answering ``{"id": "e1"}`` names ``/calls/c1/events/e1``
        only when some operation is on ``/calls/{id}/events/{event_id}``. An id from a POST
        that is an action (``/calls/{id}/end``) names nothing. Without a spec every POST
        counts as a create into its path."""
        if not self.operations:
            return True
        post = self.operation_for("POST", collection)
        if post is None:
            return False
        depth = len(_segments(post.path)) + 1
        return any(
            len(segs := _segments(op.path)) == depth
            and _matches(post.path, "/" + "/".join(segs[:-1]))
            and segs[-1].startswith("{")
            for op in self.operations
        )

    def may_create_by_put(self, decision: Decision | None) -> bool:
        """A PUT refused only because battletest does not own its object may still create it
        (Kinto-style create-by-PUT, ``PUT /records/{new id}``): the transport then asks with a
        GET first and sends the PUT only when that answered 404 (nothing is there to harm)."""
        return (
            decision is not None
            and decision.kind is DecisionKind.NOT_OWNED
            and decision.method == "PUT"
        )

    def leftovers(self) -> list[str]:
        """Objects battletest created and has not deleted, newest first."""
        with self._lock:
            return [c for c in reversed(self.created) if c not in self.deleted]

    def created_for(self, template: str) -> list[str]:
        """Created object paths that fit a spec path template (``/items/{id}``), newest first."""
        full = self.base_path + template
        with self._lock:
            return [c for c in reversed(self.created) if _matches(full, c)]

    def owned_params(self, template: str) -> dict[str, str]:
        """Path parameter values that point a spec path template (or its leading part) at the
        newest object battletest created: ``/items/{id}/tags`` → ``{"id": "7"}``."""
        full = _segments(self.base_path + template)
        with self._lock:
            created = [c for c in reversed(self.created) if c not in self.deleted]
        for path in created:
            segs = _segments(path)
            if len(segs) > len(full):
                continue
            prefix = "/" + "/".join(full[: len(segs)])
            if any(s.startswith("{") for s in full[: len(segs)]):
                params = path_params_of(prefix, path)
                if params:
                    return params
        return {}

    def report(self) -> list[dict[str, str]]:
        with self._lock:
            return [d.as_dict() for d in self.decisions]


def plan_requests(endpoints: Iterable[Any] = (), scenario: Any = None) -> list[tuple[str, str]]:
    """(method, path) of every request a load plan sends: its endpoints, or a TOML scenario's
    steps (setup, tasks, teardown). A Python scenario's requests cannot be known before it
    runs: ``("*", "a Python scenario")``."""
    if scenario is not None:
        tasks = getattr(scenario, "tasks", None)
        if tasks is None or not all(hasattr(t, "steps") for t in tasks):
            return [("*", "a Python scenario")]
        steps = [
            *getattr(scenario, "setup", ()),
            *getattr(scenario, "on_start", ()),
            *(step for task in tasks for step in task.steps),
            *getattr(scenario, "on_stop", ()),
            *getattr(scenario, "teardown", ()),
        ]
        return [(s.method.upper(), getattr(s.path, "source", str(s.path))) for s in steps]
    return [(str(e.method).upper(), str(e.path)) for e in endpoints]


def refuse_unsafe_plan(
    requests: Iterable[tuple[str, str]], *, why: str = "production is read-only"
) -> None:
    """Before a load run against a read-only target: a ``SafetyError`` (one line, exit 2)
    naming the first request that is not a safe read of a harmless-looking path."""
    from battletest.errors import SafetyError

    for method, path in requests:
        if method == "*":
            raise SafetyError(
                f"{why}: {path} is not run (its requests cannot be checked before it runs)",
                hint="use a TOML scenario of GET requests, or allow_destructive = true",
            )
        c = classify(method, path)
        if method not in SAFE_METHODS or c.risk is Risk.DESTRUCTIVE:
            reason = c.reason if c.risk is Risk.DESTRUCTIVE else f"{method} {path} is a write"
            raise SafetyError(
                f"{why}: the load plan is refused before it starts ({reason})",
                hint="load production with GET/HEAD/OPTIONS only, or set allow_destructive = "
                "true for this profile",
            )


def _id_of(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ID_FIELDS:
            value = data.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
        for wrapper in ("data", "item", "result", "object"):
            if isinstance(data.get(wrapper), dict):
                return _id_of(data[wrapper])
    return None


def _matches(template: str, path: str) -> bool:
    t, p = _segments(template), _segments(path)
    if len(t) != len(p):
        return False
    return all(a == b or (a.startswith("{") and a.endswith("}")) for a, b in zip(t, p, strict=True))


def path_params_of(template: str, path: str) -> dict[str, str]:
    """The values a concrete path gives a template's parameters (``{}`` when it does not fit)."""
    if not _matches(template, path):
        return {}
    return {
        a[1:-1]: b
        for a, b in zip(_segments(template), _segments(path), strict=True)
        if a.startswith("{")
    }


__all__ = [
    "DESTRUCTIVE_WORDS",
    "SAFE_METHODS",
    "USER_COLLECTIONS",
    "USER_PARAMS",
    "Classification",
    "Decision",
    "DecisionKind",
    "PolicyRefused",
    "Risk",
    "WritePolicy",
    "classify",
    "classify_operation",
    "own_profile",
    "path_params_of",
    "plan_requests",
    "refuse_unsafe_plan",
    "words",
]
