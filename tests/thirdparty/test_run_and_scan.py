"""`battletest run` (every suite that applies) and `battletest scan` against real PyPI apps.

Each run must complete as a user would want: exit 0 or 1 (never 2, 3 or a traceback), a
report.json that validates, no suite or case in error — and it must have exercised most of the
app's operations, counted from the app's own request journal (an operation counts when one of
battletest's requests to it got a 2xx), not from battletest's report. Operations with an unsafe
method that no request reached are the ones the write policy held back (LIVE writes only to
what battletest created); they are left out of the share, and under `run` each of them must be
one the contract suite reports as not run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.thirdparty.apps import APPS, Running
from tests.thirdparty.configs import SUITES, write_config
from tests.thirdparty.runs import (
    assert_completed,
    battletest,
    coverage,
    not_run,
    suite_rows,
    target_args,
)

pytestmark = [pytest.mark.slow, pytest.mark.network]

# Floors for the share of the operations not held back that got a 2xx. Measured on this
# machine (2026-12-03, loaded): run kinto 55%, httpbin 61%, jupyter-server 61%; scan kinto 47%,
# httpbin 57%, jupyter-server 61% — each floor about 10 points below. What keeps the rest from
# a 2xx: battletest creates no object that a later operation uses, so item GETs on generated
# ids answer 403/404 (Kinto, Jupyter); httpbin's redirects (302), auth endpoints (401) and
# /status/{codes} answer what they were asked (docs/thirdparty.md).
RUN_FLOOR = {"kinto": 0.45, "httpbin": 0.5, "jupyter-server": 0.5}
SCAN_FLOOR = {"kinto": 0.37, "httpbin": 0.47, "jupyter-server": 0.5}


@pytest.fixture(params=sorted(APPS))
def app(request: pytest.FixtureRequest) -> Running:
    running: Running = request.getfixturevalue(request.param.replace("-", "_"))
    return running


def test_run_every_suite_completes_and_exercises_most_operations(
    app: Running, tmp_path: Path
) -> None:
    name = app.app.name
    config = write_config(tmp_path, name)
    mark = app.journal_mark()
    outcome = battletest(
        ["run", "--config", str(config), *target_args(app), "--no-history"],
        tmp_path,
    )
    assert_completed(outcome)
    assert sorted(s["name"] for s in outcome.report["suites"]) == sorted(SUITES)
    seen = coverage(app, mark)
    print("\n".join([seen.line(f"{name} run"), *suite_rows(outcome.report)]))
    print("no 2xx:", ", ".join(seen.not_succeeded))
    print("held back:", ", ".join(seen.held_back))
    assert set(seen.held_back) <= not_run(outcome.report), outcome.describe()
    assert seen.share >= RUN_FLOOR[name], seen.line(name) + "\n" + outcome.describe()


def test_scan_basic_completes_and_exercises_most_operations(app: Running, tmp_path: Path) -> None:
    name = app.app.name
    config = write_config(tmp_path, name)
    mark = app.journal_mark()
    outcome = battletest(
        ["scan", "--config", str(config), *target_args(app), "--depth", "basic"],
        tmp_path,
    )
    assert_completed(outcome)
    seen = coverage(app, mark)
    print("\n".join([seen.line(f"{name} scan"), *suite_rows(outcome.report)]))
    print("held back:", ", ".join(seen.held_back))
    assert seen.share >= SCAN_FLOOR[name], seen.line(name) + "\n" + outcome.describe()
