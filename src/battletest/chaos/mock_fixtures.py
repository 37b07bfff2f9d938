"""pytest fixtures for the mock dependency server (loaded through battletest's pytest plugin).

``bt_mock`` is a started, empty ``MockServer`` for one test; ``bt_mock_factory`` starts more
(from stubs, a stub file or an OpenAPI document). Every mock is stopped when the test ends.
Only pytest and typing are imported here; the mock loads when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from battletest.chaos.mock import MockServer


@pytest.fixture
def bt_mock_factory() -> Iterator[Callable[..., MockServer]]:
    """Start mocks: ``factory(stubs=[...])``, ``factory(file="stubs.toml")``, ``factory(spec=...)``."""
    from battletest.chaos.mock import MockServer

    started: list[MockServer] = []

    def factory(
        stubs: Any = (), *, file: Any = None, spec: Any = None, **kwargs: Any
    ) -> MockServer:
        if file is not None:
            mock = MockServer.from_file(file, **kwargs)
        elif spec is not None:
            mock = MockServer.from_openapi(spec, **kwargs)
        else:
            mock = MockServer(stubs, **kwargs)
        started.append(mock.start())
        return mock

    yield factory
    for mock in started:
        mock.stop()


@pytest.fixture
def bt_mock(bt_mock_factory: Callable[..., MockServer]) -> MockServer:
    """A started mock server with no stubs on a free loopback port (``bt_mock.url``)."""
    return bt_mock_factory()
