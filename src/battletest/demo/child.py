"""Run one demo process (app, PMS or TTS): serve an ASGI app on a socket the launcher bound.

The launcher binds every listening socket itself and passes it down by file descriptor, so all
three processes start in parallel with their URLs known in advance. A child writes ``ready`` on
stdout once uvicorn accepts connections, and SIGTERMs itself if the launcher dies (no orphaned
dependency processes even after ``kill -9`` of the parent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import threading
import time
from typing import Any


def die_with_parent(poll_s: float = 0.25) -> None:
    """SIGTERM ourselves when the launcher process goes away (a watcher thread polls getppid).

    ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the *thread* that spawned us exits,
    which would kill the demo when a test starts it from a worker thread.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def parse_fd(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    return int(parser.parse_args(argv).fd)


def serve(app: Any, fd: int, *, server_header: bool = False) -> None:
    """Serve ``app`` on the inherited socket ``fd`` until SIGTERM/SIGINT."""
    import uvicorn

    die_with_parent()
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        server_header=server_header,
        date_header=True,
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.005)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        await task

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(main())
