"""Swagger 2.0, OpenAPI 3.0 and 3.1 documents (already ``$ref``-resolved) into the one model.

What differs between the versions and becomes the same here:

- parameters: path-level ones are merged into each operation (the operation's own win by
  name and location); Swagger 2.0 keeps the schema on the parameter itself, 3.x under ``schema``
  (or ``content``);
- bodies: 3.x ``requestBody.content``; 2.0 ``in: body`` (one schema under every ``consumes``
  type, JSON when none is given) and ``in: formData`` (an object schema of the form fields, sent
  as ``application/x-www-form-urlencoded`` or, with a ``type: file`` field or when ``consumes``
  says so, ``multipart/form-data``);
- responses: 2.0 ``schema`` under every ``produces`` type, 3.x ``content``;
- security: ``securityDefinitions``/``securitySchemes`` into ``SecurityScheme`` (2.0 ``basic`` is
  ``http``/``basic``, its ``application`` flow is ``client_credentials``, ``accessCode``
  ``authorization_code``); requirements document-wide or per operation, ``[]`` = public;
- the base path: 2.0 ``basePath``, 3.x the path of the first server URL (absolute or relative,
  server variables filled with their defaults). Never the host: traffic goes to the target.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from battletest.spec.model import (
    METHODS,
    Link,
    OAuthFlow,
    Operation,
    Parameter,
    ResponseSpec,
    SecurityScheme,
)
from battletest.spec.schema import Memo, to_json_schema

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_JSON = "application/json"
# keys of a Swagger 2.0 parameter that are not part of its schema
_PARAM_KEYS = frozenset(
    {"name", "in", "required", "description", "collectionFormat", "allowEmptyValue"}
)
_V2_GRANTS = {
    "application": "client_credentials",
    "password": "password",
    "accessCode": "authorization_code",
    "implicit": "implicit",
}
_V3_GRANTS = {
    "clientCredentials": "client_credentials",
    "password": "password",
    "authorizationCode": "authorization_code",
    "implicit": "implicit",
}


class Normaliser:
    """Builds operations and security schemes from one resolved document."""

    def __init__(self, doc: dict[str, Any], version: str) -> None:
        self.doc = doc
        self.swagger = version == "2.0"
        self.openapi_30 = not version.startswith("3.1")
        self._memo: Memo = {}

    def schema(self, raw: Any) -> dict[str, Any]:
        return to_json_schema(raw, openapi_30=self.openapi_30, _memo=self._memo)

    # -- document-wide ----------------------------------------------------------------------

    def base_path(self) -> str:
        """The base path only: never the host of a ``servers`` entry or ``host``."""
        if self.swagger:
            raw = str(self.doc.get("basePath") or "")
        else:
            servers = self.doc.get("servers") or []
            first = servers[0] if servers and isinstance(servers[0], dict) else {}
            raw = _fill_variables(str(first.get("url", "")), first.get("variables"))
            raw = urlsplit(raw).path if "://" in raw or raw.startswith("//") else raw
        raw = raw.split("{")[0]  # a variable without a default: keep the literal prefix
        return "/" + raw.strip("/") if raw.strip("/") else ""

    def origin(self) -> str | None:
        """``scheme://host`` of the document's server, for ``init`` to suggest as a target."""
        if self.swagger:
            host = self.doc.get("host")
            schemes = self.doc.get("schemes") or ["https"]
            return f"{schemes[0]}://{host}" if isinstance(host, str) and host else None
        servers = self.doc.get("servers") or []
        first = servers[0] if servers and isinstance(servers[0], dict) else {}
        parts = urlsplit(_fill_variables(str(first.get("url", "")), first.get("variables")))
        if parts.scheme in ("http", "https") and parts.netloc and "{" not in parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
        return None

    def security_schemes(self) -> dict[str, SecurityScheme]:
        if self.swagger:
            raw = self.doc.get("securityDefinitions") or {}
        else:
            raw = (self.doc.get("components") or {}).get("securitySchemes") or {}
        return {
            str(name): _scheme(str(name), value, swagger=self.swagger)
            for name, value in raw.items()
            if isinstance(value, dict)
        }

    def security(self) -> tuple[dict[str, list[str]], ...]:
        return _requirements(self.doc.get("security"))

    # -- operations -------------------------------------------------------------------------

    def operations(self, base_path: str) -> list[Operation]:
        ops: list[Operation] = []
        taken: set[str] = set()
        global_security = self.security()
        for path, item in (self.doc.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            shared = [p for p in item.get("parameters") or [] if isinstance(p, dict)]
            for method in METHODS:
                raw = item.get(method)
                if not isinstance(raw, dict):
                    continue
                merged = {(p.get("name"), p.get("in")): p for p in shared}
                own = [p for p in raw.get("parameters") or [] if isinstance(p, dict)]
                merged.update({(p.get("name"), p.get("in")): p for p in own})
                params = [p for p in merged.values() if p.get("in") not in ("body", "formData")]
                if self.swagger:
                    bodies, required = self._v2_bodies(raw, list(merged.values()))
                else:
                    bodies, required = self._v3_bodies(raw.get("requestBody"))
                responses = self._responses(raw)
                security = _requirements(raw["security"]) if "security" in raw else global_security
                ops.append(
                    Operation(
                        method=method.upper(),
                        path=str(path),
                        operation_id=_unique(
                            str(raw.get("operationId") or "") or synthesised_id(method, path),
                            taken,
                        ),
                        parameters=tuple(self._parameter(p) for p in params),
                        bodies=bodies,
                        body_required=required,
                        responses=responses,
                        security=security,
                        tags=tuple(str(t) for t in raw.get("tags") or ()),
                        summary=str(raw.get("summary") or ""),
                        description=str(raw.get("description") or ""),
                        deprecated=bool(raw.get("deprecated")),
                        base_path=base_path,
                        produces=_produces(raw, responses, self.doc)
                        if self.swagger
                        else tuple(dict.fromkeys(m for r in responses.values() for m in r.content)),
                    )
                )
        return ops

    def _parameter(self, p: dict[str, Any]) -> Parameter:
        location = str(p.get("in", "query"))
        if self.swagger and not isinstance(p.get("schema"), dict):
            raw: Any = {k: v for k, v in p.items() if k not in _PARAM_KEYS}
        elif isinstance(p.get("schema"), dict):  # 3.x; also 2.0 documents written 3.x-style
            # (flasgger's httpbin: ``in: query`` with ``schema``, ``style`` and ``explode``)
            raw = p["schema"]
        else:  # 3.x ``content``: one media type with a schema
            content = p.get("content") or {}
            raw = next((m.get("schema") for m in content.values() if isinstance(m, dict)), {})
        return Parameter(
            name=str(p.get("name")),
            location=location,
            required=bool(p.get("required")) or location == "path",
            schema=self.schema(raw or {}),
            description=str(p.get("description") or ""),
            deprecated=bool(p.get("deprecated")),
        )

    def _v3_bodies(self, rb: Any) -> tuple[dict[str, dict[str, Any]], bool]:
        if not isinstance(rb, dict):
            return {}, False
        bodies = {
            str(media): self.schema((m or {}).get("schema") or {})
            for media, m in (rb.get("content") or {}).items()
            if isinstance(m, dict) or m is None
        }
        return bodies, bool(rb.get("required"))

    def _v2_bodies(
        self, op: dict[str, Any], params: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        consumes = [str(c) for c in op.get("consumes") or self.doc.get("consumes") or []]
        body = next((p for p in params if p.get("in") == "body"), None)
        if body is not None:
            schema = self.schema(body.get("schema") or {})
            types = [c for c in consumes if "form" not in c] or [_JSON]
            return {c: schema for c in types}, bool(body.get("required"))
        fields = [p for p in params if p.get("in") == "formData"]
        if not fields:
            return {}, False
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in fields:
            name = str(f.get("name"))
            properties[name] = self.schema({k: v for k, v in f.items() if k not in _PARAM_KEYS})
            if f.get("required"):
                required.append(name)
        form: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            form["required"] = required
        has_file = any(f.get("type") == "file" for f in fields)
        types = [c for c in consumes if c.startswith((_FORM, _MULTIPART))]
        if not types:
            types = [_MULTIPART if has_file else _FORM]
        elif has_file:
            types = [c for c in types if c.startswith(_MULTIPART)] or [_MULTIPART]
        return {c: form for c in types}, bool(required)

    def _responses(self, op: dict[str, Any]) -> dict[str, ResponseSpec]:
        out: dict[str, ResponseSpec] = {}
        for status, resp in (op.get("responses") or {}).items():
            if not isinstance(resp, dict):
                continue
            content: dict[str, dict[str, Any] | None]
            if self.swagger:
                produces = op.get("produces") or self.doc.get("produces") or [_JSON]
                sch = resp.get("schema")
                content = {str(ct): self.schema(sch) for ct in produces} if sch is not None else {}
                headers: tuple[str, ...] = ()
                examples = dict(resp.get("examples") or {})
            else:
                examples = {
                    str(ct): _media_example(m)
                    for ct, m in (resp.get("content") or {}).items()
                    if _media_example(m) is not _NONE
                }
                content = {
                    str(ct): (
                        self.schema(m["schema"]) if isinstance(m, dict) and "schema" in m else None
                    )
                    for ct, m in (resp.get("content") or {}).items()
                }
                headers = tuple(
                    str(h)
                    for h, hv in (resp.get("headers") or {}).items()
                    if isinstance(hv, dict) and hv.get("required")
                )
            out[str(status)] = ResponseSpec(
                str(status),
                content,
                headers,
                str(resp.get("description") or ""),
                examples,
                () if self.swagger else _links(resp.get("links")),
            )
        return out


_NONE = object()


def _links(raw: Any) -> tuple[Link, ...]:
    """A 3.x response's ``links`` (``$ref`` already resolved); malformed entries are skipped."""
    if not isinstance(raw, dict):
        return ()
    out = []
    for name, link in raw.items():
        if not isinstance(link, dict) or not (link.get("operationId") or link.get("operationRef")):
            continue
        params = link.get("parameters")
        out.append(
            Link(
                name=str(name),
                operation_id=str(link.get("operationId") or ""),
                operation_ref=str(link.get("operationRef") or ""),
                parameters={str(k): v for k, v in params.items()}
                if isinstance(params, dict)
                else {},
                request_body=link.get("requestBody"),
            )
        )
    return tuple(out)


def _media_example(media: Any) -> Any:
    """A 3.x media type's ``example``, or the value of its first ``examples`` entry."""
    if not isinstance(media, dict):
        return _NONE
    if "example" in media:
        return media["example"]
    for entry in (media.get("examples") or {}).values():
        if isinstance(entry, dict) and "value" in entry:
            return entry["value"]
    return _NONE


def synthesised_id(method: str, path: str) -> str:
    """A stable operation id for an operation without one: ``get_pets_pet_id``."""
    words = re.findall(r"[A-Za-z0-9]+", str(path))
    return "_".join([method.lower(), *words]) if words else method.lower() + "_root"


def _unique(candidate: str, taken: set[str]) -> str:
    name, n = candidate, 2
    while name in taken:
        name, n = f"{candidate}_{n}", n + 1
    taken.add(name)
    return name


def _produces(
    op: dict[str, Any], responses: dict[str, ResponseSpec], doc: dict[str, Any]
) -> tuple[str, ...]:
    declared = op.get("produces") or doc.get("produces")
    if declared:
        return tuple(str(p) for p in declared)
    return tuple(dict.fromkeys(m for r in responses.values() for m in r.content))


def _fill_variables(url: str, variables: Any) -> str:
    if not isinstance(variables, dict):
        return url

    def value(match: re.Match[str]) -> str:
        var = variables.get(match.group(1))
        if isinstance(var, dict) and "default" in var:
            return str(var["default"])
        return match.group(0)

    return re.sub(r"\{([^}]+)\}", value, url)


def _requirements(raw: Any) -> tuple[dict[str, list[str]], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        {str(k): [str(s) for s in v or ()] for k, v in req.items()}
        for req in raw
        if isinstance(req, dict)
    )


def _scheme(name: str, raw: dict[str, Any], *, swagger: bool) -> SecurityScheme:
    kind = str(raw.get("type") or "")
    description = str(raw.get("description") or "")
    if kind == "basic":  # Swagger 2.0
        return SecurityScheme(name, "http", scheme="basic", description=description)
    if kind == "apiKey":
        return SecurityScheme(
            name,
            "apiKey",
            location=str(raw.get("in") or "header"),
            param_name=str(raw.get("name") or ""),
            description=description,
        )
    if kind == "http":
        return SecurityScheme(
            name,
            "http",
            scheme=str(raw.get("scheme") or "").lower() or None,
            bearer_format=raw.get("bearerFormat"),
            description=description,
        )
    if kind == "oauth2":
        flows: list[OAuthFlow] = []
        if swagger:
            grant = _V2_GRANTS.get(str(raw.get("flow")), str(raw.get("flow")))
            flows.append(_flow(grant, raw))
        else:
            for key, value in (raw.get("flows") or {}).items():
                if isinstance(value, dict):
                    flows.append(_flow(_V3_GRANTS.get(str(key), str(key)), value))
        return SecurityScheme(name, "oauth2", flows=tuple(flows), description=description)
    if kind == "openIdConnect":
        return SecurityScheme(
            name, kind, openid_url=raw.get("openIdConnectUrl"), description=description
        )
    return SecurityScheme(name, kind or "other", description=description)


def _flow(grant: str, raw: dict[str, Any]) -> OAuthFlow:
    scopes = raw.get("scopes") or {}
    return OAuthFlow(
        grant=grant,
        token_url=raw.get("tokenUrl"),
        authorization_url=raw.get("authorizationUrl"),
        refresh_url=raw.get("refreshUrl"),
        scopes={str(k): str(v) for k, v in scopes.items()} if isinstance(scopes, dict) else {},
    )
