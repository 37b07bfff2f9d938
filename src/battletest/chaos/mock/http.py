"""A small HTTP/1.1 server on raw asyncio transports, so the mock can misbehave on purpose.

A framework server (uvicorn, hypercorn) always answers with well-formed HTTP; a dependency
mock also has to reset connections, close without answering, send a broken chunk or random
bytes. This module parses requests with httptools (the parser uvicorn uses), hands each one
to an async handler and writes whatever the handler returns: a ``Response`` or a ``Fault``.
Keep-alive and pipelining are supported; each connection answers its requests in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

import httptools


class Fault(StrEnum):
    """Transport-level faults, named as WireMock users know them."""

    CONNECTION_RESET = "connection_reset"  # RST instead of an answer (SO_LINGER 0)
    EMPTY_RESPONSE = "empty_response"  # close the connection without a byte
    MALFORMED_CHUNK = "malformed_chunk"  # a chunked response whose chunk size is not hex
    RANDOM_DATA_THEN_CLOSE = "random_data_then_close"  # garbage bytes, then close


_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


@dataclass(slots=True)
class Request:
    """One parsed request as the mock's handler and journal see it (parsed once)."""

    method: str
    target: str  # the raw request target: path and query
    headers: list[tuple[str, str]]
    body: bytes
    client: str = ""
    path: str = field(init=False)
    # the path with each encoded slash (%2F) left encoded: a path parameter's value may hold
    # one (``/files/a%2Fb``), which decoding would turn into two segments
    segment_path: str = field(init=False)
    query_string: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)
    header_map: dict[str, str] = field(init=False)  # lower-case names; a repeat keeps the last

    def __post_init__(self) -> None:
        raw_path, _, self.query_string = self.target.partition("?")
        if "://" in raw_path:  # absolute-form target (a proxy-style request)
            raw_path = urlsplit(self.target).path
        self.path = (unquote(raw_path) if "%" in raw_path else raw_path) or "/"
        self.segment_path = self.path
        if "%" in raw_path and _ENCODED_SLASH.search(raw_path):
            self.segment_path = unquote(_ENCODED_SLASH.sub("%252F", raw_path)) or "/"
        query: dict[str, list[str]] = {}
        if self.query_string:
            for k, v in parse_qsl(self.query_string, keep_blank_values=True):
                query.setdefault(k, []).append(v)
        self.query = query
        self.header_map = {k.lower(): v for k, v in self.headers}

    def header(self, name: str) -> str | None:
        return self.header_map.get(name.lower())


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Handler = Callable[[Request], Awaitable[Response | Fault]]


def encode_response(response: Response, *, keep_alive: bool, head: bool = False) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    names = {k.lower() for k, _ in response.headers}
    lines.extend(f"{k}: {v}" for k, v in response.headers if k.lower() != "content-length")
    # a 1xx, 204 or 304 answer has no body (RFC 9110 §6.4.1): a client reads none, so bytes
    # sent after it would be read as the start of the next answer on the connection
    bodiless = response.status < 200 or response.status in (204, 304)
    if not bodiless:
        lines.append(f"content-length: {len(response.body)}")
    if "connection" not in names:
        lines.append("connection: keep-alive" if keep_alive else "connection: close")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head_bytes if head or bodiless else head_bytes + response.body


def write_fault(transport: asyncio.Transport, fault: Fault, rng: random.Random) -> None:
    """Misbehave on the transport, then close it."""
    if fault is Fault.CONNECTION_RESET:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return
    if fault is Fault.MALFORMED_CHUNK:
        transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b'transfer-encoding: chunked\r\n\r\nzz\r\n{"partial": \r\n'
        )
    elif fault is Fault.RANDOM_DATA_THEN_CLOSE:
        transport.write(rng.randbytes(256))
    transport.close()


class _Connection(asyncio.Protocol):
    """One client connection: parse with httptools, answer requests in order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[Request, bool] | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.client = ""
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = self.transport.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if peer else ""
        self.server.connections.add(self)
        self.worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reply_error(400)
        except httptools.HttpParserError:
            self._reply_error(400)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii", "replace")
        request = Request(
            method=method,
            target=self._url.decode("latin-1"),
            headers=self._headers,
            body=b"".join(self._body),
            client=self.client,
        )
        self.queue.put_nowait((request, self.parser.should_keep_alive()))

    def _reply_error(self, status: int) -> None:
        if self.transport is not None and not self.transport.is_closing():
            body = b'{"error": "malformed request"}'
            resp = Response(status, [("content-type", "application/json")], body)
            self.transport.write(encode_response(resp, keep_alive=False))
            self.transport.close()

    async def _serve(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None or self.transport is None or self.transport.is_closing():
                return
            request, keep_alive = item
            try:
                result = await self.server.handler(request)
            except Exception as exc:  # a handler bug must not kill the server
                body = f'{{"error": "mock handler failed: {type(exc).__name__}"}}'.encode()
                result = Response(500, [("content-type", "application/json")], body)
            if self.transport.is_closing():
                return
            if isinstance(result, Fault):
                write_fault(self.transport, result, self.server.rng)
                return
            keep = keep_alive and not any(
                k.lower() == "connection" and v.lower() == "close" for k, v in result.headers
            )
            self.transport.write(
                encode_response(result, keep_alive=keep, head=request.method == "HEAD")
            )
            if not keep:
                self.transport.close()
                return


class HttpServer:
    """Listen on host:port and pass every request to ``handler``.

    ``close_listener``/``reopen`` make the port refuse connections for a while (an outage)
    and then accept again on the same port.
    """

    def __init__(self, handler: Handler, *, seed: int | None = None) -> None:
        self.handler = handler
        self.rng = random.Random(seed)
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=512
        )
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = host, int(sockname[1])

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def close_listener(self, *, drop_connections: bool = True) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if drop_connections:
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.abort()

    async def reopen(self) -> None:
        if self._server is None:
            await self.start(self.host, self.port)

    async def stop(self) -> None:
        await self.close_listener(drop_connections=True)
