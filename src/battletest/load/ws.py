"""WebSocket sockets for scenarios: RFC 6455 through ``wsproto`` on the worker's event loop.

A scenario step opens, sends on, waits on or closes a named socket of its VU (see ``flow``).
This module is the socket itself — an ``asyncio.Protocol`` that feeds ``wsproto`` and keeps an
inbox of whole messages — and the counters a worker reports for every socket: sessions opened,
messages and bytes each way, abnormal closes (a close code other than 1000/1001, or a
connection lost without a close frame).

Latencies (connect time, message round trip) are recorded by the caller under the step's label,
in the same HdrHistogram as HTTP requests, so they merge across workers the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from battletest.load.scenario import USER_AGENT

if TYPE_CHECKING:
    from battletest.load.scenario import Target

NORMAL_CLOSES = frozenset({1000, 1001})
COUNTERS = (
    "ws_sessions",
    "ws_msgs_sent",
    "ws_msgs_received",
    "ws_bytes_sent",
    "ws_bytes_received",
    "ws_abnormal_closes",
)


class WsFailed(Exception):
    """A socket could not do what a step asked; ``kind`` is the error kind recorded."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Counters(Protocol):
    """Where socket counters go: the worker's ``Recorder`` (reset every interval)."""

    def count(self, name: str, n: int = 1) -> None: ...


class _WsProtocol(asyncio.Protocol):
    def __init__(self, counters: Counters) -> None:
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.counters = counters
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[str] = loop.create_future()  # the accepted subprotocol
        self.inbox: deque[str | bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.parts: list[str | bytes] = []
        self.close_code: int | None = None  # set once the socket is closed, either side
        self.closed = asyncio.Event()

    # ---- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.ws.receive_data(data)
            for event in self.ws.events():
                self._event(event)
        except (RemoteProtocolError, LocalProtocolError):
            self._lost(1002)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._lost(1006)  # no close frame (when one came, close_code is set already)

    # ---- events -------------------------------------------------------------------------
    def _event(self, event: object) -> None:
        if isinstance(event, AcceptConnection):
            if not self.opened.done():
                self.opened.set_result(event.subprotocol or "")
        elif isinstance(event, RejectConnection):
            if not self.opened.done():
                self.opened.set_exception(WsFailed(f"ws_rejected_{event.status_code}"))
        elif isinstance(event, Message):
            self.counters.count("ws_bytes_received", len(event.data))
            self.parts.append(event.data)
            if event.message_finished:
                first = self.parts[0]
                whole = "".join(self.parts) if isinstance(first, str) else b"".join(self.parts)  # type: ignore[arg-type]
                self.parts = []
                self.counters.count("ws_msgs_received")
                self.inbox.append(whole)
                self._wake()
        elif isinstance(event, Ping):
            self._write(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if self.close_code is None:
                self.close_code = event.code
                if event.code not in NORMAL_CLOSES:
                    self.counters.count("ws_abnormal_closes")
            if self.ws.state.name != "CLOSED":  # answer the server's close
                with contextlib.suppress(LocalProtocolError):
                    self._write(self.ws.send(event.response()))
            if self.transport is not None:
                self.transport.close()
            self._wake()
            self.closed.set()

    def _lost(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            if self.opened.done():
                self.counters.count("ws_abnormal_closes")
        if not self.opened.done():
            self.opened.set_exception(WsFailed("ws_handshake" if code == 1006 else "protocol"))
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        self._wake()
        self.closed.set()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and data:
            self.transport.write(data)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)  # the caller sees the time is up and raises the timeout


class WsSocket:
    """One open WebSocket: send whole messages, receive them in order, close."""

    def __init__(self, proto: _WsProtocol, subprotocol: str) -> None:
        self._p = proto
        self.subprotocol = subprotocol

    @property
    def open(self) -> bool:
        return self._p.close_code is None

    @property
    def close_code(self) -> int | None:
        return self._p.close_code

    def send(self, data: str | bytes) -> None:
        p = self._p
        if p.close_code is not None:
            raise WsFailed(f"ws_closed_{p.close_code}")
        message = TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)
        p._write(p.ws.send(message))
        p.counters.count("ws_msgs_sent")
        p.counters.count("ws_bytes_sent", len(data))

    async def receive(self, timeout: float) -> str | bytes:
        """The next whole message; ``WsFailed`` on a close or when ``timeout`` passes."""
        p = self._p
        inbox = p.inbox
        if inbox:
            return inbox.popleft()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not inbox:
            if p.close_code is not None:
                raise WsFailed(f"ws_closed_{p.close_code}")
            if loop.time() >= deadline:
                raise WsFailed("timeout")
            # a plain future and one timer: no task per wait (``wait_for`` makes one)
            waiter = p.waiter = loop.create_future()
            timer = loop.call_at(deadline, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
        return inbox.popleft()

    async def close(self, timeout: float, code: int = 1000) -> int:
        """Close with ``code`` and wait for the server's close frame; the code it ended with."""
        p = self._p
        if p.close_code is None:
            with contextlib.suppress(LocalProtocolError):
                p._write(p.ws.send(CloseConnection(code=code)))
            try:
                await asyncio.wait_for(p.closed.wait(), timeout)
            except TimeoutError:
                p._lost(1006)
        if p.transport is not None:
            p.transport.close()
            p.transport = None
        return p.close_code if p.close_code is not None else code

    def abort(self) -> None:
        p = self._p
        if p.transport is not None:
            p.transport.abort()
            p.transport = None
        if p.close_code is None:
            p.close_code = 1000  # ended by the run, not by the server: not abnormal
            p.closed.set()


async def connect(
    target: Target,
    address: str,
    path: str,
    headers: Mapping[str, str],
    subprotocols: Sequence[str],
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    counters: Counters,
) -> WsSocket:
    """Open a socket to ``path`` of the target (the handshake within ``timeout``)."""
    from battletest.load.runtime import open_connection

    loop = asyncio.get_running_loop()
    proto = _WsProtocol(counters)
    failed = await open_connection(loop, proto, address, target, ssl_context, timeout)
    if failed is not None:
        raise WsFailed(failed)
    extra = [(b"user-agent", USER_AGENT.encode())]
    extra += [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
    request = Request(
        host=target.host_header,
        target=f"{target.base_path}{path}",
        extra_headers=extra,
        subprotocols=list(subprotocols),
    )
    proto._write(proto.ws.send(request))
    try:
        subprotocol = await asyncio.wait_for(asyncio.shield(proto.opened), timeout)
    except TimeoutError:
        proto._lost(1006)
        raise WsFailed("timeout") from None
    except WsFailed:
        if proto.transport is not None:
            proto.transport.abort()
        raise
    counters.count("ws_sessions")
    return WsSocket(proto, subprotocol)
