"""What real services answer that a transport must survive (seen on PyPI apps, docs/thirdparty.md):
a cookie that cannot be sent back, a probe that gets no valid answer, a target under a path."""

from __future__ import annotations

import httpx
import pytest

from battletest.errors import TargetUnreachable
from battletest.spec import from_document
from battletest.transport import Inconclusive, PolicyRefused, Transport, WritePolicy


def test_a_cookie_that_cannot_be_sent_back_does_not_break_the_clients_later_requests() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie", ""))
        if request.url.path == "/cookies/set":  # httpbin echoes a generated value into a cookie
            bad = "n=\u00e9\U0002134b; Path=/".encode()
            raw = [(b"set-cookie", bad), (b"set-cookie", b"ok=1; Path=/")]
            return httpx.Response(200, headers=raw)
        return httpx.Response(200)

    client = Transport("http://127.0.0.1:1", transport=httpx.MockTransport(handler))()
    client.get("/cookies/set")
    assert client.get("/get").status_code == 200
    assert sent == ["", "ok=1"]  # the ASCII cookie is still sent back


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("illegal status line")]
)
def test_a_probe_without_a_valid_answer_is_inconclusive_not_an_unreachable_target(
    failure: Exception,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/delay"):
            raise failure
        return httpx.Response(200)

    http = Transport("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    with pytest.raises(Inconclusive, match="no valid answer to GET /delay/9"):
        http.send("GET", "/delay/9")
    assert http.send("GET", "/get").status == 200  # the scan goes on


def test_a_refused_connection_is_still_an_unreachable_target() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    http = Transport("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    with pytest.raises(TargetUnreachable):
        http.send("GET", "/")


def test_the_policy_judges_paths_under_a_target_that_has_a_path() -> None:
    spec = from_document(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/accounts/{id}": {"put": {"responses": {"200": {"description": "ok"}}}},
                "/accounts": {"post": {"responses": {"201": {"description": "ok"}}}},
            },
        }
    )
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return httpx.Response(201, json={"data": {"id": "bt1"}})

    # Kinto's URL as its docs give it: http://host/v1, the spec's paths under it
    http = Transport(
        "http://127.0.0.1:1/v1",
        transport=httpx.MockTransport(handler),
        policy=WritePolicy(operations=spec.operations),
    )
    client = http()
    with pytest.raises(PolicyRefused, match="did not create"):  # an item write, not collection-wide
        client.put("/accounts/alice", json={})
    client.post("/accounts", json={})
    # the PUT was never sent: only the GET that asked whether it would create (it exists)
    assert sent == ["GET /v1/accounts/alice", "POST /v1/accounts"]
