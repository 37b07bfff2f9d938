"""Stubs generated from an OpenAPI document answer schema-valid examples."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema
import pytest

from battletest.chaos.mock import MockServer
from battletest.chaos.mock.openapi import example_for, stubs_from_openapi
from battletest.errors import SpecError
from battletest.spec import to_json_schema

RESERVATION_SCHEMA = {
    "type": "object",
    "required": ["id", "guest", "room", "nights", "status", "checkin", "email"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "guest": {"$ref": "#/components/schemas/Guest"},
        "room": {"type": "string", "pattern": "^[A-Z][0-9]{3}$"},
        "nights": {"type": "integer", "minimum": 1, "maximum": 30},
        "status": {"type": "string", "enum": ["booked", "checked_in"]},
        "checkin": {"type": "string", "format": "date"},
        "email": {"type": "string", "format": "email"},
        "notes": {"type": "string", "nullable": True},
        "rate": {"type": "number", "exclusiveMinimum": 0},
    },
}

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "PMS", "version": "1"},
    "servers": [{"url": "http://pms.local/v1"}],
    "paths": {
        "/reservations/{id}": {
            "get": {
                "operationId": "getReservation",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Reservation"}
                            }
                        },
                    },
                    "404": {"description": "missing"},
                },
            },
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
        "/rooms": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "string"}},
                                "examples": {"two": {"value": ["A101", "B202"]}},
                            }
                        },
                    }
                }
            },
            "post": {
                "responses": {
                    "201": {
                        "description": "made",
                        "content": {
                            "application/json": {"example": {"room": "{{ not a template }}"}}
                        },
                    }
                }
            },
        },
    },
    "components": {
        "schemas": {
            "Reservation": RESERVATION_SCHEMA,
            "Guest": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 2},
                    "vip": {"type": "boolean"},
                },
            },
        }
    },
}


def resolved_reservation_schema() -> dict:
    schema = json.loads(json.dumps(RESERVATION_SCHEMA))
    schema["properties"]["guest"] = SPEC["components"]["schemas"]["Guest"]
    return to_json_schema(schema, openapi_30=True)


@pytest.mark.slow  # the first hypothesis-jsonschema search in a process loads hypothesis
def test_examples_are_schema_valid() -> None:
    schema = resolved_reservation_schema()
    value = example_for(schema)
    jsonschema.validate(value, schema)
    assert value["status"] == "booked" and value["nights"] == 1


@pytest.mark.slow
def test_pattern_falls_back_to_hypothesis() -> None:
    schema = {"type": "string", "pattern": "^[A-Z][0-9]{3}$"}
    value = example_for(schema)
    jsonschema.validate(value, schema)


@pytest.mark.slow
@pytest.mark.network
def test_mock_from_openapi_serves_each_operation(tmp_path: Path) -> None:
    spec = tmp_path / "pms.json"
    spec.write_text(json.dumps(SPEC))
    names = [s.name for s in stubs_from_openapi(spec)]
    # operation ids as documented, synthesised (stably) where the document has none
    assert names == ["getReservation", "delete_reservations_id", "get_rooms", "post_rooms"]
    with MockServer.from_openapi(spec) as mock, httpx.Client(base_url=mock.url) as c:
        r = c.get("/v1/reservations/abc")
        assert r.status_code == 200
        jsonschema.validate(r.json(), resolved_reservation_schema())
        assert c.delete("/v1/reservations/abc").status_code == 204
        assert c.get("/v1/rooms").json() == ["A101", "B202"]
        made = c.post("/v1/rooms")
        assert made.status_code == 201 and made.json() == {"room": "{{ not a template }}"}


def test_yaml_spec(tmp_path: Path) -> None:
    import yaml

    spec = tmp_path / "pms.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    assert len(stubs_from_openapi(spec)) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{oops", "not valid JSON or YAML"),
        ('{"openapi": "3.0.0"}', "has no 'paths' mapping"),
        ('{"paths": {}}', "not an OpenAPI 2.0/3.x document"),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/n"}}}}}}',
            "unresolvable \\$ref '#/n'",
        ),
    ],
)
def test_bad_spec(tmp_path: Path, content: str | None, message: str) -> None:
    spec = tmp_path / "spec.json"
    if content is not None:
        spec.write_text(content)
    with pytest.raises(SpecError, match=message):
        stubs_from_openapi(spec)
