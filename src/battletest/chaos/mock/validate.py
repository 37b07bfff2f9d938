"""Requests checked against the operation they reach (``MockServer.from_openapi(validate=True)``).

A mock that answers every request with the documented success accepts what the real service
would refuse, so a client's error handling (and battletest's errors and auth suites) sees
nothing. With validation on, a request without the credentials any of its operation's security
alternatives asks for (an ``Authorization`` header, HTTP Basic, the API key's header, query
parameter or cookie: present, never verified) gets the operation's documented ``401`` (else a
plain one); a body of a media type the operation does not take gets its ``415`` (else a plain
one); a request that breaks its operation's document gets the documented ``400`` (else
``422``, else another documented 4xx, else a plain ``400``) with that response's example or a
schema-built body: a path, query or header parameter that does not parse as its schema's type
or fails its schema, a missing required query or header parameter, a JSON body that is not JSON
or fails the body schema, a missing required body. Whether a token is genuine or an object
exists is not checked: the mock keeps no users and no data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from battletest.chaos.mock.http import Request, Response
from battletest.spec import Operation, Parameter, SecurityScheme

Check = Callable[[Request, Mapping[str, str]], Response | None]
_FAILED = object()


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """A parameter's text as its schema's type (``_FAILED`` when it does not parse)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return _FAILED
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), _FAILED)
    return raw


def _parameter_problem(p: Parameter, values: list[str], valid: Callable[..., bool]) -> str | None:
    schema = p.schema or {}
    if schema.get("type") == "array":
        found = schema.get("items")
        items: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        texts = values[0].split(",") if len(values) == 1 else values
        value: Any = [_coerce(t, items) for t in texts]
        if _FAILED in value:
            return f"{p.location} parameter {p.name!r}: an item is not of type {items.get('type')}"
    else:
        value = _coerce(values[0], schema)
        if value is _FAILED:
            return f"{p.location} parameter {p.name!r}: {values[0]!r} is not {schema.get('type')}"
    if not valid(schema, value):
        return f"{p.location} parameter {p.name!r}: {value!r} does not match its schema"
    return None


def request_problem(
    op: Operation, request: Request, path_params: Mapping[str, str], valid: Callable[..., bool]
) -> str | None:
    """What makes ``request`` break ``op``'s document, or None when it conforms."""
    for p in op.parameters:
        if p.location == "path":
            values = [path_params[p.name]] if p.name in path_params else []
        elif p.location == "query":
            values = request.query.get(p.name, [])
        elif p.location == "header":
            found = request.header(p.name)
            values = [found] if found is not None else []
        else:
            continue  # cookies: rarely validated by a service before its logic
        if not values:
            if p.required and p.location != "path":
                return f"missing required {p.location} parameter {p.name!r}"
            continue
        problem = _parameter_problem(p, values, valid)
        if problem is not None:
            return problem
    if not op.bodies:
        return None
    if not request.body:
        return "missing required request body" if op.body_required else None
    sent = (request.header("content-type") or "").split(";")[0].strip().lower()
    media = next((m for m in op.bodies if m.lower() == sent), None)
    if media is None or "json" not in media:
        return None  # forms and other media types are accepted as sent (see media_problem)
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        return "the request body is not valid JSON"
    schema = op.bodies[media]
    if schema and not valid(schema, body):
        return "the request body does not match its schema"
    return None


def _has_credential(scheme: SecurityScheme | None, request: Request) -> bool:
    """Whether ``request`` carries the credential ``scheme`` asks for (present, not verified)."""
    if scheme is None:
        return True  # a requirement naming an undeclared scheme: nothing to look for
    auth = (request.header("authorization") or "").strip()
    if scheme.type == "http" and scheme.scheme == "basic":
        return auth.lower().startswith("basic ")
    if scheme.type in ("http", "oauth2", "openIdConnect"):
        return bool(auth)
    if scheme.type == "apiKey" and scheme.param_name:
        if scheme.location == "query":
            return scheme.param_name in request.query
        if scheme.location == "cookie":
            cookies = request.header("cookie") or ""
            return any(c.strip().startswith(scheme.param_name + "=") for c in cookies.split(";"))
        return request.header(scheme.param_name) is not None
    return True


def credentials_problem(
    op: Operation, schemes: Mapping[str, SecurityScheme], request: Request
) -> str | None:
    """Why ``request`` lacks the credentials of every security alternative of ``op`` (None
    when one alternative's are all there, or the operation is public)."""
    alternatives = [alt for alt in op.security]
    if not alternatives or any(not alt for alt in alternatives):
        return None
    for alt in alternatives:
        if all(_has_credential(schemes.get(name), request) for name in alt):
            return None
    names = " or ".join("+".join(alt) for alt in alternatives)
    return f"no credentials for {names}"


def media_problem(op: Operation, request: Request) -> str | None:
    """Why the body's media type is one ``op`` does not take (Kubernetes' PATCH takes only the
    JSON patch types, not ``application/json``), or None."""
    if not op.bodies or not request.body:
        return None
    sent = (request.header("content-type") or "").split(";")[0].strip().lower()
    for media in (m.lower() for m in op.bodies):
        if media in (sent, "*/*") or (media.endswith("/*") and sent.startswith(media[:-1])):
            return None
    return f"unsupported media type {sent or '(none)'} (takes {', '.join(op.bodies)})"


def refusal_key(op: Operation) -> str | None:
    """The documented response a refused request gets (see the module docstring)."""
    for key in ("400", "422"):
        if key in op.responses:
            return key
    others = sorted(c for c in op.responses if c[:1] == "4" and c not in ("401", "403", "404"))
    return others[0] if others else None


def checker(
    op: Operation,
    schemes: Mapping[str, SecurityScheme],
    refusals: tuple[Response, Response, Response],
    valid: Callable[..., bool],
) -> Check:
    """The stub's request check: for a request without the operation's credentials the first
    of ``refusals`` (its 401), for a body of a media type it does not take the second (415), for
    one that breaks the document the third (its 400), each with the reason in
    ``x-mock-problem``; None for a request that conforms."""
    unauthorized, unsupported, bad = refusals

    def check(request: Request, path_params: Mapping[str, str]) -> Response | None:
        refusal, problem = unauthorized, credentials_problem(op, schemes, request)
        if problem is None:
            refusal, problem = unsupported, media_problem(op, request)
        if problem is None:
            refusal, problem = bad, request_problem(op, request, path_params, valid)
        if problem is None:
            return None
        text = problem.encode("ascii", "replace").decode()[:200]
        headers = [*refusal.headers, ("x-mock-problem", text)]
        return Response(refusal.status, headers, refusal.body)

    return check


__all__ = [
    "Check",
    "checker",
    "credentials_problem",
    "media_problem",
    "refusal_key",
    "request_problem",
]
