"""A small staff directory for the RBAC ownership tests, unlike the demo: static bearer tokens,
three roles, integer ids, and a journal of every request by route and role.

Ground truth (written before the suites were run against it):

- ``[[rbac]]`` below states the intended matrix; the app enforces it except for one planted
  broken rule: ``DELETE /people/{person_id}`` is meant for admins, but any role may call it.
- ``GET /admin/audit`` is not in the matrix; only admins may read it (403 for the others), so
  the scanner ranks it privileged from the path and the answers, and tests it itself.
"""

import threading
from collections import Counter
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

TOKENS = {"tok-admin-7f3a": "admin", "tok-staff-91c2": "staff", "tok-guest-05be": "guest"}
BROKEN = ("DELETE", "/people/{person_id}")  # the planted broken rule

RBAC = [
    {"method": "GET", "path": "/people", "roles": ["admin", "staff"]},
    {"method": "POST", "path": "/people", "roles": ["admin"]},
    {"method": "GET", "path": "/people/{person_id}", "roles": ["admin", "staff"]},
    {"method": "DELETE", "path": "/people/{person_id}", "roles": ["admin"]},
]


class NewPerson(BaseModel):
    name: str


class Person(BaseModel):
    id: int
    name: str


class Journal:
    """(method, route template, role) of every request the app answered."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, method: str, route: str, role: str) -> None:
        with self._lock:
            self.counts[(method, route, role)] += 1

    def snapshot(self) -> Counter[tuple[str, str, str]]:
        with self._lock:
            return Counter(self.counts)


def make_rbac_app(*, broken: bool = True) -> tuple[FastAPI, Journal]:
    app = FastAPI(title="staff directory", version="1")
    journal = Journal()
    people: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "Ada"}}
    allowed = {(r["method"], r["path"]): set(r["roles"]) for r in RBAC}
    bearer = HTTPBearer(auto_error=False)  # declares the scheme on every operation using it

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        route = request.scope.get("route")
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        journal.add(request.method, getattr(route, "path", "?"), TOKENS.get(token, "anonymous"))
        return response

    def role_of(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
    ) -> str:
        token = credentials.credentials if credentials else ""
        if token not in TOKENS:
            raise HTTPException(401, "missing or unknown token")
        return TOKENS[token]

    def may(method: str, path: str) -> Any:
        def check(role: Annotated[str, Depends(role_of)]) -> str:
            if role in allowed[(method, path)] or (broken and (method, path) == BROKEN):
                return role
            raise HTTPException(403, f"role {role} may not {method} {path}")

        return Depends(check)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/people", response_model=list[Person], dependencies=[may("GET", "/people")])
    def list_people() -> list[Person]:
        return [Person(**p) for p in people.values()]

    @app.post(
        "/people", response_model=Person, status_code=201, dependencies=[may("POST", "/people")]
    )
    def add_person(body: NewPerson) -> Person:
        new = {"id": max(people, default=0) + 1, "name": body.name}
        people[new["id"]] = new
        return Person(**new)

    @app.get(
        "/people/{person_id}",
        response_model=Person,
        dependencies=[may("GET", "/people/{person_id}")],
    )
    def get_person(person_id: int) -> Person:
        if person_id not in people:
            raise HTTPException(404, "no such person")
        return Person(**people[person_id])

    @app.delete(
        "/people/{person_id}",
        status_code=204,
        dependencies=[may("DELETE", "/people/{person_id}")],
    )
    def remove_person(person_id: int) -> None:
        if people.pop(person_id, None) is None:
            raise HTTPException(404, "no such person")

    @app.get("/admin/audit")
    def audit(role: Annotated[str, Depends(role_of)]) -> dict[str, Any]:
        if role != "admin":
            raise HTTPException(403, "admins only")
        return {"entries": len(people)}

    return app, journal


def rbac_config(url: str, out: str, **security: Any) -> dict[str, Any]:
    """The config for ``make_rbac_app`` at ``url``: one identity per role, the matrix."""
    return {
        "target": {"url": url, "health": "/health"},
        "identities": [
            {"name": f"{role}1", "role": role, "token": token} for token, role in TOKENS.items()
        ],
        "rbac": RBAC,
        "security": {"depth": "basic", **security},
        "out": out,
        "seed": 5,
        "history": {"record": False},
    }
