"""One owner for the ``[[rbac]]`` matrix: under ``battletest run`` the auth suite owns the pairs
it decided, the scanner's ``bfla`` reuses them; ``scan`` alone still tests the matrix itself.

The target is ``rbac_app`` (not the demo), whose journal counts requests by route and role, and
whose one planted broken rule (``DELETE /people/{person_id}``, meant for admins) is the ground
truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.run.rbac_app import make_rbac_app, rbac_config

from battletest.config import Config
from battletest.netutil import serve_app
from battletest.results import Report, Status
from battletest.run import execute

pytestmark = [pytest.mark.slow, pytest.mark.network]

DELETE = ("DELETE", "/people/{person_id}")


def run(tmp_path: Path, suites: list[str], **security: Any) -> tuple[Report, Counter[Any]]:
    app, journal = make_rbac_app()
    with serve_app(app) as url:
        cfg = Config.model_validate(rbac_config(url, str(tmp_path / "reports"), **security))
        out = execute(cfg, only=suites, write_reports=False)
    return out.report, journal.snapshot()


def suite(report: Report, name: str) -> Any:
    return next(s for s in report.suites if s.name == name)


def test_the_auth_suite_owns_the_matrix_and_the_scanner_reuses_it(tmp_path: Path) -> None:
    report, sent = run(tmp_path, ["auth", "security"])
    auth, security = suite(report, "auth"), suite(report, "security")
    failed = sorted(c.name for c in auth.cases if c.status is Status.FAILED)
    assert failed == [
        "rbac: guest may not DELETE /people/{person_id}",
        "rbac: staff may not DELETE /people/{person_id}",
    ]
    # bfla calls a privileged operation as the first unprivileged identity (staff1): the auth
    # suite's one request is the only one that pair got
    assert sent[(*DELETE, "staff")] == 1
    # the broken rule is one finding in the security view, with the auth suite's evidence
    bfla = [f for f in security.findings if f.check_id == "bfla"]
    assert [(f.method, f.path) for f in bfla] == [DELETE]
    evidence = bfla[0].evidence
    assert evidence["request"].startswith("DELETE ") and "/people/" in evidence["request"]
    assert evidence["response"].startswith("HTTP 204")
    assert "rbac: staff may not DELETE /people/{person_id}" in evidence["auth_cases"]
    assert bfla[0].reproduce and bfla[0].reproduce.startswith("curl -i -X DELETE")
    assert not any(f.check_id == "bfla" for f in auth.findings)
    # listed as reused; the gate sees the finding
    reused = security.metrics["rbac_reused_from_auth"]
    assert {"operation": "DELETE /people/{person_id}", "identity": "staff1"} in [
        {k: r[k] for k in ("operation", "identity")} for r in reused
    ]
    assert "[[rbac]] pair" in security.message
    cases = {c.name: c for c in security.cases}
    assert cases["bfla POST /people"].status is Status.PASSED
    assert cases["bfla POST /people"].message.startswith("reused from the auth suite")
    gate = next(g for g in report.gates if g.name == "max_severity")
    assert gate.passed is False and gate.measured == "high"
    # an operation the scanner ranks privileged by evidence (not in the matrix) stays its own
    assert sent[("GET", "/admin/audit", "staff")] >= 1
    assert cases["bfla GET /admin/audit"].status is Status.PASSED


def test_without_reuse_or_the_auth_suite_the_scanner_tests_the_matrix_itself(
    tmp_path: Path,
) -> None:
    report, sent = run(tmp_path / "off", ["auth", "security"], reuse_auth=False)
    assert sent[(*DELETE, "staff")] == 2  # the auth suite's request, then bfla's own
    security = suite(report, "security")
    assert "rbac_reused_from_auth" not in security.metrics
    assert [(f.method, f.path) for f in security.findings if f.check_id == "bfla"] == [DELETE]

    report, sent = run(tmp_path / "alone", ["security"])  # what `battletest scan` does
    assert sent[(*DELETE, "staff")] == 1  # bfla's own
    bfla = [f for f in suite(report, "security").findings if f.check_id == "bfla"]
    assert [(f.method, f.path) for f in bfla] == [DELETE]
    assert "auth_cases" not in bfla[0].evidence
