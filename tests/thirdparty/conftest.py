"""Fixtures: the third-party apps on loopback, started by the test setup (never by a test body).

httpbin keeps no state, so one instance per xdist worker serves every test of that worker.
Kinto (with the accounts of ``kinto_seed.ACCOUNTS`` made through its API) and Jupyter Server
keep data; the run and scan tests share one instance of each per worker (they count what
was exercised, not what survived), and a test that checks what survived a run takes a fresh
one (``fresh_kinto``, ``fresh_jupyter_server``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.thirdparty.apps import HTTPBIN, JUPYTER, KINTO, Running, serve
from tests.thirdparty.kinto_seed import create_accounts


@pytest.fixture(scope="session")
def kinto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Kinto (memory storage) with the test accounts, shared by this worker's run/scan tests."""
    with serve(KINTO, tmp_path_factory.mktemp("kinto")) as running:
        create_accounts(running)
        yield running


@pytest.fixture
def fresh_kinto(tmp_path: Path) -> Iterator[Running]:
    """A Kinto of this test's own with the test accounts (for tests of what survives a run)."""
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
