"""Kinto accounts and data made through Kinto's own API, outside battletest (GROUND_TRUTH.md)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from tests.thirdparty.apps import Running

# Test accounts on a throwaway in-memory Kinto: not secrets.
ACCOUNTS = {"admin": "admin-pw-8c1f", "alice": "alice-pw-93ab", "bob": "bob-pw-27de"}
ROLES = {"admin": "admin", "alice": "user", "bob": "user"}

# What alice and bob own before battletest runs: (owner, path, body).
OBJECTS = [
    ("alice", "/buckets/precious", {"data": {"title": "alice's bucket"}}),
    ("alice", "/buckets/precious/collections/notes", {"data": {"schema_note": "free form"}}),
    ("alice", "/buckets/precious/collections/notes/records/r1", {"data": {"text": "keep me"}}),
    ("alice", "/buckets/precious/collections/notes/records/r2", {"data": {"n": 2, "tags": ["a"]}}),
    ("alice", "/buckets/precious/groups/friends", {"data": {"members": ["account:bob"]}}),
    ("bob", "/buckets/bobs", {"data": {"title": "bob's bucket"}}),
    ("bob", "/buckets/bobs/collections/todo", {"data": {}}),
    ("bob", "/buckets/bobs/collections/todo/records/t1", {"data": {"done": False}}),
]


def create_accounts(app: Running) -> None:
    """Each account of ``ACCOUNTS``, created anonymously as Kinto's docs say (PUT /accounts/id)."""
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for name, password in ACCOUNTS.items():
            r = client.put(f"/accounts/{name}", json={"data": {"password": password}})
            assert r.status_code == 201, r.text


def seed_objects(app: Running) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for owner, path, body in OBJECTS:
            # parents come first in OBJECTS: Kinto creates no bucket or collection implicitly
            r = client.put(path, json=body, auth=(owner, ACCOUNTS[owner]))
            assert r.status_code == 201, f"PUT {path}: {r.status_code} {r.text}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The exact bytes each owner reads back for each seeded object and listing."""

    bodies: dict[str, bytes]


def snapshot(app: Running) -> Snapshot:
    paths = {(owner, path) for owner, path, _ in OBJECTS}
    paths |= {
        ("alice", "/buckets"),
        ("alice", "/buckets/precious/collections/notes/records"),
        ("bob", "/buckets"),
        ("bob", "/buckets/bobs/collections"),
        ("admin", "/accounts"),
    }
    bodies = {}
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for owner, path in sorted(paths):
            r = client.get(path, auth=(owner, ACCOUNTS[owner]))
            bodies[f"{owner} GET {path} -> {r.status_code}"] = r.content
    return Snapshot(bodies)


def logged_in(app: Running) -> dict[str, bool]:
    """Whether each account still logs in: ``GET /v1/`` names it as the user (GROUND_TRUTH.md)."""
    result = {}
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for name, password in ACCOUNTS.items():
            user = client.get("/", auth=(name, password)).json().get("user") or {}
            result[name] = user.get("id") == f"account:{name}"
    return result
