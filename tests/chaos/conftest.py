"""Shared fixtures for tests/chaos: loopback upstreams and a running fault proxy."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest


class EchoServer:
    """A threaded TCP echo server on 127.0.0.1 (bounded: 64 connections, 10 s each)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.received: list[bytes] = []
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        for _ in range(64):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _echo(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            try:
                while data := conn.recv(65536):
                    self.received.append(data)
                    conn.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


async def _http_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = json.dumps(
        {"path": scope["path"], "method": scope["method"], "body": body.decode(), "ok": True}
    ).encode()
    status = 200
    chunked = scope["path"] == "/chunked"
    if scope["path"].startswith("/status/"):
        status = int(scope["path"].rsplit("/", 1)[1])
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                *([] if chunked else [(b"content-length", str(len(payload)).encode())]),
            ],
        }
    )
    if chunked:
        await send({"type": "http.response.body", "body": payload[:10], "more_body": True})
        await send({"type": "http.response.body", "body": payload[10:], "more_body": False})
        return
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope="module")
def http_upstream() -> Iterator[str]:
    """host:port of a small JSON HTTP server (uvicorn) echoing path, method and body."""
    from battletest.netutil import serve_app

    with serve_app(_http_app) as url:
        yield url.split("://", 1)[1]


@pytest.fixture
def faults() -> Iterator[Any]:
    """A FaultProxy (no API) with a fixed seed."""
    from battletest.chaos.proxy import FaultProxy

    with FaultProxy(seed=7) as proxy:
        yield proxy


@pytest.fixture
def faults_api() -> Iterator[Any]:
    """A FaultProxy serving its control API on a free loopback port."""
    from battletest.chaos.proxy import FaultProxy

    with FaultProxy(api="127.0.0.1:0", seed=7) as proxy:
        yield proxy
