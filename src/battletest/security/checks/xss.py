"""Cross-site scripting (reported under API8:2023): reflected and stored, per HTML context.

A probe ``bt<K>x<"'>`` finds where a value comes back in a ``text/html`` answer (JSON served as
``text/html`` counts) and in which context — element body, attribute, script, URL attribute, an
HTML comment or a raw-text element (``<title>``, ``<textarea>``, ``<style>``…, where markup is
inert until the element is closed); the payload for that context must then come back verbatim
(unescaped), twice, and **execute**: the answer is loaded in the scan's headless Chromium
(``security/browser.py``) and the payload's ``alert(K)`` must be called. A payload that comes
back but does not run (an inert context) is not a finding; without a browser the finding is
reported as suspected (confidence ``firm``), never confirmed. Stored XSS plants the element
payload in a created object and reads it back from the item and HTML operations.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from battletest.results import Confidence, Finding, Severity
from battletest.security.browser import ScanBrowser
from battletest.security.checks.inject import (
    Probe,
    Slot,
    each_slot,
    fill,
    injectable,
    probe_for,
)
from battletest.security.checks.misconfig import form_create
from battletest.security.checks.references import own_object_id, references
from battletest.security.context import ScanContext, ScanIdentity
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation
from battletest.transport import Exchange

URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "poster", "xlink:href")
_ATTR = re.compile(r"([\w:-]+)\s*=\s*([\"']?)[^\"'<>=]*$")
# elements whose content is text, not markup, until their end tag (HTML raw text / RCDATA)
_ID_NAME = re.compile(r"(^|_)(id|ID)$|[a-z]Id$|^uuid$")  # plot_id, plotId, id: not text
RAW_TEXT = ("title", "textarea", "style", "xmp", "noscript", "noembed", "noframes", "iframe")
XSS_FIX = (
    "Escape output for its context (an autoescaping template engine), allow only http(s) URLs "
    "in links, serve JSON as application/json, and add a Content-Security-Policy."
)


def is_html(ex: Exchange) -> bool:
    return "text/html" in (ex.header("content-type") or "").lower()


def context_at(text: str, index: int) -> tuple[str, str]:
    """The HTML context of the character at ``index`` — element, attribute, script, url,
    comment or rawtext — and the quote a payload must close there ('' when none; for rawtext
    the element's name)."""
    lower = text.lower()
    if lower.rfind("<!--", 0, index) > lower.rfind("-->", 0, index):
        return "comment", ""
    for tag in RAW_TEXT:
        if lower.rfind(f"<{tag}", 0, index) > lower.rfind(f"</{tag}", 0, index):
            return "rawtext", tag
    opened = text.rfind("<script", 0, index)
    if opened > text.rfind("</script", 0, index):
        body = text.find(">", opened) + 1
        return "script", js_quote(text[body:index])
    lt, gt = text.rfind("<", 0, index), text.rfind(">", 0, index)
    if lt > gt:
        m = _ATTR.search(text[lt:index])
        if m and m.group(1).lower() in URL_ATTRIBUTES:
            return "url", m.group(2)
        return "attribute", m.group(2) if m else ""
    return "element", ""


def js_quote(code: str) -> str:
    """The string quote open at the end of ``code`` ('' outside a string literal)."""
    quote = ""
    escaped = False
    for ch in code:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"`":
            quote = ch
    return quote


def contexts(text: str, marker: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for m in re.finditer(re.escape(marker), text):
        where = context_at(text, m.start())
        if where not in found:
            found.append(where)
    return found


def fits_quote(kind: str, quote: str, payload: str) -> bool:
    """Attribute and script payloads must close the quote in force (``</script>`` always can)."""
    if kind == "script" and payload.startswith("</script"):
        return True
    if kind in {"attribute", "script"} and quote:
        return payload.startswith(quote)
    return True


def proves(text: str, kind: str, payload: str) -> bool:
    if kind == "url":
        attrs = "|".join(re.escape(a) for a in URL_ATTRIBUTES)
        return re.search(rf"(?:{attrs})\s*=\s*[\"']?{re.escape(payload)}", text, re.I) is not None
    return payload in text


def reflected(probe: Probe, slot: Slot, depth: str) -> tuple[Exchange, str, str, int] | None:
    ctx = probe.ctx
    k = ctx.rng.randrange(10**5, 10**6)
    marker = f"bt{k}x"
    first = probe.send(slot, slot.value + marker + "<\"'>")
    if not is_html(first) or marker not in first.text:
        return None
    table = payloads_by_context(depth)
    for kind, quote in contexts(first.text, marker):
        for template in table.get(kind, []):
            payload = fill(template, K=k, T=quote)
            if not fits_quote(kind, quote, payload):
                continue
            value = payload if kind == "url" else slot.value + payload
            ex = probe.send(slot, value)
            if is_html(ex) and proves(ex.text, kind, payload):
                again = probe.send(slot, value)
                if is_html(again) and proves(again.text, kind, payload):
                    return ex, kind, payload, k
    return None


def error_page(ctx: ScanContext, op: Operation) -> tuple[Probe, list[Slot]] | None:
    """For a GET without a 2xx: a request answered with an HTML error page (below 500, not a
    401/403 refusal), and its query parameters as injection points; None when there is none."""
    people: list[ScanIdentity | None] = [*ctx.identities] if op.secured else [None]
    for who in people:
        probe = probe_for(ctx, op, who)
        if probe is None:
            continue
        probe.base = probe.send()
        if probe.base.status < 500 and probe.base.status not in (401, 403) and is_html(probe.base):
            slots = [
                Slot("query", p.name, probe.query.get(p.name, "battletest"))
                for p in op.parameters
                if p.location == "query" and (p.schema or {}).get("type", "string") == "string"
            ]
            return (probe, slots) if slots else None
    return None


def browser(ctx: ScanContext) -> ScanBrowser:
    """The scan's one headless browser (started on first use; ``scan`` closes it)."""
    found = ctx.state.get("browser")
    if not isinstance(found, ScanBrowser):
        found = ctx.state["browser"] = ScanBrowser()
    return found


def executed(ctx: ScanContext, ex: Exchange, k: int) -> tuple[bool | None, str]:
    """Whether the payload with marker ``k`` runs when ``ex``'s answer is loaded in the
    browser (None: no browser), and the note saying so."""
    ran = browser(ctx).executes(ex.text, str(k))
    if ran is None:
        return None, f"suspected, not confirmed: {browser(ctx).missing}"
    if ran:
        return True, f"executed in headless Chromium: alert({k}) was called"
    return False, "returned but inert: it did not execute in headless Chromium"


def xss_finding(
    ctx: ScanContext, op: Operation, ex: Exchange, ran: bool | None, **kw: Any
) -> Finding:
    """A confirmed finding when the payload executed, a suspected one (confidence firm)
    when no browser could tell."""
    if ran is None:
        kw["title"] = kw["title"] + " (suspected: not run in a browser)"
    return ctx.finding(op, ex, confidence=Confidence.CONFIRMED if ran else Confidence.FIRM, **kw)


def payloads_by_context(depth: str) -> dict[str, list[str]]:
    from battletest.security.checks.inject import DEPTH_RANK, payload_file

    rank = DEPTH_RANK[depth]
    raw: dict[str, list[dict[str, str]]] = payload_file("xss")["contexts"]
    return {
        kind: [e["payload"] for e in entries if DEPTH_RANK[e["depth"]] <= rank]
        for kind, entries in raw.items()
    }


def _html_readers(ctx: ScanContext) -> list[Operation]:
    return [
        op
        for op in ctx.all_operations
        if op.method == "GET"
        and any(
            "html" in media
            for status, resp in op.responses.items()
            if status.startswith("2")
            for media in resp.content
        )
    ]


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="xss-reflected",
        title="Reflected cross-site scripting",
        owasp="API8:2023",
        cwe="CWE-79",
        severity=Severity.HIGH,
        group="xss",
        applies=injectable,
        phase=60,
        remediation=XSS_FIX,
    )
    def xss_reflected(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends a probe to each parameter to find where it lands in a text/html answer, then
        the payload for that context (element, attribute, script, URL); reported when the
        payload comes back verbatim, twice."""
        assert op is not None

        def test(probe: Probe, slot: Slot) -> Finding | None:
            proved = reflected(probe, slot, ctx.settings.depth)
            if proved is None:
                return None
            ex, kind, payload, k = proved
            ran, how = executed(ctx, ex, k)
            if ran is False:
                return None  # an inert context: returned verbatim, never run
            return xss_finding(
                ctx,
                op,
                ex,
                ran,
                parameter=slot.label,
                title=f"Reflected XSS ({kind} context) in {slot.label}",
                note=f"{payload!r} is returned unescaped in a text/html answer ({kind} "
                f"context); {how}",
            )

        findings, reason = each_slot(ctx, op, test)
        if reason.startswith("no working request") and op.method == "GET":
            # no 2xx, but an HTML error page (a search's "no match" 404) may reflect its query
            page = error_page(ctx, op)
            if page is not None:
                probe, slots = page
                findings = [f for slot in slots if (f := test(probe, slot)) is not None]
                reason = ""
        return Outcome.inconclusive(reason) if reason else Outcome.found(*findings)

    @scanner.check(
        id="xss-stored",
        title="Stored cross-site scripting",
        owasp="API8:2023",
        cwe="CWE-79",
        severity=Severity.HIGH,
        group="xss",
        modifies=True,
        applies=lambda ctx, op: (
            (ctx.is_create(op) and bool(op.body_properties())) or form_create(ctx, op)
        ),
        phase=61,
        remediation=XSS_FIX,
    )
    def xss_stored(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Creates an object (as the scanner's own) with the element payload in every text
        property, then reads the item and every operation declared to return HTML; reported
        when one of them returns the payload verbatim as text/html."""
        assert op is not None
        who = next(iter(ctx.identities), None) if op.secured else None
        if op.secured and who is None:
            return Outcome.inconclusive("secured operation and no identity configured")
        k = ctx.rng.randrange(10**5, 10**6)
        payload = fill(payloads_by_context(ctx.settings.depth)["element"][0], K=k)
        probe = probe_for(ctx, op, who)  # a valid body (JSON or form), references filled
        body = dict(probe.body or {}) if probe is not None else {}
        fields = [n for n, v in body.items() if isinstance(v, str) and not _ID_NAME.search(n)]
        if probe is None or not fields:
            return Outcome.clean("no text property to store a payload in")
        planted = {**body, **{n: payload for n in fields}}
        for ref in references(ctx, op) if who is not None else []:
            # a note pinned to a plot: the plot must be one of the identity's own
            assert who is not None
            own = (
                own_object_id(ctx, who, ref)
                if ref.creator is not None
                else next(iter(ctx.ids(who, ref.collection)), None)
            )
            if own is not None and ref.location in {"body", "form"}:
                planted[ref.name] = int(own) if ref.numeric and own.isdigit() else own
        probe.body = planted
        made = probe.send()
        if made.status in {401, 403, 404, 429} or made.status >= 500:
            return Outcome.inconclusive(f"the create did not reach its logic (HTTP {made.status})")
        if not made.ok:
            return Outcome.clean(f"the payload was not stored (HTTP {made.status})")
        from battletest.security.context import Created, extract_ids

        item = ctx.item_op(op.url_path)
        ids = extract_ids(made.json(), item.path_params[-1] if item else "id")
        if who is not None and ids:
            ctx.created.append(Created(who.name, op.url_path, ids[0], planted, made.json()))
        readers: list[str] = []
        if item is not None and ids and len(item.path_params) == 1:
            readers.append(item.fill({item.path_params[0]: ids[0]}) or "")
        for reader in _html_readers(ctx):
            by_id = [p.name for p in reader.params_in("query") if _ID_NAME.search(p.name)]
            if ids and by_id and not reader.path_params:  # notes.view?note_id=<the new one>
                readers.append(reader.url_path + "?" + urlencode(dict.fromkeys(by_id, ids[0])))
                continue
            path = (
                ctx.fill(reader, who) if who else (None if reader.path_params else reader.url_path)
            )
            if path:
                readers.append(path)
        inert = ""
        for path in dict.fromkeys(p for p in readers if p):
            ex = ctx.send("GET", path, who)
            if is_html(ex) and payload in ex.text:
                ran, how = executed(ctx, ex, k)
                if ran is False:
                    inert = f"the payload comes back from GET {path} but does not execute"
                    continue
                return Outcome.found(
                    xss_finding(
                        ctx,
                        op,
                        ex,
                        ran,
                        parameter=", ".join(f"body {n}" for n in fields),
                        title=f"Stored XSS: {op.method} {op.url_path} → GET {path}",
                        note=f"{payload!r} stored through {op.key} comes back unescaped "
                        f"as text/html from GET {path}; {how}",
                    )
                )
        return Outcome.clean(inert)
