"""Shared targets for the run tests: the small FastAPI API (secure and insecure) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from battletest.config import Config


@pytest.fixture(autouse=True)
def _own_history_store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run records itself in the history store: in these tests, a fresh one per test."""
    monkeypatch.setenv("BATTLETEST_HISTORY_URL", f"sqlite:///{tmp_path}/history.db")


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    from tests.run.apps import make_api

    from battletest.netutil import serve_app

    with serve_app(make_api()) as url:
        yield url


@pytest.fixture(scope="session")
def insecure_api_url() -> Iterator[str]:
    from tests.run.apps import make_api

    from battletest.netutil import serve_app

    with serve_app(make_api(insecure=True)) as url:
        yield url


def make_config(url: str, tmp_path: Any, **extra: Any) -> Config:
    from tests.run.apps import config_for

    # the history store is switched off unless a test asks for one (never the repo's own)
    data = {
        **config_for(url),
        "out": str(tmp_path / "reports"),
        "seed": 11,
        "history": {"record": False},
        **extra,
    }
    return Config.model_validate(data)
