"""Stored XSS through an RPC-style form create whose object belongs to another one the
identity must own (a note pinned to one's own board), read back by an HTML page that takes the
new id in its query. Socket-free; without a browser the finding is suspected."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from battletest.security import ScanIdentity, ScanSettings, scan
from battletest.security import browser as browser_module


def _form(*names: str) -> dict[str, Any]:
    props = {n: {"type": "integer" if n.endswith("_id") else "string"} for n in names}
    schema = {"type": "object", "required": list(names), "properties": props}
    return {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}


MADE = {
    "201": {
        "description": "made",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}
            }
        },
    }
}
PAGE = {"200": {"description": "page", "content": {"text/html": {"schema": {"type": "string"}}}}}
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "board", "version": "1"},
    "components": {"securitySchemes": {"b": {"type": "http", "scheme": "bearer"}}},
    "security": [{"b": []}],
    "paths": {
        "/rpc/boards.create": {"post": {"requestBody": _form("title"), "responses": MADE}},
        "/rpc/notes.add": {"post": {"requestBody": _form("board_id", "text"), "responses": MADE}},
        "/rpc/notes.view": {
            "get": {
                "security": [],
                "parameters": [
                    {
                        "name": "note_id",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": PAGE,
            }
        },
    },
}


def _service(vulnerable: bool) -> httpx.MockTransport:
    boards: dict[int, str] = {}
    notes: dict[int, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        who = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.url.path == "/rpc/boards.create" and who:
            boards[len(boards) + 1] = who
            return httpx.Response(201, json={"id": len(boards)})
        if request.url.path == "/rpc/notes.add" and who:
            if boards.get(int(form.get("board_id") or 0)) != who:
                return httpx.Response(404, json={"error": "no such board"})
            notes[len(notes) + 1] = form.get("text", "")
            return httpx.Response(201, json={"id": len(notes)})
        if request.url.path == "/rpc/notes.view":
            text = notes.get(int(request.url.params.get("note_id") or 0))
            if text is None:
                return httpx.Response(404, json={"error": "no such note"})
            shown = text if vulnerable else html.escape(text)
            return httpx.Response(200, html=f"<html><body><p>{shown}</p></body></html>")
        return httpx.Response(401 if not who else 404, json={})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("vulnerable", [True, False])
def test_stored_xss_through_a_form_create_on_an_owned_board(
    vulnerable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser_module, "find_binaries", lambda: "no /usr/bin/chromium")
    people = [ScanIdentity(name="kim", token="t-kim")]
    settings = ScanSettings(checks=["xss-stored"])
    outcome = scan("http://board.test", SPEC, people, settings, transport=_service(vulnerable))
    run = next(r for r in outcome.runs if r.target == "POST /rpc/notes.add")
    assert run.conclusive, run.reason
    paths = [f.path for f in outcome.findings]
    assert paths == (["/rpc/notes.add"] if vulnerable else [])
    if vulnerable:
        assert "GET /rpc/notes.view?note_id=" in outcome.findings[0].title
