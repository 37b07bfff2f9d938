"""CORS attacker origins are derived from the origins a service trusts (declared, sent as a
fixed Access-Control-Allow-Origin, or reflected), so an unanchored or unescaped origin pattern
is found; an exact allow-list gives nothing. Socket-free: the service is a MockTransport."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from battletest.results import Severity
from battletest.security import ScanSettings, scan
from battletest.security.checks.misconfig import attacker_origins

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/items": {"get": {"responses": {"200": {"description": "ok"}}}}},
}
APP = "https://app.example.com"

# ground truth: each service's origin rule → the kind of attacker origin it trusts
RULES: dict[str, tuple[Callable[[str], bool], str | None, str | None]] = {
    # name: (trusts(origin), fixed ACAO sent without an Origin, the finding's kind)
    "unescaped dot": (
        lambda o: re.fullmatch(r"https://app.example.com", o) is not None,
        None,
        "unescaped-dot origin",
    ),
    "startswith": (lambda o: o.startswith("https://app.example.com"), APP, "suffix origin"),
    "endswith domain": (lambda o: o.endswith("example.com"), APP, "prefix origin"),
    "unanchored": (
        lambda o: re.search(r"app\.example\.com", o) is not None,
        APP,
        "look-alike origin",
    ),
    "dev origin, any scheme": (
        lambda o: o.split("://")[-1] == "localhost:3000",
        None,
        "other scheme",
    ),
    "exact list": (lambda o: o in {APP, "http://localhost:3000"}, APP, None),
}


def _service(trusts: Callable[[str], bool], fixed: str | None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        origin = request.headers.get("origin")
        headers = {}
        if origin and trusts(origin):
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
            }
        elif origin is None and fixed:
            headers = {
                "Access-Control-Allow-Origin": fixed,
                "Access-Control-Allow-Credentials": "true",
            }
        return httpx.Response(200, json=[], headers=headers)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("name", list(RULES))
def test_attacker_origins_derived_from_trusted_ones(name: str) -> None:
    trusts, fixed, expected = RULES[name]
    # the unescaped-dot service sends nothing unasked: its origin is declared
    declared = [APP] if fixed is None and name == "unescaped dot" else []
    settings = ScanSettings(checks=["cors"], allowed_origins=declared)
    outcome = scan("http://api.test", SPEC, settings=settings, transport=_service(trusts, fixed))
    [run] = outcome.runs
    assert run.conclusive
    kinds = {f.parameter for f in outcome.findings}
    assert "arbitrary origin" not in kinds and "null origin" not in kinds
    if expected is None:
        assert outcome.findings == []
    else:
        assert expected in kinds, kinds
        assert all(f.severity.rank <= Severity.MEDIUM.rank for f in outcome.findings)


def test_derived_origins_keep_the_port_and_never_repeat_a_trusted_one() -> None:
    derived = attacker_origins(["http://localhost:3000", APP])
    origins = [o for _, o in derived]
    assert "http://localhost.battletest-attacker.example:3000" in origins
    assert "https://battletestexample.com" in origins
    assert "https://appxexample.com" in origins and "https://app.examplexcom" in origins
    assert "https://localhost:3000" in origins  # the other scheme
    assert APP not in origins and len(origins) == len(set(origins))
