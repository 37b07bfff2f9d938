"""`battletest init` picks the token field the login's success answer declares (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from battletest.scaffold import analyse_auth
from battletest.spec import from_document


def _spec(success: dict[str, Any]) -> Any:
    error = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "code": {"type": "integer"}},
    }
    body = {
        "type": "object",
        "properties": {"login": {"type": "string"}, "password": {"type": "string"}},
    }
    login = {
        "requestBody": {"content": {"application/json": {"schema": body}}},
        "responses": {  # the error answer first, as documents often list it
            "401": {"description": "refused", "content": {"application/json": {"schema": error}}},
            "200": {"description": "in", "content": {"application/json": {"schema": success}}},
        },
    }
    return from_document(
        {
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {"/auth/login": {"post": login}},
        }
    )


@pytest.mark.parametrize(
    ("success", "field"),
    [
        ({"type": "object", "properties": {"session_token": {"type": "string"}}}, "session_token"),
        (
            {
                "type": "object",
                "properties": {
                    "data": {"type": "object", "properties": {"jwt": {"type": "string"}}}
                },
            },
            "data.jwt",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "accessToken": {"type": "string"},
                    "refreshToken": {"type": "string"},
                },
            },
            "accessToken",
        ),
    ],
)
def test_init_token_field_is_one_the_login_answer_declares(
    success: dict[str, Any], field: str
) -> None:
    flow = analyse_auth(_spec(success))
    assert flow.login_path == "/auth/login"
    assert flow.token_field == field
