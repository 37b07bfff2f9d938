from __future__ import annotations

import socket

import httpx
import pytest

from battletest.netutil import (
    free_port,
    is_loopback_host,
    is_loopback_url,
    listen_socket,
    serve_app,
)


async def _app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-ok", b"1")]})
    await send({"type": "http.response.body", "body": b"hello"})


def test_serve_app_answers_over_a_real_socket() -> None:
    with serve_app(_app) as url:
        assert is_loopback_url(url)
        r = httpx.get(url + "/x")
        assert r.status_code == 200 and r.text == "hello"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/x")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("10.0.0.1", False),
        ("8.8.8.8", False),
    ],
)
def test_loopback_detection(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected


def test_free_port_is_bindable() -> None:
    assert 0 < free_port() < 65536


def test_listen_socket_listens_and_reports_a_taken_port() -> None:
    with listen_socket("127.0.0.1", 0) as sock:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        with pytest.raises(OSError):
            listen_socket("127.0.0.1", port)
