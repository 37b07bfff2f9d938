"""OpenAPI schemas as plain JSON Schema, and ``$ref`` resolution that survives cycles.

``resolve`` lets jsonref load every reference (across files too) and then copies the proxies into
plain dicts: a reference back into a schema that is still being copied (a recursive schema such
as a tree node) becomes ``{}``, an open schema, so nothing loops and nothing recurses without
end. A target referenced many times is copied once and shared, so a large document whose
components reuse each other does not grow exponentially.

``to_json_schema`` turns an OpenAPI 2.0/3.0 schema into JSON Schema 2020-12: ``nullable`` and
``x-nullable`` become a ``null`` type, draft-4 boolean ``exclusiveMinimum``/``exclusiveMaximum``
become numbers, ``type: file`` a string of ``format: binary`` (a file part), ``example`` an ``examples`` entry, and the
OpenAPI-only keywords are dropped. A ``type`` that is not one of JSON Schema's (httpbin
publishes ``type: int``) is wrong in the document and dropped: any value is allowed there,
rather than a generator refusing the whole operation. A ``discriminator`` over ``oneOf``/``anyOf`` options is
turned into a ``const`` on each option's discriminating property (its mapping value or, as the
OpenAPI rules say, its component name), so generated bodies pick a consistent option.
"""

from __future__ import annotations

from typing import Any

import jsonref

# OpenAPI-only keywords that are not JSON Schema (removed before generating or validating).
_OPENAPI_KEYWORDS = frozenset(
    {"discriminator", "xml", "externalDocs", "example", "deprecated", "nullable", "x-nullable"}
)
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")
_SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})


def resolve(node: Any) -> Any:
    """A plain copy of a jsonref-proxied document (cycles cut to ``{}``, targets shared)."""
    return _Plain().copy(node, ())


class _Plain:
    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def copy(self, node: Any, stack: tuple[int, ...]) -> Any:
        if isinstance(node, jsonref.JsonRef):
            target = node.__subject__
            key = id(target)
            if key in stack:
                return {}
            if key not in self.memo:
                self.memo[key] = self.copy(target, (*stack, key))
            return self.memo[key]
        if isinstance(node, dict):
            out = {k: self.copy(v, stack) for k, v in node.items()}
            if isinstance(node.get("oneOf"), list) or isinstance(node.get("anyOf"), list):
                _apply_discriminator(node, out)
            return out
        if isinstance(node, list):
            return [self.copy(v, stack) for v in node]
        return node


def _discriminator(schema: Any, depth: int = 0) -> dict[str, Any] | None:
    """A schema's own discriminator, or one its ``allOf`` parts carry (an "embedded" one)."""
    if isinstance(schema, jsonref.JsonRef):
        schema = schema.__subject__
    if not isinstance(schema, dict) or depth > 3:
        return None
    if isinstance(schema.get("discriminator"), dict):
        found: dict[str, Any] = schema["discriminator"]
        return found
    for part in schema.get("allOf") or []:
        inner = _discriminator(part, depth + 1)
        if inner is not None:
            return inner
    return None


def _apply_discriminator(raw: dict[str, Any], out: dict[str, Any]) -> None:
    """Pin the discriminating property of each ``oneOf``/``anyOf`` option to its value (its
    mapping value, else its component name), from the discriminator next to the options or
    embedded in them."""
    for key in ("oneOf", "anyOf"):
        options = raw.get(key)
        if not isinstance(options, list):
            continue
        disc = raw.get("discriminator") if isinstance(raw.get("discriminator"), dict) else None
        pinned: list[Any] = []
        for option, copied in zip(options, out.get(key) or [], strict=False):
            ref = option.__reference__.get("$ref") if isinstance(option, jsonref.JsonRef) else None
            found = disc or _discriminator(option)
            prop = found.get("propertyName") if found else None
            if (
                not isinstance(ref, str)
                or not isinstance(copied, dict)
                or not isinstance(prop, str)
            ):
                pinned.append(copied)
                continue
            by_ref = {str(r): v for v, r in (found.get("mapping") or {}).items()} if found else {}
            value = by_ref.get(ref)
            if value is None:
                value = next((v for r, v in by_ref.items() if ref.endswith(r)), None)
            value = value if value is not None else ref.rsplit("/", 1)[-1]
            pin = {"properties": {prop: {"const": value}}, "required": [prop]}
            pinned.append({"allOf": [copied, pin]})
        out[key] = pinned


Memo = dict[int, tuple[dict[str, Any], dict[str, Any]]]


def _known_type(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(v in _JSON_TYPES for v in value)
    return value in _JSON_TYPES


def to_json_schema(schema: Any, *, openapi_30: bool, _memo: Memo | None = None) -> dict[str, Any]:
    """An OpenAPI schema as plain JSON Schema (see the module docstring for what changes).

    ``openapi_30`` is true for OpenAPI 2.0 and 3.0 documents (3.1 schemas are JSON Schema)."""
    if not isinstance(schema, dict):
        return {}
    memo: Memo = {} if _memo is None else _memo
    seen = memo.get(id(schema))
    if seen is not None and seen[0] is schema:
        return seen[1]
    out: dict[str, Any] = {}
    # shared targets (and so their copies) stay shared; the source is kept in the memo so its
    # id cannot be reused by another dict while the memo lives
    memo[id(schema)] = (schema, out)

    def sub(value: Any) -> dict[str, Any]:
        return to_json_schema(value, openapi_30=openapi_30, _memo=memo)

    for key, value in schema.items():
        if key in _OPENAPI_KEYWORDS or key.startswith("x-"):
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: sub(v) for k, v in value.items()}
        elif key in _SUBSCHEMA and isinstance(value, dict):
            out[key] = sub(value)
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [sub(v) for v in value]
        elif key == "items" and isinstance(value, list):  # draft-4 tuple items
            out["prefixItems"] = [sub(v) for v in value]
        elif key == "format" and value == "byte" and schema.get("type") == "string":
            continue
        elif key == "type" and value == "file":
            out["type"], out["format"] = "string", "binary"
        elif key == "type" and not _known_type(value):
            continue
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = schema.get("minimum" if key == "exclusiveMinimum" else "maximum")
            if value and isinstance(bound, int | float):
                out[key] = bound
        elif (
            key in ("minimum", "maximum")
            and schema.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum") is True
        ):
            continue
        else:
            out[key] = value
    if "example" in schema and "examples" not in out:
        out["examples"] = [schema["example"]]
    if openapi_30 and (schema.get("nullable") or schema.get("x-nullable")):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            inner = dict(out)
            out.clear()
            out["anyOf"] = [inner, {"type": "null"}]
    return out
