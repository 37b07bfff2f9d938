"""False positives seen scanning third-party apps (bench/bench_scan_thirdparty.py), issue 19.

Socket-free services that answer as those apps did:

- Jupyter Server: the scanner's anonymous POST with a normal body got 403, the 2 MiB body got
  403 too, and body-size reported that as "read". One service refuses every anonymous POST
  (inconclusive, no finding); one reads any size (found).
- Kinto: a bucket's permission principals are a set, serialised in an order that follows the
  members' hashes, so the true and the false payload of a boolean SQL pair came back in
  different orders — "different answers", consistently — on a service with no SQL at all.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from battletest.security import ScanSettings, scan
from battletest.security.context import ScanIdentity

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


def test_a_set_listed_in_hash_order_is_not_a_boolean_sql_injection() -> None:
    """The write principals come back ordered by a hash of each member (as a Python set of
    strings does within one process): the same members, a different order per payload."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/buckets":
            return httpx.Response(200, json={"data": [{"id": "b1"}]})
        if request.method != "PUT":
            return httpx.Response(200, json={})
        body = json.loads(request.content)
        writers = {"account:admin", *body["permissions"]["write"]}
        ordered = sorted(writers, key=lambda p: hashlib.md5(p.encode()).hexdigest())
        return httpx.Response(200, json={"data": body["data"], "permissions": {"write": ordered}})

    principal = {"type": "array", "items": {"type": "string"}}
    bucket = {
        "type": "object",
        "properties": {
            "data": {"type": "object", "properties": {"name": {"type": "string"}}},
            "permissions": {"type": "object", "properties": {"write": principal}},
        },
    }
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/buckets": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/buckets/{id}": {
                "put": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "requestBody": {"content": {"application/json": {"schema": bucket}}},
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
    }
    settings = ScanSettings(checks=["sqli-boolean"], allow_destructive=True, depth="standard")
    ann = [ScanIdentity(name="ann", api_key="key-ann")]
    outcome = scan("http://api.test", doc, ann, settings, transport=httpx.MockTransport(handler))
    assert [r.check_id for r in outcome.runs] == ["sqli-boolean"]
    assert all(r.conclusive for r in outcome.runs), [(r.target, r.reason) for r in outcome.runs]
    assert outcome.findings == []
