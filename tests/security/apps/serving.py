"""Serve a test application on loopback (uvicorn in a thread, as the other test apps) and
keep a journal of what it answered, the yardstick for "operations reached with a 2xx"."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from battletest.netutil import serve_app


@dataclass
class Journal:
    """(method, route template, status) of every answered request, in order."""

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, route: str, status: int) -> None:
        with self.lock:
            self.entries.append((method.upper(), route, status))

    def reached(self) -> set[tuple[str, str]]:
        """Operations (method, route template) that answered at least one 2xx."""
        with self.lock:
            return {(m, r) for m, r, s in self.entries if 200 <= s < 300}

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


@contextmanager
def serving(asgi_app: Any) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` serving ``asgi_app`` until the block ends."""
    with serve_app(asgi_app) as base:
        yield base


def password_hash(password: str) -> str:
    """How both apps store passwords (unsalted SHA-256: what a leak of it exposes)."""
    return hashlib.sha256(password.encode()).hexdigest()


def memory_db(schema: str) -> sqlite3.Connection:
    """A fresh in-memory SQLite database shared by the app's threads (callers hold a lock)."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.executescript(schema)
    return db


Servers = dict[str, tuple[Any, str]]


@contextmanager
def both_modes(build: Callable[..., Any]) -> Iterator[Servers]:
    """``{"vulnerable": (app, url), "fixed": (app, url)}``: every item on, and none."""
    vulnerable, fixed = build(), build(set())
    with serving(vulnerable.asgi) as v, serving(fixed.asgi) as f:
        yield {"vulnerable": (vulnerable, v), "fixed": (fixed, f)}


def both(servers: Servers, exploit: Callable[[str], bool]) -> tuple[bool, bool]:
    """(worked on the vulnerable app, worked on the fixed app), each from the seed data."""
    out = []
    for mode in ("vulnerable", "fixed"):
        app, base = servers[mode]
        app.reset()
        out.append(exploit(base))
    return out[0], out[1]
