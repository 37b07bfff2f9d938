"""Stubs generated from an API document: one per operation, answering a valid example.

The document is read by ``battletest.spec`` (Swagger 2.0, OpenAPI 3.0 or 3.1, ``$ref`` resolved
there); each operation's stub answers its lowest 2xx response (or ``default``; with neither, the
lowest other documented status: never one the document does not list) at its URL path
(the document's base path kept): the documented example for the media type when its schema
accepts it, otherwise an example built from the JSON Schema (``examples``, ``default``, ``enum``, formats,
bounds) and checked with jsonschema; when that check fails (tricky combinations)
hypothesis-jsonschema searches for one; string patterns always go to hypothesis-jsonschema.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from battletest.chaos.mock.http import Response
from battletest.chaos.mock.stubs import Stub, parse_stub
from battletest.chaos.mock.validate import checker, refusal_key
from battletest.spec import Operation, Spec, from_document, load_spec

_MAX_DEPTH = 6
_REQUIRED_DEPTH = 16  # recursive schemas are cut by the spec model; this bounds the rest
_FORMATS = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00",
    "email": "guest@example.com",
    "uuid": "7f6b2c1e-0d2a-4a8e-9f0b-2a1c3d4e5f60",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "byte": "YmF0dGxldGVzdA==",
}


def read_spec(spec: str | Path | Mapping[str, Any] | Spec) -> Spec:
    """The one spec model for a file, a URL or an in-memory document."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        return from_document(copy.deepcopy(dict(spec)), "the OpenAPI document")
    return load_spec(spec, None)


def stubs_from_openapi(
    spec: str | Path | Mapping[str, Any] | Spec, *, validate: bool = False
) -> list[Stub]:
    """One stub per operation, in document order, at priority 5 plus ``_templated``: as OpenAPI
    matches paths, a concrete segment wins over a template (``/a/{id}/override`` over
    ``/a/{id}/{action}``, ``/bills/{id}.pdf`` over ``/bills/{id}``); a stub added later at the
    default priority 5 wins over every templated one. ``validate``: a request that breaks its
    operation gets the documented 400 instead (``battletest.chaos.mock.validate``)."""
    stubs: list[Stub] = []
    model = read_spec(spec)
    for op in model.operations:
        status, payload, ctype = _response_for(op, documented_answer(op))
        response: dict[str, Any] = {"status": status}
        if payload is not _NO_BODY:
            response["headers"] = {"content-type": ctype}
            response["body"] = _raw(json.dumps(payload))
        stub = parse_stub(
            {
                "name": op.operation_id,
                "method": op.method,
                "path": _distinct_placeholders(op.url_path),
                "priority": 5 + _templated(op.url_path),
                "response": response,
            },
            len(stubs),
        )
        if validate:
            refusals = (
                _refusal(op, "401", 401),
                _refusal(op, "415", 415),
                _refusal(op, refusal_key(op), 400),
            )
            stub.check = checker(op, model.security_schemes, refusals, _valid)
        stubs.append(stub)
    return stubs


def _refusal(op: Operation, key: str | None, status: int) -> Response:
    """The documented response ``key`` of ``op`` (a plain JSON ``status`` when undocumented)."""
    if key not in op.responses:
        error = json.dumps({"error": f"refused by the mock ({status})"}).encode()
        return Response(status, [("content-type", "application/json")], error)
    status, payload, ctype = _response_for(op, key)
    if payload is _NO_BODY:
        return Response(status)
    return Response(status, [("content-type", ctype)], json.dumps(payload).encode())


_NO_BODY = object()


def _templated(path: str) -> int:
    """2 per segment that is one template (``{id}``), 1 per partly templated (``{id}.pdf``)."""
    return sum(
        2 if re.fullmatch(r"\{[^}/]+\}", seg) else 1 for seg in path.split("/") if "{" in seg
    )


def _distinct_placeholders(path: str) -> str:
    """``/a/{id}/b/{id}`` → ``/a/{id}/b/{id_2}``: a stub path names each segment once."""
    seen: dict[str, int] = {}

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        seen[name] = seen.get(name, 0) + 1
        return "{" + (name if seen[name] == 1 else f"{name}_{seen[name]}") + "}"

    return re.sub(r"\{([^}/]+)\}", rename, path)


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if "{{" in text or "{%" in text else text


# a documented answer that comes from in front of the logic (refused, missing, rate limited)
_WALLS = {"401", "403", "404", "429"}


def documented_answer(op: Operation) -> str | None:
    """Which documented response the stub answers: the lowest 2xx, else ``default``, else —
    for an operation that documents no success (Petstore's ``POST /pet``: only 405) — the
    lowest other documented status, answers from in front of the logic last. Never a status
    the document does not list (a client checking the contract would flag it)."""
    codes = sorted(c for c in op.responses if c[:1] == "2")
    if codes:
        return codes[0]
    if "default" in op.responses:
        return "default"
    rest = sorted(c for c in op.responses if c.isdigit())
    return min(rest, key=lambda c: (c in _WALLS, c[:1] == "5", c), default=None)


def _response_for(op: Operation, key: str | None) -> tuple[int, Any, str]:
    if key is None:
        return 200, _NO_BODY, ""
    status = int(key) if key.isdigit() else 200
    resp = op.responses[key]
    if not resp.content or status in (204, 304):  # answers that carry no body
        return status, _NO_BODY, ""
    ctype = next((c for c in resp.content if "json" in c), next(iter(resp.content)))
    schema = resp.content[ctype]
    # a documented example is kept only when its schema accepts it: published ones are often
    # prose or a JSON text in a string (Clever-Cloud's), which a client checking the contract
    # would reject
    if ctype in resp.examples and (schema is None or _valid(schema, resp.examples[ctype])):
        return status, resp.examples[ctype], ctype
    if schema is None:
        return status, _NO_BODY, ctype
    return status, example_for(schema), ctype


def example_for(schema: Any) -> Any:
    """A value valid against ``schema``: built from hints, else found by hypothesis-jsonschema."""
    value = _build(schema, 0)
    if _valid(schema, value):
        return value
    return _hypothesis_example(schema, fallback=value)


def _valid(schema: Any, value: Any) -> bool:
    import jsonschema

    # the value is checked, not the schema against its metaschema (``jsonschema.validate``
    # does both: on a large document, such as Kubernetes', that check is 95% of the time)
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        return bool(validator(schema).is_valid(value))
    except (jsonschema.SchemaError, jsonschema.exceptions.UnknownType, LookupError):
        return True  # a schema jsonschema cannot read: keep the built value


def _hypothesis_example(schema: Any, fallback: Any) -> Any:
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample
    from hypothesis_jsonschema import from_schema

    try:
        return find(
            from_schema(schema),
            lambda _: True,
            settings=settings(
                database=None,
                max_examples=50,
                phases=[Phase.generate],  # the first valid value; shrinking costs seconds
                suppress_health_check=list(HealthCheck),
            ),
        )
    except (NoSuchExample, Exception):
        return fallback


def _build(schema: Any, depth: int) -> Any:
    if not isinstance(schema, Mapping):
        return None
    for key in ("example", "const", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return copy.deepcopy(examples[0])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            v = _build(part, depth + 1)
            if isinstance(v, dict):
                merged.update(v)
        own = {k: v for k, v in schema.items() if k != "allOf"}
        if own.get("properties"):
            v = _build(own, depth + 1)
            if isinstance(v, dict):
                merged.update(v)
        return merged
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _build(schema[key][0], depth + 1)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t is None:
        t = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if t == "object":
        # deep down only the required properties, which a valid value cannot leave out
        # (Clever-Cloud's addons list nests them seven levels deep)
        if depth >= _REQUIRED_DEPTH:
            return {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return {
            k: _build(v, depth + 1)
            for k, v in props.items()
            if k in required or depth < _MAX_DEPTH - 2
        }
    if t == "array":
        if depth >= _MAX_DEPTH and not schema.get("minItems"):
            return []
        n = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            n = min(n, int(schema["maxItems"]))
        return [_build(schema.get("items", {}), depth + 1) for _ in range(n)]
    if t in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        if isinstance(schema.get("exclusiveMinimum"), int | float) and not isinstance(
            schema.get("exclusiveMinimum"), bool
        ):
            lo = schema["exclusiveMinimum"] + (1 if t == "integer" else 0.5)
        hi = schema.get("maximum")
        if hi is not None and lo > hi:
            lo = hi
        if hi is None and "minimum" not in schema and "exclusiveMinimum" not in schema:
            lo = 1
        step = schema.get("multipleOf")
        if step:
            lo = -(-lo // step) * step
        return int(lo) if t == "integer" else float(lo)
    if t == "boolean":
        return True
    if t == "null":
        return None
    if "pattern" in schema:
        keys = ("type", "pattern", "minLength", "maxLength")
        leaf = {k: schema[k] for k in keys if k in schema}
        found = _hypothesis_example(leaf, fallback=None)
        if isinstance(found, str):
            return found
    text = _FORMATS.get(str(schema.get("format", "")), "string")
    lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < lo:
        text = text + "x" * (lo - len(text))
    if hi is not None:
        text = text[: int(hi)]
    return text
