"""OpenAPI loading: versions, $ref resolution, base paths only, discovery, and bad documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from battletest.errors import SpecError, TargetUnreachable
from battletest.spec import load_spec, response_spec_for, to_json_schema

PET = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string", "nullable": True}},
}


def openapi_30(**extra: Any) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "pets", "version": "1"},
        "servers": [{"url": "https://api.elsewhere.example/v2"}],
        "components": {
            "schemas": {"Pet": PET},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/pets/{pet_id}": {
                "parameters": [
                    {
                        "name": "pet_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "get": {
                    "operationId": "getPet",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                            },
                        },
                        "4XX": {"description": "bad"},
                    },
                },
                "delete": {"security": [], "responses": {"204": {"description": "gone"}}},
            },
            "/pets": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    },
                    "responses": {"201": {"description": "made"}},
                }
            },
        },
        **extra,
    }


def write(tmp_path: Path, doc: Any, name: str = "openapi.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc))
    return path


def test_openapi_30_file_is_resolved_into_operations(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, openapi_30()), None)
    assert spec.version == "3.0.3"
    assert [op.label for op in spec.operations] == [
        "GET /pets/{pet_id}",
        "DELETE /pets/{pet_id}",
        "POST /pets",
    ]
    get = spec.operation("GET", "/pets/{pet_id}")
    assert get is not None and get.operation_id == "getPet" and get.secured
    assert get.parameters[0].name == "pet_id" and get.parameters[0].required
    schema = get.responses["200"].content["application/json"]
    assert schema is not None and schema["properties"]["name"]["type"] == ["string", "null"]
    delete = spec.operation("DELETE", "/pets/{pet_id}")
    assert delete is not None and not delete.secured
    post = spec.operation("POST", "/pets")
    assert post is not None and post.body_required and post.request_body is not None
    assert post.request_body["required"] == ["id", "name"]


def test_servers_give_only_the_base_path_never_the_host(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, openapi_30()), "http://127.0.0.1:9")
    assert spec.base_path == "/v2"
    assert "elsewhere" not in spec.base_path


def test_swagger_20_yaml_with_base_path_and_host(tmp_path: Path) -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "host": "evil.example.com",
        "basePath": "/api",
        "definitions": {"Thing": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        "paths": {
            "/things": {
                "post": {
                    "parameters": [
                        {
                            "name": "body",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/Thing"},
                        },
                        {"name": "limit", "in": "query", "type": "integer"},
                    ],
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Thing"}}
                    },
                }
            }
        },
    }
    spec = load_spec(write(tmp_path, doc, "swagger.yaml"), "http://127.0.0.1:9")
    assert spec.version == "2.0" and spec.base_path == "/api"
    op = spec.operations[0]
    assert op.request_body == {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert op.parameters[0].schema == {"type": "integer"}
    assert response_spec_for(op, 200) is not None and response_spec_for(op, 404) is None


def test_openapi_31_from_a_url_and_by_discovery(api_url: str) -> None:
    spec = load_spec(f"{api_url}/openapi.json", api_url)
    assert spec.is_31 and spec.operation("POST", "/auth/login") is not None
    discovered = load_spec(None, api_url)
    assert discovered.source == f"{api_url}/openapi.json"
    assert len(discovered.operations) == len(spec.operations)


def test_recursive_refs_become_open_schemas(tmp_path: Path) -> None:
    doc = openapi_30()
    doc["components"]["schemas"]["Node"] = {
        "type": "object",
        "properties": {"child": {"$ref": "#/components/schemas/Node"}},
    }
    doc["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Node"
    }
    body = load_spec(write(tmp_path, doc), None).operations[-1].request_body
    assert body is not None and body["properties"]["child"] == {}


def test_a_file_that_is_not_openapi_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"not an OpenAPI 2\.0/3\.x document"):
        load_spec(write(tmp_path, {"name": "package.json", "version": "1"}), None)


def test_an_unresolvable_ref_is_refused(tmp_path: Path) -> None:
    doc = openapi_30()
    doc["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Missing"
    }
    with pytest.raises(SpecError, match=r"unresolvable \$ref.*Missing"):
        load_spec(write(tmp_path, doc), None)


def test_html_where_the_spec_was_expected_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docs.json"
    path.write_text("<!doctype html><html><body>Swagger UI</body></html>")
    with pytest.raises(SpecError, match="HTML, not an OpenAPI document"):
        load_spec(path, None)


def test_a_missing_spec_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.json", None)


def test_no_spec_found_lists_what_was_tried() -> None:
    from fastapi import FastAPI

    from battletest.netutil import serve_app

    app = FastAPI(openapi_url=None)
    with serve_app(app) as url, pytest.raises(SpecError) as err:
        load_spec(None, url)
    assert "/openapi.json (404)" in str(err.value) and "/v3/api-docs (404)" in str(err.value)
    assert "--spec" in str(err.value)


def test_a_spec_url_that_refuses_connections_is_unreachable() -> None:
    from battletest.netutil import free_port

    with pytest.raises(TargetUnreachable, match="could not fetch the spec"):
        load_spec(f"http://127.0.0.1:{free_port()}/openapi.json", None, timeout=2)


def test_nullable_enum_and_openapi_keywords_become_json_schema() -> None:
    out = to_json_schema(
        {"type": "string", "enum": ["a"], "nullable": True, "example": "a", "x-tag": 1},
        openapi_30=True,
    )
    assert out == {"type": ["string", "null"], "enum": ["a", None], "examples": ["a"]}
