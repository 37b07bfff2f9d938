"""A tiny HTTP/1.1 target run as its own process for the resource and breakpoint tests.

    python leaky_app.py [--leak-kb N] [--limit RPS]

Prints its port on the first line of stdout. ``--leak-kb`` keeps N KiB per request forever (a
deliberate memory leak); ``--limit`` answers 429 beyond RPS requests per second (a token
bucket holding a tenth of a second of requests), like a rate-limited service.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
LIMITED = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n"
KEPT: list[bytearray] = []


class Bucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.size = max(rate / 10.0, 1.0)
        self.tokens = self.size
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Handler(asyncio.Protocol):
    def __init__(self, leak: int, bucket: Bucket | None) -> None:
        self.leak = leak
        self.bucket = bucket
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(rest) < length:
                return
            self.buf = rest[length:]
            if self.leak:
                KEPT.append(bytearray(b"x" * (self.leak * 1024)))
            ok = self.bucket is None or self.bucket.take()
            self.transport.write(OK if ok else LIMITED)  # type: ignore[attr-defined]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leak-kb", type=int, default=0)
    parser.add_argument("--limit", type=float, default=0.0)
    args = parser.parse_args()
    bucket = Bucket(args.limit) if args.limit else None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(args.leak_kb, bucket), sock=sock)
    print(sock.getsockname()[1], flush=True)
    async with server:
        await asyncio.sleep(120)  # bounded: a test never needs longer


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
