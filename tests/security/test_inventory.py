"""Undocumented endpoints suggested by the spec itself: other API versions, documented
collections under other prefixes, siblings and parents; a candidate the classifier calls
destructive is never requested without --allow-destructive. Socket-free (MockTransport)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from battletest.security import ScanIdentity, ScanSettings, scan
from battletest.security.checks.inventory import spec_candidates

OK = {"200": {"description": "ok"}}
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "shop", "version": "2"},
    "paths": {
        "/v2/users": {"get": {"responses": OK}},
        "/v2/users/{id}": {"get": {"responses": OK}},
        "/v2/orders": {"get": {"responses": OK}},
        "/v2/orders/export": {"get": {"responses": OK}},
        "/v2/orders/reset": {"post": {"responses": OK}},
        "/v2/shops/{shop}/items": {"get": {"responses": OK}},
    },
}
DOCUMENTED = {"/v2/users": [{"id": 7}], "/v2/users/7": {"id": 7}, "/v2/orders": []}
# ground truth: what the vulnerable build serves beyond its document, and as what kind
HIDDEN = {
    "/v1/users/7": "older or newer API version",
    "/internal/orders": "collection under another prefix",
    "/v2/users/export": "sibling of a documented path",
}


def _service(vulnerable: bool, log: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        log.append(path)
        if path in DOCUMENTED or path == "/v2/orders/export":
            return httpx.Response(200, json=DOCUMENTED.get(path, []))
        if vulnerable and path in {*HIDDEN, "/v2/users/reset"}:
            return httpx.Response(200, json={"hidden": path})
        return httpx.Response(404, json={"detail": "not found"})

    return httpx.MockTransport(handler)


def _scan(vulnerable: bool, allow_destructive: bool = False) -> tuple[Any, list[str]]:
    log: list[str] = []
    settings = ScanSettings(
        checks=["undocumented-endpoint"], depth="basic", allow_destructive=allow_destructive
    )
    people = [ScanIdentity(name="kim", token="t-kim")]
    outcome = scan("http://api.test", SPEC, people, settings, transport=_service(vulnerable, log))
    return outcome, log


def test_spec_suggested_endpoints_are_found_and_destructive_ones_never_requested() -> None:
    outcome, log = _scan(vulnerable=True)
    found = {f.path: f.title for f in outcome.findings}
    assert set(found) == set(HIDDEN), found
    for path, kind in HIDDEN.items():
        assert kind in found[path]
    assert "/v2/users/reset" not in log  # "reset": destructive by name
    [run] = outcome.runs
    assert run.conclusive and "--allow-destructive" in run.reason


def test_allow_destructive_sends_the_destructive_candidate_too() -> None:
    outcome, log = _scan(vulnerable=True, allow_destructive=True)
    assert "/v2/users/reset" in log
    assert "/v2/users/reset" in {f.path for f in outcome.findings}


def test_fixed_build_gives_no_finding() -> None:
    outcome, _ = _scan(vulnerable=False)
    assert outcome.findings == []
    assert outcome.runs[0].conclusive


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("older or newer API version", "/v1/users/7"),
        ("older or newer API version", "/v3/users"),
        ("collection under another prefix", "/v2/internal/orders"),
        ("sibling of a documented path", "/v2/users/export"),
        ("parent of a documented path", "/v2/shops"),
    ],
)
def test_candidates_of_each_kind(kind: str, path: str) -> None:
    from battletest.security.context import ScanContext
    from battletest.security.suite import operations_of
    from battletest.transport import Transport

    client = Transport("http://api.test", transport=_service(False, []))
    ops = operations_of(SPEC)
    ctx = ScanContext(client, ScanSettings(), ops, [ScanIdentity(name="kim", token="t")])
    assert (kind, path) in {(k, p) for k, p, _ in spec_candidates(ctx)}
