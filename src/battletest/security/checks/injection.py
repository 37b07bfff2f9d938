"""Injection (reported under API8:2023, the OWASP API list's home for injection): SQL injection
per technique (error, boolean, time, UNION), OS command, template and NoSQL operator injection.

Every check sends payloads from ``battletest/security/payloads/`` into each injection point of
an operation (``inject.Slot``) and reports only what it proved: a database error signature
absent from the normal answer (twice), a true/false pair whose answers differ the same way
twice, a delay that repeats and scales with the requested one, a marker only the database,
the shell or the template engine could have computed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from battletest.results import Severity
from battletest.security.checks.inject import (
    Probe,
    Proof,
    Slot,
    each_finding,
    fill,
    injectable,
    payload_file,
    payloads,
)
from battletest.security.context import ScanContext
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation
from battletest.transport import Exchange

SQLI_FIX = (
    "Use bound parameters (placeholders) for every value in a query; never build SQL by string "
    "formatting. Map database errors to a generic error response."
)


@cache
def db_signatures() -> dict[str, list[re.Pattern[str]]]:
    raw: dict[str, list[str]] = payload_file("sqli")["signatures"]
    return {db: [re.compile(p) for p in pats] for db, pats in raw.items()}


def error_signature(text: str) -> tuple[str, str] | None:
    """The database and the matched text of the first SQL error signature in ``text``."""
    for db, patterns in db_signatures().items():
        for pattern in patterns:
            m = pattern.search(text)
            if m:
                return db, m.group(0)
    return None


def quoted(payload: str) -> bool:
    return "'" in payload or '"' in payload


def fits(slot: Slot, payload: str) -> bool:
    """Quote-breaking payloads for text values, bare ones for numbers (both for digits)."""
    if slot.numeric:
        return not quoted(payload)
    return quoted(payload) or slot.value.isdigit()


# A word with a digit in it (an id, a time, a counter) or a long token, collapsed whole so that
# its length cannot vary. ``normalise`` turns each digit run into "<n>": a random id such as
# key_65c5180472c9 then has a length that depends on how its digits fall, and two true/false
# answers differing only in the ids the service gave them looked like a boolean SQL injection
# (on a create answering a random id: 300 answers held 18 shapes, 0.6% per payload pair).
_VOLATILE_WORD = re.compile(r"[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*|[A-Za-z0-9_-]{24,}")


def stable_length(text: str) -> int:
    """The length of ``text`` with each volatile word (``_VOLATILE_WORD``) counted as one."""
    return len(_VOLATILE_WORD.sub("0", text))


def shape(value: Any) -> Any:
    """A JSON value's structure: keys, list lengths and members in any order, string lengths
    (volatile words collapsed)."""
    if isinstance(value, dict):
        # an operator key ($ne, $eq…) echoed back is the payload itself, not a result
        keys = ["$" if str(k).startswith("$") else str(k) for k in value]
        return tuple(sorted(zip(keys, (shape(v) for v in value.values()), strict=True)))
    if isinstance(value, list):
        # in any order: a service that serialises a set (Kinto's permission principals) lists
        # the same members in an order that follows their hashes, which differ by payload
        return tuple(sorted((shape(v) for v in value), key=repr))
    if isinstance(value, str):
        return ("s", stable_length(value))
    return type(value).__name__


def answer(ex: Exchange) -> tuple[int, Any]:
    """What a true/false pair is compared on. The payloads of a pair have equal length, so a
    reflected payload (raw, escaped or encoded alike) cannot make two answers differ: JSON is
    compared by structure and string lengths, other bodies by length, each with the words
    that hold a digit (ids, tokens, times) collapsed."""
    body = ex.json()
    if body is not None:
        return ex.status, shape(body)
    return ex.status, stable_length(ex.text)


def differs_consistently(
    probe: Probe, slot: Slot, true_value: Any, false_value: Any
) -> Exchange | None:
    """Send the true and false values twice each: the proof is that the two answers differ and
    each answer repeats."""
    t1 = probe.send(slot, true_value)
    f1 = probe.send(slot, false_value)
    if answer(t1) == answer(f1) or (t1.status >= 500 and f1.status >= 500):
        return None
    t2 = probe.send(slot, true_value)
    f2 = probe.send(slot, false_value)
    if answer(t2) != answer(t1) or answer(f2) != answer(f1):
        return None
    return t1


def delay_scales(
    probe: Probe, slot: Slot, make: Callable[[int], str], delay: int
) -> tuple[Exchange, list[float]] | None:
    """A delay that appears with the payload, doubles with the requested delay and repeats."""
    _, first = probe.timed(slot, make(delay))
    base = probe.base.elapsed_s if probe.base else 0.0
    if first < base + 0.8 * delay:
        return None
    _, again = probe.timed()
    base = max(base, again)
    if first < base + 0.8 * delay:
        return None
    ex2, double = probe.timed(slot, make(2 * delay))
    if double < base + 1.6 * delay or double < first + 0.5 * delay:
        return None
    _, third = probe.timed(slot, make(delay))
    if third < base + 0.8 * delay or third > double:
        return None
    return ex2, [round(base, 3), round(first, 3), round(double, 3), round(third, 3)]


def _marker_pair(ctx: ScanContext) -> tuple[int, int]:
    return ctx.rng.randrange(1000, 9999), ctx.rng.randrange(100, 999)


def computed(
    probe: Probe, slot: Slot, template: str, prefix: str = "", suffix: str = ""
) -> Exchange | None:
    """The product of two random numbers appears only when the payload was evaluated; a second
    pair of numbers must be evaluated too."""
    ex: Exchange | None = None
    for _ in range(2):
        a, b = _marker_pair(probe.ctx)
        value = slot.value + fill(template, A=a, B=b)
        marker = f"{prefix}{a * b}{suffix}"
        got = probe.send(slot, value)
        if marker not in got.text or marker in value or (probe.base and marker in probe.base.text):
            return None
        ex = ex or got
    return ex


def register(scanner: Scanner) -> None:
    common: dict[str, Any] = {
        "owasp": "API8:2023",
        "applies": injectable,
        "phase": 60,
    }
    # the four SQL injection techniques: one weakness, one group, one fix
    sqli: dict[str, Any] = {**common, "cwe": "CWE-89", "group": "sqli", "remediation": SQLI_FIX}

    @scanner.check(
        id="sqli-error",
        title="SQL injection (error-based)",
        severity=Severity.HIGH,
        **sqli,
    )
    def sqli_error(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Appends quote-breaking payloads to each parameter; reported when an SQLite,
        PostgreSQL, MySQL, MSSQL or Oracle error signature appears that the normal answer
        lacks, and appears again on a second send."""

        def test(probe: Probe, slot: Slot) -> Proof | None:
            normal = probe.base.text if probe.base else ""
            for entry in payloads("sqli", "error", ctx.settings.depth):
                if not fits(slot, entry["payload"]) and not slot.numeric:
                    continue
                value = slot.value + entry["payload"]
                ex = probe.send(slot, value)
                found = error_signature(ex.text)
                if found is None or error_signature(normal):
                    continue
                again = error_signature(probe.send(slot, value).text)
                if again is None or again[0] != found[0]:
                    continue
                return (
                    ex,
                    f"SQL injection (error-based, {found[0]}) in {slot.label}",
                    f"{found[0]} error signature {found[1]!r} after appending "
                    f"{entry['payload']!r}; absent from the normal answer",
                )
            return None

        return each_finding(ctx, op, test)

    @scanner.check(
        id="sqli-boolean",
        title="SQL injection (boolean-based)",
        severity=Severity.HIGH,
        **sqli,
    )
    def sqli_boolean(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends true/false condition pairs of equal length (``' OR 'a'='a' -- `` against
        ``' OR 'a'='b' -- ``); reported when the two answers differ and each repeats on a
        second round."""

        def test(probe: Probe, slot: Slot) -> Proof | None:
            for entry in payloads("sqli", "boolean", ctx.settings.depth):
                if not fits(slot, entry["true"]):
                    continue
                t, f = slot.value + entry["true"], slot.value + entry["false"]
                ex = differs_consistently(probe, slot, t, f)
                if ex is not None:
                    return (
                        ex,
                        f"SQL injection (boolean-based) in {slot.label}",
                        f"{entry['true']!r} and {entry['false']!r} give different answers, "
                        "the same on a second round",
                    )
            return None

        return each_finding(ctx, op, test)

    @scanner.check(
        id="sqli-time",
        title="SQL injection (time-based)",
        severity=Severity.HIGH,
        **sqli,
    )
    def sqli_time(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Appends database sleep calls (pg_sleep, SLEEP, WAITFOR DELAY, DBMS_PIPE); reported
        when the answer is late by the requested delay, later by twice the delay when asked
        for twice, and late again on a repeat."""
        assert op is not None
        delay = ctx.settings.time_delay_s

        def test(probe: Probe, slot: Slot) -> Proof | None:
            for entry in payloads("sqli", "time", ctx.settings.depth):
                if not fits(slot, entry["payload"]):
                    continue

                def make(d: int, p: str = entry["payload"]) -> str:
                    return slot.value + fill(p, D=d)

                proved = delay_scales(probe, slot, make, delay)
                if proved is not None:
                    ex, times = proved
                    return (
                        ex,
                        f"SQL injection (time-based, {entry['db']}) in {slot.label}",
                        f"{entry['payload']!r}: answer times (normal, {delay} s, "
                        f"{2 * delay} s, {delay} s again) = {times} s",
                    )
            return None

        return each_finding(ctx, op, test)

    @scanner.check(
        id="sqli-union",
        title="SQL injection (UNION-based)",
        severity=Severity.CRITICAL,
        **sqli,
    )
    def sqli_union(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Appends ``UNION SELECT`` rows of 1..N columns whose values the database must
        concatenate into a marker; reported when the marker comes back in the answer (data of
        the attacker's choosing is reflected), twice."""
        assert op is not None
        if op.method != "GET":
            return Outcome.clean("UNION reflection is probed on GET operations")
        columns = int(payload_file("sqli")["union_columns"][ctx.settings.depth])

        def test(probe: Probe, slot: Slot) -> Proof | None:
            for entry in payloads("sqli", "union", ctx.settings.depth):
                if not fits(slot, entry["prefix"]):
                    continue
                for n in range(1, columns + 1):
                    m1, m2 = "q", f"{ctx.rng.randrange(10**4, 10**5)}z"  # short: fits limits
                    cell = fill(entry["concat"], M1=m1, M2=m2)
                    value = "zz" + entry["prefix"] + ",".join([cell] * n) + entry["suffix"]
                    if slot.numeric or slot.value.isdigit():
                        value = "-1" + value[2:] if not quoted(entry["prefix"]) else value
                    ex = probe.send(slot, value)
                    if m1 + m2 not in ex.text or (probe.base and m1 + m2 in probe.base.text):
                        continue
                    if m1 + m2 not in probe.send(slot, value).text:
                        continue
                    return (
                        ex,
                        f"SQL injection (UNION-based, {n} columns) in {slot.label}",
                        f"the database computed {m1 + m2!r} from {cell!r} and the answer "
                        "reflects it: any table can be read",
                    )
            return None

        return each_finding(ctx, op, test)

    @scanner.check(
        id="command-injection",
        title="OS command injection",
        cwe="CWE-78",
        severity=Severity.CRITICAL,
        group="injection",
        remediation="Never pass input to a shell: call programs with an argument list "
        "(no shell=True) and validate values against an allow-list.",
        **common,
    )
    def command_injection(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Appends shell separators with ``echo bt$((A*B))z`` (only a shell turns that into
        the product) and, from standard depth, ``sleep`` calls; reported when the marker
        comes back twice with different numbers, or the delay repeats and scales."""
        assert op is not None
        delay = ctx.settings.time_delay_s

        def test(probe: Probe, slot: Slot) -> Proof | None:
            for entry in payloads("command", "echo", ctx.settings.depth):
                ex = computed(probe, slot, entry["payload"], "bt", "z")
                if ex is not None:
                    return (
                        ex,
                        f"OS command injection in {slot.label}",
                        f"{entry['payload']!r} was run by a shell: the product came back",
                    )
            for entry in payloads("command", "time", ctx.settings.depth):

                def make(d: int, p: str = entry["payload"]) -> str:
                    return slot.value + fill(p, D=d)

                proved = delay_scales(probe, slot, make, delay)
                if proved is not None:
                    return (
                        proved[0],
                        f"OS command injection (time-based) in {slot.label}",
                        f"{entry['payload']!r}: answer times {proved[1]} s",
                    )
            return None

        return each_finding(ctx, op, test)

    @scanner.check(
        id="template-injection",
        title="Server-side template injection",
        cwe="CWE-1336",
        severity=Severity.CRITICAL,
        group="injection",
        remediation="Never build templates from input: pass input as template variables, or "
        "use a sandboxed environment.",
        **common,
    )
    def template_injection(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends template arithmetic (``{{A*B}}``, ``${A*B}``, ``#{A*B}``, ``<%= A*B %>``…);
        reported when the product (absent from the payload) comes back, twice with different
        numbers."""

        def test(probe: Probe, slot: Slot) -> Proof | None:
            for entry in payloads("template", "arithmetic", ctx.settings.depth):
                ex = computed(probe, slot, entry["payload"])
                if ex is not None:
                    return (
                        ex,
                        f"Template injection in {slot.label}",
                        f"{entry['payload']!r} was evaluated ({entry['engines']})",
                    )
            return None

        return each_finding(ctx, op, test)

    @scanner.check(
        id="nosql-injection",
        title="NoSQL operator injection",
        cwe="CWE-943",
        severity=Severity.HIGH,
        group="injection",
        remediation="Accept only scalar values where scalars are expected (validate types) and "
        "never pass request objects to the query as they are.",
        **common,
    )
    def nosql_injection(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Replaces JSON body values with operator objects (``{"$ne": x}`` against
        ``{"$eq": x}``…); reported when the match-all and match-nothing operators give
        different answers, the same on a second round."""

        def test(probe: Probe, slot: Slot) -> Proof | None:
            if slot.location != "body":
                return None
            k = ctx.rng.randrange(10**6)
            for entry in payloads("nosql", "operators", ctx.settings.depth):
                t = json.loads(fill(json.dumps(entry["true"]), K=k))
                f = json.loads(fill(json.dumps(entry["false"]), K=k))
                ex = differs_consistently(probe, slot, t, f)
                if ex is not None:
                    return (
                        ex,
                        f"NoSQL operator injection in {slot.label}",
                        f"{json.dumps(t)} and {json.dumps(f)} change the result, consistently",
                    )
            return None

        return each_finding(ctx, op, test)
