"""GOLDEN snapshots through the real transport, against an in-memory service (socket-free)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from battletest.config import env_overrides
from battletest.golden import Golden, GoldenMismatch
from battletest.results import Status
from battletest.spec.load import from_document
from battletest.transport import Transport


class Service:
    """Answers GET /items/{id} with a fixed name, a fresh uuid and time, and a hit counter
    that changes on every request (a field that varies by itself)."""

    def __init__(self, name: str = "lamp", frame_options: bool = True) -> None:
        self.name = name
        self.frame_options = frame_options
        self.hits = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hits += 1
        body = {
            "id": request.url.path.rsplit("/", 1)[-1],
            "name": self.name,
            "etag": uuid.uuid4().hex,
            "request_id": str(uuid.uuid4()),
            "at": datetime.now(UTC).isoformat(),
            "hits": self.hits,
        }
        headers = {"X-Frame-Options": "DENY"} if self.frame_options else {}
        return httpx.Response(200, json=body, headers=headers)


SPEC = from_document(
    {
        "openapi": "3.0.3",
        "info": {"title": "items", "version": "1"},
        "paths": {
            "/items/{item_id}": {
                "get": {
                    "parameters": [
                        {
                            "name": "item_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "an item"}},
                }
            }
        },
    }
)


def one_run(
    folder: Path, service: Service, *, update: bool = False, suite: str = "contract"
) -> tuple[Golden, list[Any], list[str]]:
    transport = Transport("http://api.test", transport=httpx.MockTransport(service))
    golden = Golden(folder, spec=SPEC, update=update, resend=transport.resend)
    transport.observer = golden.observe
    golden.suite = suite
    client = transport("reader")
    for item in ("a1", "b2"):
        assert client.get(f"/items/{item}", params={"full": "1"}).status_code == 200
    golden.suite = None
    cases = golden.close_suite(suite)
    notes = golden.finish()
    transport.close()
    return golden, cases, notes


def test_the_first_run_writes_reviewable_snapshots_and_says_so(tmp_path: Path) -> None:
    _, cases, notes = one_run(tmp_path, Service())
    assert [c.status for c in cases] == [Status.SKIPPED]
    assert "snapshot written (first run" in cases[0].message
    assert any("snapshots written for 1 operations" in n for n in notes)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "GET_items_a1.json" not in files  # one file per operation, not per request
    data = (
        json.loads((tmp_path / "GET_items_b2.json").read_text())
        if (tmp_path / "GET_items_b2.json").exists()
        else None
    )
    assert data is None
    snap = [p for p in tmp_path.glob("GET_*.json")]
    assert len(snap) == 1
    answers = json.loads(snap[0].read_text())["answers"]
    assert [a["request"]["path"] for a in answers] == ["/items/a1", "/items/b2"]
    assert answers[0]["headers"] == {"content-type": "application/json", "x-frame-options": "DENY"}
    masks = json.loads((tmp_path / "masks.json").read_text())["masks"]
    assert {m["path"] for m in masks} >= {"$.hits"}  # learned from the same GET sent twice


def test_a_correct_service_against_itself_gives_no_difference(tmp_path: Path) -> None:
    one_run(tmp_path, Service())
    _, cases, _ = one_run(tmp_path, Service())
    assert [(c.status, c.message) for c in cases] == [
        (Status.PASSED, "2 answers match the snapshot")
    ]


def test_a_changed_value_and_a_missing_header_fail_with_both_answers_and_a_curl(
    tmp_path: Path,
) -> None:
    one_run(tmp_path, Service())
    _, cases, _ = one_run(tmp_path, Service(name="chair", frame_options=False))
    case = cases[0]
    assert case.status is Status.FAILED
    assert "2 of 2 answers differ" in case.message
    lines = case.details["golden"][0]["lines"]
    assert "body $.name: changed 'lamp' → 'chair'" in lines
    assert any(line.startswith("header x-frame-options: missing") for line in lines)
    assert case.details["golden"][0]["expected"]["body"]["json"]["name"] == "lamp"
    assert case.details["golden"][0]["actual"]["body"]["json"]["name"] == "chair"
    assert case.reproduce and case.reproduce.startswith("curl") and "/items/a1" in case.reproduce


def test_new_inputs_are_reported_never_written_and_update_accepts_them(tmp_path: Path) -> None:
    one_run(tmp_path, Service(), suite="auth")
    _, cases, notes = one_run(tmp_path, Service(), suite="contract")
    assert cases[0].status is Status.SKIPPED and cases[0].message.startswith("inconclusive")
    assert any("had no snapshot and were not written" in n for n in notes)
    assert any("stale" in n for n in notes)  # the auth answers no request reached
    _, cases, _ = one_run(tmp_path, Service(), suite="contract", update=True)
    _, cases, _ = one_run(tmp_path, Service(), suite="contract")
    assert cases[0].status is Status.PASSED


def test_a_plugin_test_fails_at_the_request_whose_answer_changed(tmp_path: Path) -> None:
    service = Service()
    transport = Transport("http://api.test", transport=httpx.MockTransport(service))
    golden = Golden(tmp_path, spec=SPEC, resend=transport.resend)
    transport.observer = golden.observe
    transport("test:tests/test_x.py::test_item").get("/items/a1")
    golden.close_suite("pytest")
    transport.close()
    service.name = "desk"
    transport = Transport("http://api.test", transport=httpx.MockTransport(service))
    golden = Golden(tmp_path, spec=SPEC, resend=transport.resend)
    transport.observer = golden.observe
    with pytest.raises(GoldenMismatch, match=r"body \$.name: changed 'lamp' → 'desk'"):
        transport("test:tests/test_x.py::test_item").get("/items/a1")
    transport.close()


def test_test_mode_and_test_seed_are_aliases_and_battletest_wins() -> None:
    assert env_overrides({"TEST_MODE": "GOLDEN", "TEST_SEED": "3"}) == {
        "mode": "GOLDEN",
        "seed": "3",
    }
    both = env_overrides({"TEST_SEED": "3", "BATTLETEST_SEED": "4", "TEST_MODE": "GOLDEN"})
    assert both["seed"] == "4" and both["mode"] == "GOLDEN"


def test_the_seed_of_the_snapshots_is_reused(tmp_path: Path) -> None:
    assert Golden(tmp_path).seed(None) == 0
    assert Golden(tmp_path, update=True).seed(7) == 7
    assert Golden(tmp_path).seed(None) == 7
