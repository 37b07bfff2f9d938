"""A Flask service whose operations mostly sit behind a bearer token (ground truth below).

Written for the case-evidence tests in a style unlike the demo (WSGI, a hand-written OpenAPI
3.0.3 document, plain JSON errors). Ground truth, fixed before battletest was tuned on it:

- 2 public operations answer 200 to anyone: ``GET /status``, ``GET /catalog``;
- 6 operations need ``Authorization: Bearer <token>`` and answer 401 without it;
  ``TOKEN_READER`` gets 403 on all of them (a role the service grants nothing),
  ``TOKEN_OWNER`` gets their documented success;
- so with no identity configured, a correct tool exercises 2 of the operations it tries and
  calls every secured case inconclusive — never passed.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

TOKEN_OWNER = "owner-token-7f3a"
TOKEN_READER = "reader-token-0c9e"

_OBJ = {"type": "object"}
_ERR = {"description": "error", "content": {"application/json": {"schema": _OBJ}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(op_id: str, status: str, *, secured: bool, **extra: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {status: {"description": "ok", **_json(_OBJ)}}
    if secured:
        responses.update({"401": _ERR, "403": _ERR})
    if "parameters" in extra:
        responses["404"] = _ERR
    return {
        "operationId": op_id,
        "responses": responses,
        **({"security": [{"bearer": []}]} if secured else {}),
        **extra,
    }


ORDER_ID = [{"name": "order_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "walled shop", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/status": {"get": _op("status", "200", secured=False)},
        "/catalog": {"get": _op("catalog", "200", secured=False)},
        "/orders": {
            "get": _op("listOrders", "200", secured=True),
            "post": _op(
                "createOrder",
                "201",
                secured=True,
                requestBody={
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["sku"],
                            "properties": {"sku": {"type": "string", "minLength": 1}},
                        }
                    ),
                },
            ),
        },
        "/orders/{order_id}": {"get": _op("getOrder", "200", secured=True, parameters=ORDER_ID)},
        "/account": {"get": _op("account", "200", secured=True)},
        "/invoices": {"get": _op("invoices", "200", secured=True)},
        "/reports": {"get": _op("reports", "200", secured=True)},
    },
}


def make_walled_app() -> Flask:
    app = Flask("walled")
    orders: dict[int, dict[str, Any]] = {1: {"id": 1, "sku": "tea"}}

    def refusal() -> Any:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token == TOKEN_OWNER:
            return None
        if token == TOKEN_READER:
            return jsonify({"error": "forbidden"}), 403
        return jsonify({"error": "unauthorized"}), 401

    @app.get("/openapi.json")
    def openapi() -> Any:
        return jsonify(SPEC)

    @app.get("/status")
    def status() -> Any:
        return jsonify({"ok": True})

    @app.get("/catalog")
    def catalog() -> Any:
        return jsonify({"items": ["tea", "coffee"]})

    @app.route("/orders", methods=["GET", "POST"])
    def orders_view() -> Any:
        if (refused := refusal()) is not None:
            return refused
        if request.method == "POST":
            body = request.get_json(silent=True) or {}
            if not isinstance(body.get("sku"), str) or not body["sku"]:
                return jsonify({"error": "sku required"}), 400
            new = {"id": max(orders) + 1, "sku": body["sku"]}
            orders[new["id"]] = new
            return jsonify(new), 201
        return jsonify({"orders": list(orders.values())})

    @app.get("/orders/<order_id>")
    def order(order_id: str) -> Any:
        if (refused := refusal()) is not None:  # credentials first, for any id
            return refused
        found = orders.get(int(order_id)) if order_id.lstrip("-").isdigit() else None
        return (jsonify(found), 200) if found else (jsonify({"error": "no such order"}), 404)

    for path, name in (("/account", "account"), ("/invoices", "invoices"), ("/reports", "reports")):

        def view(name: str = name) -> Any:
            if (refused := refusal()) is not None:
                return refused
            return jsonify({name: []})

        app.add_url_rule(path, name, view)

    return app
