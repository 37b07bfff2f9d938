"""The mock answering from a document behaves as the document says, over a real socket.

Each case here is one the corpus run (``bench/bench_corpus.py``) found: a contract case against
the mock failed or was inconclusive although the mock answers from the very document checked.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from battletest.chaos.mock import MockServer
from battletest.spec import from_document
from battletest.suites.contract import check_response

PET = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}

ID = {"name": "id", "in": "path", "required": True}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "corpus cases", "version": "1"},
    "paths": {
        # Petstore: POST /pet documents only 405; an undocumented 200 fails the contract
        "/pets": {"post": {"responses": {"405": {"description": "Invalid input"}}}},
        # Gitea: a 204 documented with a schema; a body after it broke the next answer
        "/pets/{id}": {
            "get": {
                "parameters": [ID],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": PET}},
                    }
                },
            },
            "delete": {
                "parameters": [ID],
                "responses": {
                    "204": {
                        "description": "gone",
                        "content": {"application/json": {"schema": {"type": "string"}}},
                    }
                },
            },
            # Kubernetes: HEAD and GET on one path are two operations
            "head": {
                "operationId": "headPet",
                "parameters": [ID],
                "responses": {"204": {"description": "exists"}},
            },
        },
        # parameters-common: a concrete segment beside a templated one
        "/pets/{id}/{action}": {
            "get": {
                "operationId": "petAction",
                "parameters": [ID, {**ID, "name": "action"}],
                "responses": {"200": {"description": "any action"}},
            }
        },
        "/pets/{id}/override": {
            "get": {
                "operationId": "petOverride",
                "parameters": [ID],
                "responses": {"202": {"description": "the concrete path"}},
            }
        },
        # Clever-Cloud: the documented example is a JSON text in a string, not an object
        "/migrations": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": PET, "example": '{\n "id": "<UUID>"}'}
                        },
                    }
                }
            }
        },
    },
}


@pytest.fixture(scope="module")
def mock() -> Any:
    with MockServer.from_openapi(DOCUMENT) as server:
        yield server


def conforms(method: str, path: str, response: httpx.Response) -> str | None:
    spec = from_document(DOCUMENT, "corpus cases")
    op = spec.operation(method, path)
    assert op is not None
    return check_response(op, response, openapi_31=False)


@pytest.mark.network
def test_an_operation_without_a_documented_success_answers_a_documented_status(
    mock: MockServer,
) -> None:
    answer = httpx.post(mock.url + "/pets", timeout=10)
    assert answer.status_code == 405
    assert conforms("POST", "/pets", answer) is None


@pytest.mark.network
def test_a_204_sends_no_body_and_the_connection_keeps_working(mock: MockServer) -> None:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        gone = client.delete("/pets/7")
        again = client.get("/pets/7")  # the same keep-alive connection
    assert (gone.status_code, gone.content) == (204, b"")
    assert again.status_code == 200 and conforms("GET", "/pets/{id}", again) is None


@pytest.mark.network
def test_a_path_parameter_holding_an_encoded_slash_reaches_its_operation(
    mock: MockServer,
) -> None:
    # (Kubernetes' generated names: /api/v1/namespaces/0%2F0 is the namespace "0/0")
    answer = httpx.delete(mock.url + "/pets/a%2Fb", timeout=10)
    assert answer.status_code == 204, answer.text


@pytest.mark.network
def test_head_and_the_concrete_path_reach_their_own_operations(mock: MockServer) -> None:
    head = httpx.head(mock.url + "/pets/3", timeout=10)
    concrete = httpx.get(mock.url + "/pets/3/override", timeout=10)
    templated = httpx.get(mock.url + "/pets/3/feed", timeout=10)
    assert (head.status_code, concrete.status_code, templated.status_code) == (204, 202, 200)
    stubs = [e.stub for e in mock.requests()[-3:]]
    assert stubs == ["headPet", "petOverride", "petAction"]


@pytest.mark.network
def test_an_example_its_schema_rejects_is_replaced_by_a_valid_one(mock: MockServer) -> None:
    answer = httpx.get(mock.url + "/migrations", timeout=10)
    assert answer.status_code == 200
    assert conforms("GET", "/migrations", answer) is None
    assert isinstance(answer.json(), dict)


@pytest.mark.network
def test_a_deeply_nested_body_gets_the_documented_answer_not_a_500(mock: MockServer) -> None:
    # the scanner's nested-json probe took the mock down with a RecursionError ("crashes the
    # server", medium) on every document with a JSON body
    deep = '{"id": ' + "[" * 5000 + "]" * 5000 + "}"
    answer = httpx.post(
        mock.url + "/pets", content=deep, headers={"content-type": "application/json"}, timeout=10
    )
    assert answer.status_code == 405


VALIDATED: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "validated", "version": "1"},
    "components": {
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
            "token": {"type": "http", "scheme": "bearer"},
        }
    },
    "paths": {
        "/pets/{id}": {
            "put": {
                "parameters": [{**ID, "schema": {"type": "integer"}}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PET}},
                },
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": PET}}},
                    "400": {
                        "description": "bad input",
                        "content": {"application/json": {"example": {"code": "invalid"}}},
                    },
                },
            }
        },
        "/private": {
            "get": {
                "security": [{"key": []}, {"token": []}],
                "responses": {"200": {"description": "ok"}, "401": {"description": "who?"}},
            }
        },
        "/search": {
            "get": {
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer", "maximum": 50},
                    }
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}


@pytest.mark.network
@pytest.mark.parametrize(
    ("method", "path", "body", "status", "problem"),
    [
        ("GET", "/private", None, 401, "no credentials for key or token"),
        ("GET", "/private", {"X-Key": "k"}, 200, None),
        ("GET", "/private", {"Authorization": "Bearer t"}, 200, None),
        ("PUT", "/pets/7", {"id": 7, "name": "Rex"}, 200, None),
        ("PUT", "/pets/7", "{not json", 400, "not valid JSON"),
        ("PUT", "/pets/7", {"id": "seven", "name": "Rex"}, 400, "does not match its schema"),
        ("PUT", "/pets/seven", {"id": 7, "name": "Rex"}, 400, "'seven' is not integer"),
        ("PUT", "/pets/7", None, 400, "missing required request body"),
        ("PUT", "/pets/7", "id=7", 415, "unsupported media type text/plain"),
        ("GET", "/search?limit=10", None, 200, None),
        ("GET", "/search?limit=99", None, 400, "does not match its schema"),
        ("GET", "/search", None, 400, "missing required query parameter 'limit'"),
    ],
)
def test_a_validating_mock_refuses_what_breaks_the_document(
    method: str, path: str, body: Any, status: int, problem: str | None
) -> None:
    if path == "/private":  # the "body" is the credentials sent
        content, headers = None, dict(body or {})
    else:
        content = body if isinstance(body, str) else None if body is None else json.dumps(body)
        headers = {"content-type": "application/json"} if content else {}
        if content and content.startswith("id="):  # a form where only JSON is documented
            headers = {"content-type": "text/plain"}
    with MockServer.from_openapi(VALIDATED, validate=True) as mock:
        answer = httpx.request(
            method, mock.url + path, content=content, headers=headers, timeout=10
        )
    assert answer.status_code == status, answer.headers
    if problem is None:
        assert "x-mock-problem" not in answer.headers
    else:
        assert problem in answer.headers["x-mock-problem"]
        if status == 400 and path.startswith("/pets"):  # the documented 400 and its example
            assert answer.json() == {"code": "invalid"}
