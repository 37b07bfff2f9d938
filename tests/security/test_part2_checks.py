"""Each part-2 check against the nursery app with one planted flaw, and the fixed nursery app.

Found per technique and context with evidence and a curl command on the vulnerable app; nothing
found and every applicable run conclusive on the fixed app (which differs only by the fix).
Resource checks are held to their request bounds (counted, never timed).
"""

from __future__ import annotations

from typing import Any

import pytest

from battletest.results import Severity

from .nursery_harness import run_scan

pytestmark = [pytest.mark.slow, pytest.mark.network]

RATE = {"rate_limit": 5, "rate_limit_path": "/nursery/stock"}

# check, planted flaws, severity, the parameter or title fragment that proves the right place
CASES: list[tuple[str, set[str], Severity, str, dict[str, Any]]] = [
    ("sqli-error", {"sqli-query", "sql-errors"}, Severity.HIGH, "query q", {}),
    ("sqli-error", {"sqli-body", "sql-errors"}, Severity.HIGH, "body plant", {}),
    ("sqli-boolean", {"sqli-query"}, Severity.HIGH, "query q", {}),
    ("sqli-boolean", {"sqli-path"}, Severity.HIGH, "path plant_id", {}),
    ("sqli-boolean", {"sqli-header"}, Severity.HIGH, "header x-greenhouse", {}),
    ("sqli-time", {"sqli-cookie"}, Severity.HIGH, "cookie visitor", {"depth": "basic"}),
    ("sqli-union", {"sqli-query"}, Severity.CRITICAL, "query q", {}),
    ("command-injection", {"cmd"}, Severity.CRITICAL, "body text", {}),
    ("template-injection", {"ssti"}, Severity.CRITICAL, "query name", {}),
    ("nosql-injection", {"nosql"}, Severity.HIGH, "body owner", {}),
    ("xss-reflected", {"xss-element"}, Severity.HIGH, "element context", {}),
    ("xss-reflected", {"xss-attribute"}, Severity.HIGH, "attribute context", {}),
    ("xss-reflected", {"xss-script"}, Severity.HIGH, "script context", {}),
    ("xss-reflected", {"xss-url"}, Severity.HIGH, "url context", {}),
    ("xss-reflected", {"xss-json-html"}, Severity.HIGH, "query msg", {}),
    ("xss-stored", {"xss-stored"}, Severity.HIGH, "GET /nursery/notes/", {}),
    ("ssrf", {"ssrf"}, Severity.HIGH, "body feed_url", {}),
    ("body-size", {"no-body-limit"}, Severity.MEDIUM, "KiB request body accepted", {}),
    ("nested-json", {"nested-crash"}, Severity.MEDIUM, "body plant", {}),
    ("redos", {"redos"}, Severity.MEDIUM, "query code", {"depth": "basic"}),
    ("rate-limit", {"no-rate-limit"}, Severity.MEDIUM, "No rate limiting", RATE),
    ("rate-limit-bypass", {"xff-bypass"}, Severity.MEDIUM, "X-Forwarded-For", RATE),
    ("pii-in-logs", {"pii-log"}, Severity.MEDIUM, "logs", {"_logs": True}),
    ("fuzz-5xx", {"fuzz-crash"}, Severity.MEDIUM, "POST /nursery/orders", {}),
]


def _where(f: Any) -> str:
    return f"{f.title} | {f.parameter} | {f.method} {f.path}"


@pytest.mark.parametrize(
    ("check", "vulns", "severity", "where", "extra"),
    CASES,
    ids=[f"{c[0]}-{'+'.join(sorted(c[1]))}" for c in CASES],
)
def test_found_on_vulnerable_app(
    check: str, vulns: set[str], severity: Severity, where: str, extra: dict[str, Any]
) -> None:
    outcome = run_scan(vulns, [check], **extra)
    assert outcome.findings, [(r.target, r.reason) for r in outcome.runs]
    assert {f.check_id for f in outcome.findings} == {check}
    assert any(where in _where(f) for f in outcome.findings), [_where(f) for f in outcome.findings]
    assert max(f.severity.rank for f in outcome.findings) == severity.rank
    for f in outcome.findings:
        assert f.owasp and f.owasp.endswith(":2023") and f.cwe and f.cwe.startswith("CWE-")
        assert f.evidence.get("note")
    assert any(
        f.reproduce and f.reproduce.startswith(("curl ", "python3 ")) for f in outcome.findings
    )


def test_fixed_app_is_silent_and_every_check_conclusive() -> None:
    """Every check at once on the fixed nursery app, with a log source and a promised rate
    limit so that none is left out: no finding, every run conclusive."""
    from battletest.security.suite import default_scanner

    part2 = {c[0] for c in CASES}
    outcome = run_scan(set(), sorted(part2), _logs=True, **RATE)
    assert [_where(f) for f in outcome.findings] == []
    assert [(r.check_id, r.target, r.reason) for r in outcome.inconclusive] == []
    assert outcome.not_run == {}
    assert {r.check_id for r in outcome.runs} == part2
    assert part2 <= {c.info.id for c in default_scanner().checks}


def test_ssrf_proof_is_the_canary_hit_with_its_path() -> None:
    outcome = run_scan({"ssrf"}, ["ssrf"])
    (finding,) = outcome.findings
    hit = finding.evidence["canary_hit"]
    assert hit.startswith("GET /bt-ssrf/") and hit.endswith("/latest/meta-data")
    assert "received GET /bt-ssrf/" in finding.evidence["note"]


def test_rate_limit_burst_stays_within_its_bound() -> None:
    """No limit: the burst stops at 2 x 5 + 5 = 15 requests (plus the working request)."""
    outcome = run_scan({"no-rate-limit"}, ["rate-limit"], **RATE)
    assert outcome.findings
    assert outcome.requests <= 1 + 1 + 15  # reachability, working request, the burst


def test_rate_limit_stops_at_the_first_429() -> None:
    outcome = run_scan(set(), ["rate-limit", "rate-limit-bypass"], **RATE)
    assert outcome.findings == []
    # 5 pass, the 6th is refused: the burst stops there; the bypass stops at its first 429
    assert outcome.requests <= 1 + 1 + 6 + 1


def test_body_size_sends_two_bodies() -> None:
    outcome = run_scan({"no-body-limit"}, ["body-size"])
    assert outcome.findings
    assert outcome.requests <= 1 + 1 + 2


def test_rate_limit_checks_do_not_run_without_a_promised_limit() -> None:
    outcome = run_scan({"no-rate-limit"}, ["rate-limit"])
    assert outcome.findings == [] and outcome.runs == []
    assert "rate_limit" in outcome.not_run["rate-limit"]


def test_pii_check_needs_a_log_source() -> None:
    outcome = run_scan({"pii-log"}, ["pii-in-logs"])
    assert outcome.runs == [] and "log source" in outcome.not_run["pii-in-logs"]


def test_fuzz_reports_the_minimal_body() -> None:
    outcome = run_scan({"fuzz-crash"}, ["fuzz-5xx"])
    (finding,) = outcome.findings
    note = finding.evidence["note"]
    # shrunk to the smallest wrong-typed quantity: an empty string, list or object
    assert any(f"'quantity': {v}" in note for v in ("''", "[]", "{}", "None", "False")), note
    assert finding.reproduce and "quantity" in finding.reproduce
