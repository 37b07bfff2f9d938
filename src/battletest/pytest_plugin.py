"""The pytest plugin (entry point ``pytest11``): markers, options and fixtures.

It imports nothing heavy at import time; battletest subsystems load when a fixture needs them.
"""

from __future__ import annotations

import pytest

# Fixture modules of the subsystems, loaded by pytest as part of this plugin. Each one imports
# only pytest at module level and loads its subsystem inside the fixtures.
pytest_plugins: list[str] = []
pytest_plugins.append("battletest.chaos.fixtures")
pytest_plugins.append("battletest.chaos.mock_fixtures")

MARKERS = {
    "unit": "fast, socket-free test",
    "integration": "test against a running service",
    "e2e": "end-to-end journey through the service",
    "smoke": "quick check safe to run against any environment (LIVE_SMOKE runs only these)",
    "auth": "authentication or authorization test",
    "api": "API behaviour test",
    "contract": "contract / schema test",
    "security": "security test",
    "performance": "performance test",
    "load": "load test",
    "chaos": "fault-injection test",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
