"""body-size compares answers that reached the operation, never two refusals (issue 19).

Seen on Jupyter Server: the scanner's anonymous POST with a normal body got 403, the 2 MiB
body got 403 too, and that was reported as "read and parsed". Socket-free services here: one
that refuses every anonymous POST (inconclusive, no finding), one that reads any size (found).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from battletest.security import ScanSettings, scan

DOC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/api/sessions": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"path": {"type": "string"}}}
                        }
                    }
                },
                "responses": {"201": {"description": "created"}},
            }
        }
    },
}


@pytest.mark.parametrize("refuses", [True, False])
def test_body_size_needs_a_normal_body_that_reached_the_operation(refuses: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            if refuses:  # an XSRF/credential check before the handler reads anything
                return httpx.Response(403, json={"message": "Forbidden"})
            return httpx.Response(201, json={"id": "s1"})
        return httpx.Response(200, json={})

    settings = ScanSettings(checks=["body-size"], oversized_body_kib=65)
    outcome = scan("http://api.test", DOC, [], settings, transport=httpx.MockTransport(handler))
    if refuses:
        assert outcome.findings == []
        [run] = outcome.runs
        assert not run.conclusive and "a normal body was refused (HTTP 403)" in run.reason
    else:
        assert [f.check_id for f in outcome.findings] == ["body-size"]
