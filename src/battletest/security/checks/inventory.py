"""Improper inventory management (API9:2023): endpoints that answer but are not in the spec."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from battletest.results import Severity
from battletest.security.checks.common import signature
from battletest.security.context import ScanContext
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation, path_matches


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
        "document and protect them.",
    )
    def undocumented(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Requests each path of the shipped wordlist (under ``/`` and the spec's common prefix)
        without credentials; reported when it answers 2xx twice with a body unlike the answer
        to a random missing path (so catch-all routes are not findings) and the spec does not
        list it."""
        findings = []
        for prefix in prefixes(ctx):
            missing = ctx.send("GET", f"{prefix}/battletest-missing-{ctx.rng.randrange(10**9)}")
            soft404 = signature(missing) if missing.ok else None
            for cand in wordlist(ctx.settings.budget.inventory_paths):
                path = prefix + cand.path
                if prefix and cand.path.startswith(prefix + "/"):
                    continue
                if ctx.in_spec(path) or any(path_matches(path, g) for g in ctx.settings.exclude):
                    continue
                ex = ctx.send("GET", path)
                if not ex.ok or (soft404 is not None and signature(ex) == soft404):
                    continue
                if not ctx.send("GET", path).ok:
                    continue
                findings.append(
                    ctx.finding(
                        None,
                        ex,
                        path=path,
                        severity=cand.severity,
                        title=f"Undocumented {cand.kind} endpoint answers: GET {path}",
                        note=f"HTTP {ex.status} for a path absent from the OpenAPI document",
                    )
                )
        return Outcome.found(*findings)
