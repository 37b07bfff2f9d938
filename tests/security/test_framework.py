"""The framework without sockets: registry, selection, merge, suppressions, profiles, pacing,
redaction, curl commands, the operation model."""

from __future__ import annotations

import json

import httpx
import pytest

from battletest.errors import SpecError, UsageError
from battletest.redact import redact, redact_text
from battletest.results import Finding, Severity
from battletest.security import Outcome, ScanIdentity, Scanner, ScanSettings, scan
from battletest.security.framework import apply_suppressions, merge_findings
from battletest.security.settings import Suppression
from battletest.security.suite import default_scanner, operations_of, to_suite
from battletest.spec import select
from battletest.transport import Transport

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "components": {
        "schemas": {"Invoice": {"type": "object", "properties": {"id": {"type": "integer"}}}},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v2/invoices": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Invoice"},
                                }
                            }
                        },
                    }
                }
            }
        },
        "/v2/invoices/{invoice_id}": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/v2/status": {"get": {"security": [{}], "responses": {"200": {"description": "ok"}}}},
    },
}


def test_operations_resolve_refs_security_and_globs() -> None:
    ops = operations_of(SPEC)
    assert [o.key for o in ops] == [
        "GET /v2/invoices",
        "GET /v2/invoices/{invoice_id}",
        "GET /v2/status",
    ]
    assert ops[0].secured and not ops[2].secured
    assert ops[0].response_schema()["items"]["properties"]["id"]["type"] == "integer"  # type: ignore[index]
    assert ops[1].collection_path() == "/v2/invoices"
    assert [o.path for o in select(ops, ["/v2/invoices*"], ["*/{invoice_id}"])] == ["/v2/invoices"]


def test_not_an_api_document_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"not an OpenAPI 2\.0/3\.x document \(version '1\.2'\)"):
        operations_of({"swagger": "1.2", "paths": {}})


def test_swagger_2_operations_carry_the_base_path_and_form_bodies() -> None:
    ops = operations_of(
        {
            "swagger": "2.0",
            "basePath": "/api",
            "securityDefinitions": {"basic": {"type": "basic"}},
            "security": [{"basic": []}],
            "paths": {
                "/login": {
                    "post": {
                        "security": [],
                        "consumes": ["application/x-www-form-urlencoded"],
                        "parameters": [
                            {"name": "username", "in": "formData", "type": "string"},
                            {"name": "password", "in": "formData", "type": "string"},
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
        }
    )
    assert [o.key for o in ops] == ["POST /api/login"]
    assert not ops[0].secured
    assert set(ops[0].body_properties()) == {"username", "password"}


def test_registry_is_per_instance_and_rejects_duplicates() -> None:
    first, second = Scanner(), Scanner()

    @first.check(
        id="always", title="t", owasp="API8:2023", cwe="CWE-1", severity=Severity.LOW, group="g"
    )
    def always(ctx: object, op: object) -> Outcome:
        return Outcome.clean()

    assert [c.info.id for c in first.checks] == ["always"]
    assert second.checks == []
    with pytest.raises(ValueError, match="twice"):
        first.check(
            id="always", title="t", owasp="API8:2023", cwe="CWE-1", severity=Severity.LOW, group="g"
        )(always)


def test_every_check_declares_owasp_cwe_and_remediation() -> None:
    infos = default_scanner().infos()
    assert len(infos) >= 20
    for info in infos:
        assert info.owasp.startswith("API") and info.owasp.endswith(":2023"), info.id
        assert info.cwe.startswith("CWE-") and info.remediation and info.description, info.id


def test_unknown_check_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown check 'nope'"):
        default_scanner().select(["nope"])


def _finding(param: str | None, severity: Severity = Severity.MEDIUM, path: str = "/a") -> Finding:
    return Finding(
        check_id="x", title="t", severity=severity, method="GET", path=path, parameter=param
    )


def test_duplicates_across_parameters_merge_with_worst_severity() -> None:
    merged = merge_findings(
        [_finding("q"), _finding("h", Severity.HIGH), _finding("q"), _finding("q", path="/b")]
    )
    assert [(f.path, f.parameter, f.severity) for f in merged] == [
        ("/a", "q, h", Severity.HIGH),
        ("/b", "q", Severity.MEDIUM),
    ]


def test_suppressions_need_a_reason_and_match_by_glob() -> None:
    with pytest.raises(ValueError, match="reason"):
        Suppression.model_validate({"check": "x"})
    rule = Suppression(check="x", path="/a*", reason="accepted risk, ticket SEC-12")
    kept, suppressed = apply_suppressions([_finding("q"), _finding("q", path="/b")], [rule])
    assert [f.path for f in kept] == ["/b"]
    assert suppressed[0][1] == "accepted risk, ticket SEC-12"


def _mock_target(log: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request)
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=SPEC)
        return httpx.Response(200, json=[{"id": 1}], headers={"Server": "Kestrel/7.0.1"})

    return httpx.MockTransport(handler)


def test_prod_profile_runs_passive_checks_only() -> None:
    log: list[httpx.Request] = []
    settings = ScanSettings(profile="prod", depth="basic")
    outcome = scan("http://api.test", SPEC, [], settings, transport=_mock_target(log))
    ran = {r.check_id for r in outcome.runs}
    assert ran and all(
        c in {"security-headers", "version-disclosure", "data-exposure"} for c in ran
    )
    assert "cors" in outcome.not_run and "bola" in outcome.not_run
    assert {r.method for r in log} == {"GET"}
    assert any(f.check_id == "version-disclosure" for f in outcome.findings)
    allowed = scan(
        "http://api.test",
        SPEC,
        [],
        settings.model_copy(update={"allow_destructive": True, "checks": ["trace-method"]}),
        transport=_mock_target(log),
    )
    assert [r.check_id for r in allowed.runs] == ["trace-method"]


def test_suite_result_has_a_case_per_check_run_and_inconclusive_is_skipped() -> None:
    settings = ScanSettings(checks=["bola", "version-disclosure"], depth="basic")
    outcome = scan("http://api.test", SPEC, [], settings, transport=_mock_target([]))
    suite = to_suite(outcome, settings)
    assert suite.name == "security"
    names = {c.name: c for c in suite.cases}
    assert names["bola GET /v2/invoices/{invoice_id}"].status.value == "skipped"
    assert (
        "needs two unprivileged identities" in names["bola GET /v2/invoices/{invoice_id}"].message
    )
    assert names["version-disclosure *"].status.value == "passed"  # low < fail_on high
    assert suite.metrics["requests"] == outcome.requests > 0
    json.loads(suite.model_dump_json())


def test_max_rps_paces_requests_on_a_fake_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    client = Transport(
        "http://api.test",
        max_rps=4.0,
        clock=lambda: now[0],
        sleep=sleep,
        transport=httpx.MockTransport(lambda r: httpx.Response(204)),
    )
    for _ in range(5):
        client.send("GET", "/")
    assert client.requests == 5
    assert now[0] == pytest.approx(1.0)  # 5 requests at 4/s: the 5th leaves at t=1s
    assert len(slept) == 4


def test_redaction_of_tokens_passwords_keys_and_pii() -> None:
    jwt_none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbmEifQ."
    text = (
        f"Authorization: Bearer {jwt_none} password=hunter22 ana@example.org "
        "card 4111 1111 1111 1111 call +44 20 7946 0958 key sk_live_abcdef"
    )
    out = redact_text(text, ["sk_live_abcdef"])
    assert "***(jwt alg=none)" in out
    for secret in (
        "hunter22",
        "ana@example.org",
        "4111 1111 1111 1111",
        "7946 0958",
        "sk_live_abcdef",
    ):
        assert secret not in out
    assert redact({"password_hash": "abc", "title": "ok"}) == {
        "password_hash": "***",
        "title": "ok",
    }


def test_evidence_and_curl_are_redacted() -> None:
    client = Transport(
        "http://api.test",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(
                200, json={"email": "ben@example.org", "access_token": "t0ps3cr3t"}
            )
        ),
    )
    ex = client.send(
        "POST",
        "/login",
        headers={"Authorization": "Bearer abc.def.ghi", "X-API-Key": "key-123456"},
        json_body={"username": "ben", "password": "hunter22"},
    )
    evidence = json.dumps(ex.evidence(["key-123456"]))
    curl = ex.curl(["key-123456"])
    for secret in ("hunter22", "ben@example.org", "t0ps3cr3t", "key-123456", "abc.def.ghi"):
        assert secret not in evidence and secret not in curl
    assert curl.startswith("curl -i -X POST") and curl.endswith("http://api.test/login")


def test_identity_headers() -> None:
    who = ScanIdentity(name="a", token="x.y.z", api_key="k", api_key_header="X-Key")
    assert who.headers == {"Authorization": "Bearer x.y.z", "X-Key": "k"}
    assert who.jwt == "x.y.z" and not who.cookie_auth


def test_ctrl_c_keeps_the_runs_and_findings_so_far() -> None:
    from battletest.security.context import ScanContext

    scanner = Scanner()
    common = {"owasp": "API8:2023", "cwe": "CWE-1", "severity": Severity.LOW, "group": "g"}

    @scanner.check(id="first", title="first", phase=1, **common)
    def first(ctx: ScanContext, op: object) -> Outcome:
        return Outcome.found(ctx.finding(None, None, note="seen"))

    @scanner.check(id="second", title="second", phase=2, **common)
    def second(ctx: ScanContext, op: object) -> Outcome:
        raise KeyboardInterrupt

    @scanner.check(id="third", title="third", phase=3, **common)
    def third(ctx: ScanContext, op: object) -> Outcome:
        raise AssertionError("must not run after Ctrl-C")

    client = Transport(
        "http://api.test", transport=httpx.MockTransport(lambda r: httpx.Response(204))
    )
    outcome = scanner.run(ScanContext(client, ScanSettings(), []))
    assert outcome.interrupted
    assert [r.check_id for r in outcome.runs] == ["first"]
    assert [f.check_id for f in outcome.findings] == ["first"]


def test_a_crashing_check_is_inconclusive_not_a_crash() -> None:
    from battletest.security.context import ScanContext

    scanner = Scanner()

    @scanner.check(
        id="broken", title="b", owasp="API8:2023", cwe="CWE-1", severity=Severity.LOW, group="g"
    )
    def broken(ctx: ScanContext, op: object) -> Outcome:
        raise KeyError("oops")

    client = Transport(
        "http://api.test", transport=httpx.MockTransport(lambda r: httpx.Response(204))
    )
    outcome = scanner.run(ScanContext(client, ScanSettings(), []))
    assert [(r.check_id, r.conclusive) for r in outcome.runs] == [("broken", False)]
    assert "check error: KeyError" in outcome.runs[0].reason
