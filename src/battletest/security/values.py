"""Valid example values from JSON schemas, for bodies the scanner must get accepted.

Deterministic per seed, small, and marked (``battletest-…``) so objects the scanner creates are
recognisable in the target's data.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Mapping
from typing import Any

from battletest.spec import properties_of


def example(schema: Mapping[str, Any] | None, rng: random.Random, name: str = "") -> Any:
    """One valid value for ``schema`` (objects get every declared property)."""
    if not isinstance(schema, Mapping):
        return f"battletest-{rng.randrange(10**6):06d}"
    if "example" in schema:
        return schema["example"]
    if schema.get("examples") and isinstance(schema["examples"], list):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key) or [] if isinstance(s, Mapping)]
        non_null = [s for s in options if s.get("type") != "null"]
        if non_null:
            return example(non_null[0], rng, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    props = properties_of(schema)
    if kind == "object" or props:
        required = set(schema.get("required") or ())
        return {
            k: example(v, rng, k)
            for k, v in props.items()
            if not v.get("readOnly") and (k in required or not _nullable(v))
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example(schema.get("items"), rng, name) for _ in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", 1))
        high = int(schema.get("maximum", max(low, 1000)))
        return rng.randint(low, max(low, min(high, low + 1000)))
    if kind == "number":
        base = float(schema.get("minimum", 1))
        return round(base + rng.random() * 10, 2)
    if kind == "boolean":
        return bool(_ENABLING.search(name))  # never disable an account: active stays true
    return _string(schema, rng, name)


# boolean properties whose false value switches something off (an account, a user)
_ENABLING = re.compile(r"^(is_?)?(active|enabled|verified|confirmed|approved)$", re.I)


def _string(schema: Mapping[str, Any], rng: random.Random, name: str) -> str:
    fmt = schema.get("format", "")
    tag = f"{rng.randrange(10**6):06d}"
    pattern = str(schema.get("pattern", ""))
    if "phone" in name.lower() or pattern.startswith(("^\\+", "^\\+?", "\\+")):
        value = "+1555" + tag + "1"
    elif fmt == "email" or "email" in name.lower():
        value = f"battletest.{tag}@example.com"
    elif fmt == "uuid":
        value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    elif fmt == "date-time":
        value = "2030-01-01T12:00:00Z"
    elif fmt == "date":
        value = "2030-01-01"
    elif fmt in {"uri", "url"}:
        value = f"https://example.com/battletest/{tag}"
    else:
        value = f"battletest-{tag}"
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", 10**6))
    if len(value) < low:
        value = value + "x" * (low - len(value))
    return value[:high] if high >= low else value


def _nullable(schema: Mapping[str, Any]) -> bool:
    """Optional properties that may be null are left out of generated bodies."""
    if schema.get("nullable") or schema.get("type") == "null":
        return True
    kinds = schema.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        return True
    return any(
        isinstance(s, Mapping) and s.get("type") == "null"
        for key in ("anyOf", "oneOf")
        for s in schema.get(key) or []
    )


def fresh_id(schema: Mapping[str, Any] | None, rng: random.Random) -> str:
    """A new, marked id for an object the scanner creates under a name it chooses (a PUT on
    ``/vehicles/{plate}``) that fits the parameter's type, format, pattern and length."""
    schema = schema or {}
    tag = f"{rng.randrange(10**6):06d}"
    if schema.get("type") == "integer":
        return str(rng.randrange(10**8, 10**9))
    if schema.get("format") == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    letters = "".join(chr(ord("A") + rng.randrange(26)) for _ in range(8))
    candidates = [
        f"battletest-{tag}",
        f"bt-{tag}",
        f"BT-{tag}",
        f"bt{tag}",
        f"BT{tag}",
        tag,
        letters,
        letters.lower(),
        letters[:3],
        letters[:3].lower(),
    ]
    pattern = schema.get("pattern")
    low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 64))
    for value in candidates:
        if not low <= len(value) <= high:
            continue
        try:
            if pattern and not re.search(str(pattern), value):
                continue
        except re.error:
            pass
        return value
    return candidates[0]
