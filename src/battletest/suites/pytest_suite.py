"""The ``pytest`` suite: the user's own tests, run in a child pytest and folded into the report.

``[suites.pytest].path`` names a file or folder. The child gets the target in its environment
(``BATTLETEST_BASE_URL``, ``BATTLETEST_SPEC``, ``BATTLETEST_SEED``, and ``BATTLETEST_MODE`` when
a mode was chosen — the pytest plugin then runs only smoke tests under LIVE_SMOKE) and writes
JUnit XML, which becomes one case per test with the node id as the reproduce command.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from battletest.results import Case, Status, SuiteResult
from battletest.suites.base import CaseRecorder, SuiteContext

NAME = "pytest"
NO_TESTS = 5  # pytest.ExitCode.NO_TESTS_COLLECTED


def parse_junit(xml: bytes, path: str) -> list[Case]:
    """Cases from a pytest JUnit XML document."""
    root = ET.fromstring(xml)
    cases: list[Case] = []
    for tc in root.iter("testcase"):
        classname = tc.get("classname", "")
        name = tc.get("name", "")
        module = classname.replace(".", "/")
        node = f"{module}.py::{name}" if classname else name
        status, message = Status.PASSED, ""
        for child in tc:
            if child.tag == "failure":
                status, message = Status.FAILED, child.get("message", "") or (child.text or "")
            elif child.tag == "error":
                status, message = Status.ERROR, child.get("message", "") or (child.text or "")
            elif child.tag == "skipped":
                status, message = Status.SKIPPED, child.get("message", "")
        cases.append(
            Case(
                name=f"{classname}::{name}" if classname else name,
                status=status,
                duration_ms=round(float(tc.get("time", "0") or 0) * 1000, 3),
                message=message.strip().splitlines()[0][:500] if message.strip() else "",
                reproduce=None if status is Status.PASSED else f"pytest {shlex.quote(node)}",
                details={"path": path},
            )
        )
    return cases


def pytest_suite(ctx: SuiteContext) -> SuiteResult:
    rec = CaseRecorder(ctx, NAME)
    cfg = ctx.config.suites.pytest
    if not cfg.path:
        rec.skip("pytest", "no [suites.pytest].path configured: nothing to run")
        return rec.result()
    path = Path(cfg.path)
    if not path.exists():
        rec.add(
            Case(
                name="pytest",
                status=Status.ERROR,
                message=f"[suites.pytest].path {path} does not exist; fix the path",
            )
        )
        return rec.result()
    ctx.progress.suite_started(NAME, None)
    env = {
        **os.environ,
        "BATTLETEST_BASE_URL": ctx.target.base_url,
        "BATTLETEST_SPEC": ctx.spec.source if ctx.spec else "",
        "BATTLETEST_SEED": str(ctx.seed),
    }
    if "mode" in ctx.config.model_fields_set:
        # only a mode the user chose: the plugin then keeps smoke tests alone under LIVE_SMOKE
        env["BATTLETEST_MODE"] = ctx.config.mode
    with tempfile.TemporaryDirectory(prefix="battletest-pytest-") as tmp:
        junit = Path(tmp) / "junit.xml"
        argv = [
            sys.executable,
            "-m",
            "pytest",
            str(path),
            f"--junitxml={junit}",
            "-q",
            "-p",
            "no:cacheprovider",
            *cfg.args,
        ]
        try:
            proc = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=cfg.timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            rec.add(
                Case(
                    name="pytest",
                    status=Status.ERROR,
                    message=f"pytest did not finish within {cfg.timeout_s:g}s "
                    "([suites.pytest].timeout_s)",
                )
            )
            return rec.result()
        if proc.returncode == NO_TESTS:
            rec.skip("pytest", f"no tests collected from {path}")
            return rec.result()
        if not junit.is_file():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            rec.add(
                Case(
                    name="pytest",
                    status=Status.ERROR,
                    message=f"pytest exited {proc.returncode}: {' | '.join(tail)}",
                )
            )
            return rec.result()
        for case in parse_junit(junit.read_bytes(), str(path)):
            rec.add(case)
    return rec.result(metrics={"exit_code": proc.returncode})


__all__ = ["parse_junit", "pytest_suite"]
