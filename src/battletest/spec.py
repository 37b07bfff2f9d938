"""OpenAPI 2.0 / 3.0 / 3.1 documents: loading, auto-discovery, $ref resolution, operations.

``load_spec(source, base_url)`` reads a document from a file or URL (or discovers it at the
common paths under ``base_url``), resolves every ``$ref`` with ``jsonref`` (a cycle becomes an
open schema), and lists its operations with parameters, request body schema, responses and
security requirements. The spec's ``servers``/``host`` entries supply at most a base path:
requests always go to the target's host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import jsonref
import yaml

from battletest.errors import SpecError, TargetUnreachable

DISCOVERY_PATHS = (
    "/openapi.json",
    "/swagger.json",
    "/spec.json",
    "/v3/api-docs",
    "/v2/api-docs",
    "/openapi.yaml",
    "/swagger/v1/swagger.json",
    "/api/openapi.json",
    "/docs/openapi.json",
)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# OpenAPI-only keywords that are not JSON Schema (removed before generating or validating).
_OPENAPI_KEYWORDS = frozenset(
    {"discriminator", "xml", "externalDocs", "example", "deprecated", "nullable", "x-nullable"}
)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    status: str  # "200", "4XX", "default"
    content: dict[str, dict[str, Any] | None]  # media type → schema (None: no schema)
    required_headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Operation:
    method: str  # upper case
    path: str  # as in the spec, with {placeholders}, without the base path
    operation_id: str
    parameters: tuple[Parameter, ...]
    request_body: dict[str, Any] | None  # JSON schema of the body
    request_content_type: str | None
    body_required: bool
    responses: dict[str, ResponseSpec]
    security: tuple[dict[str, list[str]], ...]  # alternatives; () = no auth required
    tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def secured(self) -> bool:
        return bool(self.security) and all(req for req in self.security)


@dataclass(slots=True)
class Spec:
    """A resolved OpenAPI document and its operations."""

    document: dict[str, Any]
    version: str  # "2.0", "3.0.x", "3.1.x"
    source: str
    base_path: str = ""
    operations: list[Operation] = field(default_factory=list)
    security_schemes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_31(self) -> bool:
        return self.version.startswith("3.1")

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.upper() and op.path == path:
                return op
        return None


# ------------------------------------------------------------------------------------ loading


def _parse(text: str, source: str) -> dict[str, Any]:
    stripped = text.lstrip()
    if stripped.startswith("<"):
        raise SpecError(
            f"{source} returned HTML, not an OpenAPI document",
            hint="point --spec at the JSON/YAML document, not the docs page",
        )
    try:
        data = json.loads(text) if stripped.startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(
            f"{source} is not valid JSON or YAML: {exc}".splitlines()[0],
            hint="fix the document or pass --spec",
        ) from None
    if not isinstance(data, dict):
        raise SpecError(f"{source} is not an OpenAPI document (not a mapping)", hint="pass --spec")
    return data


def _fetch(url: str, timeout: float) -> httpx.Response:
    try:
        return httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            f"could not fetch the spec from {url}: {exc.__class__.__name__}",
            hint="check that the service is running and the URL is right",
        ) from None


def _read_source(source: str, base_url: str | None, timeout: float) -> tuple[dict[str, Any], str]:
    is_url_path = bool(base_url) and source.startswith("/") and not Path(source).exists()
    if source.startswith(("http://", "https://")) or is_url_path:
        url = source if "://" in source else urljoin(f"{base_url}/", source.lstrip("/"))
        resp = _fetch(url, timeout)
        if resp.status_code != 200:
            raise SpecError(f"{url} answered {resp.status_code}", hint="check the spec URL")
        return _parse(resp.text, url), url
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"spec file {path} not found", hint="check the --spec path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(
            f"{path} is not UTF-8 text", hint="pass the JSON or YAML document"
        ) from None
    return _parse(text, str(path)), path.resolve().as_uri()


def discover(base_url: str, timeout: float = 5.0) -> tuple[dict[str, Any], str]:
    """Try the common spec paths under ``base_url``; the first OpenAPI document wins."""
    tried: list[str] = []
    for suffix in DISCOVERY_PATHS:
        url = base_url.rstrip("/") + suffix
        resp = _fetch(url, timeout)
        tried.append(f"{suffix} ({resp.status_code})")
        if resp.status_code != 200:
            continue
        try:
            data = _parse(resp.text, url)
        except SpecError:
            continue
        if "openapi" in data or "swagger" in data:
            return data, url
    raise SpecError(
        f"no OpenAPI document found under {base_url}; tried {', '.join(tried)}",
        hint="pass --spec FILE_OR_URL",
    )


def load_spec(source: str | Path | None, base_url: str | None, *, timeout: float = 10.0) -> Spec:
    """Load and resolve an OpenAPI document and list its operations."""
    if source is None:
        if base_url is None:
            raise SpecError("no spec given and no target to discover it on", hint="pass --spec")
        data, where = discover(base_url, timeout)
    else:
        data, where = _read_source(str(source), base_url, timeout)
    version = str(data.get("openapi") or data.get("swagger") or "")
    if not (version.startswith("3.") or version == "2.0") or not isinstance(
        data.get("paths"), dict
    ):
        raise SpecError(
            f"{where} is not an OpenAPI 2.0/3.x document (no 'openapi'/'swagger' version and "
            "'paths')",
            hint="pass the OpenAPI document with --spec",
        )
    try:
        resolved = jsonref.replace_refs(data, base_uri=where, lazy_load=False, proxies=True)
        plain = _plain(resolved, ())
    except jsonref.JsonRefError as exc:
        raise SpecError(
            f"{where}: unresolvable $ref: {exc.message}".splitlines()[0],
            hint="fix the reference or add the missing component",
        ) from None
    spec = Spec(document=plain, version=version, source=where, base_path=_base_path(plain))
    spec.security_schemes = _security_schemes(plain)
    spec.operations = _operations(plain, version)
    return spec


def _plain(node: Any, stack: tuple[int, ...]) -> Any:
    """A copy without JsonRef proxies; a reference cycle becomes ``{}`` (any value)."""
    if isinstance(node, jsonref.JsonRef):
        target = node.__subject__
        if id(target) in stack:
            return {}
        return _plain(target, (*stack, id(target)))
    if isinstance(node, dict):
        return {k: _plain(v, stack) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, stack) for v in node]
    return node


def _base_path(doc: dict[str, Any]) -> str:
    """The base path only: never the host of a ``servers`` entry or ``host``."""
    if "swagger" in doc:
        raw = str(doc.get("basePath") or "")
    else:
        servers = doc.get("servers") or []
        raw = str(servers[0].get("url", "")) if servers and isinstance(servers[0], dict) else ""
        raw = urlsplit(raw).path if "://" in raw else raw
    raw = raw.split("{")[0]  # server variables: keep the literal prefix only
    return "/" + raw.strip("/") if raw.strip("/") else ""


def _security_schemes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if "swagger" in doc:
        return dict(doc.get("securityDefinitions") or {})
    return dict((doc.get("components") or {}).get("securitySchemes") or {})


def to_json_schema(schema: Any, *, openapi_30: bool) -> dict[str, Any]:
    """An OpenAPI schema as plain JSON Schema (``nullable`` → a null type, extras dropped)."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OPENAPI_KEYWORDS or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties", "definitions", "$defs") and isinstance(
            value, dict
        ):
            out[key] = {k: to_json_schema(v, openapi_30=openapi_30) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains") and isinstance(
            value, dict
        ):
            out[key] = to_json_schema(value, openapi_30=openapi_30)
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems") and isinstance(value, list):
            out[key] = [to_json_schema(v, openapi_30=openapi_30) for v in value]
        elif key == "format" and value in ("binary", "byte") and schema.get("type") == "string":
            continue
        else:
            out[key] = value
    if (schema.get("nullable") or schema.get("x-nullable")) and openapi_30:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _operations(doc: dict[str, Any], version: str) -> list[Operation]:
    swagger = version == "2.0"
    openapi_30 = not version.startswith("3.1")
    global_security = doc.get("security") or []
    ops: list[Operation] = []
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            continue
        shared = [p for p in item.get("parameters") or [] if isinstance(p, dict)]
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = {(p.get("name"), p.get("in")): p for p in shared}
            params.update({(p.get("name"), p.get("in")): p for p in op.get("parameters") or []})
            parameters: list[Parameter] = []
            body: dict[str, Any] | None = None
            body_ct: str | None = None
            body_required = False
            for p in params.values():
                loc = p.get("in")
                if loc == "body":
                    body = to_json_schema(p.get("schema") or {}, openapi_30=True)
                    consumes = op.get("consumes") or doc.get("consumes") or ["application/json"]
                    body_ct = consumes[0]
                    body_required = bool(p.get("required"))
                    continue
                if loc == "formData":
                    continue
                schema = (
                    p.get("schema")
                    if not swagger
                    else {
                        k: v
                        for k, v in p.items()
                        if k not in ("name", "in", "required", "description")
                    }
                )
                parameters.append(
                    Parameter(
                        name=str(p.get("name")),
                        location=str(loc),
                        required=bool(p.get("required")) or loc == "path",
                        schema=to_json_schema(schema or {}, openapi_30=openapi_30),
                    )
                )
            if not swagger and isinstance(op.get("requestBody"), dict):
                rb = op["requestBody"]
                content = rb.get("content") or {}
                ct = next((c for c in content if "json" in c), next(iter(content), None))
                if ct is not None:
                    body = to_json_schema(
                        (content[ct] or {}).get("schema") or {}, openapi_30=openapi_30
                    )
                    body_ct = ct
                    body_required = bool(rb.get("required"))
            responses: dict[str, ResponseSpec] = {}
            for status, resp in (op.get("responses") or {}).items():
                if not isinstance(resp, dict):
                    continue
                if swagger:
                    produces = op.get("produces") or doc.get("produces") or ["application/json"]
                    sch = resp.get("schema")
                    content_map: dict[str, dict[str, Any] | None] = (
                        {ct: to_json_schema(sch, openapi_30=True) for ct in produces}
                        if sch is not None
                        else {}
                    )
                    req_headers: tuple[str, ...] = ()
                else:
                    content_map = {
                        ct: (
                            to_json_schema(m["schema"], openapi_30=openapi_30)
                            if isinstance(m, dict) and "schema" in m
                            else None
                        )
                        for ct, m in (resp.get("content") or {}).items()
                    }
                    req_headers = tuple(
                        h
                        for h, hv in (resp.get("headers") or {}).items()
                        if isinstance(hv, dict) and hv.get("required")
                    )
                responses[str(status)] = ResponseSpec(str(status), content_map, req_headers)
            security = op.get("security", global_security) or []
            ops.append(
                Operation(
                    method=method.upper(),
                    path=str(path),
                    operation_id=str(op.get("operationId") or f"{method.upper()} {path}"),
                    parameters=tuple(parameters),
                    request_body=body,
                    request_content_type=body_ct,
                    body_required=body_required,
                    responses=responses,
                    security=tuple(dict(s) for s in security if isinstance(s, dict)),
                    tags=tuple(str(t) for t in op.get("tags") or []),
                )
            )
    return ops


def response_spec_for(op: Operation, status: int) -> ResponseSpec | None:
    """The documented response for a status: exact, then ``4XX``-style range, then default."""
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in op.responses:
            return op.responses[key]
    return None


__all__ = [
    "DISCOVERY_PATHS",
    "Operation",
    "Parameter",
    "ResponseSpec",
    "Spec",
    "discover",
    "load_spec",
    "response_spec_for",
    "to_json_schema",
]
