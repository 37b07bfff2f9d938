"""A scan is robust to its target: a dropped probe is that check's evidence, the scan stops
(exit 3) only when the health probe fails too, and what was concluded is kept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from battletest.results import Severity
from battletest.security import Outcome, Scanner, ScanSettings, scan
from battletest.security.suite import to_suite

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/items": {"get": {"responses": {"200": {"description": "ok"}}}}},
}


def _scanner(paths: list[str]) -> Scanner:
    """One target check per path: GET it, clean when answered."""
    scanner = Scanner()
    for index, path in enumerate(paths):

        def probe(ctx: Any, op: Any, path: str = path) -> Outcome:
            return Outcome.clean(f"HTTP {ctx.send('GET', path).status}")

        scanner.check(
            id=f"probe-{index}",
            title=path,
            owasp="API8:2023",
            cwe="CWE-20",
            severity=Severity.LOW,
            group="probe",
            phase=index,
        )(probe)
    return scanner


def _scan(handler: Any, paths: list[str], health_wait_s: float = 0.0) -> Any:
    return scan(
        "http://api.test",
        SPEC,
        settings=ScanSettings(health_wait_s=health_wait_s),
        scanner=_scanner(paths),
        transport=httpx.MockTransport(handler),
    )


def test_a_reset_probe_is_inconclusive_while_the_health_probe_answers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/boom":
            raise httpx.ConnectError("connection reset by peer", request=request)
        return httpx.Response(200, json=[])

    outcome = _scan(handler, ["/boom", "/items"])
    assert outcome.unreachable is None
    first, second = outcome.runs
    assert not first.conclusive and "dropped a probe" in first.reason
    assert second.conclusive and second.reason == "HTTP 200"


def test_a_target_that_stops_answering_ends_the_scan_with_partial_results() -> None:
    down = [False]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/crash":
            down[0] = True
        if down[0]:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=[])

    outcome = _scan(handler, ["/items", "/crash", "/items"])
    assert outcome.unreachable is not None and "health probe" in outcome.unreachable
    assert [r.check_id for r in outcome.runs] == ["probe-0"]  # kept; the rest never ran
    suite = to_suite(outcome, ScanSettings())
    assert "partial results" in (suite.message or "")


@pytest.mark.parametrize("budget", [0.0, 0.5])
def test_the_health_probe_waits_for_a_target_that_comes_back(budget: float) -> None:
    calls = {"/": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/":
            calls["/"] += 1
            if calls["/"] == 2:  # the health probe's first try after the drop fails
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(200)
        if request.url.path == "/boom":
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(200, json=[])

    outcome = _scan(handler, ["/boom", "/items"], budget)
    assert (outcome.unreachable is None) == (budget > 0)
