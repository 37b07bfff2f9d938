"""Unrestricted resource consumption (API4:2023): oversized and deeply nested bodies, response
time super-linear in input length, missing rate limiting and rate limits bypassed by rotating
``X-Forwarded-For``-style headers.

Every probe is bounded: one oversized body, one nested body, two lengths per input shape, a
burst of at most 100 requests, and each stops at its first proof.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from battletest.errors import TargetUnreachable
from battletest.results import Severity
from battletest.security.checks.common import readable
from battletest.security.checks.inject import (
    Probe,
    Proof,
    Slot,
    base_request,
    each_finding,
    ends_session,
    injectable,
    payloads,
)
from battletest.security.context import ScanContext
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation
from battletest.transport import Exchange

FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "X-Client-IP", "True-Client-IP")


def _body_probe(ctx: ScanContext) -> Probe | str:
    """A working POST with a JSON body: the login operation first (no identity needed)."""
    candidates = [
        op
        for op in ctx.operations
        if op.method == "POST" and op.body_properties() and not ends_session(op)
    ]
    login = ctx.login_op()
    if login is not None and login in candidates:
        candidates.remove(login)
        candidates.insert(0, login)
    reason = "no POST operation with a JSON body"
    for op in candidates[:3]:
        probe = base_request(ctx, op)
        if not isinstance(probe, str):
            return probe
        reason = probe
    return reason


def _raw(probe: Probe, content: str) -> Exchange | None:
    """POST ``content`` as the probe's body; ``None`` when the server hung up on it."""
    path = probe.op.fill(probe.path_values) or probe.op.url_path
    try:
        return probe.ctx.send(
            probe.op.method,
            path,
            probe.identity,
            headers={**probe.headers, "Content-Type": "application/json"},
            content=content,
        )
    except TargetUnreachable:
        return None


def _rejected(ex: Exchange | None) -> bool:
    return ex is None or ex.status in {400, 413, 431}


def _sample_op(ctx: ScanContext, op: Operation) -> bool:
    """The operation the rate-limit checks burst: ``rate_limit_path`` or the first readable."""
    wanted = ctx.settings.rate_limit_path
    if wanted:
        return op.method == "GET" and op.url_path == wanted
    first = readable(ctx, 1)
    return bool(first) and first[0][0] is op


def _promised(ctx: ScanContext) -> str | None:
    if ctx.settings.rate_limit is None:
        return "no promised rate limit: set [security] rate_limit (requests per second)"
    return None


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="body-size",
        title="Oversized request body accepted",
        owasp="API4:2023",
        cwe="CWE-770",
        severity=Severity.MEDIUM,
        group="resources",
        phase=80,
        remediation="Reject bodies above a limit (413) before reading them: in the reverse "
        "proxy (client_max_body_size) or a middleware checking Content-Length and the stream.",
    )
    def body_size(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends one valid body padded to ``oversized_body_kib`` and the same body with a
        16-byte pad; reported when the big one gets the same answer as the small one (read
        and processed) instead of 413."""
        probe = _body_probe(ctx)
        if isinstance(probe, str):
            return Outcome.inconclusive(probe)
        size = ctx.settings.oversized_body_kib * 1024
        small = {**(probe.body or {}), "bt_padding": "x" * 16}
        big = {**(probe.body or {}), "bt_padding": "x" * size}
        normal = _raw(probe, json.dumps(small))
        ex = _raw(probe, json.dumps(big))
        if normal is None or _rejected(ex) or ex is None or ex.status != normal.status:
            answer = "the connection was closed" if ex is None else f"HTTP {ex.status}"
            return Outcome.clean(f"a {size // 1024} KiB body was refused ({answer})")
        finding = ctx.finding(
            probe.op,
            ex,
            parameter="body",
            title=f"{ctx.settings.oversized_body_kib} KiB request body accepted on {probe.op.key}",
            note=f"a {size // 1024} KiB body got HTTP {ex.status}, the same answer as a "
            "normal body: it was read and parsed, not refused with 413",
        )
        small_json = json.dumps(small).replace("'", "")
        finding.reproduce = (
            f"python3 -c 'import json; d = json.loads({small_json!r}); "
            f'd["bt_padding"] = "x" * {size}; print(json.dumps(d))\' | '
            f"curl -i -X {probe.op.method} -H 'Content-Type: application/json' "
            f"--data-binary @- {shlex.quote(ex.url)}"
        )
        return Outcome.found(finding)

    @scanner.check(
        id="nested-json",
        title="Deeply nested JSON crashes the server",
        owasp="API4:2023",
        cwe="CWE-674",
        severity=Severity.MEDIUM,
        group="resources",
        phase=80,
        remediation="Limit JSON nesting depth in the parser (or reject bodies deeper than a "
        "few dozen levels) and answer 400, not 5xx.",
    )
    def nested_json(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends one body nested ``nesting_depth`` arrays deep under a declared property;
        reported when the server answers 5xx to it twice while the normal body works."""
        probe = _body_probe(ctx)
        if isinstance(probe, str):
            return Outcome.inconclusive(probe)
        depth = ctx.settings.nesting_depth
        name = next(iter(probe.body or {}), "bt_nested")
        head = json.dumps({k: v for k, v in (probe.body or {}).items() if k != name})[:-1]
        doc = head + ("," if len(head) > 1 else "") + json.dumps(name) + ":"
        doc += "[" * depth + "]" * depth + "}"
        ex = _raw(probe, doc)
        if ex is None or ex.status < 500:
            return Outcome.clean(f"{depth} levels: {'closed' if ex is None else ex.status}")
        again = _raw(probe, doc)
        if again is None or again.status < 500:
            return Outcome.clean("the 5xx did not repeat")
        return Outcome.found(
            ctx.finding(
                probe.op,
                ex,
                parameter=f"body {name}",
                note=f"a body nested {depth} levels deep gets HTTP {ex.status}, twice",
            )
        )

    @scanner.check(
        id="redos",
        title="Response time super-linear in input length",
        owasp="API4:2023",
        cwe="CWE-1333",
        severity=Severity.MEDIUM,
        group="resources",
        applies=injectable,
        phase=81,
        remediation="Use linear-time matching (RE2-style engines, no nested quantifiers) and "
        "bound input length before matching.",
    )
    def redos(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends each text parameter the shapes of ``payloads/redos.json`` at length n and 4n;
        reported when the longer input takes over 0.5 s and at least 8x the shorter one's
        extra time (linear would be 4x), on two rounds."""
        assert op is not None

        def test(probe: Probe, slot: Slot) -> Proof | None:
            if slot.numeric:
                return None
            base = probe.base.elapsed_s if probe.base else 0.0
            for entry in payloads("redos", "shapes", ctx.settings.depth):
                n = int(entry["length"])
                short = entry["head"] + entry["unit"] * n + entry["tail"]
                long = entry["head"] + entry["unit"] * (4 * n) + entry["tail"]
                shorts, longs = [], []
                ex: Exchange | None = None
                for _ in range(2):  # both long answers must be slow: the faster one counts
                    shorts.append(probe.timed(slot, short)[1])
                    ex, took = probe.timed(slot, long)
                    longs.append(took)
                    if took - base < 0.5:
                        break
                extra_short = max(min(shorts) - base, 0.01)
                slow = len(longs) == 2 and min(longs) - base >= 0.5
                rounds = [(round(a, 3), round(b, 3)) for a, b in zip(shorts, longs, strict=False)]
                if slow and min(longs) - base >= 8 * extra_short and ex is not None:
                    return (
                        ex,
                        f"Super-linear response time in {slot.label} ({entry['name']})",
                        f"lengths {len(short)} / {len(long)}: answer times {rounds} s "
                        f"(normal {round(base, 3)} s)",
                    )
            return None

        return each_finding(ctx, op, test)

    # the two burst checks: run on a sampled operation, only when a rate limit is promised
    burst: dict[str, Any] = {
        "owasp": "API4:2023",
        "severity": Severity.MEDIUM,
        "group": "resources",
        "applies": _sample_op,
        "requires": _promised,
    }

    @scanner.check(
        id="rate-limit",
        title="No rate limiting",
        cwe="CWE-770",
        **burst,
        phase=95,
        remediation="Limit requests per client (429 with Retry-After) at the gateway or in a "
        "middleware, keyed on the authenticated identity or the connection's address.",
    )
    def rate_limit(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Runs only when ``rate_limit`` (the requests per second the API promises per
        client) is set: sends a burst of twice that (at most 100) and expects a 429; reported
        when none comes. Stops at the first 429."""
        assert op is not None
        result = _burst(ctx, op, {})
        if isinstance(result, str):
            return Outcome.inconclusive(result)
        sent, ex, limited = result
        if limited:
            return Outcome.clean(f"429 after {sent} requests")
        return Outcome.found(
            ctx.finding(
                op,
                ex,
                note=f"{sent} requests in a burst, none answered 429 (promised limit "
                f"{ctx.settings.rate_limit}/s)",
                extra={"requests": sent},
            )
        )

    @scanner.check(
        id="rate-limit-bypass",
        title="Rate limit bypassed by rotating forwarding headers",
        cwe="CWE-348",
        **burst,
        phase=96,
        remediation="Key the limiter on the connection's address or the identity; trust "
        "X-Forwarded-For only from your own proxies (and only their last hop).",
    )
    def rate_limit_bypass(ctx: ScanContext, op: Operation | None) -> Outcome:
        """After a burst reaches 429, sends as many requests again, each with a new address
        in X-Forwarded-For, X-Real-IP, X-Client-IP and True-Client-IP; reported when they all
        pass. Stops at the first 429."""
        assert op is not None
        result = _burst(ctx, op, {})
        if isinstance(result, str):
            return Outcome.inconclusive(result)
        _, _, limited = result
        if not limited:
            return Outcome.inconclusive("no 429 to bypass (see rate-limit)")
        wanted = _budget(ctx)
        last: Exchange | None = None
        for i in range(wanted):
            address = f"10.{ctx.rng.randrange(256)}.{i // 256}.{i % 256 + 1}"
            headers = {h: address for h in FORWARDING_HEADERS}
            got = _send_sample(ctx, op, headers)
            if isinstance(got, str):
                return Outcome.inconclusive(got)
            if got.status == 429:
                return Outcome.clean(f"429 again after {i} rotated requests")
            last = got
        assert last is not None
        return Outcome.found(
            ctx.finding(
                op,
                last,
                parameter=", ".join(FORWARDING_HEADERS),
                note=f"after a 429, {wanted} requests with rotated forwarding headers all passed",
            )
        )


def _budget(ctx: ScanContext) -> int:
    return min(100, 2 * int(ctx.settings.rate_limit or 0) + 5)


def _send_sample(ctx: ScanContext, op: Operation, headers: dict[str, str]) -> Exchange | str:
    probe = base_request(ctx, op)
    if isinstance(probe, str):
        return probe
    path = probe.op.fill(probe.path_values) or op.url_path
    if probe.query:
        from urllib.parse import urlencode

        path += "?" + urlencode(probe.query)
    return ctx.send(  # a 429 is this check's answer: the transport hands it back, unretried
        "GET", path, probe.identity, headers={**probe.headers, **headers}, purpose="rate_probe"
    )


def _burst(
    ctx: ScanContext, op: Operation, headers: dict[str, str]
) -> tuple[int, Exchange, bool] | str:
    """Up to ``_budget`` requests back to back; stops at the first 429 (cached per scan)."""
    cached: Any = ctx.state.get("burst")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    last: Exchange | str = "no request sent"
    sent = 0
    for _ in range(_budget(ctx)):
        last = _send_sample(ctx, op, headers)
        if isinstance(last, str):
            return last
        sent += 1
        if last.status == 429:
            break
    assert not isinstance(last, str)
    result = (sent, last, last.status == 429)
    ctx.state["burst"] = result
    return result
