"""The one shape every OpenAPI version becomes: operations, parameters, bodies, responses, security.

Values only (frozen slotted dataclasses) plus the small helpers consumers share to read them:
``properties_of`` (properties through allOf/anyOf/oneOf), ``item_schema`` (the objects a response
carries), ``path_matches``/``select`` (path globs). Building them from a document is ``normalise``.

Paths: ``Operation.path`` is the path as the document writes it (``/pets/{id}``);
``Operation.url_path`` is the same with the document's base path in front (``/v2/pets/{id}``),
which is what goes on the wire, under the host of the target the user named.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PARAM = re.compile(r"\{([^}/]+)\}")

Location = Literal["path", "query", "header", "cookie"]
# request bodies in the order a consumer should prefer them when it may pick one
_BODY_PREFERENCE = ("json", "x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: dict[str, Any]  # JSON Schema
    description: str = ""
    deprecated: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """An OpenAPI 3 response link: the operation this answer leads to (``operationId``, or
    ``operationRef`` ``#/paths/~1users~1{id}/get``) and how that operation's inputs come from
    this exchange — runtime expressions such as ``$response.body#/id`` (``spec.links``)."""

    name: str
    operation_id: str = ""
    operation_ref: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)  # [in.]name → expression or value
    request_body: Any = None


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    status: str  # "200", "4XX", "default"
    content: dict[str, dict[str, Any] | None]  # media type → JSON Schema (None: no schema)
    required_headers: tuple[str, ...] = ()
    description: str = ""
    examples: dict[str, Any] = field(default_factory=dict)  # media type → a documented example
    links: tuple[Link, ...] = ()  # 3.x only


@dataclass(frozen=True, slots=True)
class OAuthFlow:
    """One OAuth2 flow (OpenAPI 3 names; Swagger 2.0 ``application`` is client_credentials)."""

    grant: str  # client_credentials | password | authorization_code | implicit
    token_url: str | None = None
    authorization_url: str | None = None
    refresh_url: str | None = None
    scopes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """A security scheme, the same for ``securityDefinitions`` (2.0) and ``securitySchemes``."""

    name: str
    type: str  # http | apiKey | oauth2 | openIdConnect | mutualTLS (2.0 basic → http)
    scheme: str | None = None  # http: basic | bearer | digest … (lower case)
    location: str | None = None  # apiKey: header | query | cookie
    param_name: str | None = None  # apiKey: the header, query parameter or cookie name
    bearer_format: str | None = None
    flows: tuple[OAuthFlow, ...] = ()
    openid_url: str | None = None
    description: str = ""

    @property
    def kind(self) -> str:
        """``basic``, ``bearer``, ``apiKey``, ``oauth2``, ``openIdConnect`` or ``other``."""
        if self.type == "http" and self.scheme in ("basic", "bearer"):
            return self.scheme
        if self.type in ("apiKey", "oauth2", "openIdConnect"):
            return self.type
        return "other"

    @property
    def header_name(self) -> str | None:
        """The request header that carries this scheme's credential (None: query or cookie)."""
        if self.type == "apiKey":
            return self.param_name if self.location == "header" else None
        if self.type in ("http", "oauth2", "openIdConnect"):
            return "Authorization"
        return None

    def flow(self, grant: str) -> OAuthFlow | None:
        return next((f for f in self.flows if f.grant == grant), None)


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path."""

    method: str  # upper case
    path: str  # as in the document, with {placeholders}, without the base path
    operation_id: str
    parameters: tuple[Parameter, ...] = ()
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # media type → JSON Schema
    body_required: bool = False
    responses: dict[str, ResponseSpec] = field(default_factory=dict)
    security: tuple[dict[str, list[str]], ...] = ()  # alternatives; () or a {} = public
    tags: tuple[str, ...] = ()
    summary: str = ""
    description: str = ""
    deprecated: bool = False
    base_path: str = ""
    produces: tuple[str, ...] = ()  # response media types (2.0 ``produces``, 3.x content keys)

    # -- paths ------------------------------------------------------------------------------

    @property
    def url_path(self) -> str:
        """The path on the wire: the base path, then the document's path."""
        return self.base_path + self.path

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def key(self) -> str:
        return f"{self.method} {self.url_path}"

    @property
    def path_params(self) -> list[str]:
        return _PARAM.findall(self.path)

    def collection_path(self) -> str | None:
        """``/a/{id}`` → ``/a`` (URL paths): where objects of this item are listed or created."""
        path = self.url_path
        if path.endswith("}") and "/" in path.rstrip("/"):
            return path.rsplit("/", 1)[0] or None
        return None

    def fill(self, values: Mapping[str, Any]) -> str | None:
        """The URL path with its path parameters filled, or None when one is missing."""
        if any(p not in values for p in self.path_params):
            return None
        return _PARAM.sub(lambda m: str(values[m.group(1)]), self.url_path)

    # -- parameters and bodies --------------------------------------------------------------

    def params_in(self, location: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == location)

    @property
    def consumes(self) -> tuple[str, ...]:
        return tuple(self.bodies)

    @property
    def request_content_type(self) -> str | None:
        """The body media type a consumer should send: JSON, then form, then multipart."""
        for wanted in _BODY_PREFERENCE:
            for media in self.bodies:
                if wanted in media:
                    return media
        return next(iter(self.bodies), None)

    @property
    def request_body(self) -> dict[str, Any] | None:
        """The JSON Schema of the preferred body (see ``request_content_type``), or None."""
        media = self.request_content_type
        return self.bodies[media] if media is not None else None

    @property
    def body_schema(self) -> dict[str, Any] | None:
        """The JSON body's schema, or None when the operation takes no JSON body."""
        return next((s for m, s in self.bodies.items() if "json" in m), None)

    def body_properties(self) -> dict[str, Mapping[str, Any]]:
        return properties_of(self.request_body)

    def response_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of the first documented 2xx JSON response, if any."""
        for status in sorted(self.responses):
            if status.startswith("2"):
                for media, schema in self.responses[status].content.items():
                    if "json" in media:
                        return schema
        return None

    # -- security ---------------------------------------------------------------------------

    @property
    def secured(self) -> bool:
        """Some credential is required (no alternative is the public ``{}``)."""
        return bool(self.security) and all(req for req in self.security)

    @property
    def scopes(self) -> set[str]:
        return {s for req in self.security for scopes in req.values() for s in scopes}

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS


@dataclass(slots=True)
class Spec:
    """A resolved API document and its operations."""

    document: dict[str, Any]  # $ref resolved (a cycle cut to an open schema)
    version: str  # "2.0", "3.0.x", "3.1.x"
    source: str
    base_path: str = ""
    operations: list[Operation] = field(default_factory=list)
    security_schemes: dict[str, SecurityScheme] = field(default_factory=dict)
    security: tuple[dict[str, list[str]], ...] = ()  # the document-wide requirement
    title: str = ""
    origin: str | None = None  # scheme://host the document names (informational: never used
    # to send requests, which go to the target the user named)

    @property
    def is_31(self) -> bool:
        return self.version.startswith("3.1")

    @property
    def is_swagger2(self) -> bool:
        return self.version == "2.0"

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation at ``path`` as the document writes it, or as a URL path."""
        for op in self.operations:
            if op.method == method.upper() and path in (op.path, op.url_path):
                return op
        return None

    def auth_header_names(self) -> list[str]:
        """Headers the security schemes put credentials in (for redaction)."""
        names = {s.header_name for s in self.security_schemes.values() if s.header_name}
        return sorted(names)


def response_spec_for(op: Operation, status: int) -> ResponseSpec | None:
    """The documented response for a status: exact, then ``4XX``-style range, then default."""
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in op.responses:
            return op.responses[key]
    return None


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
    types = schema.get("type")
    if (types == "array" or (isinstance(types, list) and "array" in types)) and isinstance(
        schema.get("items"), Mapping
    ):
        return item_schema(schema["items"])
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, Mapping) and sub.get("type") != "null":
                return item_schema(sub)
    return schema


def path_matches(path: str, pattern: str) -> bool:
    """Glob match of a path (``/v2/*`` also matches ``/v2/items/{id}``)."""
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path + "/", pattern)


def select(
    operations: Iterable[Operation], include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> list[Operation]:
    """Operations whose URL path matches an include glob (all when none) and no exclude glob."""
    inc, exc = list(include), list(exclude)
    return [
        op
        for op in operations
        if (not inc or any(path_matches(op.url_path, g) for g in inc))
        and not any(path_matches(op.url_path, g) for g in exc)
    ]
