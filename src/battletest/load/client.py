"""The scenario client: one keep-alive HTTP/1.1 connection per VU, awaited request by request.

Scenarios (TOML flows, Python tasks) need each response's status, headers and body to check
and correlate, so unlike the pre-encoded hot path in ``runtime`` a request here is a coroutine.
It is still an ``asyncio.Protocol`` with an ``httptools`` parser on uvloop — no httpx — and it
records into the worker's ``Recorder`` exactly as the hot path does.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httptools

from battletest.load.scenario import USER_AGENT, Target

perf_counter = time.perf_counter


class RequestFailed(Exception):
    """The request got no usable response; ``kind`` is the error kind that was recorded."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    elapsed_ms: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.start = 0.0
        self.closed = False
        self.keep = True
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("protocol")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        self.waiter = None
        self.keep = self.parser.should_keep_alive()
        if waiter is not None and not waiter.done():
            status = self.parser.get_status_code()
            elapsed = (perf_counter() - self.start) * 1000.0
            waiter.set_result(Response(status, self.headers, b"".join(self.body), elapsed))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if exc is None:
            self._fail("closed")
        else:
            from battletest.load.runtime import error_kind

            self._fail(error_kind(exc))

    def _fail(self, kind: str) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(RequestFailed(kind))

    def send(self, payload: bytes, start: float) -> asyncio.Future[Response]:
        self.headers = {}
        self.body = []
        self.start = start
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(payload)
        return self.waiter


def encode_request(
    target: Target,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> bytes:
    lines = [
        f"{method} {target.base_path}{path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
    ]
    lower = {k.lower() for k in headers}
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
        if body and "content-type" not in lower:
            lines.append("Content-Type: application/json")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("utf-8") + body


class Client:
    """A VU's HTTP client: keeps one connection, reconnects after a close or an error."""

    def __init__(
        self,
        target: Target,
        address: str,
        timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.target = target
        self.address = address
        self.timeout = timeout
        self.ssl = ssl_context
        self.conn: _Conn | None = None
        self.headers: dict[str, str] = {}  # sent with every request (e.g. Authorization)
        self.bytes_out = 0

    async def _connection(self) -> _Conn:
        conn = self.conn
        if conn is not None and not conn.closed and conn.keep:
            return conn
        if conn is not None:
            self.close()
        from battletest.load.runtime import open_connection

        conn = _Conn()
        failed = await open_connection(
            asyncio.get_running_loop(), conn, self.address, self.target, self.ssl, self.timeout
        )
        if failed is not None:
            raise RequestFailed(failed)
        self.conn = conn
        return conn

    async def send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        start: float | None = None,
    ) -> Response:
        """One request; latency runs from ``start`` (default: now). Raises ``RequestFailed``."""
        merged = dict(self.headers)
        if headers:
            merged.update(headers)
        payload = encode_request(self.target, method, path, merged, body)
        begin = perf_counter() if start is None else start
        conn = await self._connection()
        self.bytes_out += len(payload)
        # no timer per request: the worker's sweep calls ``expire`` (see ``VUDriver.sweep``)
        return await conn.send(payload, begin)

    def expire(self, limit: float) -> None:
        """Fail the request in flight if it started before ``limit`` (a timeout)."""
        conn = self.conn
        if conn is not None and conn.waiter is not None and conn.start < limit:
            self.conn = None
            conn._fail("timeout")

    def take_bytes_in(self) -> int:
        conn = self.conn
        if conn is None:
            return 0
        received, conn.received = conn.received, 0
        return received

    def close(self) -> None:
        conn = self.conn
        self.conn = None
        if conn is not None and conn.transport is not None:
            conn.closed = True
            conn.transport.close()
            conn.transport = None
