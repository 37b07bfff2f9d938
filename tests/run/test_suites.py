"""The contract, auth and errors suites on a small API: clean when secure, failing when not."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.run.conftest import make_config

from battletest.results import Status
from battletest.run import execute
from battletest.spec import Operation, ResponseSpec
from battletest.suites.contract import check_response
from battletest.suites.errors import format_problem, stack_trace_in, wrong_typed

pytestmark = [pytest.mark.slow, pytest.mark.network]


def by_name(report: object, suite: str) -> dict[str, object]:
    s = next(s for s in report.suites if s.name == suite)  # type: ignore[attr-defined]
    return {c.name: c for c in s.cases}


def test_a_correct_api_passes_every_suite(api_url: str, tmp_path: Path) -> None:
    cfg = make_config(api_url, tmp_path)
    out = execute(cfg, only=["contract", "auth", "errors"])
    failed = [(c.suite, c.name, c.message) for c in out.report.failed_tests]
    assert failed == []
    assert out.exit_code == 0 and out.report.summary.verdict == "pass"
    contract = by_name(out.report, "contract")
    assert set(contract) == {
        "GET /health",
        "POST /auth/login",
        "POST /auth/refresh",
        "POST /auth/logout",
        "GET /me",
        "GET /items/{item_id}",
        "DELETE /items/{item_id}",
        "POST /items",
    }
    auth = by_name(out.report, "auth")
    for step in ("login", "refresh", "logout", "revoked token rejected"):
        assert any(step in name for name in auth), step
    for attack in (
        "missing token",
        "malformed token",
        "tampered token",
        "alg none",
        "expired token",
    ):
        assert auth[f"{attack}: GET /me"].status is Status.PASSED  # type: ignore[attr-defined]
    assert auth["rbac: guest may not DELETE /items/{item_id}"].status is Status.PASSED  # type: ignore[attr-defined]
    errors = by_name(out.report, "errors")
    assert "malformed JSON: POST /items" in errors and "unknown id: GET /items/{item_id}" in errors
    assert "correlation id echoed (X-Request-ID)" in errors
    assert out.report.run.seed == 11


def test_an_allowed_role_answered_404_is_inconclusive_not_passed(
    api_url: str, tmp_path: Path
) -> None:
    rule = {"method": "GET", "path": "/items/{item_id}", "roles": ["admin", "guest"]}
    cfg = make_config(api_url, tmp_path, rbac=[rule])
    out = execute(cfg, only=["auth"], write_reports=False)
    cases = {n: c for n, c in by_name(out.report, "auth").items() if n.startswith("rbac: ")}
    allowed = cases["rbac: guest may GET /items/{item_id}"]
    assert allowed.status is Status.SKIPPED  # type: ignore[attr-defined]
    assert allowed.message.startswith(
        "inconclusive: role guest calling GET /items/{item_id} got 404"
    )  # type: ignore[attr-defined]


def test_an_insecure_api_fails_on_alg_none_expiry_and_stack_traces(
    insecure_api_url: str, tmp_path: Path
) -> None:
    cfg = make_config(insecure_api_url, tmp_path)
    out = execute(cfg, only=["auth", "errors"])
    assert out.exit_code == 1
    auth = by_name(out.report, "auth")
    alg_none = auth["alg none: GET /me"]
    assert alg_none.status is Status.FAILED  # type: ignore[attr-defined]
    assert "alg: none" in alg_none.message  # type: ignore[attr-defined]
    assert alg_none.reproduce.startswith("curl -i -X GET")  # type: ignore[attr-defined]
    assert auth["expired token: GET /me"].status is Status.FAILED  # type: ignore[attr-defined]
    assert auth["tampered token: GET /me"].status is Status.PASSED  # type: ignore[attr-defined]
    errors = by_name(out.report, "errors")
    leak = errors["wrong types: POST /items"]
    assert leak.status is Status.FAILED and "stack trace" in leak.message  # type: ignore[attr-defined]
    secrets = "\n".join(c.reproduce or "" for c in out.report.failed_tests)
    assert "eyJ" not in secrets and "pw-admin-1" not in secrets  # tokens redacted


def test_the_seed_makes_contract_data_repeatable(api_url: str, tmp_path: Path) -> None:
    runs = [
        execute(make_config(api_url, tmp_path), only=["contract"], write_reports=False)
        for _ in range(2)
    ]
    statuses = [[c.details.get("statuses") for c in r.report.test_results] for r in runs]
    assert statuses[0] == statuses[1]


OP = Operation(
    method="GET",
    path="/x",
    operation_id="x",
    parameters=(),
    responses={
        "200": ResponseSpec(
            "200",
            {
                "application/json": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "integer"}},
                }
            },
            ("X-Rate",),
        ),
        "404": ResponseSpec("404", {}),
    },
    security=(),
)


def resp(status: int, body: bytes, ct: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": ct, **headers})


def test_check_response_finds_each_contract_breach() -> None:
    ok = resp(200, b'{"id": 1}', "application/json", **{"X-Rate": "1"})
    assert check_response(OP, ok, openapi_31=True) is None
    assert "undocumented status 418" in str(
        check_response(OP, resp(418, b"", "text/plain"), openapi_31=True)
    )
    html = resp(200, b"<html></html>", "text/html", **{"X-Rate": "1"})
    assert "HTML where application/json was documented" in str(
        check_response(OP, html, openapi_31=True)
    )
    wrong = resp(200, b'{"id": "one"}', "application/json", **{"X-Rate": "1"})
    assert "does not match the schema at id" in str(check_response(OP, wrong, openapi_31=True))
    assert "missing required header X-Rate" in str(
        check_response(OP, resp(200, b'{"id": 1}', "application/json"), openapi_31=True)
    )
    assert "server error 503" in str(check_response(OP, resp(503, b"", "x"), openapi_31=True))
    not_json = resp(200, b"{nope", "application/json", **{"X-Rate": "1"})
    assert "not valid JSON" in str(check_response(OP, not_json, openapi_31=True))


def test_error_format_and_stack_trace_detection() -> None:
    good = resp(404, b'{"title": "Not Found", "status": 404}', "application/problem+json")
    assert format_problem(good, "rfc7807") is None
    plain = resp(404, b'{"detail": "x"}', "application/json")
    assert "not application/problem+json" in str(format_problem(plain, "rfc7807"))
    assert format_problem(plain, "any") is None
    assert stack_trace_in('Traceback (most recent call last):\n  File "a.py", line 3')
    assert stack_trace_in("\tat com.acme.Api.get(Api.java:42)")
    assert stack_trace_in('{"detail": "Not Found"}') is None


def test_wrong_typed_bodies_flip_every_field_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "s": {"type": "string"},
            "b": {"type": ["boolean", "null"]},
        },
    }
    assert wrong_typed(schema) == {"n": "not-a-number", "s": 12345, "b": "maybe"}
    assert wrong_typed({"type": "array"}) == "not-an-array"


def test_redirects_off_the_target_host_are_noted_not_followed(tmp_path: Path) -> None:
    from tests.run.apps import make_redirect_app

    from battletest.config import Config
    from battletest.netutil import serve_app

    app = make_redirect_app()

    with serve_app(app) as url:
        cfg = Config.model_validate({"target": {"url": url}, "out": str(tmp_path), "seed": 1})
        out = execute(cfg, only=["contract"], write_reports=False)
    assert out.report.summary.failed == 0
    notes = out.report.run.notes
    assert any("redirect off the target host not followed: GET /go" in n for n in notes), notes
    assert not any("/here" in n for n in notes)
    here = next(c for c in out.report.test_results if c.name == "GET /here")
    assert here.details["statuses"] == {"302": 1}  # checked as documented, not followed
