"""The pytest plugin's bt_client in GOLDEN mode, in real pytest sessions (pytester)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from battletest.netutil import serve_app

pytestmark = [pytest.mark.network, pytest.mark.slow]
ITEM = {"name": "lamp"}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = {"name": ITEM["name"], "id": str(uuid.uuid4())}  # a new id on every answer
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def test_the_first_session_writes_the_next_compares_and_a_change_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_item="""
        def test_item(bt_client):
            assert bt_client.get("/items/1").status_code == 200
        """
    )
    monkeypatch.setenv("TEST_MODE", "GOLDEN")  # the alias other tools use
    with serve_app(app) as url:
        first = pytester.runpytest("--bt-target", url, "-s")
        first.assert_outcomes(passed=1)
        assert "GOLDEN: snapshots written for 1 operations" in first.stdout.str()
        snapshot = pytester.path / ".battletest" / "golden" / "GET_items_1.json"
        assert "test_item.py::test_item" in snapshot.read_text(encoding="utf-8")

        pytester.runpytest("--bt-target", url).assert_outcomes(passed=1)  # a new id: fine

        ITEM["name"] = "desk"
        changed = pytester.runpytest("--bt-target", url)
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        ["*GOLDEN: GET /items/1 differs from its snapshot*'lamp' → 'desk'*"]
    )
