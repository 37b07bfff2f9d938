"""Running ``battletest`` as a user would (a child process) and reading what it left behind."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.thirdparty.apps import Running, exercised, spec_operations, succeeded

from battletest.report.json import validate

# A run that takes longer than this is a hang, not a slow machine: the budgets below keep a
# full run against either app well under a minute on an idle 2-core machine.
RUN_TIMEOUT_S = 240


@dataclass(frozen=True, slots=True)
class Outcome:
    """One ``battletest`` invocation: exit code, output and the report.json it wrote."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any]

    def describe(self) -> str:
        return f"$ battletest {' '.join(self.argv)}\nexit {self.code}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


def battletest(argv: list[str], workdir: Path) -> Outcome:
    """``battletest ARGV`` in ``workdir`` (no config file there unless the test wrote one)."""
    import subprocess

    out = workdir / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTLETEST_")}
    env["NO_COLOR"] = "1"
    full = [*argv, "--out", str(out)] if argv[0] in ("run", "scan") else argv
    proc = subprocess.run(
        [sys.executable, "-m", "battletest", *full],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    report_path = out / "latest" / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return Outcome(full, proc.returncode, proc.stdout, proc.stderr, report)


def target_args(app: Running) -> list[str]:
    """``--target`` and ``--spec`` for a running app (Kinto's spec is not discoverable)."""
    return ["--target", app.url, "--spec", app.spec]


def assert_completed(outcome: Outcome) -> None:
    """Exit 0 or 1, no traceback, a valid report.json, no suite or case in error."""
    info = outcome.describe()
    assert outcome.code in (0, 1), info
    assert "Traceback" not in outcome.stderr + outcome.stdout, info
    assert outcome.report, f"no report.json written\n{info}"
    assert validate(outcome.report) == [], info
    for suite in outcome.report["suites"]:
        assert suite["status"] != "error", f"suite {suite['name']}: {suite['message']}\n{info}"
        # a case in error is a tool error (battletest could not do what the case needs)
        errors = [f"{c['name']}: {c['message']}" for c in suite["cases"] if c["status"] == "error"]
        assert errors == [], f"suite {suite['name']}: {errors[:5]}\n{info}"


def case_counts(suite: dict[str, Any]) -> dict[str, int]:
    """A suite's cases by status, with the skipped ones that are inconclusive (the case could
    not be decided: 401/404/429 walls, no answer) counted apart from those not run."""
    counts = {"failed": 0, "passed": 0, "skipped": 0, "inconclusive": 0, "error": 0}
    for case in suite["cases"]:
        status = case["status"]
        if status == "skipped" and (
            case["details"].get("outcome") == "inconclusive"
            or case["message"].startswith("inconclusive")
        ):
            status = "inconclusive"
        counts[status] = counts.get(status, 0) + 1
    return counts


def threshold_lines(suite: dict[str, Any]) -> list[str]:
    """Each load threshold that failed: its expression (the limit), the measured value, and the
    errors and endpoints behind an error-rate figure."""
    metrics = suite.get("metrics") or {}
    lines = []
    for result in metrics.get("threshold_results") or []:
        if result.get("passed") is not False:
            continue
        measured = result["line"].split(": ", 1)[-1]
        line = f"threshold {result['threshold']} → {measured}"
        if "error_rate" in result["threshold"]:
            errors = ", ".join(f"{k} ×{v}" for k, v in (metrics.get("errors") or {}).items())
            failing = [
                f"{path} {ep['failed']}/{ep['requests']}"
                for path, ep in (metrics.get("endpoints") or {}).items()
                if ep.get("failed")
            ]
            line += f"; errors {errors or 'none'}; failing endpoints {', '.join(failing) or 'none'}"
        lines.append(line)
    return lines


def suite_rows(report: dict[str, Any]) -> list[str]:
    """One line per suite: cases by status and time; for security, check runs and findings;
    for load, each failed threshold and what the default plan left out."""
    rows = []
    for suite in report["suites"]:
        counts = case_counts(suite)
        detail = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        row = (
            f"{suite['name']}: {len(suite['cases'])} cases ({detail}) in {suite['duration_s']:.1f}s"
        )
        if suite["name"] == "security":
            conclusive = sum(1 for c in suite["cases"] if c["details"].get("conclusive"))
            row += (
                f"; check runs {len(suite['cases'])}, conclusive {conclusive}, "
                f"findings {len(suite['findings'])}"
            )
        rows.append(row)
        if suite["name"] == "load":
            rows += ["  " + line for line in threshold_lines(suite)]
            left_out = (suite.get("metrics") or {}).get("left_out")
            if left_out:
                rows.append("  left out of the default plan: " + ", ".join(left_out))
    return rows


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the app's journal says a run reached, operation by operation.

    ``held_back`` are the operations with an unsafe method that no request reached: the ones
    the write policy kept battletest from sending (issue 18 leaves them out of the
    denominator and lists them). ``share`` is the part of the other operations that got a 2xx.
    """

    total: int
    reached: int
    succeeded: int
    requests: int
    not_succeeded: list[str]
    held_back: list[str]

    @property
    def allowed(self) -> int:
        return self.total - len(self.held_back)

    @property
    def share(self) -> float:
        return self.succeeded / self.allowed if self.allowed else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.requests} requests; operations reached {self.reached}/{self.total}, "
            f"got a 2xx {self.succeeded}/{self.total}; held back by the write policy "
            f"{len(self.held_back)}; 2xx among the rest {self.succeeded}/{self.allowed} "
            f"({self.share:.0%})"
        )


def coverage(app: Running, since: int) -> Coverage:
    """Operations of the app's spec that the requests after journal entry ``since`` reached."""
    ops = spec_operations(app.spec_document(), app.app.base_path)
    journal = app.journal()[since:]
    seen = exercised(ops, journal)
    ok = succeeded(seen)
    missing = sorted(f"{op.method} {op.path}" for op in ops if op not in ok)
    held = sorted(
        f"{op.method} {op.path}" for op in ops if op not in seen and op.method not in SAFE_METHODS
    )
    return Coverage(len(ops), len(seen), len(ok), len(journal), missing, held)


def not_run(report: dict[str, Any]) -> set[str]:
    """The operations the run's contract suite says the write policy did not run."""
    return {
        case["name"]
        for suite in report["suites"]
        if suite["name"] == "contract"
        for case in suite["cases"]
        if case["status"] == "skipped" and (case.get("message") or "").startswith("not run")
    }
