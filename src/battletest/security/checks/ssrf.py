"""Server-side request forgery (API7:2023): URL-like parameters pointed at the scan's canary.

The scanner runs a loopback listener (``battletest.security.canary``) for the scan; each URL-like
parameter gets a canary URL with a path unique to that operation and parameter. A request
reaching the canary on that path is the proof — it names the operation that fetched it.
"""

from __future__ import annotations

import re
import time

from battletest.results import Finding, Severity
from battletest.security.checks.inject import Probe, Slot, base_request, injectable
from battletest.security.context import ScanContext
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation

URL_NAMES = re.compile(
    r"(url|uri|link|href|callback|webhook|endpoint|redirect|image|avatar|feed|fetch|remote)",
    re.I,
)


def url_like(op: Operation) -> list[str]:
    """Names of parameters and body properties that carry a URL (by format or by name)."""
    names = [
        p.name
        for p in op.parameters
        if p.location in {"query", "header"}
        and (p.schema.get("format") in {"uri", "url"} or URL_NAMES.search(p.name))
    ]
    names += [
        n
        for n, s in op.body_properties().items()
        if s.get("format") in {"uri", "url"} or URL_NAMES.search(n)
    ]
    return names


def applies(ctx: ScanContext, op: Operation) -> bool:
    return injectable(ctx, op) and bool(url_like(op))


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="ssrf",
        title="Server-side request forgery",
        owasp="API7:2023",
        cwe="CWE-918",
        severity=Severity.HIGH,
        group="ssrf",
        applies=applies,
        phase=62,
        remediation="Fetch only from an allow-list of hosts (resolved and checked after "
        "redirects), never from a URL the caller chooses; block loopback and link-local "
        "addresses.",
    )
    def ssrf(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sets each URL-like parameter (``format: uri`` or a name such as url, callback,
        webhook, image) to a loopback canary URL with a unique path; reported when the canary
        receives a request on that path."""
        assert op is not None
        probe = base_request(ctx, op)
        if isinstance(probe, str):
            return Outcome.inconclusive(probe)
        wanted = set(url_like(op))
        slots = [s for s in probe.slots if s.name in wanted or _url_leaf(s)]
        if not slots:
            return Outcome.inconclusive("the URL-like parameters could not be filled")
        findings = [f for f in (_try(ctx, op, probe, s) for s in slots) if f is not None]
        return Outcome.found(*findings)


def _url_leaf(slot: Slot) -> bool:
    """A nested body property named like a URL (``profile.avatar_url``)."""
    leaf = slot.name.rsplit(".", 1)[-1]
    return slot.location in {"body", "form"} and "." in slot.name and bool(URL_NAMES.search(leaf))


def _try(ctx: ScanContext, op: Operation, probe: Probe, slot: Slot) -> Finding | None:
    canary = ctx.canary()
    path = f"/bt-ssrf/{ctx.rng.randrange(10**9):09d}/latest/meta-data"
    url = canary.serve(path, {"battletest": "canary", "path": path})
    ex = probe.send(slot, url)
    deadline = time.monotonic() + ctx.settings.canary_wait_s
    while not canary.hits_for(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    hits = canary.hits_for(path)
    if not hits:
        return None
    return ctx.finding(
        op,
        ex,
        parameter=slot.label,
        title=f"SSRF: {slot.label} makes the server fetch any URL",
        note=f"the canary at {canary.base_url} received {hits[0].method} {hits[0].path}",
        extra={"canary_hit": f"{hits[0].method} {hits[0].path}"},
    )
