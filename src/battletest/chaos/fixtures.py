"""pytest fixtures for fault injection (loaded through battletest's pytest plugin).

``bt_fault_proxy`` is one ``FaultProxy`` per test session (per xdist worker); ``bt_fault`` gives
each test a ``FaultScope``::

    def test_pms_slow(bt_fault):
        pms_url = bt_fault.proxy("pms", upstream="127.0.0.1:9001")
        with bt_fault("pms", "latency", latency=200):
            ...  # every call through pms_url is 200 ms slower here

Toxics and proxies a test created are removed when it ends, pass or fail. This module imports
only pytest at module level; the proxy loads inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def bt_fault_proxy() -> Iterator[Any]:
    """A running ``battletest.chaos.proxy.FaultProxy`` shared by the session."""
    from battletest.chaos.proxy import FaultProxy

    with FaultProxy() as faults:
        yield faults


@pytest.fixture
def bt_fault(bt_fault_proxy: Any) -> Iterator[Any]:
    """A ``FaultScope``: ``with bt_fault(proxy, type, **attributes): ...``."""
    from battletest.chaos.proxy.facade import FaultScope

    scope = FaultScope(bt_fault_proxy)
    try:
        yield scope
    finally:
        scope.close()
