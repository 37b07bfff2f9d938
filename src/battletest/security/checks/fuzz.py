"""Fuzzing: schema-violating input, generated from the operation's own schema, that makes the
service fail with a 5xx — reported with the minimal reproducing request.

Hypothesis (with hypothesis-jsonschema) draws request bodies that are valid except for one
property of a wrong JSON type or one required property left out; ``hypothesis.find`` searches
for a body the service answers with 5xx and shrinks it to the smallest such body. The number of
requests is bounded by ``fuzz_examples`` (twice that including shrinking).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from battletest.errors import TargetUnreachable
from battletest.results import Severity
from battletest.security.checks.inject import Probe, base_request, ends_session
from battletest.security.context import ScanContext
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation
from battletest.transport import Exchange

JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
EXAMPLES = {"basic": 15, "standard": 40, "comprehensive": 150}


def wrong_types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    kinds = set(declared) if isinstance(declared, list) else {declared} if declared else set()
    if not kinds:
        return []
    if "number" in kinds:
        kinds.add("integer")
    return [t for t in JSON_TYPES if t not in kinds]


def _replace(valid: dict[str, Any], name: str) -> Any:
    def make(value: Any) -> dict[str, Any]:
        return {**valid, name: value}

    return make


def violating_bodies(valid: dict[str, Any], schema: Mapping[str, Any]) -> Any:
    """A strategy of bodies breaking the schema in one place (wrong type or missing)."""
    from hypothesis import strategies as st
    from hypothesis_jsonschema import from_schema

    from battletest.spec import properties_of

    options = []
    for name, sub in properties_of(schema).items():
        kinds = wrong_types(sub)
        plain = [k for k in kinds if k != "object"]  # hypothesis-jsonschema's objects need
        if plain:  # an older Hypothesis; objects come from Hypothesis itself
            options.append(from_schema({"type": plain}).map(_replace(valid, name)))
        if "object" in kinds:
            objects = st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
            options.append(objects.map(_replace(valid, name)))
    for name in schema.get("required") or []:
        if name in valid:
            options.append(st.just({k: v for k, v in valid.items() if k != name}))
    return st.one_of(options) if options else None


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="fuzz-5xx",
        title="Schema-violating input crashes the operation (5xx)",
        owasp="API8:2023",
        cwe="CWE-20",
        severity=Severity.MEDIUM,
        group="fuzz",
        applies=lambda ctx, op: (
            not ends_session(op)
            and op.method in {"POST", "PUT", "PATCH"}
            and op.body_schema is not None
            and bool(op.body_properties())
            and (op.method == "POST" or bool(op.path_params) or ctx.settings.allow_destructive)
        ),
        phase=70,
        remediation="Validate request bodies against the schema before use and answer 4xx "
        "(a validation layer such as pydantic); never let a type error reach a 500.",
    )
    def fuzz(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Draws bodies that break the operation's schema in one place (Hypothesis +
        hypothesis-jsonschema) and searches for one answered with 5xx; reported with the
        shrunk, minimal body when that body gives a 5xx again."""
        assert op is not None and op.body_schema is not None
        probe = base_request(ctx, op)
        if isinstance(probe, str):
            return Outcome.inconclusive(probe)
        if probe.body is None:
            return Outcome.inconclusive("no valid body to start from")
        strategy = violating_bodies(probe.body, op.body_schema)
        if strategy is None:
            return Outcome.clean("the schema declares no types to violate")
        found = _search(ctx, probe, strategy)
        if found is None:
            return Outcome.clean()
        body, ex = found
        return Outcome.found(
            ctx.finding(
                op,
                ex,
                parameter="body",
                note=f"minimal schema-violating body {body!r} gets HTTP {ex.status}, twice",
            )
        )


def _search(ctx: ScanContext, probe: Probe, strategy: Any) -> tuple[Any, Exchange] | None:
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    budget = ctx.settings.fuzz_examples or EXAMPLES[ctx.settings.depth]
    sent = [0]

    def send(body: Any) -> Exchange:
        path = probe.op.fill(probe.path_values) or probe.op.url_path
        return ctx.send(probe.op.method, path, probe.identity, json_body=body)

    def crashes(body: Any) -> bool:
        if sent[0] >= 2 * budget:
            return False
        sent[0] += 1
        try:
            return send(body).status >= 500
        except TargetUnreachable:  # the connection dropped: a crash as well, if it repeats
            return True

    try:
        minimal = find(
            strategy,
            crashes,
            settings=settings(
                max_examples=budget,
                database=None,
                derandomize=True,
                deadline=None,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            ),
        )
    except NoSuchExample:
        return None
    try:
        ex = send(minimal)
    except TargetUnreachable:
        return None
    if ex.status < 500:
        return None
    return minimal, ex
