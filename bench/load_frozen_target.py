"""A loopback HTTP target that answers at once but freezes every response 0.5 s out of every 5 s.

Run as ``python bench/load_frozen_target.py PORT [FREEZE_S PERIOD_S]``. Responses due during a
freeze are all released when it ends, as a stop-the-world GC pause or a blocked event loop
would. The freeze clock starts when the server starts; any 15 s window holds 1.5 s of freeze.
"""

from __future__ import annotations

import asyncio
import sys
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Handler(asyncio.Protocol):
    def __init__(self, start: float, freeze: float, period: float) -> None:
        self.start, self.freeze, self.period = start, freeze, period
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            _, _, self.buf = self.buf.partition(b"\r\n\r\n")
            now = time.monotonic()
            phase = (now - self.start) % self.period
            if phase < self.freeze:
                asyncio.get_running_loop().call_later(self.freeze - phase, self.write)
            else:
                self.write()

    def write(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def main(port: int, freeze: float, period: float) -> None:
    loop = asyncio.get_running_loop()
    start = time.monotonic() + 1.0  # the first freeze begins 1 s after start-up
    server = await loop.create_server(
        lambda: Handler(start, freeze, period), "127.0.0.1", port, backlog=2048
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0]),
            float(args[1]) if len(args) > 1 else 0.5,
            float(args[2]) if len(args) > 2 else 5.0,
        )
    )
