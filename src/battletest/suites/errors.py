"""The ``errors`` suite: bad requests get a 4xx in the documented error format, never a 5xx.

On every operation, as an identity allowed to call it (so validation, not auth, answers):
malformed JSON, wrong types (body fields, or a numeric path parameter), special characters in
string query parameters, unknown ids, and an unsupported method on every path. Each must get a 4xx — never a 5xx — in the configured error
format (RFC 7807 ``application/problem+json`` by default; ``auto``: RFC 7807 only where the
spec documents problem+json, as ``battletest init`` writes it), and no response may leak a
stack trace. The correlation-id header must be echoed when sent and generated when not.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx

from battletest.results import Case, Status, SuiteResult
from battletest.spec import METHODS, Operation, Spec, response_spec_for
from battletest.suites.base import CaseRecorder, SuiteContext, refused_operation, unsent_case
from battletest.suites.contract import media_type
from battletest.suites.data import probe_request
from battletest.suites.evidence import OperationTally, count, is_wall, wall_reason
from battletest.transport import ANONYMOUS, IdentitySession, Inconclusive, PolicyRefused, curl

NAME = "errors"
STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|"
    r"\bat [\w.$]+\([\w]+\.java:\d+\)|Exception in thread \"|"
    r"\bat .+ \(.+\.[jt]s:\d+:\d+\)|goroutine \d+ \[|"
    r"(?:sqlalchemy|psycopg2?|sqlite3)\.\w*(?:Error|Exception)",
)
# quotes, a statement end and comment, markup and a percent sign: text a parser or a query
# builder must cope with (a 2xx or 4xx is fine; a 5xx or a stack trace is not)
SPECIAL_CHARACTERS = "bt'\"`;--<x>%{}"
CORRELATION_HEADERS = ("X-Correlation-ID", "X-Request-ID", "X-Trace-ID")
_WRONG = {
    "string": 12345,
    "integer": "not-a-number",
    "number": "not-a-number",
    "boolean": "maybe",
    "array": "not-an-array",
    "object": "not-an-object",
}


def stack_trace_in(text: str) -> str | None:
    m = STACK_TRACE.search(text)
    return m.group(0) if m else None


def format_problem(response: httpx.Response, error_format: str) -> str | None:
    """What is wrong with an error response's format, or None."""
    if error_format == "any":
        return None
    ct = media_type(response.headers.get("content-type"))
    if ct != "application/problem+json":
        return f"error is {ct or 'without content type'}, not application/problem+json (RFC 7807)"
    try:
        body = response.json()
    except ValueError:
        return "problem+json body is not JSON"
    if not isinstance(body, dict) or not ({"type", "title", "status"} & set(body)):
        return "problem+json body has none of type, title, status"
    return None


def judge(
    name: str,
    response: httpx.Response | None,
    request: httpx.Request,
    *,
    error_format: str,
    error: str = "",
    success_ok: bool = False,
) -> Case:
    """A bad request's response: 4xx (or 2xx if ``success_ok``), in the error format, without
    a stack trace."""
    if response is None:
        return Case(name=name, status=Status.ERROR, message=error or "no response")
    text = response.text[:4000]
    excerpt = text[:300]
    trace = stack_trace_in(text)
    problem: str | None = None
    if trace:
        problem = f"stack trace leaked in the response ({trace!r})"
    elif response.status_code >= 500:
        problem = f"server error {response.status_code} for a bad request"
    elif response.status_code < 400 and not success_ok:
        problem = f"accepted with {response.status_code}; expected a 4xx"
    elif response.status_code < 400:
        problem = None
    else:
        fmt = format_problem(response, error_format)
        if fmt:
            problem = f"{response.status_code}: {fmt}"
    details: dict[str, Any] = {
        "status": response.status_code,
        "statuses": {str(response.status_code): 1},
        "requests": 1,
    }
    if problem is None:
        return Case(name=name, status=Status.PASSED, details=details)
    details["response_excerpt"] = excerpt
    return Case(
        name=name, status=Status.FAILED, message=problem, details=details, reproduce=curl(request)
    )


ID_NAME = re.compile(r"(^|_|-)(id|uuid|guid|key|slug|pk)$|[a-z](Id|ID|Uuid|Key)$", re.I)


def names_an_object(op: Operation) -> bool:
    """Whether a path parameter of ``op`` names an object (so an unknown one must be a 4xx):
    an id-like name (``id``, ``user_id``, ``callId``, ``slug``, …) or a documented 404. A value
    the operation computes with (``/base64/{value}``, ``/delay/{seconds}``) is no object."""
    params = [p for p in op.parameters if p.location == "path"]
    if not params:
        return False
    return "404" in op.responses or any(ID_NAME.search(p.name) for p in params)


def wrong_typed(schema: dict[str, Any]) -> Any:
    """A body whose every field (or the body itself) has the wrong JSON type."""
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    props = schema.get("properties")
    if (t == "object" or (t is None and props)) and isinstance(props, dict) and props:
        out: dict[str, Any] = {}
        for key, sub in props.items():
            st = sub.get("type") if isinstance(sub, dict) else None
            st = next((x for x in st if x != "null"), None) if isinstance(st, list) else st
            out[key] = _WRONG.get(str(st), [["wrong"]])
        return out
    return _WRONG.get(str(t), [["wrong"]]) if t else [["wrong"]]


class ErrorsRun:
    def __init__(self, ctx: SuiteContext, spec: Spec, rec: CaseRecorder) -> None:
        self.ctx = ctx
        self.spec = spec
        self.rec = rec
        self.error_format = ctx.config.suites.errors.error_format
        self.session: IdentitySession | None = None
        self.client = ctx.http(ANONYMOUS)
        self.tally = OperationTally()
        self.current: Operation | None = None  # the operation the cases being sent are about

    def act_as(self, op: Operation | None) -> None:
        """Call ``op`` as the identity allowed on it (public operations: anonymously)."""
        self.session = self.ctx.identity_for(op) if op is not None else None
        self.current = op
        self.client = self.ctx.http(self.session.name if self.session else ANONYMOUS)

    def format_for(self, status: int) -> str:
        """The error format an answer with ``status`` must have: under ``auto``, RFC 7807 where
        the spec documents application/problem+json for it (this operation's answer, else any
        operation's 4xx), else any format."""
        if self.error_format != "auto":
            return self.error_format
        ops = [self.current] if self.current is not None else []
        documented = [response_spec_for(op, status) for op in ops]
        if not any(documented):
            documented = [
                r for op in self.spec.operations for c, r in op.responses.items() if c[:1] == "4"
            ]
        problem = any(
            "application/problem+json" in (r.content if r is not None else {}) for r in documented
        )
        return "rfc7807" if problem else "any"

    def headers(self) -> dict[str, str]:
        return self.session.headers() if self.session else {}

    def send(self, name: str, request: httpx.Request, *, success_ok: bool = False) -> None:
        started = time.monotonic()
        try:
            response: httpx.Response | None = self.client.send(request)
            error = ""
        except (PolicyRefused, Inconclusive) as exc:
            self.rec.add(unsent_case(name, exc))
            return
        except httpx.HTTPError as exc:
            response, error = None, f"request failed: {exc.__class__.__name__}"
        status = response.status_code if response is not None else 0
        if self.current is not None:
            self.tally.sent(self.current, [status])
        if is_wall(status, self.current) and not (
            response is not None and stack_trace_in(response.text)
        ):
            # refused, rate limited, overloaded or no answer: the bad request never reached the
            # validation this case is about
            secured = self.current.secured if self.current is not None else False
            identity = self.session.name if self.session else None
            self.rec.add(
                Case(
                    name=name,
                    status=Status.SKIPPED,
                    duration_ms=round((time.monotonic() - started) * 1000, 3),
                    message=wall_reason(count([status]), identity=identity, secured=secured),
                    details={
                        "status": status,
                        "statuses": count([status]),
                        "requests": 1,
                        "outcome": "inconclusive",
                        **({"error": error} if error else {}),
                    },
                    reproduce=curl(request),
                )
            )
            return
        case = judge(
            name,
            response,
            request,
            error_format=self.format_for(status),
            error=error,
            success_ok=success_ok,
        )
        self.rec.add(
            case.model_copy(update={"duration_ms": round((time.monotonic() - started) * 1000, 3)})
        )

    def operation(self, op: Operation) -> None:
        refused = refused_operation(self.ctx, op, f"errors: {op.label}")
        if refused is not None:
            self.rec.add(refused)
            self.tally.refused(op, refused.message)
            return
        self.act_as(op)
        data = probe_request(op)
        base = self.spec.base_path
        json_body = op.request_body is not None and "json" in (op.request_content_type or "json")
        if json_body:
            req = data.build(self.client, op, base, self.headers())
            req = self.client.build_request(
                op.method,
                req.url,
                headers={**self.headers(), "Content-Type": "application/json"},
                content=b'{"battletest": [1, 2,',
            )
            self.send(f"malformed JSON: {op.label}", req)
            data.body = wrong_typed(op.request_body or {})
            self.send(f"wrong types: {op.label}", data.build(self.client, op, base, self.headers()))
            data = probe_request(op)
        else:
            numeric = [
                p
                for p in op.parameters
                if p.location == "path" and p.schema.get("type") in ("integer", "number")
            ]
            if numeric:
                data.path_params[numeric[0].name] = "not-a-number"
                self.send(
                    f"wrong types: {op.label}", data.build(self.client, op, base, self.headers())
                )
                data = probe_request(op)
        strings = [
            p
            for p in op.parameters
            if p.location == "query"
            and p.schema.get("type") in (None, "string")
            and "enum" not in p.schema
            and "format" not in p.schema
        ]
        if strings:
            data.query.update({p.name: SPECIAL_CHARACTERS for p in strings})
            self.send(
                f"special characters: {op.label}",
                data.build(self.client, op, base, self.headers()),
                success_ok=True,
            )
            data = probe_request(op)
        if names_an_object(op):
            self.send(f"unknown id: {op.label}", data.build(self.client, op, base, self.headers()))

    def unsupported_methods(self) -> None:
        by_path: dict[str, set[str]] = {}
        for op in self.spec.operations:
            by_path.setdefault(op.path, set()).add(op.method)
        for path, methods in sorted(by_path.items()):
            self.act_as(next(o for o in self.spec.operations if o.path == path))
            self.current = None  # a method the path does not have: no operation to tally
            spare = next(
                (
                    m
                    for m in ("PATCH", "PUT", "DELETE", "POST", "GET")
                    if m not in methods and m.lower() in METHODS
                ),
                None,
            )
            if spare is None:
                continue
            concrete = re.sub(r"\{[^}]+\}", "battletest-missing-0", path)
            req = self.client.build_request(
                spare, self.spec.base_path + concrete, headers=self.headers()
            )
            self.send(f"unsupported method: {spare} {path}", req)

    def correlation_id(self) -> None:
        configured = self.ctx.config.suites.errors.correlation_header
        if not configured:
            self.rec.skip("correlation id", "[suites.errors].correlation_header is off")
            return
        candidates = CORRELATION_HEADERS if configured == "auto" else (configured,)
        op = next(
            (
                o
                for o in self.spec.operations
                if o.method == "GET"
                and not o.secured
                and not any(p.location == "path" for p in o.parameters)
            ),
            None,
        )
        self.act_as(None)
        path = self.spec.base_path + (op.path if op else "/")
        value = f"battletest-{self.ctx.seed}-{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        try:
            generated = self.client.get(path)
            header = next((h for h in candidates if h in generated.headers), candidates[0])
            echoed = self.client.get(path, headers={header: value})
        except (PolicyRefused, Inconclusive) as exc:
            self.rec.add(unsent_case("correlation id", exc))
            return
        except httpx.HTTPError as exc:
            self.rec.error("correlation id", f"request failed: {exc.__class__.__name__}")
            return
        ms = round((time.monotonic() - started) * 500, 3)
        made = generated.headers.get(header)
        if configured == "auto" and not made:
            # auto finds the header the service sends; a service that sends none has made no
            # promise to check (name the header in [suites.errors].correlation_header to require it)
            self.rec.skip(
                "correlation id",
                f"auto: the service sent none of {', '.join(candidates)}; set "
                "[suites.errors].correlation_header to require one",
            )
            return
        self.rec.add(
            Case(
                name=f"correlation id generated ({header})",
                status=Status.PASSED if made else Status.FAILED,
                duration_ms=ms,
                message=""
                if made
                else f"no {' / '.join(candidates)} header in the response when none was sent",
            )
        )
        got = echoed.headers.get(header)
        self.rec.add(
            Case(
                name=f"correlation id echoed ({header})",
                status=Status.PASSED if got == value else Status.FAILED,
                duration_ms=ms,
                message="" if got == value else f"sent {header}: {value}, got {got!r}",
                reproduce=None if got == value else curl(echoed.request),
            )
        )


def errors_suite(ctx: SuiteContext) -> SuiteResult:
    rec = CaseRecorder(ctx, NAME)
    if ctx.spec is None:
        return rec.skipped("no OpenAPI document")
    run = ErrorsRun(ctx, ctx.spec, rec)
    ctx.progress.suite_started(NAME, None)
    for op in ctx.spec.operations:
        if ctx.out_of_time():
            rec.skip(f"errors: {op.label}", "not run: out of time or interrupted")
            continue
        run.operation(op)
    if not ctx.out_of_time():
        if not ctx.config.smoke:  # PATCH/PUT/DELETE probes: not part of the read-only subset
            run.unsupported_methods()
        run.correlation_id()
    return rec.result(metrics={"error_format": run.error_format, "operations": run.tally.metrics()})


__all__ = [
    "errors_suite",
    "format_problem",
    "judge",
    "names_an_object",
    "stack_trace_in",
    "wrong_typed",
]
