"""Swagger 2.0, OpenAPI 3.0 and 3.1 into the one model: each difference the versions have, and
the shape every consumer reads. Socket-free."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, settings
from jsonschema import Draft202012Validator

from battletest.errors import SpecError
from battletest.spec import from_document, load_spec, synthesised_id
from battletest.suites.data import request_strategy

from .petshop_app import DOCUMENT as PETSHOP


def test_swagger_2_form_data_becomes_a_form_body_and_file_fields_multipart() -> None:
    spec = from_document(PETSHOP)
    create = spec.operation("POST", "/pets")
    assert create is not None
    assert create.bodies.keys() == {"application/x-www-form-urlencoded"}
    assert create.request_body == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 30},
            "tag": {"type": "string"},
        },
        "required": ["name"],
    }
    assert create.body_required and create.body_schema is None  # no JSON body
    upload = spec.operation("POST", "/pets/{petId}/photo")
    assert upload is not None
    assert upload.request_content_type == "multipart/form-data"
    assert upload.request_body is not None
    assert upload.request_body["properties"]["photo"] == {"type": "string", "format": "binary"}
    assert [p.name for p in upload.parameters] == ["petId"]  # form fields are not parameters


def test_swagger_2_body_parameter_takes_every_consumes_type_and_defaults_to_json() -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "post": {
                    "consumes": ["application/json", "application/xml"],
                    "parameters": [
                        {"name": "b", "in": "body", "required": True, "schema": {"type": "object"}}
                    ],
                    "responses": {"200": {"description": "ok"}},
                },
                "put": {
                    "parameters": [{"name": "b", "in": "body", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
    }
    put, post = from_document(doc).operations  # document order is METHODS order
    assert list(post.bodies) == ["application/json", "application/xml"] and post.body_required
    assert post.request_content_type == "application/json"
    assert put.bodies == {"application/json": {"type": "string"}} and not put.body_required


def test_path_level_parameters_merge_and_the_operation_overrides_by_name_and_location() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "trace", "in": "header", "schema": {"type": "string"}},
                    {"name": "id", "in": "query", "schema": {"type": "boolean"}},
                ],
                "get": {
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
    }
    op = from_document(doc).operations[0]
    got = {(p.name, p.location): p.schema.get("type") for p in op.parameters}
    assert got == {
        ("id", "path"): "integer",  # the operation's own wins
        ("trace", "header"): "string",
        ("id", "query"): "boolean",  # same name, other location: kept
        ("session", "cookie"): "string",
    }
    assert [p.name for p in op.params_in("cookie")] == ["session"]


def test_security_schemes_of_both_versions_normalise_to_one_shape() -> None:
    v2 = from_document(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "securityDefinitions": {
                "basic": {"type": "basic"},
                "key": {"type": "apiKey", "in": "header", "name": "X-Service-Key"},
                "app": {
                    "type": "oauth2",
                    "flow": "application",
                    "tokenUrl": "https://auth.example/token",
                    "scopes": {"read": "read things"},
                },
                "pw": {"type": "oauth2", "flow": "password", "tokenUrl": "/oauth/token"},
            },
        }
    )
    s = v2.security_schemes
    assert (s["basic"].type, s["basic"].scheme, s["basic"].kind) == ("http", "basic", "basic")
    assert (s["key"].location, s["key"].param_name, s["key"].header_name) == (
        "header",
        "X-Service-Key",
        "X-Service-Key",
    )
    flow = s["app"].flow("client_credentials")
    assert flow is not None and flow.token_url == "https://auth.example/token"
    assert flow.scopes == {"read": "read things"}
    assert s["pw"].flow("password") is not None
    assert v2.auth_header_names() == ["Authorization", "X-Service-Key"]
    v3 = from_document(
        {
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "Bearer", "bearerFormat": "JWT"},
                    "q": {"type": "apiKey", "in": "query", "name": "api_key"},
                    "c": {"type": "apiKey", "in": "cookie", "name": "sid"},
                    "o": {
                        "type": "oauth2",
                        "flows": {
                            "clientCredentials": {"tokenUrl": "/token", "scopes": {}},
                            "password": {"tokenUrl": "/token", "scopes": {"a": "b"}},
                        },
                    },
                }
            },
        }
    )
    s3 = v3.security_schemes
    assert (s3["bearer"].kind, s3["bearer"].bearer_format) == ("bearer", "JWT")
    assert s3["q"].header_name is None and s3["c"].location == "cookie"
    assert [f.grant for f in s3["o"].flows] == ["client_credentials", "password"]


def test_security_requirements_global_per_operation_and_public() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/a": {
                "get": {"responses": {"200": {"description": "ok"}}},
                "post": {"security": [], "responses": {"200": {"description": "ok"}}},
                "put": {
                    "security": [{}, {"bearer": []}],
                    "responses": {"200": {"description": ""}},
                },
                "delete": {
                    "security": [{"bearer": ["admin"]}],
                    "responses": {"204": {"description": ""}},
                },
            }
        },
    }
    by = {op.method: op for op in from_document(doc).operations}
    assert by["GET"].secured and by["GET"].security == ({"bearer": []},)
    assert not by["POST"].secured  # [] = public
    assert not by["PUT"].secured  # {} alternative = anonymous allowed
    assert by["DELETE"].scopes == {"admin"}


@pytest.mark.parametrize(
    ("doc", "base"),
    [
        ({"swagger": "2.0", "basePath": "/api/v2/", "host": "elsewhere.example"}, "/api/v2"),
        ({"swagger": "2.0", "basePath": "/"}, ""),
        ({"openapi": "3.0.0", "servers": [{"url": "https://elsewhere.example/v1"}]}, "/v1"),
        ({"openapi": "3.0.0", "servers": [{"url": "/relative/base"}]}, "/relative/base"),
        (
            {
                "openapi": "3.1.0",
                "servers": [
                    {
                        "url": "https://{region}.example.com/{version}/api",
                        "variables": {
                            "region": {"default": "eu"},
                            "version": {"default": "v3", "enum": ["v3", "v4"]},
                        },
                    }
                ],
            },
            "/v3/api",
        ),
        ({"openapi": "3.0.0", "servers": [{"url": "https://h.example/{tenant}/x"}]}, ""),
        ({"openapi": "3.0.0"}, ""),
    ],
)
def test_base_path_from_basepath_or_the_first_server_never_the_host(
    doc: dict[str, Any], base: str
) -> None:
    spec = from_document(
        {
            **doc,
            "info": {"title": "t", "version": "1"},
            "paths": {"/pets/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}},
        }
    )
    assert spec.base_path == base
    op = spec.operations[0]
    assert op.path == "/pets/{id}" and op.url_path == base + "/pets/{id}"
    assert op.fill({"id": 7}) == base + "/pets/7" and op.key == f"GET {base}/pets/{{id}}"


@pytest.mark.parametrize(
    ("target", "base"),
    [
        ("http://127.0.0.1:9", "/v1"),
        ("http://127.0.0.1:9/v1", ""),  # the target names the base path already: kept once
        ("http://127.0.0.1:9/api/v1/", ""),
        ("http://127.0.0.1:9/v10", "/v1"),
    ],
)
def test_a_target_that_names_the_base_path_keeps_it_once(
    tmp_path: Path, target: str, base: str
) -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "basePath": "/v1",
        "paths": {"/pets/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    path = tmp_path / "swagger.json"
    path.write_text(json.dumps(doc))
    spec = load_spec(path, target)
    assert spec.base_path == base
    assert spec.operations[0].url_path == base + "/pets/{id}"


def test_recursive_schemas_resolve_without_looping_and_validate() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                        "parent": {"$ref": "#/components/schemas/Node"},
                    },
                },
                "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"properties": {"a": {"$ref": "#/components/schemas/A"}}},
            }
        },
        "paths": {
            "/tree": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
                        }
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/A"}}
                            },
                        }
                    },
                }
            }
        },
    }
    op = from_document(doc).operations[0]
    body = op.request_body
    assert body is not None
    json.dumps(body)  # finite: the cycle is cut, not copied without end
    validator = Draft202012Validator(body)
    assert validator.is_valid({"name": "root", "children": [{"name": "leaf", "children": []}]})
    assert not validator.is_valid({"children": []})  # still checks what it can
    assert op.response_schema() is not None


def test_discriminator_pins_each_option_to_its_value() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {
            "schemas": {
                "Cat": {"type": "object", "properties": {"kind": {"type": "string"}}},
                "Dog": {"type": "object", "properties": {"kind": {"type": "string"}}},
                "Pet": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Cat"},
                        {"$ref": "#/components/schemas/Dog"},
                    ],
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {"cat": "#/components/schemas/Cat"},
                    },
                },
            }
        },
        "paths": {
            "/pets": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        }
                    },
                    "responses": {"201": {"description": "ok"}},
                }
            }
        },
    }
    schema = from_document(doc).operations[0].request_body
    assert schema is not None and "discriminator" not in schema
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"kind": "cat"}) and validator.is_valid({"kind": "Dog"})
    assert not validator.is_valid({"kind": "cow"})  # without the pin both options accepted it


def test_nullable_keywords_of_each_version() -> None:
    def body(version: str, schema: dict[str, Any]) -> dict[str, Any]:
        key = "swagger" if version == "2.0" else "openapi"
        if version == "2.0":
            params = [{"name": "b", "in": "body", "schema": schema}]
            op: dict[str, Any] = {"parameters": params}
        else:
            op = {"requestBody": {"content": {"application/json": {"schema": schema}}}}
        doc = {
            key: version,
            "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"post": {**op, "responses": {"200": {"description": "ok"}}}}},
        }
        got = from_document(doc).operations[0].request_body
        assert got is not None
        return got

    assert body("2.0", {"type": "string", "x-nullable": True}) == {"type": ["string", "null"]}
    assert body("3.0.3", {"type": "integer", "nullable": True}) == {"type": ["integer", "null"]}
    assert body("3.1.0", {"type": ["integer", "null"]}) == {"type": ["integer", "null"]}
    # a type JSON Schema does not know (httpbin publishes "int") allows any value
    assert body("2.0", {"type": "int", "minimum": 1}) == {"minimum": 1}
    assert body("3.0.3", {"type": ["int", "null"]}) == {}
    # draft-4 exclusive bounds (2.0/3.0) become 2020-12 numbers
    assert body("3.0.3", {"type": "number", "minimum": 0, "exclusiveMinimum": True}) == {
        "type": "number",
        "exclusiveMinimum": 0,
    }


def test_missing_operation_ids_are_synthesised_stably_and_uniquely() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/pets/{pet-id}": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/pets/{pet_id}": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/": {"get": {"operationId": "root", "responses": {"200": {"description": "ok"}}}},
            "/x": {"get": {"operationId": "root", "responses": {"200": {"description": "ok"}}}},
        },
    }
    ids = [op.operation_id for op in from_document(doc).operations]
    assert ids == ["get_pets_pet_id", "get_pets_pet_id_2", "root", "root_2"]
    assert ids == [op.operation_id for op in from_document(doc).operations]
    assert synthesised_id("DELETE", "/") == "delete_root"


def test_tags_summary_description_deprecated_and_media_types_are_kept() -> None:
    spec = from_document(PETSHOP)
    listing = spec.operation("GET", "/shop/pets")  # by URL path too
    assert listing is not None and listing.operation_id == "listPets"
    assert listing.produces == ("application/json",)
    assert listing.responses["200"].content["application/json"] == {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "tag": {"type": ["string", "null"]},
            },
        },
    }
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "tags": ["admin"],
                    "summary": "Wipe the cache",
                    "description": "Removes everything.",
                    "deprecated": True,
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    op = from_document(doc).operations[0]
    assert (op.tags, op.summary, op.description, op.deprecated) == (
        ("admin",),
        "Wipe the cache",
        "Removes everything.",
        True,
    )


def test_ref_across_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "pet.yaml").write_text(
        "type: object\nrequired: [name]\nproperties:\n  name: {type: string}\n"
        "  owner: {$ref: './owner.yaml'}\n"
    )
    (tmp_path / "schemas" / "owner.yaml").write_text(
        "type: object\nproperties:\n  id: {type: integer}\n"
    )
    (tmp_path / "intro.md").write_text("# Pets\n\nAll about *pets*.\n")
    (tmp_path / "openapi.yaml").write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1', description: {$ref: intro.md}}\n"
        "paths:\n  /pets:\n    post:\n"
        "      requestBody:\n        content:\n          application/json:\n"
        "            schema: {$ref: 'schemas/pet.yaml'}\n"
        "      responses: {'201': {description: ok}}\n"
    )
    spec = load_spec(tmp_path / "openapi.yaml", None)
    assert spec.document["info"]["description"].startswith("# Pets")  # a Markdown $ref
    op = spec.operations[0]
    assert op.request_body is not None
    assert op.request_body["properties"]["owner"]["properties"]["id"] == {"type": "integer"}


@pytest.mark.parametrize(
    ("text", "name", "problem"),
    [
        ('{"openapi": "3.0.0", "info": {}', "a.json", "is not valid JSON or YAML"),
        ("- just\n- a list\n", "a.yaml", "not a mapping"),
        ('{"swagger": "1.2", "paths": {}}', "a.json", "not an OpenAPI 2.0/3.x document"),
        ('{"info": {"title": "t"}, "paths": {}}', "a.json", "no 'openapi' or 'swagger' version"),
        ('{"openapi": "3.0.0", "info": {}}', "a.json", "has no 'paths' mapping"),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"$ref": "#/nowhere"}}}',
            "a.json",
            "unresolvable \\$ref '#/nowhere'",
        ),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"$ref": "missing.yaml"}}}',
            "a.json",
            "missing.yaml not found",
        ),
        ("<html><body>docs</body></html>", "a.json", "is HTML, not an OpenAPI document"),
    ],
)
def test_an_invalid_document_is_one_spec_error_line(
    tmp_path: Path, text: str, name: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError, match=problem) as caught:
        load_spec(path, None)
    assert "\n" not in str(caught.value)


def test_an_unreadable_file_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(tmp_path / "bin.json", None)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "absent.json", None)


def test_a_swagger2_parameter_written_the_3x_way_keeps_its_schema() -> None:
    # flasgger's httpbin document: a 2.0 query parameter with ``schema``, ``style``, ``explode``
    spec = from_document(
        {
            "swagger": "2.0",
            "info": {"title": "httpbin", "version": "0.9"},
            "paths": {
                "/anything": {
                    "get": {
                        "parameters": [
                            {
                                "in": "query",
                                "name": "freeform",
                                "style": "form",
                                "explode": True,
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                            {"in": "query", "name": "n", "type": "integer", "minimum": 1},
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
        }
    )
    op = spec.operations[0]
    schemas = {p.name: p.schema for p in op.parameters}
    assert schemas["freeform"]["type"] == "object"
    assert schemas["freeform"]["additionalProperties"] == {"type": "string"}
    assert "style" not in schemas["freeform"] and "schema" not in schemas["freeform"]
    assert schemas["n"]["type"] == "integer" and schemas["n"]["minimum"] == 1
    # contract data is drawn for it (an object query parameter: hypothesis-jsonschema's path
    # that hypothesis 6.170.10 broke, hence the pin in pyproject.toml)
    drawn = find(
        request_strategy(op),
        lambda d: bool(d.query.get("freeform")),
        settings=settings(database=None, max_examples=200, suppress_health_check=list(HealthCheck)),
    )
    assert all(isinstance(v, str) for v in drawn.query["freeform"].values())
