"""pytest fixtures for load tests (loaded through battletest's pytest plugin).

``bt_load`` runs the load engine against the session's target (``--bt-target``, ``--bt-app``
or the demo) and returns a ``LoadResult``::

    def test_health_under_load(bt_load):
        result = bt_load("/health", rate=200, duration="5s", thresholds=["p95<50ms"])
        assert result.passed, [row.line for row in result.thresholds]

Keyword arguments are the keys of ``LoadSettings`` (docs/load.md). This module imports only
pytest at module level; the engine loads inside the fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest


@pytest.fixture
def bt_load(bt_target: Any) -> Callable[..., Any]:
    """``bt_load(path="/", *, thresholds=(), **settings) -> LoadResult``."""

    def run_load(path: str = "/", *, thresholds: Sequence[str] = (), **settings: Any) -> Any:
        from battletest.load.coordinator import run
        from battletest.load.options import LoadSettings

        table = {"paths": [path], "thresholds": list(thresholds), **settings}
        return run(bt_target.base_url, **LoadSettings.coerce(table).run_kwargs(bt_target.base_url))

    return run_load
