"""A WebSocket server on a real loopback socket for the engine's tests (and the bench).

It echoes every message, and can misbehave on cue: close with an abnormal code after N
messages of a connection, or hold each reply back for some seconds. It counts what it saw
(connections open at once, messages) so tests check the client against the server's view.

Run as a script (``python tests/load/ws_servers.py [--delay S]``) it prints its port and
serves until killed: the bench starts it in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError


@dataclass
class Behaviour:
    delay: float = 0.0  # hold every reply back this long
    close_after: int = 0  # close a connection with ``close_code`` after this many messages
    close_code: int = 1011
    reject_status: int = 0  # refuse every handshake with this HTTP status
    open_now: int = 0
    open_peak: int = 0
    messages: int = 0
    subprotocols: list[list[str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class _Server(asyncio.Protocol):
    def __init__(self, b: Behaviour) -> None:
        self.b = b
        self.ws = WSConnection(ConnectionType.SERVER)
        self.transport: asyncio.Transport | None = None
        self.count = 0
        self.opened = False
        self.parts: list[str | bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.ws.receive_data(data)
            self._events()
        except RemoteProtocolError:  # a plain HTTP request (e.g. a reachability probe)
            self._write(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
            if self.transport is not None:
                self.transport.close()

    def _events(self) -> None:
        for event in self.ws.events():
            if isinstance(event, Request):
                self.b.subprotocols.append(list(event.subprotocols))
                self.b.headers.append(
                    {k.decode().lower(): v.decode() for k, v in event.extra_headers}
                )
                if self.b.reject_status:
                    self._write(self.ws.send(RejectConnection(status_code=self.b.reject_status)))
                    continue
                chosen = event.subprotocols[0] if event.subprotocols else None
                self._write(self.ws.send(AcceptConnection(subprotocol=chosen)))
                self.opened = True
                self.b.open_now += 1
                self.b.open_peak = max(self.b.open_peak, self.b.open_now)
            elif isinstance(event, Message):
                self.parts.append(event.data)
                if not event.message_finished:
                    continue
                first = self.parts[0]
                whole = "".join(self.parts) if isinstance(first, str) else b"".join(self.parts)  # type: ignore[arg-type]
                self.parts = []
                self.count += 1
                self.b.messages += 1
                if self.b.close_after and self.count >= self.b.close_after:
                    self._write(self.ws.send(CloseConnection(code=self.b.close_code)))
                    return
                reply = (
                    TextMessage(data=whole) if isinstance(whole, str) else BytesMessage(data=whole)
                )
                if self.b.delay:
                    asyncio.get_running_loop().call_later(self.b.delay, self._reply, reply)
                else:
                    self._reply(reply)
            elif isinstance(event, CloseConnection):
                with contextlib.suppress(Exception):
                    self._write(self.ws.send(event.response()))
                if self.transport is not None:
                    self.transport.close()

    def _reply(self, message: TextMessage | BytesMessage) -> None:
        with contextlib.suppress(Exception):
            self._write(self.ws.send(message))

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.opened:
            self.b.open_now -= 1


@contextlib.contextmanager
def serve_ws(b: Behaviour) -> Iterator[str]:
    """Serve in a thread on 127.0.0.1; yields the base URL (http://…, the engine's target)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    servers: list[asyncio.Server] = []
    protocols: list[_Server] = []

    def made() -> _Server:
        protocols.append(_Server(b))
        return protocols[-1]

    async def start() -> None:
        server = await loop.create_server(made, "127.0.0.1", 0, backlog=4096)
        servers.append(server)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        for proto in protocols:
            if proto.transport is not None:
                proto.transport.abort()
        servers[0].close()
        loop.run_until_complete(servers[0].wait_closed())
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(10), "ws server did not start"
    try:
        yield f"http://127.0.0.1:{port[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _script() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    delay = float(sys.argv[sys.argv.index("--delay") + 1]) if "--delay" in sys.argv else 0.0
    with serve_ws(Behaviour(delay=delay)) as url:
        print(url.rsplit(":", 1)[1], flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    _script()
