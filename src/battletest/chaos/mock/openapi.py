"""Stubs generated from an OpenAPI document: one per operation, answering a valid example.

The answer for an operation is its lowest 2xx response (or ``default``): the media type's
``example``/``examples`` when the document has one, otherwise an example built from the schema
(``example``, ``default``, ``enum``, formats, bounds), checked with jsonschema; when that check
fails (tricky combinations) hypothesis-jsonschema searches for one; string patterns always go to
hypothesis-jsonschema.
``$ref`` is resolved by jsonref; nothing here hand-parses references.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from battletest.chaos.mock.stubs import Stub, parse_stub
from battletest.errors import SpecError

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_MAX_DEPTH = 6
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


def load_spec(spec: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as a dict with every ``$ref`` resolved."""
    import jsonref

    if isinstance(spec, Mapping):
        doc: Any = copy.deepcopy(dict(spec))
        source = "the OpenAPI document"
    else:
        p = Path(spec)
        source = p.name
        if not p.is_file():
            raise SpecError(
                f"OpenAPI document {str(p)!r} not found (pass --spec PATH to a .json or .yaml file)"
            )
        text = p.read_text(encoding="utf-8")
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                import yaml

                doc = yaml.safe_load(text)
            else:
                doc = json.loads(text)
        except Exception as exc:
            raise SpecError(f"{source}: cannot parse ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("paths"), Mapping):
        raise SpecError(f"{source}: not an OpenAPI document (no 'paths' object)")
    try:
        resolved = jsonref.replace_refs(doc, lazy_load=False)
    except Exception as exc:
        raise SpecError(f"{source}: cannot resolve $ref ({exc})") from None
    return dict(resolved)


def stubs_from_openapi(spec: str | Path | Mapping[str, Any]) -> list[Stub]:
    doc = load_spec(spec)
    base = ""
    servers = doc.get("servers") or []
    if servers and isinstance(servers[0], Mapping):
        base = urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    elif isinstance(doc.get("basePath"), str):
        base = doc["basePath"].rstrip("/")
    stubs: list[Stub] = []
    for path, item in doc["paths"].items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            status, payload, ctype = _response_for(op)
            name = str(op.get("operationId") or f"{method.upper()} {path}")
            response: dict[str, Any] = {"status": status}
            if payload is not _NO_BODY:
                response["headers"] = {"content-type": ctype}
                response["body"] = _raw(json.dumps(payload))
            stubs.append(
                parse_stub(
                    {
                        "name": name,
                        "method": method.upper(),
                        "path": base + path,
                        "response": response,
                    },
                    len(stubs),
                )
            )
    return stubs


_NO_BODY = object()


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if "{{" in text or "{%" in text else text


def _response_for(op: Mapping[str, Any]) -> tuple[int, Any, str]:
    responses = op.get("responses") or {}
    codes = sorted(str(c) for c in responses if str(c).startswith("2"))
    key = codes[0] if codes else ("default" if "default" in responses else None)
    if key is None:
        return 200, _NO_BODY, ""
    status = int(key) if key.isdigit() else 200
    resp = responses[key] or {}
    content = resp.get("content")
    if isinstance(content, Mapping) and content:
        ctype = next((c for c in content if "json" in c), next(iter(content)))
        media = content[ctype] or {}
        if "example" in media:
            return status, media["example"], ctype
        examples = media.get("examples")
        if isinstance(examples, Mapping) and examples:
            first = next(iter(examples.values()))
            if isinstance(first, Mapping) and "value" in first:
                return status, first["value"], ctype
        if "schema" in media:
            return status, example_for(media["schema"]), ctype
        return status, _NO_BODY, ctype
    if "schema" in resp:  # Swagger 2.0
        return status, example_for(resp["schema"]), "application/json"
    return status, _NO_BODY, ""


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema dialect → JSON Schema (``nullable``; drop OpenAPI-only keys)."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {
        k: to_json_schema(v)
        for k, v in schema.items()
        if k
        not in (
            "nullable",
            "discriminator",
            "xml",
            "externalDocs",
            "readOnly",
            "writeOnly",
            "example",
        )
    }
    if schema.get("nullable") is True:
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
    return out


def example_for(schema: Any) -> Any:
    """A value valid against ``schema``: built from hints, else found by hypothesis-jsonschema."""
    value = _build(schema, 0)
    js = to_json_schema(schema)
    if _valid(js, value):
        return value
    return _hypothesis_example(js, fallback=value)


def _valid(schema: Any, value: Any) -> bool:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return False
    except jsonschema.SchemaError:
        return True  # a schema jsonschema cannot read: keep the built value
    return True


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
        if depth >= _MAX_DEPTH:
            return {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return {
            k: _build(v, depth + 1)
            for k, v in props.items()
            if k in required or depth < _MAX_DEPTH - 2
        }
    if t == "array":
        if depth >= _MAX_DEPTH:
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
