"""The scanner's view of an API: operations, their parameters and schemas, from OpenAPI.

``build_operations`` takes an OpenAPI 3.x document (a dict, ``$ref`` resolved here with jsonref
or already resolved by ``battletest.spec``) and returns one ``Operation`` per method and path.
Checks read only this model, never the raw document.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from battletest.errors import SpecError

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path, as the checks need it."""

    method: str
    path: str
    operation_id: str = ""
    parameters: tuple[Parameter, ...] = ()
    body_schema: Mapping[str, Any] | None = None
    body_required: bool = False
    responses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    security: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (scheme name, scopes) alternatives
    secured: bool = False
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS

    @property
    def path_params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def scopes(self) -> set[str]:
        return {scope for _, scopes in self.security for scope in scopes}

    def response_schema(self) -> Mapping[str, Any] | None:
        """The JSON schema of the first 2xx response, if declared."""
        for status in sorted(self.responses):
            if status.startswith("2"):
                content = self.responses[status].get("content") or {}
                for media, body in content.items():
                    if "json" in media and isinstance(body, Mapping):
                        schema = body.get("schema")
                        return schema if isinstance(schema, Mapping) else None
        return None

    def body_properties(self) -> dict[str, Mapping[str, Any]]:
        return dict(properties_of(self.body_schema)) if self.body_schema else {}

    def collection_path(self) -> str | None:
        """``/a/{id}`` → ``/a``: where objects of this item path are listed or created."""
        if self.path.endswith("}") and "/" in self.path.rstrip("/"):
            parent = self.path.rsplit("/", 1)[0]
            return parent or None
        return None

    def fill(self, values: Mapping[str, Any]) -> str | None:
        """The concrete path with path parameters filled, or None when one is missing."""
        missing = [p for p in self.path_params if p not in values]
        if missing:
            return None
        return _PARAM.sub(lambda m: str(values[m.group(1)]), self.path)


def properties_of(schema: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """Declared properties of an object schema, through allOf/anyOf/oneOf."""
    if not isinstance(schema, Mapping):
        return {}
    props: dict[str, Mapping[str, Any]] = {}
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            props.update(properties_of(sub))
    for name, sub in (schema.get("properties") or {}).items():
        props[str(name)] = sub if isinstance(sub, Mapping) else {}
    return props


def item_schema(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The schema of the objects a response carries: the array items or the object itself."""
    if not isinstance(schema, Mapping):
        return None
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        return item_schema(schema["items"])
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, Mapping) and sub.get("type") != "null":
                return item_schema(sub)
    return schema


def resolve(document: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve every ``$ref`` of an OpenAPI document (jsonref, proxies replaced by dicts)."""
    import jsonref

    try:
        resolved = jsonref.replace_refs(dict(document), proxies=False, lazy_load=False)
    except (jsonref.JsonRefError, KeyError, TypeError) as exc:
        raise SpecError(
            f"the OpenAPI document has a $ref that cannot be resolved: {exc}",
            hint="fix the reference or pass a bundled document with --spec",
        ) from None
    assert isinstance(resolved, dict)
    return resolved


def build_operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI 3.x document, in document order."""
    if not isinstance(document, Mapping) or not str(document.get("openapi", "")).startswith("3"):
        raise SpecError(
            "the document is not OpenAPI 3.x (no 'openapi: 3.x' key)",
            hint="pass an OpenAPI 3 document with --spec (convert Swagger 2 first)",
        )
    doc = resolve(document)
    base = _base_path(doc)
    global_security = _security(doc.get("security"))
    ops: list[Operation] = []
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        shared = list(item.get("parameters") or [])
        for method in HTTP_METHODS:
            raw = item.get(method)
            if not isinstance(raw, Mapping):
                continue
            params = _parameters([*shared, *(raw.get("parameters") or [])])
            body_schema, body_required = _body(raw.get("requestBody"))
            security = _security(raw["security"]) if "security" in raw else global_security
            secured = any(name for name, _ in security) and not any(
                not name for name, _ in security
            )
            ops.append(
                Operation(
                    method=method.upper(),
                    path=base + str(path),
                    operation_id=str(raw.get("operationId") or ""),
                    parameters=params,
                    body_schema=body_schema,
                    body_required=body_required,
                    responses={str(k): v for k, v in (raw.get("responses") or {}).items()},
                    security=security,
                    secured=secured,
                    tags=tuple(str(t) for t in raw.get("tags") or ()),
                )
            )
    return ops


def select(
    operations: Iterable[Operation], include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> list[Operation]:
    """Operations whose path matches an include glob (all when none) and no exclude glob."""
    inc, exc = list(include), list(exclude)
    return [
        op
        for op in operations
        if (not inc or any(path_matches(op.path, g) for g in inc))
        and not any(path_matches(op.path, g) for g in exc)
    ]


def path_matches(path: str, pattern: str) -> bool:
    """Glob match of a path (``/v2/*`` also matches ``/v2/items/{id}``)."""
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path + "/", pattern)


def _parameters(raw: list[Any]) -> tuple[Parameter, ...]:
    seen: dict[tuple[str, str], Parameter] = {}
    for p in raw:
        if not isinstance(p, Mapping) or "name" not in p:
            continue
        param = Parameter(
            name=str(p["name"]),
            location=str(p.get("in", "query")),
            required=bool(p.get("required", p.get("in") == "path")),
            schema=_mapping(p.get("schema")),
        )
        seen[(param.name, param.location)] = param
    return tuple(seen.values())


def _base_path(doc: Mapping[str, Any]) -> str:
    """The path part of the first server URL (``/api`` in ``https://host/api``), or ''."""
    servers = doc.get("servers") or []
    raw = str(servers[0].get("url", "")) if servers and isinstance(servers[0], Mapping) else ""
    raw = urlsplit(raw).path if "://" in raw else raw
    raw = raw.split("{")[0].strip("/")
    return "/" + raw if raw else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _body(raw: Any) -> tuple[Mapping[str, Any] | None, bool]:
    if not isinstance(raw, Mapping):
        return None, False
    for media, body in (raw.get("content") or {}).items():
        if "json" in media and isinstance(body, Mapping):
            schema = body.get("schema")
            return (schema if isinstance(schema, Mapping) else {}), bool(raw.get("required"))
    return None, bool(raw.get("required"))


def _security(raw: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(raw, list):
        return ()
    out: list[tuple[str, tuple[str, ...]]] = []
    for requirement in raw:
        if not isinstance(requirement, Mapping):
            continue
        if not requirement:
            out.append(("", ()))  # {} means "anonymous allowed"
        for name, scopes in requirement.items():
            out.append((str(name), tuple(str(s) for s in scopes or ())))
    return tuple(out)
