"""Unrestricted resource consumption (API4:2023): oversized and deeply nested bodies, response
time super-linear in input length, missing rate limiting and rate limits bypassed by rotating
``X-Forwarded-For``-style headers.

Every probe is bounded: one oversized body, one nested body, two lengths per input shape, a
burst of at most 100 requests, and each stops at its first proof.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import time
from dataclasses import dataclass
from typing import Any

import httpx

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
from battletest.security.framework import Outcome, Scanner, still_answers
from battletest.spec import Operation
from battletest.transport import Exchange, Inconclusive

FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "X-Client-IP", "True-Client-IP")


# answers that never reached an operation's logic (credentials, routing, method, media type)
REFUSED = frozenset({401, 403, 404, 405, 415})
SLOW_S = 0.5  # extra seconds over the working request's time that make an answer slow
SLOWER = 8  # … and how many times the benign input's extra time (linear growth is ~1x)
# a long shape is first sent at this many units: an exponential pattern (nested quantifiers)
# takes ~2^24 steps there (about a second in Python's re) and would never finish at thousands
EXPONENTIAL_UNITS = 24
BENIGN_RUN = 4  # units in a row in the benign input of the same length


@dataclass(frozen=True, slots=True)
class _Timed:
    """One timed probe: its answer (None: none within the scanner's timeout) and seconds."""

    exchange: Exchange | None
    took: float


def _timed_answer(ctx: ScanContext, probe: Probe, slot: Slot, value: str) -> _Timed:
    """Send ``value``; a probe the target did not answer within the scanner's timeout is
    timed at that timeout (its evidence), once the health probe shows the target still up."""
    t0 = time.perf_counter()
    try:
        ex = probe.send(slot, value)
    except Inconclusive:
        took = time.perf_counter() - t0
        if took < 0.9 * ctx.client.timeout:
            raise  # a malformed or cut answer, not a slow one
        if not still_answers(ctx):
            raise TargetUnreachable(
                f"no answer to a ReDoS probe within {ctx.client.timeout:g} s, and the "
                "health probe GET / got none after it",
                hint="the service may be stuck matching the probe; restart it",
            ) from None
        return _Timed(None, took)
    return _Timed(ex, time.perf_counter() - t0)


def _slow(timed: _Timed, base: float) -> bool:
    """Unanswered within the scanner's timeout, or ``SLOW_S`` over the working request."""
    return timed.exchange is None or timed.took - base >= SLOW_S


def _benign(entry: dict[str, Any], length: int) -> str:
    """The shape with its runs broken every ``BENIGN_RUN`` units by a separator it does not
    use, ``length`` long: the same characters and tail, nothing a pattern can backtrack far
    on (``aaaa-aaaa-…!`` for ``aaaa…!``)."""
    head, unit, tail = str(entry["head"]), str(entry["unit"]), str(entry["tail"])
    sep = next(c for c in "-~#" if c not in head + unit + tail)
    core = (unit * BENIGN_RUN + sep) * (length // (len(unit) * BENIGN_RUN) + 1)
    return head + core[: max(length - len(head) - len(tail), 0)] + tail


def _confirm_slow(
    ctx: ScanContext,
    probe: Probe,
    slot: Slot,
    entry: dict[str, Any],
    value: str,
    first: _Timed,
    base: float,
) -> tuple[Exchange, str] | None:
    """A slow answer to ``value`` checked against a benign input of the same length and sent
    again: (the evidence exchange, the note) when both sends were slow and far slower than
    the benign one, else None."""
    harmless = _benign(entry, len(value))
    benign = _timed_answer(ctx, probe, slot, harmless)
    if benign.exchange is None:
        return None  # the benign input is slow too: the operation is, not the pattern
    again = _timed_answer(ctx, probe, slot, value)
    extra = max(benign.took - base, 0.01)
    slowest = min(first.took, again.took) - base
    if not _slow(again, base) or slowest < SLOWER * extra:
        return None

    def said(t: _Timed) -> str:
        if t.exchange is None:
            return f"no answer within {ctx.client.timeout:g} s"
        return f"HTTP {t.exchange.status} in {t.took:.3f} s"

    timed_out = first.exchange is None or again.exchange is None
    note = (
        f"length {len(value)}: {said(first)}, then {said(again)}; a benign input of the same "
        f"length: {said(benign)} (the working request: {base:.3f} s)"
        + ("; the health probe GET / answered after each unanswered probe" if timed_out else "")
    )
    shown = again.exchange or first.exchange
    if shown is None:  # both unanswered: the benign exchange with the probe's value in it
        assert benign.exchange is not None
        shown = _with_value(benign.exchange, harmless, value, slot, probe.media)
    return shown, note


def _with_value(ex: Exchange, benign: str, value: str, slot: Slot, media: str) -> Exchange:
    """The exchange ``ex`` as the unanswered probe sent it: ``value`` where ``benign`` was
    (encoded as that location encodes it), no status and no body (nothing came back)."""
    from urllib.parse import quote, quote_plus

    def encoded(text: str) -> str:
        if slot.location == "query" or (slot.location == "form" and media == "form"):
            return quote_plus(text)
        return quote(text, safe="") if slot.location == "path" else text.strip()

    benign, value = encoded(benign), encoded(value)
    return dataclasses.replace(
        ex,
        url=ex.url.replace(benign, value),
        request_body=ex.request_body.replace(benign.encode(), value.encode()),
        request_headers=[(k, v.replace(benign, value)) for k, v in ex.request_headers],
        status=0,
        response_headers=httpx.Headers(),
        response_body=b"",
    )


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
        and processed) instead of 413; inconclusive when the small one is refused (401, 403
        but on the login, 404, 405, 415: it never reached the operation)."""
        probe = _body_probe(ctx)
        if isinstance(probe, str):
            return Outcome.inconclusive(probe)
        size = ctx.settings.oversized_body_kib * 1024
        small = {**(probe.body or {}), "bt_padding": "x" * 16}
        big = {**(probe.body or {}), "bt_padding": "x" * size}
        normal = _raw(probe, json.dumps(small))
        refused = REFUSED - ({401, 403} if probe.op == ctx.login_op() else set())
        if normal is not None and normal.status in refused:
            # refused before the operation's logic (a login's 401 is its logic's answer): the
            # same refusal to a big body shows nothing about whether it would be read
            return Outcome.inconclusive(
                f"a normal body was refused (HTTP {normal.status}): no answer reached the "
                "operation to compare with"
            )
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
            "normal body: the service took it whole instead of refusing it with 413",
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
        """Sends each text parameter the shapes of ``payloads/redos.json`` at rising lengths
        (24 units first for a long shape: an exponential pattern is slow there and would
        never answer at thousands); the first answer over 0.5 s, or none within the scanner's
        timeout, is compared with a benign input of the same length and sent again: reported
        when it stays slow (or unanswered) and at least 8x the benign one's extra time, while
        the health probe answers after each unanswered probe."""
        assert op is not None

        def test(probe: Probe, slot: Slot) -> Proof | None:
            if slot.numeric:
                return None
            base = probe.base.elapsed_s if probe.base else 0.0
            sent: set[str] = set()
            for entry in payloads("redos", "shapes", ctx.settings.depth):
                n = int(entry["length"])
                units = ([EXPONENTIAL_UNITS] if n > EXPONENTIAL_UNITS else []) + [n, 4 * n]
                for count in units:
                    value = entry["head"] + entry["unit"] * count + entry["tail"]
                    if value in sent:
                        continue
                    sent.add(value)
                    first = _timed_answer(ctx, probe, slot, value)
                    if not _slow(first, base):
                        continue
                    # slow, confirmed or not: no longer input goes to this point (against an
                    # exponential pattern it would never finish)
                    proof = _confirm_slow(ctx, probe, slot, entry, value, first, base)
                    if proof is None:
                        return None
                    title = f"Super-linear response time in {slot.label} ({entry['name']})"
                    return proof[0], title, proof[1]
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
