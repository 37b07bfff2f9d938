"""Request data from an operation's schemas, with hypothesis-jsonschema.

hypothesis-jsonschema 0.23 draws objects through a Hypothesis internal that current Hypothesis
releases no longer have, so ``from_json_schema`` builds objects and arrays itself (fixed
dictionaries of the properties) and hands every other schema to ``from_schema``; every drawn
value is checked against the schema, so what is sent is schema-valid.

``request_strategy(op)`` draws schema-valid path/query/header/cookie parameters and a body for
the operation's preferred media type (``Operation.request_content_type``: JSON, then
``application/x-www-form-urlencoded``, then ``multipart/form-data``, where ``format: binary``
fields are sent as file parts); ``probe_request(op)`` gives one small deterministic request whose
path ids do not exist (for checks that must not touch real records); ``RequestData.build`` turns
either into an ``httpx.Request`` encoded as the media type says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis_jsonschema import from_schema as _leaf_schema
from jsonschema import Draft202012Validator

from battletest.spec import Operation

_HEADER_SAFE = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)
_QUIET = settings(
    database=None,
    deadline=None,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    max_examples=200,
)


_MAX_DEPTH = 6


def from_schema(schema: Any) -> st.SearchStrategy[Any]:
    """Values valid against a JSON schema (objects and arrays built here, the rest by the library)."""
    if not isinstance(schema, dict) or not schema:
        return _leaf_schema(schema if isinstance(schema, dict | bool) else {})
    try:
        validator = Draft202012Validator(schema)
        return _strategy(schema, 0).filter(validator.is_valid)
    except Exception:  # an unusual schema: let the library try it whole
        return _leaf_schema(schema)


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for sub in schema.get("allOf") or []:
        if not isinstance(sub, dict):
            continue
        sub = _merge_all_of(sub)
        for key, value in sub.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _strategy(schema: Any, depth: int) -> st.SearchStrategy[Any]:
    if not isinstance(schema, dict):
        return _leaf_schema(schema if isinstance(schema, bool) else {})
    if "allOf" in schema:
        return _strategy(_merge_all_of(schema), depth)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            rest = {k: v for k, v in schema.items() if k != key}
            options = [
                _strategy({**rest, **sub} if isinstance(sub, dict) else sub, depth)
                for sub in schema[key]
            ]
            return st.one_of(options)
    types = schema.get("type")
    if isinstance(types, list):
        return st.one_of([_strategy({**schema, "type": t}, depth) for t in types])
    if "enum" in schema or "const" in schema:
        return _leaf_schema(schema)
    is_object = types == "object" or (types is None and "properties" in schema)
    if is_object:
        if depth >= _MAX_DEPTH:
            return st.just({})
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        fixed = {k: _strategy(v, depth + 1) for k, v in props.items() if k in required}
        optional = {k: _strategy(v, depth + 1) for k, v in props.items() if k not in required}
        for name in required - set(props):
            fixed[name] = _strategy(
                schema.get("additionalProperties")
                if isinstance(schema.get("additionalProperties"), dict)
                else {"type": "string"},
                depth + 1,
            )
        base = st.fixed_dictionaries(fixed, optional=optional)
        extra = schema.get("additionalProperties")
        if not props and not fixed and isinstance(extra, dict):
            keys = st.text(
                st.characters(min_codepoint=0x61, max_codepoint=0x7A), min_size=1, max_size=8
            )
            return st.dictionaries(keys, _strategy(extra, depth + 1), max_size=3)
        return base
    if types == "array" or (types is None and "items" in schema):
        if depth >= _MAX_DEPTH:
            return st.just([])
        items = schema.get("items")
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + 3))
        elements = _strategy(items if isinstance(items, dict) else {}, depth + 1)
        return st.lists(elements, min_size=low, max_size=max(low, min(high, low + 3)))
    return _leaf_schema(schema)


@dataclass(slots=True)
class RequestData:
    path_params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False

    def build(
        self, client: httpx.Client, op: Operation, base_path: str, auth_headers: dict[str, str]
    ) -> httpx.Request:
        """The request at ``base_path`` + the operation's path (``op.url_path`` when
        ``base_path`` is the spec's), the body encoded as its media type says."""
        path = op.path
        for name, value in self.path_params.items():
            path = path.replace("{" + name + "}", quote(_scalar(value), safe=""))
        params = {k: _query_value(v) for k, v in self.query.items()}
        headers = {**self.headers, **auth_headers}
        if self.cookies:  # a Cookie header: httpx deprecates per-request cookie jars
            jar = "; ".join(f"{k}={quote(v, safe='')}" for k, v in self.cookies.items())
            headers["Cookie"] = "; ".join(c for c in (jar, auth_headers.get("Cookie")) if c)
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if self.has_body:
            kwargs.update(encode_body(op, self.body, headers))
        return client.build_request(op.method, base_path + path, **kwargs)


def encode_body(op: Operation, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    """httpx keyword arguments sending ``body`` as the operation's preferred media type
    (sets Content-Type in ``headers`` where httpx does not)."""
    ct = op.request_content_type or "application/json"
    if "x-www-form-urlencoded" in ct and isinstance(body, dict):
        fields = {k: _form_value(v) for k, v in body.items() if v is not None}
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # an empty form too
        return {"content": urlencode(fields, doseq=True).encode()}
    if "multipart/form-data" in ct and isinstance(body, dict):
        props = (op.request_body or {}).get("properties") or {}
        headers["Content-Type"] = f"multipart/form-data; boundary={_BOUNDARY}"
        return {"content": _multipart(body, props)}
    if "json" in ct:
        headers["Content-Type"] = ct
        return {"content": json.dumps(body).encode()}
    if (ct.startswith("text/") or _raw_media(ct)) and isinstance(body, str):
        # a text or binary body (image/png, application/octet-stream) as the documented type:
        # labelled JSON it is answered 415 by a service that takes only its own type
        headers["Content-Type"] = ct
        return {"content": body.encode()}
    headers["Content-Type"] = "application/json"  # XML and the like: JSON is what we can write
    return {"content": json.dumps(body).encode()}


def _raw_media(ct: str) -> bool:
    """A media type whose body is sent as its bytes (not XML, JSON or a form)."""
    return not any(word in ct for word in ("xml", "json", "form"))


_BOUNDARY = "battletest-form-boundary-7f3a9c"  # fixed: the same data gives the same bytes


def _multipart(body: dict[str, Any], props: dict[str, Any]) -> bytes:
    """``multipart/form-data`` of the fields; ``format: binary`` ones as file parts. Written
    here because httpx falls back to url-encoding when a form has no file."""
    out = bytearray()
    for name, value in body.items():
        if value is None:
            continue
        binary = (props.get(name) or {}).get("format") == "binary"
        values = value if isinstance(value, list) and not binary else [value]
        for item in values:
            head = f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'
            if binary:
                head += f'; filename="{name}.bin"\r\nContent-Type: application/octet-stream'
            out += (head + "\r\n\r\n").encode()
            out += item.encode() if isinstance(item, str) else _scalar(item).encode()
            out += b"\r\n"
    out += f"--{_BOUNDARY}--\r\n".encode()
    return bytes(out)


def _form_value(value: Any) -> Any:
    return [_scalar(v) for v in value] if isinstance(value, list) else _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _query_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_scalar(v) for v in value]
    return _scalar(value)


def sendable(schema: dict[str, Any]) -> dict[str, Any]:
    """A required query, header or cookie parameter's schema with at least one array item: an
    empty array is not sent at all (``?status=`` is one empty item), so the request would lack
    the parameter (Petstore's ``GET /pet/findByStatus`` probed without ``status``)."""
    if (schema or {}).get("type") == "array" and int(schema.get("minItems", 0)) < 1:
        return {**schema, "minItems": 1}
    return schema


def body_schema(op: Operation) -> dict[str, Any] | None:
    """The preferred body's schema; a required text or binary body (Gitea's
    ``POST /markdown/raw``) is at least one character: an empty one is no body on the wire."""
    schema = op.request_body
    ct = op.request_content_type or ""
    text = ct.startswith("text/") or _raw_media(ct)
    if schema is not None and op.body_required and text and schema.get("type") == "string":
        return {**schema, "minLength": max(1, int(schema.get("minLength", 0)))}
    return schema


def _param_strategy(schema: dict[str, Any], location: str) -> st.SearchStrategy[Any]:
    strategy = from_schema(schema or {})
    if location == "path":
        return strategy.filter(lambda v: _scalar(v).strip() not in ("", ".", ".."))
    if location in ("header", "cookie"):
        return _HEADER_SAFE if schema.get("type") in (None, "string") else strategy.map(_scalar)
    return strategy.filter(lambda v: v is not None)


def request_strategy(op: Operation) -> st.SearchStrategy[RequestData]:
    """Schema-valid requests for ``op`` (optional query parameters sometimes left out)."""
    groups: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "path": {},
        "query": {},
        "header": {},
        "cookie": {},
    }
    optional: dict[str, dict[str, st.SearchStrategy[Any]]] = {"query": {}, "cookie": {}}
    for p in op.parameters:
        if p.location not in groups:
            continue
        strategy = _param_strategy(sendable(p.schema) if p.required else p.schema, p.location)
        if p.required:
            groups[p.location][p.name] = strategy
        elif p.location in optional:
            optional[p.location][p.name] = strategy
    path = st.fixed_dictionaries(groups["path"])
    query = st.fixed_dictionaries(groups["query"], optional=optional["query"])
    headers = st.fixed_dictionaries(groups["header"])
    cookies = st.fixed_dictionaries(groups["cookie"], optional=optional["cookie"])
    if op.request_body is not None:
        body: st.SearchStrategy[Any] = from_schema(body_schema(op))
        if not op.body_required:
            body = st.one_of(body, st.just(_NO_BODY))
    else:
        body = st.just(_NO_BODY)
    return st.builds(_assemble, path, query, headers, cookies, body)


_NO_BODY = object()


def _assemble(
    path: dict[str, Any],
    query: dict[str, Any],
    headers: dict[str, Any],
    cookies: dict[str, Any],
    body: Any,
) -> RequestData:
    has_body = body is not _NO_BODY
    return RequestData(
        path_params=path,
        query=query,
        headers={k: _scalar(v) for k, v in headers.items()},
        cookies={k: _scalar(v) for k, v in cookies.items()},
        body=body if has_body else None,
        has_body=has_body,
    )


def minimal(schema: dict[str, Any]) -> Any:
    """The simplest schema-valid value (hypothesis shrinking), or ``{}`` when none is found."""
    try:
        return find(from_schema(schema or {}), lambda _: True, settings=_QUIET)
    except (HypothesisException, ValueError, TypeError):
        return {}


def missing_id(schema: dict[str, Any]) -> Any:
    """A path id that almost certainly names no record, valid for the parameter's schema."""
    t = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if t == "integer" or t == "number":
        maximum = schema.get("maximum")
        return min(987654321, int(maximum)) if maximum is not None else 987654321
    if schema.get("format") == "uuid":
        return "00000000-0000-4000-8000-00000000b7e5"
    if t in (None, "string"):
        value = "battletest-missing-0"
        max_len = schema.get("maxLength")
        if max_len is not None and max_len < len(value):
            value = value[: max(1, int(max_len))]
        return value
    return minimal(schema)


def pin_values(
    data: RequestData, values: Mapping[str, Any], body_fields: Iterable[str] = ()
) -> RequestData:
    """Replace generated path, query and top-level body values by the known ones
    (``[suites.contract].values``) wherever a name matches; ``body_fields`` (the body schema's
    properties) get their known value even when the generated body left them out."""
    if not values:
        return data
    for bag in (data.path_params, data.query):
        for name in bag:
            if name in values:
                bag[name] = values[name]
    if isinstance(data.body, dict):
        for name in {*data.body, *body_fields}:
            if name in values:
                data.body[name] = values[name]
    return data


def probe_request(op: Operation) -> RequestData:
    """One small valid request whose path ids name nothing (required parts only)."""
    data = RequestData()
    for p in op.parameters:
        if not p.required:
            continue
        if p.location == "path":
            data.path_params[p.name] = missing_id(p.schema)
        elif p.location == "query":
            data.query[p.name] = minimal(sendable(p.schema))
        elif p.location == "header":
            data.headers[p.name] = _scalar(minimal(sendable(p.schema))) or "x"
        elif p.location == "cookie":
            data.cookies[p.name] = _scalar(minimal(sendable(p.schema))) or "x"
    if op.request_body is not None:
        data.body = minimal(body_schema(op) or {})
        data.has_body = True
    return data


__all__ = [
    "RequestData",
    "encode_body",
    "minimal",
    "missing_id",
    "pin_values",
    "probe_request",
    "request_strategy",
]
