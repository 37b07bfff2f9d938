"""XSS is confirmed by execution in headless Chromium; a payload that comes back in an inert
context (inside <title>, an HTML comment, a page whose CSP forbids inline script) is no
finding; without a browser the scan reports what it saw as suspected, and says so."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from battletest.netutil import serve_app
from battletest.results import Confidence
from battletest.security import ScanOutcome, ScanSettings, scan
from battletest.security import browser as browser_module

pytestmark = [pytest.mark.network, pytest.mark.slow]

# ground truth: /search and /find (a 404 "no match" page) execute what they reflect
PAGES = {
    "/search": "<html><body><p>Results for {q}</p></body></html>",
    "/find": "<html><body><p>No match for {q}</p></body></html>",
    "/titled": "<html><head><title>Results for {q}</title></head><body>ok</body></html>",
    "/commented": "<html><body><!-- searched: {q} --><p>ok</p></body></html>",
    "/guarded": (
        '<html><head><meta http-equiv="Content-Security-Policy" content="script-src \'none\'">'
        "</head><body><p>Results for {q}</p></body></html>"
    ),
}


def _app() -> Starlette:
    def page(template: str) -> Any:
        async def handler(request: Request) -> HTMLResponse:
            q = request.query_params.get("q", "")
            # the inert pages cannot be closed: their end markers are stripped from the value
            q = q.replace("</", "").replace("-->", "") if "{q}</title>" in template else q
            q = q.replace("-->", "") if "<!--" in template else q
            status = 404 if "No match" in template else 200
            return HTMLResponse(template.replace("{q}", q), status_code=status)

        return handler

    return Starlette(routes=[Route(path, page(t)) for path, t in PAGES.items()])


def _spec() -> dict[str, Any]:
    op = {
        "parameters": [
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "a page",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "pages", "version": "1"},
        "paths": {path: {"get": op} for path in PAGES},
    }


def _scan() -> ScanOutcome:
    with serve_app(_app()) as base:
        return scan(base, _spec(), settings=ScanSettings(checks=["xss-reflected"]))


@pytest.mark.skipif(
    isinstance(browser_module.find_binaries(), str), reason="needs /usr/bin/chromium"
)
def test_only_the_payload_that_executes_is_a_confirmed_finding() -> None:
    outcome = _scan()
    assert sorted(f.path for f in outcome.findings) == ["/find", "/search"]
    for finding in outcome.findings:
        assert finding.confidence is Confidence.CONFIRMED
        assert "executed in headless Chromium" in finding.evidence["note"]
    assert all(r.conclusive for r in outcome.runs)


def test_without_a_browser_reflections_are_suspected_and_inert_contexts_still_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(browser_module, "find_binaries", lambda: "no /usr/bin/chromium")
    outcome = _scan()
    # <title> and the comment cannot be closed: no payload for them comes back verbatim
    assert sorted(f.path for f in outcome.findings) == ["/find", "/guarded", "/search"]
    for f in outcome.findings:
        assert f.confidence is Confidence.FIRM and "suspected" in f.title
    assert any("no /usr/bin/chromium" in n and "suspected" in n for n in outcome.notes)
