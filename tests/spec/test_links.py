"""OpenAPI 3 response links in the spec model, and their runtime expressions (no sockets)."""

from __future__ import annotations

from typing import Any

from battletest.spec import Link, LinkExchange, evaluate, from_document, links_to


def _doc() -> dict[str, Any]:
    item = "/users/{id}"
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/users": {
                "post": {
                    "operationId": "createUser",
                    "responses": {
                        "201": {
                            "description": "made",
                            "links": {
                                "byId": {
                                    "operationId": "getUser",
                                    "parameters": {"path.id": "$response.body#/id"},
                                },
                                "orders": {"$ref": "#/components/links/orders"},
                                "broken": {"parameters": {"id": "1"}},  # names no operation
                            },
                        }
                    },
                }
            },
            item: {
                "get": {
                    "operationId": "getUser",
                    "parameters": [{"name": "id", "in": "path", "required": True}],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/orders": {
                "get": {
                    "operationId": "listOrders",
                    "parameters": [{"name": "owner", "in": "query"}],
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
        "components": {
            "links": {
                "orders": {
                    "operationRef": "#/paths/~1orders/get",
                    "parameters": {"owner": "user-{$response.body#/id}"},
                }
            }
        },
    }


def test_links_are_read_with_their_refs_and_lead_to_their_operations() -> None:
    ops = {o.operation_id: o for o in from_document(_doc()).operations}
    links = ops["createUser"].responses["201"].links
    assert [link.name for link in links] == ["byId", "orders"]  # the malformed one is skipped
    assert links[0] == Link(
        "byId", operation_id="getUser", parameters={"path.id": "$response.body#/id"}
    )
    assert links[1].operation_ref == "#/paths/~1orders/get"
    assert [
        (p.operation_id, s, link.name) for p, s, link in links_to(ops.values(), ops["getUser"])
    ] == [("createUser", "201", "byId")]
    assert [link.name for _, _, link in links_to(ops.values(), ops["listOrders"])] == ["orders"]
    assert links_to(ops.values(), ops["createUser"]) == []
    swagger = from_document({"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}})
    assert swagger.operations == []


def test_runtime_expressions_read_the_producers_exchange() -> None:
    ex = LinkExchange(
        url="http://h/users?x=1",
        method="POST",
        status=201,
        path_params={"org": "o1"},
        query={"x": "1"},
        request_body={"name": "kim"},
        response_headers={"Location": "/users/7"},
        response_body={"id": 7, "tags": [{"name": "a/b"}]},
    )
    assert evaluate("$response.body#/id", ex) == 7
    assert evaluate("$response.body#/tags/0/name", ex) == "a/b"
    assert evaluate("$response.header.location", ex) == "/users/7"
    assert evaluate("$request.path.org", ex) == "o1"
    assert evaluate("$request.query.x", ex) == "1"
    assert evaluate("$request.body#/name", ex) == "kim"
    assert evaluate("$statusCode", ex) == 201
    assert evaluate("$method", ex) == "POST"
    assert evaluate("user-{$response.body#/id}", ex) == "user-7"
    assert evaluate("$response.body#/missing", ex) is None
    assert evaluate("{$response.body#/nope}", ex) is None
    assert evaluate("plain", ex) == "plain"
    assert evaluate(42, ex) == 42
