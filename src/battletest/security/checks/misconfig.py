"""Security misconfiguration (API8:2023): headers, version disclosure, CORS, stack traces,
CSRF on cookie-authenticated state changes, TRACE."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from battletest.results import Severity
from battletest.security.checks.common import readable
from battletest.security.checks.inject import ends_session
from battletest.security.context import Created, ScanContext, ScanIdentity, extract_ids
from battletest.security.framework import Outcome, Scanner
from battletest.security.values import example
from battletest.spec import Operation
from battletest.transport import Exchange, Risk, classify_operation

EVIL = "https://battletest-attacker.example"
_VERSION = re.compile(r"\d+\.\d+")
_DISCLOSING = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator")
STACK_SIGNATURES = [
    re.compile(p)
    for p in (
        r"Traceback \(most recent call last\)",
        r"File \"[^\"]+\.py\", line \d+",
        r"\bat [\w$.]+\([\w$]+\.(java|kt|scala):\d+\)",
        r"Exception in thread \"",
        r"\bat [\w.<>]+\(.*\) in [^\s]+:line \d+",
        r"\bat .+ \((/|[A-Z]:\\)[^)]+\.m?js:\d+:\d+\)",
        r"<b>(Fatal error|Warning)</b>:.* on line <b>\d+",
        r"Werkzeug Debugger|You're seeing this error because you have <code>DEBUG = True",
        r"\b(sqlalchemy\.exc|psycopg2?\.errors|sqlite3\.\w*Error|django\.db\.utils)\b",
        r"\"(stack|stack_trace|stacktrace|traceback|exception_trace)\"\s*:",
    )
]


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="security-headers",
        title="Security response header missing",
        owasp="API8:2023",
        cwe="CWE-693",
        severity=Severity.LOW,
        group="headers",
        active=False,
        phase=10,
        remediation="Send the header on every response (a middleware or the reverse proxy).",
    )
    def security_headers(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Reads sampled GET responses and reports each required header (configurable with
        ``required_headers``; ``A|B`` means either) absent or wrong on every one of them."""
        exchanges = _samples(ctx)
        if not exchanges:
            return Outcome.inconclusive("no GET operation could be called")
        findings = []
        for spec, wanted in ctx.settings.required_headers.items():
            names = [n.strip() for n in spec.split("|")]
            lacking = [
                ex
                for ex in exchanges
                if not any(
                    (ex.header(n) or "").lower() == wanted.lower()
                    if wanted
                    else ex.header(n) is not None
                    for n in names
                )
            ]
            if len(lacking) == len(exchanges):
                findings.append(
                    ctx.finding(
                        None,
                        lacking[0],
                        parameter=spec,
                        title=f"Missing security header {spec}"
                        + (f" ({wanted})" if wanted else ""),
                        note=f"absent on all {len(exchanges)} sampled responses",
                    )
                )
        return Outcome.found(*findings)

    @scanner.check(
        id="version-disclosure",
        title="Server or framework version disclosed",
        owasp="API8:2023",
        cwe="CWE-497",
        severity=Severity.LOW,
        group="headers",
        active=False,
        phase=10,
        remediation="Remove version numbers from Server and drop X-Powered-By style headers.",
    )
    def version_disclosure(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Reads sampled responses (and one 404) for Server / X-Powered-By / X-AspNet-Version
        headers carrying a product version; reported when the same header repeats it."""
        exchanges = _samples(ctx)
        exchanges.append(ctx.send("GET", f"/battletest-missing-{ctx.rng.randrange(10**6)}"))
        findings = {}
        for ex in exchanges:
            for name in _DISCLOSING:
                value = ex.header(name)
                if not value:
                    continue
                if name == "server" and not _VERSION.search(value):
                    continue
                if name not in findings:
                    findings[name] = ctx.finding(
                        None,
                        ex,
                        parameter=name,
                        title=f"Version disclosed in {name}: {value}",
                        note=f"{name}: {value}",
                    )
        return Outcome.found(*findings.values())

    @scanner.check(
        id="cors",
        title="CORS trusts untrusted origins with credentials",
        owasp="API8:2023",
        cwe="CWE-942",
        severity=Severity.HIGH,
        group="cors",
        phase=20,
        remediation="Allow only an explicit list of origins; never reflect Origin or allow "
        "'null' together with Access-Control-Allow-Credentials: true.",
    )
    def cors(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Learns the origins the service trusts — ``allowed_origins``, a fixed
        Access-Control-Allow-Origin, and which of the target's own and common development
        origins it reflects — then sends simple and preflight requests with an arbitrary
        origin, ``null``, and attacker origins derived from each trusted one (suffix, prefix,
        unescaped dot, look-alike, other scheme); reported when an attacker origin is echoed
        in Access-Control-Allow-Origin together with Access-Control-Allow-Credentials: true,
        twice."""
        samples = readable(ctx, 1)
        if not samples:
            return Outcome.inconclusive("no GET operation could be called")
        _, path, who = samples[0]
        findings = []

        def trusted(origin: str) -> Exchange | None:
            for method, extra in (
                ("GET", {}),
                ("OPTIONS", {"Access-Control-Request-Method": "GET"}),
            ):
                headers = {"Origin": origin, **extra}
                ex = ctx.send(method, path, who, headers=headers)
                if _trusts(ex, origin) and _trusts(
                    ctx.send(method, path, who, headers=headers), origin
                ):
                    return ex
            return None

        kinds: list[tuple[str, str, Severity]] = [("arbitrary origin", EVIL, Severity.HIGH)]
        kinds += [("null origin", "null", Severity.MEDIUM)]
        for kind, origin, severity in kinds:
            ex = trusted(origin)
            if ex is not None:
                findings.append(_cors_finding(ctx, ex, kind, origin, severity))
        if any(f.parameter == "arbitrary origin" for f in findings):
            return Outcome.found(*findings)  # every variant would be echoed too: no news
        reported: set[str] = set()
        for kind, origin in attacker_origins(trusted_origins(ctx, path, who)):
            if kind in reported:
                continue
            ex = trusted(origin)
            if ex is not None:
                severity = Severity.LOW if kind == "other scheme" else Severity.MEDIUM
                findings.append(_cors_finding(ctx, ex, kind, origin, severity))
                reported.add(kind)
        return Outcome.found(*findings)

    @scanner.check(
        id="stack-trace",
        title="Stack trace or debug output in an error response",
        owasp="API8:2023",
        cwe="CWE-209",
        severity=Severity.MEDIUM,
        group="errors",
        # a malformed id in a write would be a write to an object the scan did not create:
        # the write policy never sends it, so item writes are left to their reads' probes
        applies=lambda ctx, op: (
            (op.safe or not op.path_params)
            and bool(op.path_params or op.body_schema is not None or op.parameters)
        ),
        phase=30,
        remediation="Return a generic error body; log the details server-side only.",
    )
    def stack_trace(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends malformed input (a broken JSON body, a path or query value of the wrong type)
        and looks for interpreter, framework and database error signatures in the answer; a
        signature must appear again on a repeat of the same request."""
        assert op is not None
        who = next(iter(ctx.identities), None)
        probes = _error_probes(ctx, op, who)
        if not probes:
            return Outcome.inconclusive("no path to send a malformed value to (ids not found)")
        for parameter, send in probes[: ctx.settings.budget.error_probes + 1]:
            ex = send()
            sig = _stack_signature(ex.text)
            if sig and _stack_signature(send().text):
                return Outcome.found(
                    ctx.finding(op, ex, parameter=parameter, note=f"signature: {sig}")
                )
        return Outcome.clean()

    @scanner.check(
        id="csrf",
        title="Cookie-authenticated state change accepted from another site",
        owasp="API8:2023",
        cwe="CWE-352",
        severity=Severity.HIGH,
        group="csrf",
        modifies=True,
        applies=_csrf_target,
        phase=40,
        remediation="Require a CSRF token or a custom header on state changes, check Origin, "
        "and set session cookies SameSite=Lax or Strict.",
    )
    def csrf(ctx: ScanContext, op: Operation | None) -> Outcome:
        """With a cookie-only identity, sends the write as a cross-site form would (a
        URL-encoded form body — or, for a JSON operation, form and text/plain bodies — no custom
        header) once from the target's own origin and once from a foreign ``Origin``; reported
        when the cross-site request is accepted (2xx) like the same-site one (and, for a create
        with an item route, the object reads back). A body refused from the same site too is
        clean: a cross-site form cannot send it either."""
        assert op is not None
        who = next(i for i in ctx.identities if i.cookie_auth)
        own = urlsplit(ctx.client.base_url)
        if _form_only(op):
            body = example(op.request_body, ctx.rng)
            body = body if isinstance(body, dict) else {}
            variants = [("application/x-www-form-urlencoded", urlencode(_flat(body)))]
        else:
            body = ctx.body_for(op)
            variants = [
                ("application/x-www-form-urlencoded", urlencode(_flat(body))),
                ("text/plain", json.dumps(body)),
            ]
        item = ctx.item_op(op.url_path)
        for ctype, content in variants:
            same = {"Content-Type": ctype, "Origin": f"{own.scheme}://{own.netloc}"}
            if not ctx.send("POST", op.url_path, who, headers=same, content=content).ok:
                continue  # this body is refused anyway: a cross-site form cannot send it
            cross = {"Content-Type": ctype, "Origin": EVIL}
            ex = ctx.send("POST", op.url_path, who, headers=cross, content=content)
            if not ex.ok:
                return Outcome.clean(f"refused from a foreign Origin (HTTP {ex.status})")
            note = f"accepted from Origin {EVIL} (HTTP {ex.status}), as from the target's own"
            ids = extract_ids(ex.json(), item.path_params[-1]) if item is not None else []
            if item is not None and ids:
                ctx.created.append(Created(who.name, op.url_path, ids[0], body, ex.json()))
                back = ctx.send("GET", item.fill({item.path_params[-1]: ids[0]}) or "", who)
                if back.ok:
                    note = f"object {ids[0]} created cross-site and read back (HTTP {back.status})"
            return Outcome.found(ctx.finding(op, ex, parameter=f"Content-Type: {ctype}", note=note))
        return Outcome.clean("form and text/plain bodies are refused: no cross-site form")

    @scanner.check(
        id="trace-method",
        title="HTTP TRACE enabled",
        owasp="API8:2023",
        cwe="CWE-693",
        severity=Severity.LOW,
        group="trace",
        phase=20,
        remediation="Disable the TRACE method on the server and the proxies in front of it.",
    )
    def trace_method(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends TRACE with a marker header; reported when the answer echoes the marker."""
        marker = f"battletest-{ctx.rng.randrange(10**9)}"
        paths = ["/", *[p for _, p, _ in readable(ctx, 1)]]
        for path in paths:
            ex = ctx.send("TRACE", path, headers={"X-Battletest-Trace": marker})
            if ex.ok and marker in ex.text:
                return Outcome.found(ctx.finding(None, ex, path=path, note="request echoed"))
        return Outcome.clean()


def _samples(ctx: ScanContext) -> list[Exchange]:
    out = []
    for _, path, who in readable(ctx, ctx.settings.budget.sample_ops):
        out.append(ctx.send("GET", path, who))
    return out


_CREATES = re.compile(r"(?<![a-z])(create|add|new|register|submit|upload|post)", re.I)


def _form_only(op: Operation) -> bool:
    media = list(op.bodies)
    return bool(media) and all("x-www-form-urlencoded" in m for m in media)


def _excluded(ctx: ScanContext, op: Operation) -> bool:
    """The login, a logout, or what the classifier calls destructive (without the flag)."""
    login = ctx.login_op()
    if (login is not None and login.key == op.key) or ends_session(op):
        return True
    return classify_operation(op).risk is Risk.DESTRUCTIVE and not ctx.settings.allow_destructive


def form_create(ctx: ScanContext, op: Operation) -> bool:
    """A form ``POST`` that creates by its name (``/rpc/notes.add``, ``createPlot``): not the
    login, no logout, nothing the classifier calls destructive."""
    if op.method != "POST" or not (_form_only(op) and op.body_properties()):
        return False
    name = f"{op.url_path.rsplit('/', 1)[-1]} {op.operation_id}"
    return _CREATES.search(name) is not None and not _excluded(ctx, op)


def _csrf_target(ctx: ScanContext, op: Operation) -> bool:
    """A POST a cross-site form could send (a create, or a form POST that creates by name),
    when an identity authenticates by cookie only; the scan makes objects, never changes
    others'."""
    if op.method != "POST" or not any(i.cookie_auth for i in ctx.identities):
        return False
    return (ctx.is_create(op) and not _excluded(ctx, op)) or form_create(ctx, op)


def _flat(body: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}


def _trusts(ex: Exchange, origin: str) -> bool:
    allowed = ex.header("access-control-allow-origin")
    creds = (ex.header("access-control-allow-credentials") or "").lower() == "true"
    return allowed == origin and creds


# origins a development front end is commonly served from: a service that reflects one of
# them (with credentials) trusts it, and the attacker variants are derived from it
DEV_ORIGINS = (
    "http://localhost:3000",
    "http://localhost:8080",
    "http://localhost:5173",
    "http://localhost",
    "http://127.0.0.1:3000",
)
ATTACKER = "battletest-attacker.example"


def _cors_finding(
    ctx: ScanContext, ex: Exchange, kind: str, origin: str, severity: Severity
) -> Any:
    return ctx.finding(
        None,
        ex,
        parameter=kind,
        severity=severity,
        title=f"CORS allows {kind} {origin} with credentials",
        note="Access-Control-Allow-Origin echoes the origin and "
        "Access-Control-Allow-Credentials is true",
    )


def trusted_origins(ctx: ScanContext, path: str, who: ScanIdentity | None) -> list[str]:
    """Origins the service trusts: declared ``allowed_origins``, the value it sends in
    Access-Control-Allow-Origin unasked (a fixed origin), and which of the spec's server, the
    target's own and common development origins it echoes back with credentials (at most
    1 + 7 requests)."""
    found = [o.rstrip("/") for o in ctx.settings.allowed_origins]
    fixed = ctx.send("GET", path, who).header("access-control-allow-origin")
    if fixed and fixed not in ("*", "null") and "://" in fixed:
        found.append(fixed.rstrip("/"))
    own = urlsplit(ctx.client.base_url)
    named = ctx.state.get("spec_origin")  # the document's own server (Swagger host)
    for origin in (*([named] if named else []), f"{own.scheme}://{own.netloc}", *DEV_ORIGINS):
        if origin in found:
            continue
        ex = ctx.send("GET", path, who, headers={"Origin": origin})
        if _trusts(ex, origin):
            found.append(origin)
    return list(dict.fromkeys(found))[:4]


def attacker_origins(origins: list[str]) -> list[tuple[str, str]]:
    """(kind, origin) an attacker could serve a page from, derived from each trusted origin
    ``scheme://host[:port]``: the host followed by the attacker's domain (suffix: a
    ``startswith`` check), the attacker's name before the registrable domain (prefix: an
    ``endswith`` check), each dot replaced by a letter (an unescaped ``.`` in a pattern), a
    hyphenated registrable domain (look-alike: an unanchored pattern), and the other scheme."""
    out: list[tuple[str, str]] = []
    for origin in origins:
        parts = urlsplit(origin)
        host, scheme = parts.hostname or "localhost", parts.scheme or "https"
        port = f":{parts.port}" if parts.port else ""
        labels = host.split(".")
        registrable = ".".join(labels[-2:])
        out.append(("suffix origin", f"{scheme}://{host}.{ATTACKER}{port}"))
        for name in dict.fromkeys([host, registrable]):  # endswith(host), endswith(domain)
            out.append(("prefix origin", f"{scheme}://battletest{name}{port}"))
        for i in range(len(labels) - 1):
            dotless = ".".join(labels[: i + 1]) + "x" + ".".join(labels[i + 1 :])
            out.append(("unescaped-dot origin", f"{scheme}://{dotless}{port}"))
        if len(labels) >= 2:
            lookalike = ".".join([*labels[:-1], f"{labels[-1]}-{ATTACKER}"])
            out.append(("look-alike origin", f"{scheme}://{lookalike}{port}"))
        other = "http" if scheme == "https" else "https"
        out.append(("other scheme", f"{other}://{host}{port}"))
    return [(kind, o) for kind, o in dict.fromkeys(out) if o not in origins]  # not trusted ones


def _stack_signature(text: str) -> str | None:
    for pattern in STACK_SIGNATURES:
        m = pattern.search(text)
        if m:
            return m.group(0)[:120]
    return None


def _error_probes(
    ctx: ScanContext, op: Operation, who: ScanIdentity | None
) -> list[tuple[str, Callable[[], Exchange]]]:
    probes: list[tuple[str, Callable[[], Exchange]]] = []
    path = ctx.fill(op, who) if who else (op.url_path if not op.path_params else None)
    if op.path_params:
        bad = {p: quote("'\"battletest%00", safe="") for p in op.path_params}
        bad_path = op.fill(bad)
        assert bad_path is not None
        big = op.fill({p: "9" * 40 for p in op.path_params})
        assert big is not None
        for probe_path in (bad_path, big):
            probes.append((op.path_params[-1], partial(ctx.send, op.method, probe_path, who)))
    if path and op.body_schema is not None:
        probes.insert(
            0,
            (
                "body",
                lambda: ctx.send(
                    op.method,
                    path,
                    who,
                    content='{"battletest": [',
                    headers={"Content-Type": "application/json"},
                ),
            ),
        )
    query = [p for p in op.parameters if p.location == "query"]
    if path and query and op.safe:
        probes.append(
            (
                query[0].name,
                lambda: ctx.send(op.method, path, who, params={query[0].name: "'\"[]{"}),
            )
        )
    return probes
