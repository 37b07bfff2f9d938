"""The mock dependency server: stubs, latency and transport faults, named failure scenarios,
a request journal, an admin API and a record mode, on a real loopback port."""

from __future__ import annotations

from battletest.chaos.mock.http import Fault
from battletest.chaos.mock.journal import Journal, JournalEntry
from battletest.chaos.mock.server import ADMIN, MockServer
from battletest.chaos.mock.stubs import Latency, Stub, load_stub_file, parse_stub

__all__ = [
    "ADMIN",
    "Fault",
    "Journal",
    "JournalEntry",
    "Latency",
    "MockServer",
    "Stub",
    "load_stub_file",
    "parse_stub",
]
