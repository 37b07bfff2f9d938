"""Fixtures: the third-party apps on loopback, started by the test setup (never by a test body).

httpbin keeps no state, so one instance per xdist worker serves every test of that worker.
Kinto keeps data, and a run may change it, so each test gets its own instance with the
accounts of ``kinto_seed.ACCOUNTS`` already made through Kinto's API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.thirdparty.apps import HTTPBIN, KINTO, Running, serve
from tests.thirdparty.kinto_seed import create_accounts


@pytest.fixture
def kinto(tmp_path: Path) -> Iterator[Running]:
    """A fresh Kinto (memory storage) with the test accounts; stopped after the test."""
    with serve(KINTO, tmp_path / "kinto") as running:
        create_accounts(running)
        yield running


@pytest.fixture(scope="session")
def httpbin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """httpbin on loopback, shared by this worker's tests."""
    with serve(HTTPBIN, tmp_path_factory.mktemp("httpbin")) as running:
        yield running
