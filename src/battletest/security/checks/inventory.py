"""Improper inventory management (API9:2023): endpoints that answer but are not in the spec.

Candidates come from a shipped wordlist (debug, admin, actuator, backup paths) and from the spec
itself: parents and siblings of documented paths, the same paths under other API versions, and
documented collections under other prefixes (``/internal``, ``/admin``, ``/api``…). A candidate
the write policy's classifier calls destructive is never requested unless destructive work is
allowed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from battletest.results import Severity
from battletest.security.checks.common import readable, signature
from battletest.security.context import ScanContext, ScanIdentity
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation, path_matches
from battletest.transport import Risk, classify


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str
    severity: Severity
    kind: str


def wordlist(limit: int) -> list[Candidate]:
    """The shipped list of debug/admin/actuator/console/backup/environment paths."""
    text = resources.files("battletest.security").joinpath("data/inventory-paths.txt").read_text()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        path, severity, kind = line.split("\t")
        out.append(Candidate(path, Severity(severity), kind))
    return out[:limit]


def prefixes(ctx: ScanContext) -> list[str]:
    """'' plus a version or api prefix most spec paths share (``/v2``, ``/api``)."""
    counts: dict[str, int] = {}
    for op in ctx.all_operations:
        m = re.match(r"^(/(?:api|v\d+|api/v\d+))(/|$)", op.url_path)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return ["", *sorted(counts, key=lambda k: -counts[k])[:1]]


_VERSION = re.compile(r"(?<=/)v(\d+)(?=/|$)")
# prefixes an API hides internal or privileged twins of its documented collections under
OTHER_PREFIXES = ("/internal", "/admin", "/private", "/api", "/api/internal", "/beta")


def spec_candidates(ctx: ScanContext) -> list[tuple[str, str, ScanIdentity | None]]:
    """(kind, path, identity) suggested by the documented paths, most telling first: other API
    versions of readable paths (filled with the identity's own ids), documented collections
    under other prefixes, siblings (a leaf documented under one collection tried under the
    others) and parents. Sent as the identity that reads the documented path."""
    documented = [op.url_path for op in ctx.all_operations]
    versions = sorted({int(m.group(1)) for p in documented for m in _VERSION.finditer(p)})
    out: list[tuple[str, str, ScanIdentity | None]] = []
    for op, path, who in readable(ctx):
        for m in _VERSION.finditer(op.url_path):
            n = int(m.group(1))
            for other in dict.fromkeys([n - 1, n + 1, *versions]):
                if other >= 0 and other != n:
                    out.append(
                        ("older or newer API version", _VERSION.sub(f"v{other}", path, 1), who)
                    )
        if not op.path_params:
            root = re.match(r"^(/(?:api/)?v\d+)(?=/)", op.url_path)
            rest = path[len(root.group(1)) :] if root else path  # with its query
            for prefix in OTHER_PREFIXES:
                for under in dict.fromkeys([prefix, (root.group(1) if root else "") + prefix]):
                    out.append(("collection under another prefix", under + rest, who))
    statics = [p for p in documented if "{" not in p]
    # actions and sub-resources (/v2/orders/export) tried under the other collections
    leaves = list(dict.fromkeys(p.rsplit("/", 1)[1] for p in statics if p.count("/") >= 3))
    parents = list(dict.fromkeys(p for p in statics if p.count("/") >= 2))
    who = ctx.identities[0] if ctx.identities else None
    for parent in parents:
        for leaf in leaves:
            out.append(("sibling of a documented path", f"{parent}/{leaf}", who))
    for p in documented:
        segments = p.split("/")
        for i in range(len(segments) - 1, 1, -1):
            parent = "/".join(segments[:i])
            if "{" not in parent and not re.fullmatch(r"(/api)?(/v\d+)?", parent):
                out.append(("parent of a documented path", parent, who))
    # one of each kind in turn, so a budget cut leaves every kind some candidates
    by_kind: dict[str, list[tuple[str, str, ScanIdentity | None]]] = {}
    seen: set[str] = set()
    static = set(statics)
    for entry in out:
        bare = entry[1].split("?", 1)[0]
        # a sibling (/users/export beside /users/{id}) is judged against the static paths only:
        # the item route would otherwise claim it
        known = bare in static if entry[0].startswith("sibling") else ctx.in_spec(bare)
        if entry[1] not in seen and not known:
            seen.add(entry[1])
            by_kind.setdefault(entry[0], []).append(entry)
    lanes = list(by_kind.values())
    return [
        lane[i] for i in range(max(map(len, lanes), default=0)) for lane in lanes if i < len(lane)
    ]


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="undocumented-endpoint",
        title="Endpoint answers but is not in the API inventory",
        owasp="API9:2023",
        cwe="CWE-1059",
        severity=Severity.MEDIUM,
        group="inventory",
        phase=25,
        remediation="Remove debug, admin and backup endpoints from production builds, or "
        "document and protect them; retire old API versions.",
    )
    def undocumented(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Requests each path of the shipped wordlist (under ``/`` and the spec's common prefix)
        without credentials, and the candidates the spec suggests (other versions, other
        prefixes, siblings, parents) as the identity that reads the documented path; reported
        when it answers 2xx twice with a body unlike the answer to a random missing path (so
        catch-all routes are not findings) and the spec does not list it. Candidates the
        classifier calls destructive are skipped unless destructive work is allowed."""
        findings = []
        skipped: list[str] = []
        budget = ctx.settings.budget.inventory_paths
        # (soft-404 prefix, path, identity, severity, kind, from the wordlist)
        plan: list[tuple[str, str, ScanIdentity | None, Severity, str, bool]] = []
        for prefix in prefixes(ctx):
            for cand in wordlist(budget):
                if prefix and cand.path.startswith(prefix + "/"):
                    continue
                plan.append((prefix, prefix + cand.path, None, cand.severity, cand.kind, True))
        derived = spec_candidates(ctx)[:budget]
        for kind, path, who in derived:
            severity = Severity.LOW if kind.startswith("parent") else Severity.MEDIUM
            plan.append(("", path, who, severity, kind, False))  # undocumented already
        soft404: dict[tuple[str, str | None], tuple[int, str] | None] = {}
        for prefix, path, who, severity, kind, listed in plan:
            bare = path.split("?", 1)[0]
            if listed and ctx.in_spec(bare):
                continue
            if any(path_matches(bare, g) for g in ctx.settings.exclude):
                continue
            if (
                not ctx.settings.allow_destructive
                and classify("GET", bare).risk is Risk.DESTRUCTIVE
            ):
                skipped.append(bare)
                continue
            key = (prefix or _dir(bare), who.name if who else None)
            if key not in soft404:
                missing = ctx.send(
                    "GET", f"{key[0]}/battletest-missing-{ctx.rng.randrange(10**9)}", who
                )
                soft404[key] = signature(missing) if missing.ok else None
            ex = ctx.send("GET", path, who)
            if not ex.ok or (soft404[key] is not None and signature(ex) == soft404[key]):
                continue
            if not ctx.send("GET", path, who).ok:
                continue
            findings.append(
                ctx.finding(
                    None,
                    ex,
                    path=bare,
                    severity=severity,
                    title=f"Undocumented {kind} endpoint answers: GET {bare}",
                    note=f"HTTP {ex.status} for a path absent from the OpenAPI document"
                    + (f" (as {who.name})" if who else ""),
                )
            )
        reason = (
            f"{len(skipped)} candidates not requested: the classifier calls them destructive "
            f"(e.g. {skipped[0]}; --allow-destructive sends them)"
            if skipped
            else ""
        )
        return Outcome.found(*findings, reason=reason)


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0] if path.count("/") >= 2 else ""
