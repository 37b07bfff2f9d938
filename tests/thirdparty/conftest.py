"""Fixtures: the third-party apps on loopback, started by the test setup (never by a test body).

httpbin keeps no state, so one instance per xdist worker serves every test of that worker.
Kinto keeps accounts that a run could damage, so each test gets its own instance with the
accounts of ``kinto_seed.ACCOUNTS`` already made through its API (Kinto starts in ~3 s).
Jupyter Server starts slowly (up to ~9 s here), so the run and scan tests share one per
worker; a test that checks what survived a run takes a fresh one (``fresh_jupyter_server``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.thirdparty.apps import HTTPBIN, JUPYTER, KINTO, Running, serve
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


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Jupyter Server (token auth, its own root folder), shared by this worker's tests."""
    with serve(JUPYTER, tmp_path_factory.mktemp("jupyter")) as running:
        yield running


@pytest.fixture
def fresh_jupyter_server(tmp_path: Path) -> Iterator[Running]:
    """A Jupyter Server of this test's own, with an empty root folder."""
    with serve(JUPYTER, tmp_path / "jupyter") as running:
        yield running
