"""The ``bt_load`` fixture, driven from the outside with pytester."""

from __future__ import annotations

import pytest

from .servers import serve

pytestmark = [pytest.mark.network]


@pytest.mark.slow
def test_bt_load_runs_against_the_session_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_under_load(bt_load):
            result = bt_load("/ping", vus=2, duration="1s", workers=1,
                             thresholds=["error_rate<1%", "p99<0.001ms"])
            assert result.requests > 0
            assert [row.passed for row in result.thresholds] == [True, False]
        """
    )
    with serve("ok") as (url, server):
        outcome = pytester.runpytest("--bt-target", url, "-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1)
    assert "/ping" in server.paths
