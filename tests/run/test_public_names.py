"""Each module of the run subsystem exports exactly names it defines."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "battletest.config",
    "battletest.target",
    "battletest.spec",
    "battletest.run",
    "battletest.redact",
    "battletest.auth",
    "battletest.auth.jwt",
    "battletest.transport",
    "battletest.transport.client",
    "battletest.transport.evidence",
    "battletest.transport.identities",
    "battletest.transport.pacing",
    "battletest.transport.policy",
    "battletest.suites",
    "battletest.suites.base",
    "battletest.suites.data",
    "battletest.suites.contract",
    "battletest.suites.auth",
    "battletest.suites.errors",
    "battletest.suites.pytest_suite",
    "battletest.report",
    "battletest.report.json",
    "battletest.report.junit",
    "battletest.report.console",
    "battletest.report.rundir",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_are_unique(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


def test_the_suite_table_points_at_real_callables() -> None:
    from battletest.run import SUITES, resolve_suite

    for name in SUITES:
        assert callable(resolve_suite(name))
