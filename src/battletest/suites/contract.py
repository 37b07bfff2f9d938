"""The ``contract`` suite: every operation exercised with schema-valid data.

For each operation, ``[suites.contract].examples`` requests are drawn with hypothesis-jsonschema
from a fixed seed (printed with the run) and sent as the identity the operation's security asks
for. Each response must have a documented status (and never a 5xx), a documented content type,
a body valid against the documented schema, and the documented required headers. One case per
operation; a failure carries a reproducing curl command.
"""

from __future__ import annotations

import json
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import HypothesisException
from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError

from battletest.errors import BattletestError
from battletest.results import Case, Status, SuiteResult
from battletest.spec import Operation, Spec, properties_of, response_spec_for
from battletest.suites.base import (
    CaseRecorder,
    SuiteContext,
    own_object,
    refused_operation,
    unsent_case,
)
from battletest.suites.data import RequestData, pin_values, request_strategy
from battletest.suites.evidence import OperationTally, count, is_wall, reached, wall_reason
from battletest.transport import ANONYMOUS, Inconclusive, PolicyRefused, curl

NAME = "contract"


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of checking one response: ``None`` problem means it conforms."""

    status: int
    problem: str | None
    request: httpx.Request
    excerpt: str = ""


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _type_matches(actual: str, documented: str) -> bool:
    doc = documented.lower()
    if doc in ("*/*", actual):
        return True
    if doc.endswith("/*"):
        return actual.startswith(doc[:-1])
    return False


def check_response(op: Operation, response: httpx.Response, *, openapi_31: bool) -> str | None:
    """What is wrong with ``response`` for ``op``, or None when it conforms."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if status == 429:
        return None  # rate limiting is not a contract question (noted by pacing)
    documented = response_spec_for(op, status)
    if documented is None:
        listed = ", ".join(op.responses) or "none"
        return f"undocumented status {status} (documented: {listed})"
    actual = media_type(response.headers.get("content-type"))
    body = response.content
    missing = [h for h in documented.required_headers if h.lower() not in response.headers]
    if missing:
        return f"missing required header {', '.join(missing)}"
    if not documented.content:
        return None
    if not body and (status == 204 or 300 <= status < 400):
        return None
    matches = [ct for ct in documented.content if _type_matches(actual, ct)]
    if not matches:
        expected = ", ".join(documented.content)
        what = "HTML" if actual == "text/html" else (actual or "no content type")
        return f"{what} where {expected} was documented (status {status})"
    schema = documented.content[matches[0]]
    if schema is None or "json" not in actual:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return f"body is not valid JSON although content type is {actual}"
    validator_cls = Draft202012Validator if openapi_31 else Draft4Validator
    try:
        error = next(iter(validator_cls(schema).iter_errors(payload)), None)
    except SchemaError as exc:
        return f"the documented schema is invalid: {exc.message}"
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"body does not match the schema at {where}: {error.message[:200]}"
    return None


def exercise(ctx: SuiteContext, op: Operation, spec: Spec) -> Case:
    """Send the example budget for one operation and fold the checks into one case."""
    started = time.monotonic()
    name = f"{op.method} {op.path}"
    refused = refused_operation(ctx, op, name)
    if refused is not None:
        return refused
    try:
        session = ctx.identity_for(op)
    except BattletestError as exc:  # e.g. a re-login failed: a tool error for this case
        return Case(name=name, status=Status.ERROR, message=str(exc))
    client = ctx.http(session.name if session else ANONYMOUS)
    budget = 1 if ctx.config.smoke else ctx.config.suites.contract.examples  # smoke: one case
    checks: list[Check] = []
    unsent: list[BattletestError] = []
    policy = ctx.http.policy
    values = ctx.config.suites.contract.values
    body_fields = list(properties_of(op.request_body))
    if "{" in op.path and policy is not None and not policy.owned_params(op.path):
        # an item operation is pointed at an object that exists: one battletest creates through
        # the collection's POST (deleted at the end), so a 404 is not all it can get
        own_object(ctx, op)

    login = login_values(ctx, op)

    def send(data: RequestData) -> None:
        if len(checks) >= budget or ctx.out_of_time() or unsent:
            return
        pin_values(data, values, body_fields)
        if login and not checks:  # the first example logs in for real: the success path
            pin_values(data, login, body_fields)
        owned = policy.owned_params(op.path) if policy is not None else {}
        if owned:  # use (and at the end delete) an object battletest created in this run
            data.path_params.update({k: v for k, v in owned.items() if k in data.path_params})
        request = data.build(client, op, spec.base_path, session.headers() if session else {})
        try:
            response = client.send(request)  # the first response is what the spec describes
            ctx.http.note_redirect(response)
        except (PolicyRefused, Inconclusive) as exc:
            unsent.append(exc)
            return
        except httpx.HTTPError as exc:  # no answer: evidence of nothing, never a pass
            checks.append(Check(0, None, request, f"request failed: {exc.__class__.__name__}"))
            return
        # an answer from in front of the logic (refused, rate limited, overloaded) is not judged
        # against the operation's contract: it decides nothing (see suites/evidence.py)
        status = response.status_code
        # a 404 for an object the request named (a path parameter) says it does not exist:
        # judged only against a documented 404 (its body), never a failure for being there
        missing = status == 404 and bool(op.path_params) and response_spec_for(op, 404) is None
        walled = is_wall(status, op) or missing
        problem = None if walled else check_response(op, response, openapi_31=spec.is_31)
        checks.append(Check(response.status_code, problem, request, response.text[:300]))

    runner = settings(
        max_examples=budget,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(seed(ctx.seed ^ zlib.crc32(name.encode()))(given(request_strategy(op))(send)))
    try:
        runner()
    except (HypothesisException, ValueError, TypeError) as exc:
        if not checks:
            return Case(
                name=name,
                status=Status.ERROR,
                duration_ms=_ms(started),
                message=f"could not generate data from the schema: {exc}".splitlines()[0][:300],
            )
    statuses = count(c.status for c in checks)
    details: dict[str, Any] = {
        "examples": len(checks),
        "requests": len(checks),
        "statuses": statuses,
        "identity": session.name if session else None,
        "operation_id": op.operation_id,
    }
    failures = [c for c in checks if c.problem]
    if checks and not failures and not reached((c.status for c in checks), op=op):
        return Case(  # never decided on a 401/403/404/429/5xx wall or a connection error
            name=name,
            status=Status.SKIPPED,
            duration_ms=_ms(started),
            message=wall_reason(statuses, identity=details["identity"], secured=op.secured),
            details={**details, "outcome": "inconclusive"},
            reproduce=curl(checks[0].request),
        )
    if not checks and unsent:
        case = unsent_case(name, unsent[0], **details)
        return case.model_copy(update={"duration_ms": _ms(started)})
    if not checks:
        return Case(
            name=name,
            status=Status.SKIPPED,
            duration_ms=_ms(started),
            message="no example was sent (out of time)",
            details=details,
        )
    if not failures:
        return Case(name=name, status=Status.PASSED, duration_ms=_ms(started), details=details)
    first = failures[0]
    details["failures"] = len(failures)
    details["response_excerpt"] = first.excerpt
    return Case(
        name=name,
        status=Status.FAILED,
        duration_ms=_ms(started),
        message=str(first.problem),
        details=details,
        reproduce=curl(first.request),
    )


def login_values(ctx: SuiteContext, op: Operation) -> dict[str, Any]:
    """For the ``[auth].login_path`` operation: a login identity's username and password under
    the configured field names (else ``{}``), so one example gets the documented success."""
    auth = ctx.config.auth
    if op.method != "POST" or not auth.login_path or auth.login_path not in (op.path, op.url_path):
        return {}
    user = next(
        (
            i
            for i in ctx.config.identities
            if i.username and i.password and i.kind in (None, "login")
        ),
        None,
    )
    if user is None:
        return {}
    return {auth.username_field: user.username, auth.password_field: user.password}


def lifecycle_order(op: Operation) -> int:
    """Create → use → delete: creates first (their objects are battletest's own to use), then
    reads, then writes to one object, deletes last."""
    item = "{" in op.path
    if op.method == "POST" and not item:
        return 0
    if op.method in {"GET", "HEAD", "OPTIONS"}:
        return 1
    return 3 if op.method == "DELETE" else 2


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def contract_suite(ctx: SuiteContext) -> SuiteResult:
    rec = CaseRecorder(ctx, NAME)
    if ctx.spec is None:
        return rec.skipped("no OpenAPI document")
    spec = ctx.spec
    ctx.progress.suite_started(NAME, len(spec.operations))
    workers = max(1, ctx.config.parallel)
    operations = sorted(spec.operations, key=lifecycle_order)
    tally = OperationTally()

    def done(op: Operation, case: Case) -> None:
        rec.add(case)
        if case.details.get("outcome") == "not_run":
            tally.refused(op, case.message)
        statuses = case.details.get("statuses") or {}
        tally.sent(op, (int(s) for s, n in statuses.items() for _ in range(n)))

    if workers == 1:
        for op in operations:
            if ctx.out_of_time():
                rec.skip(op.label, "not run: out of time or interrupted")
                continue
            done(op, exercise(ctx, op, spec))
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="contract") as pool:
            for op, case in zip(
                operations, pool.map(lambda op: exercise(ctx, op, spec), operations), strict=True
            ):
                done(op, case)
    return rec.result(
        metrics={
            "operations": tally.metrics(),
            "operations_in_spec": len(spec.operations),
            "examples_per_operation": 1
            if ctx.config.smoke
            else ctx.config.suites.contract.examples,
            "smoke": ctx.config.smoke,
        }
    )


__all__ = ["check_response", "contract_suite", "exercise"]
