"""Small loopback HTTP/1.1 targets for the load tests, each in its own thread and event loop.

``serve(mode)`` yields the base URL. Modes:
- ``ok``: answers every request at once with 200 "ok" (keep-alive);
- ``stall``: like ok, but every response is held while the server is frozen
  (``freeze_s`` out of every ``period_s``, starting ``first_freeze_s`` after the first
  request that follows the preflight);
- ``slow``: answers after ``delay_s``;
- ``paths``: paths starting with ``/slow`` answer after ``delay_s``, ``/status/NNN`` answers
  with status NNN, anything else at once with 200;
- ``close``: answers, then closes the connection after every ``close_every`` responses,
  without saying ``Connection: close`` (the next request on it is lost);
- ``garbage``: answers with bytes that are not HTTP.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@dataclass
class Behaviour:
    mode: str = "ok"
    freeze_s: float = 0.5
    period_s: float = 5.0
    first_freeze_s: float = 1.0
    delay_s: float = 0.1
    close_every: int = 2
    hang_after: int = 0  # when set, requests after this many get no answer at all
    clock_after: int = 1  # the stall clock starts at this request (1: after the preflight)
    started: float | None = None
    requests: int = 0
    connections: int = 0
    paths: list[str] = field(default_factory=list)

    def release_at(self, now: float) -> float:
        """When a response due now may be sent (stall mode)."""
        if self.started is None:
            if self.requests <= self.clock_after:
                return now
            self.started = now
        t = now - self.started - self.first_freeze_s
        if t < 0:
            return now
        phase = t % self.period_s
        return now + (self.freeze_s - phase) if phase < self.freeze_s else now


class _Handler(asyncio.Protocol):
    def __init__(self, b: Behaviour, loop: asyncio.AbstractEventLoop) -> None:
        self.b = b
        self.loop = loop
        self.buf = b""
        self.served = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.b.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) < length:
                return
            self.buf = rest[length:]
            self.b.requests += 1
            path = head.split(b" ")[1].decode()
            self.b.paths.append(path)
            self._answer(path)

    def _answer(self, path: str) -> None:
        b = self.b
        tr = self.transport
        if tr is None or (b.hang_after and b.requests > b.hang_after):
            return
        if b.mode == "garbage":
            tr.write(b"SSH-2.0-OpenSSH_9.2\r\n")
            tr.close()
        elif b.mode == "slow" or (b.mode == "paths" and path.startswith("/slow")):
            self.loop.call_later(b.delay_s, self._write)
        elif b.mode == "paths" and path.startswith("/status/"):
            code = path.removeprefix("/status/")[:3]
            tr.write(f"HTTP/1.1 {code} X\r\nContent-Length: 2\r\n\r\nno".encode())
        elif b.mode == "stall":
            now = time.monotonic()
            at = b.release_at(now)
            if at > now:
                self.loop.call_later(at - now, self._write)
            else:
                self._write()
        elif b.mode == "close":
            self.served += 1
            if self.served > b.close_every:
                tr.close()
                return
            self._write()
        else:
            self._write()

    def _write(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


@contextmanager
def serve(
    mode: str = "ok", ssl_context: ssl.SSLContext | None = None, **options: float
) -> Iterator[tuple[str, Behaviour]]:
    b = Behaviour(mode=mode, **options)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        server = await loop.create_server(
            lambda: _Handler(b, loop), "127.0.0.1", 0, ssl=ssl_context, backlog=1024
        )
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        server = holder["server"]
        server.close()  # type: ignore[attr-defined]
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(10), "test server did not start"
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{holder['port']}", b
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
