"""OpenAPI 3 links between operations: which operation an answer leads to, and the values
that answer gives the next operation's inputs.

``links_to(operations, consumer)`` lists the (producer, status, ``Link``) that lead to
``consumer`` — by ``operationId``, or by ``operationRef`` (a JSON pointer into the document's
``paths``, local ``#/paths/~1users~1{id}/get`` or with a document in front);
``evaluate(expression, exchange)`` reads a runtime expression (``$response.body#/id``,
``$response.header.Location``, ``$request.path.id``, ``$request.query.q``, ``$request.body#/a``,
``$url``, ``$method``, ``$statusCode``, or a string with ``{$…}`` inside) against one
exchange, given as plain values so any consumer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from battletest.spec.model import Link, Operation

_EMBEDDED = re.compile(r"\{(\$[^}]+)\}")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class LinkExchange:
    """What a runtime expression may read: the producer's request and answer."""

    url: str = ""
    method: str = ""
    status: int = 0
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: Any = None


def _ref_target(ref: str) -> tuple[str, str] | None:
    """(method, path) an ``operationRef`` points at (``…#/paths/~1users~1{id}/get``)."""
    _, _, pointer = ref.partition("#")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")]
    if len(parts) != 4 or parts[1] != "paths":
        return None
    return parts[3].upper(), parts[2]


def leads_to(link: Link, consumer: Operation) -> bool:
    """Whether ``link`` names ``consumer``."""
    if link.operation_id:
        return link.operation_id == consumer.operation_id
    target = _ref_target(link.operation_ref)
    return target is not None and target == (consumer.method, consumer.path)


def links_to(
    operations: Iterable[Operation], consumer: Operation
) -> list[tuple[Operation, str, Link]]:
    """(producer, response status, link) of every link in ``operations`` that leads to
    ``consumer``, 2xx answers first."""
    found = [
        (op, status, link)
        for op in operations
        for status, response in op.responses.items()
        for link in response.links
        if leads_to(link, consumer)
    ]
    return sorted(found, key=lambda t: not t[1].startswith("2"))


def _pointer(value: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer into ``value`` (``_MISSING`` when it does not resolve)."""
    if pointer in ("", "/"):
        return value if pointer == "" else _MISSING
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _header(headers: Mapping[str, str], name: str) -> Any:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), _MISSING)


def _one(expression: str, ex: LinkExchange) -> Any:
    source, _, pointer = expression.partition("#")
    if source == "$url":
        return ex.url
    if source == "$method":
        return ex.method
    if source == "$statusCode":
        return ex.status
    for side, headers, body in (
        ("$request", ex.request_headers, ex.request_body),
        ("$response", ex.response_headers, ex.response_body),
    ):
        if not source.startswith(side + "."):
            continue
        where, _, name = source[len(side) + 1 :].partition(".")
        if where == "body":
            return _pointer(body, pointer)
        if where == "header":
            return _header(headers, name)
        if side == "$request" and where == "path":
            return ex.path_params.get(name, _MISSING)
        if side == "$request" and where == "query":
            return ex.query.get(name, _MISSING)
    return _MISSING


def evaluate(expression: Any, ex: LinkExchange) -> Any:
    """The value of a link parameter or request body: a runtime expression read from
    ``ex``, a string with ``{$…}`` expressions inside, or a constant as given. None when an
    expression does not resolve in this exchange."""
    if not isinstance(expression, str):
        return expression
    if expression.startswith("$"):
        value = _one(expression, ex)
        return None if value is _MISSING else value
    if "{$" not in expression:
        return expression
    parts: list[str] = []
    last = 0
    for m in _EMBEDDED.finditer(expression):
        value = _one(m.group(1), ex)
        if value is _MISSING:
            return None
        parts += [expression[last : m.start()], str(value)]
        last = m.end()
    return "".join([*parts, expression[last:]])


__all__ = ["LinkExchange", "evaluate", "leads_to", "links_to"]
