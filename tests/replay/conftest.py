"""Shared pieces of the record/replay tests: demo instances and the recorded call flow.

The recorded and the fresh demo are this folder's own (a used instance numbers call events
further on); the insecure one is the demo tests'. All run with fast knobs (cheap KDF). ``drive_call_flow`` is the demo's
full call flow (docs/demo.md): a staff login, an incoming call, its events, the transcript, the
greeting audio, then an admin listing users, a lookup that the insecure demo answers with a
verbose 500, and both logouts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.demo.conftest import FAST, insecure_demo

from battletest.demo import DemoHandle, start

__all__ = ["insecure_demo"]  # the demo tests' session instance (its state does not matter here)

STAFF = ("staff.h1@demo.test", "staff1-Demo-2026!")
ADMIN = ("admin@demo.test", "admin-Demo-2026!")
CALLER = "+14155550100"
# what a replay is given for the recording's {{input.*}} placeholders
INPUTS = {
    "username": STAFF[0],
    "password": STAFF[1],
    "caller": CALLER,
    "username_2": ADMIN[0],
    "password_2": ADMIN[1],
}


@pytest.fixture(scope="session")
def recorded_demo() -> Iterator[DemoHandle]:
    """The instance the call flow is recorded on."""
    with start(**FAST) as handle:
        yield handle


@pytest.fixture(scope="session")
def fresh_demo() -> Iterator[DemoHandle]:
    """A second instance: other ids, tokens and timestamps than the recorded one."""
    with start(**FAST) as handle:
        yield handle


def login(client: httpx.Client, user: tuple[str, str]) -> dict[str, Any]:
    r = client.post("/v1/auth/login", json={"username": user[0], "password": user[1]})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def drive_call_flow(base_url: str) -> int:
    """The demo's call flow through ``base_url``; the number of requests sent."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        staff = login(c, STAFF)
        auth = {"Authorization": f"Bearer {staff['access_token']}"}
        r = c.post(
            "/v1/calls", json={"caller": CALLER, "hotel_id": "h1", "voice": "alloy"}, headers=auth
        )
        assert r.status_code == 201, r.text
        call = r.json()["id"]
        for event in ({"type": "answered"}, {"type": "transcript", "text": "a late checkout"}):
            assert c.post(f"/v1/calls/{call}/events", json=event, headers=auth).status_code == 200
        assert c.post(f"/v1/calls/{call}/events", json={"type": "ended"}, headers=auth).is_success
        assert c.get(f"/v1/calls/{call}", headers=auth).status_code == 200
        assert c.get(f"/v1/calls/{call}/transcript", headers=auth).status_code == 200
        assert c.get(f"/v1/calls/{call}/greeting.wav", headers=auth).status_code == 200
        admin = login(c, ADMIN)
        admin_auth = {"Authorization": f"Bearer {admin['access_token']}"}
        assert c.get("/v1/users", headers=admin_auth).status_code == 200
        c.get("/v1/guests", params={"name": "zz'"}, headers=admin_auth)
        c.post("/v1/auth/logout", json={"refresh_token": staff["refresh_token"]}, headers=auth)
        c.post(
            "/v1/auth/logout", json={"refresh_token": admin["refresh_token"]}, headers=admin_auth
        )
    return 13
