"""Correlation and protection: reused values become placeholders, secrets never reach disk."""

from __future__ import annotations

import json

import pytest

from battletest.replay.correlate import MissingValue, correlate, protect, render_request
from battletest.replay.har import Entry, Episode

JSON = [("Content-Type", "application/json")]
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1X3N0YWZmIn0.c2lnbmF0dXJlXzEyMw"


def flow() -> Episode:
    login = Entry(
        "POST", "http://h/v1/auth/login", 200,
        request_headers=JSON,
        request_body=json.dumps({"username": "ada@example.com", "password": "s3cret-pw"}).encode(),
        response_headers=JSON,
        response_body=json.dumps({"access_token": TOKEN, "expires_in": 900}).encode(),
    )  # fmt: skip
    create = Entry(
        "POST", "http://h/v1/calls", 201,
        request_headers=[*JSON, ("Authorization", f"Bearer {TOKEN}")],
        request_body=json.dumps({"caller": "+14155550100", "kind": "transcript"}).encode(),
        response_headers=JSON,
        response_body=json.dumps({"id": "call_59b6f741ce51", "kind": "transcript"}).encode(),
    )  # fmt: skip
    event = Entry(
        "POST", "http://h/v1/calls/call_59b6f741ce51/transcript?page=900", 200,
        request_headers=[*JSON, ("Authorization", f"Bearer {TOKEN}"), ("Cookie", "sid=abc")],
        request_body=json.dumps({"call": "call_59b6f741ce51", "n": 1}).encode(),
        response_headers=JSON,
        response_body=b"{}",
    )  # fmt: skip
    return Episode([login, create, event])


def test_reused_values_become_named_placeholders_with_extractors() -> None:
    episode = correlate(flow())
    login, create, event = episode.entries
    assert login.extract == {"access_token": "json:access_token"}
    assert create.extract == {"call_id": "json:id"}
    assert ("Authorization", "Bearer {{access_token}}") in event.request_headers
    # page=900 equals expires_in by chance: numbers under 1000 are never correlated
    assert event.url == "http://h/v1/calls/{{call_id}}/transcript?page=900"
    assert json.loads(event.request_body) == {"call": "{{call_id}}", "n": 1}
    # "transcript" was the client's own word before any answer held it: no correlation
    assert "/transcript" in event.url and "kind" not in create.extract
    assert episode.variables["call_id"] == "call_59b6f741ce51"


def test_protect_turns_secrets_and_pii_into_inputs_and_redacts_answers() -> None:
    episode = protect(correlate(flow()))
    text = json.dumps(
        [
            [e.url, e.request_headers, e.request_body.decode(), e.response_body.decode()]
            for e in episode.entries
        ]
    )
    for secret in ("s3cret-pw", "ada@example.com", "+14155550100", TOKEN, "sid=abc"):
        assert secret not in text
    login = episode.entries[0]
    assert json.loads(login.request_body) == {
        "username": "{{input.username}}",
        "password": "{{input.password}}",
    }
    assert episode.inputs == ["caller", "password", "username"]
    assert "access_token" not in episode.variables  # a secret's recorded value is not kept
    assert episode.variables["call_id"] == "call_59b6f741ce51"


def test_render_fills_placeholders_keeping_json_types() -> None:
    episode = protect(correlate(flow()))
    values = {"access_token": "NEW", "call_id": "call_x",
              "input.username": "u", "input.password": "p", "input.caller": "c"}  # fmt: skip
    path, headers, body = render_request(episode.entries[2], values)
    assert path == "/v1/calls/call_x/transcript?page=900"
    assert ("Authorization", "Bearer NEW") in headers
    assert not any(k.lower() == "cookie" for k, _ in headers)
    assert json.loads(body) == {"call": "call_x", "n": 1}
    _, _, login = render_request(episode.entries[0], values)
    assert json.loads(login) == {"username": "u", "password": "p"}
    with pytest.raises(MissingValue, match=r"input\.username"):
        render_request(episode.entries[0], {})
