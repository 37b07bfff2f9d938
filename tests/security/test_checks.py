"""Each check against the library app with one planted vulnerability and against the fixed app.

Found with the right severity, evidence and a curl command on the vulnerable app; nothing found
and every applicable run conclusive on the fixed one (which differs only by the fix) — the fixed
app is scanned once with every check and every setting the cases use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from battletest.results import Severity

from .harness import run_scan
from .library_app import ALLOWED_ORIGIN, STRONG_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.network]

# check id, planted vulnerability, expected worst severity, extra settings, scan options
CASES: list[tuple[str, str, Severity, dict[str, Any]]] = [
    ("auth-missing", "no-auth", Severity.HIGH, {}),
    ("jwt-bad-signature", "bad-signature", Severity.CRITICAL, {}),
    ("jwt-alg-none", "alg-none", Severity.CRITICAL, {}),
    ("jwt-expired", "expired", Severity.HIGH, {"jwt_secret": STRONG_SECRET}),
    ("jwt-weak-secret", "weak-secret", Severity.CRITICAL, {}),
    ("jwt-kid-injection", "kid", Severity.CRITICAL, {}),
    ("jwt-jku-injection", "jku", Severity.CRITICAL, {}),
    ("user-enumeration", "enumeration", Severity.MEDIUM, {}),
    ("login-rate-limit", "no-lockout", Severity.MEDIUM, {"depth": "basic"}),
    ("bola", "bola", Severity.CRITICAL, {}),
    ("bfla", "bfla", Severity.HIGH, {}),
    ("mass-assignment", "mass-assignment", Severity.HIGH, {}),
    ("data-exposure", "data-exposure", Severity.HIGH, {}),
    ("cross-tenant", "cross-tenant", Severity.HIGH, {"tenant_header": "X-Library-Branch"}),
    ("security-headers", "headers", Severity.LOW, {}),
    ("version-disclosure", "version", Severity.LOW, {}),
    ("cors", "cors-reflect", Severity.HIGH, {}),
    ("cors", "cors-null", Severity.MEDIUM, {}),
    ("cors", "cors-suffix", Severity.MEDIUM, {"allowed_origins": [ALLOWED_ORIGIN]}),
    ("stack-trace", "stack-trace", Severity.MEDIUM, {}),
    ("csrf", "csrf", Severity.HIGH, {"_cookie": "ben"}),
    ("trace-method", "trace", Severity.LOW, {}),
    ("undocumented-endpoint", "inventory", Severity.CRITICAL, {}),
]


def _scan(vulns: set[str], check: str, extra: dict[str, Any], tmp_path: Path) -> Any:
    options = dict(extra)
    cookie = options.pop("_cookie", None)
    return run_scan(vulns, [check], cookie=cookie, keys_dir=tmp_path, **options)


@pytest.mark.parametrize(("check", "vuln", "severity", "extra"), CASES, ids=[c[1] for c in CASES])
def test_found_on_vulnerable_app(
    check: str, vuln: str, severity: Severity, extra: dict[str, Any], tmp_path: Path
) -> None:
    outcome = _scan({vuln}, check, extra, tmp_path)
    assert outcome.findings, [(r.target, r.reason) for r in outcome.runs]
    assert {f.check_id for f in outcome.findings} == {check}
    assert max(f.severity.rank for f in outcome.findings) == severity.rank
    for f in outcome.findings:
        assert f.evidence.get("request") or f.evidence.get("note")
        assert f.owasp and f.owasp.endswith(":2023") and f.cwe and f.cwe.startswith("CWE-")
        if f.reproduce:
            assert f.reproduce.startswith("curl ")
    assert any(f.reproduce for f in outcome.findings)


@pytest.mark.slow
def test_fixed_app_is_silent_and_every_check_conclusive(tmp_path: Path) -> None:
    """The fixed app (no planted vulnerability) under every check at once, with the settings
    and identities each check above needs: no finding, and every applicable run conclusive."""
    from battletest.security.suite import default_scanner

    outcome = run_scan(
        set(),
        [],
        cookie="ben",
        keys_dir=tmp_path,
        jwt_secret=STRONG_SECRET,
        tenant_header="X-Library-Branch",
        allowed_origins=[ALLOWED_ORIGIN],
        depth="standard",
    )
    assert [(f.check_id, f.method, f.path, f.title) for f in outcome.findings] == []
    assert [(r.check_id, r.target, r.reason) for r in outcome.inconclusive] == []
    every = {c.info.id for c in default_scanner().checks}
    # the library app has no URL-like parameter (ssrf), promises no rate limit and its logs
    # are not captured here (those part-2 checks are proved on the nursery app)
    assert set(outcome.not_run) == {"rate-limit", "rate-limit-bypass", "pii-in-logs"}
    assert {r.check_id for r in outcome.runs} == every - set(outcome.not_run) - {"ssrf"}
    assert {check for check, *_ in CASES} <= every
