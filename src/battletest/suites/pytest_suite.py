"""The ``pytest`` suite: the user's own tests, run in a child pytest and folded into the report.

``[suites.pytest].path`` names a file or folder. The child runs with battletest's pytest plugin,
which writes its outcomes as a ``SuiteResult`` (``--bt-results FILE``: one case per test, with
markers, location, traceback and a ``pytest NODEID`` reproduce command). It is handed the run's
target and context so the ``bt_*`` fixtures act on the same service as the rest of the run:
``BATTLETEST_BASE_URL``, ``BATTLETEST_SPEC``, ``BATTLETEST_SEED``, ``--bt-profile``,
``--bt-mode`` (when a mode was chosen — the plugin then keeps smoke tests alone under
LIVE_SMOKE) and the resolved ``[auth]``, ``[[identities]]``, ``[[rbac]]`` and ``[rate_limits]``
as ``BATTLETEST_*`` JSON variables (so ``bt_identities`` logs in the run's identities). The child
does not record itself in the history store (``--bt-no-history``): the run records every case.
Unless ``[suites.pytest] coverage = false`` the child runs under coverage.py (branch) over
``[suites.pytest].source``; ``metrics["coverage"]`` and ``metrics["coverage_gaps"]`` carry the
result to the coverage gates and the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from battletest.results import SuiteResult
from battletest.suites.base import CaseRecorder, SuiteContext

NAME = "pytest"
NO_TESTS = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
HANDED_SECTIONS = ("auth", "identities", "rbac", "rate_limits")


def child_environment(ctx: SuiteContext, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the child pytest: the run's target, spec, seed and identities."""
    env = dict(os.environ if base is None else base)
    data = ctx.config.model_dump(mode="json", include=set(HANDED_SECTIONS))
    env.update(
        {
            "BATTLETEST_BASE_URL": ctx.target.base_url,
            "BATTLETEST_SPEC": ctx.spec.source if ctx.spec else "",
            "BATTLETEST_SEED": str(ctx.seed),
            **{f"BATTLETEST_{key.upper()}": json.dumps(data[key]) for key in HANDED_SECTIONS},
        }
    )
    # the target is the run's: a [target] the child's own config file has must not compete
    for key in ("BATTLETEST_TARGET__URL", "BATTLETEST_TARGET__APP", "BATTLETEST_TARGET__COMMAND"):
        env.pop(key, None)
    return env


def coverage_sources(configured: list[str], root: Path) -> list[str]:
    """What coverage.py measures: ``[suites.pytest].source``, else the project's packages
    (``ROOT/src``, else the package folders at ``root`` other than tests)."""
    from battletest.quality.coverage_gaps import project_sources

    return list(configured) if configured else project_sources(root)


def child_argv(
    ctx: SuiteContext, path: Path, results: Path, coverage_file: Path | None = None
) -> list[str]:
    """The child's command line; under coverage.py (branch) when ``coverage_file`` is given."""
    cfg = ctx.config
    measure: list[str] = []
    if coverage_file is not None:
        sources = coverage_sources(cfg.suites.pytest.source, Path.cwd())
        measure = [
            "coverage",
            "run",
            "--branch",
            f"--data-file={coverage_file}",
            *([f"--source={','.join(sources)}"] if sources else []),
            "-m",
        ]
    argv = [
        sys.executable,
        "-m",
        *measure,
        "pytest",
        str(path),
        f"--bt-results={results}",
        f"--bt-profile={cfg.profile}",
        "--bt-no-history",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if "mode" in cfg.model_fields_set:
        argv.append(f"--bt-mode={cfg.mode}")
    argv.extend(_rootdir_flag(path))
    return [*argv, *cfg.suites.pytest.args]


def _rootdir_flag(path: Path) -> list[str]:
    """Anchor the child's rootdir at the suite when it lies outside the working directory.

    Otherwise pytest takes the common ancestor of both (``/tmp`` for a suite in
    ``/tmp/x`` run from ``/tmp/y``) and names every test from there.
    """
    suite = path.resolve()
    if suite.is_relative_to(Path.cwd().resolve()):
        return []
    return [f"--rootdir={suite if suite.is_dir() else suite.parent}"]


def pytest_suite(ctx: SuiteContext) -> SuiteResult:
    rec = CaseRecorder(ctx, NAME)
    cfg = ctx.config.suites.pytest
    if not cfg.path:
        return rec.skipped("no [suites.pytest].path configured: nothing to run")
    path = Path(cfg.path)
    if not path.exists():
        rec.error("pytest", f"[suites.pytest].path {path} does not exist; fix the path")
        return rec.result()
    ctx.progress.suite_started(NAME, None)
    with tempfile.TemporaryDirectory(prefix="battletest-pytest-") as tmp:
        results = Path(tmp) / "results.json"
        coverage_file = Path(tmp) / ".coverage" if cfg.coverage else None
        try:
            proc = subprocess.run(
                child_argv(ctx, path, results, coverage_file),
                env=child_environment(ctx),
                capture_output=True,
                text=True,
                timeout=cfg.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            rec.error(
                "pytest",
                f"pytest did not finish within {cfg.timeout_s:g}s ([suites.pytest].timeout_s)",
            )
            return rec.result()
        if proc.returncode == NO_TESTS:
            return rec.skipped(f"no tests collected from {path}")
        suite = _read(results)
        if suite is None:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            rec.error("pytest", f"pytest exited {proc.returncode}: {' | '.join(tail)}")
            return rec.result()
        metrics: dict[str, Any] = {**suite.metrics, "exit_code": proc.returncode}
        if coverage_file is not None:
            sources = coverage_sources(cfg.source, Path.cwd())
            metrics.update(coverage_metrics(coverage_file, Path.cwd(), sources))
    for case in suite.cases:
        case.details.setdefault("path", str(path))
        rec.add(case)
    extra = {"message": suite.message} if suite.message else {}  # e.g. interrupted
    return rec.result(metrics=metrics, **extra)


def coverage_metrics(
    data_file: Path, root: Path, sources: list[str] | None = None
) -> dict[str, Any]:
    """``coverage`` (line and branch percent, what the coverage gates read) and
    ``coverage_gaps`` (uncovered functions, best first) from the child's coverage data;
    ``coverage_note`` instead when nothing was measured."""
    from battletest.errors import BattletestError
    from battletest.quality.coverage_gaps import coverage_summary, find_gaps, gaps_for_report

    try:
        summary = coverage_summary(data_file)
        gaps = gaps_for_report(find_gaps(data_file, root, sources=sources))
    except BattletestError as exc:
        return {"coverage_note": f"no coverage measured: {exc}"}
    if summary["line"] is None:
        return {
            "coverage_note": "no coverage measured: no source file was imported by the tests "
            "(set [suites.pytest].source)"
        }
    return {"coverage": summary, "coverage_gaps": gaps}


def _read(path: Path) -> SuiteResult | None:
    """The SuiteResult the child's plugin wrote (None when it wrote none)."""
    if not path.is_file():
        return None
    try:
        return SuiteResult.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


__all__ = [
    "child_argv",
    "child_environment",
    "coverage_metrics",
    "coverage_sources",
    "pytest_suite",
]
