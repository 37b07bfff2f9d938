"""The background event loop the mock server and the fault proxy each run in (a daemon thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (the measured fast path), else the stock loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def start_loop_thread(
    loop: asyncio.AbstractEventLoop,
    name: str,
    boot: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
    wait_s: float,
) -> threading.Thread:
    """Run ``boot`` and then ``loop`` in a daemon thread until the loop is stopped.

    Returns once ``boot`` has finished (or after ``wait_s``); what ``boot`` raised is raised
    here, the loop then closed. After ``loop.stop()`` the thread runs ``shutdown`` and closes it.
    """
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(shutdown())
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    ready.wait(wait_s)
    if failure:
        thread.join(5)
        raise failure[0]
    return thread


__all__ = ["new_event_loop", "start_loop_thread"]
