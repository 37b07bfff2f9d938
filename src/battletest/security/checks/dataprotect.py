"""Data protection: PII and credentials the scan sent, found in the target's own logs.

Teams claim their logs are redacted and rarely test it. When battletest launched the target and
captured its output (a ``log_source``), this check sends bodies carrying marked e-mail
addresses, phone numbers and card numbers, then reads the output for them verbatim — and for the
scan identities' tokens and passwords.
"""

from __future__ import annotations

import time

from battletest.results import Finding, Severity
from battletest.security.checks.inject import base_request, ends_session
from battletest.security.context import ScanContext
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation


def _logs(ctx: ScanContext) -> str | None:
    return "battletest did not launch the target: no log source" if not ctx.log_source else None


def planted(ctx: ScanContext) -> dict[str, str]:
    """One marked value per PII kind (the card number passes the Luhn check)."""
    k = ctx.rng.randrange(10**5, 10**6)
    return {
        "e-mail address": f"bt.pii.{k}@example.com",
        "phone number": f"+1 555 {k // 1000:03d} {k % 1000:03d}9",
        "card number": luhn(f"4{k:06d}00000000"),
    }


def luhn(partial: str) -> str:
    """``partial`` with the check digit that makes it a valid card number."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return partial + str((10 - total % 10) % 10)


def _field_value(name: str, values: dict[str, str]) -> str:
    lower = name.lower()
    if "phone" in lower or "mobile" in lower or "tel" in lower:
        return values["phone number"]
    if "card" in lower or "pan" in lower:
        return values["card number"]
    return values["e-mail address"]


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="pii-in-logs",
        title="PII or credentials written to the service's logs",
        owasp="API8:2023",
        cwe="CWE-532",
        severity=Severity.MEDIUM,
        group="data",
        requires=_logs,
        phase=90,  # after every other probe, before the bursts (which may lock identities out)
        remediation="Redact PII and credentials in the logging layer (a formatter or filter "
        "applied to every record), and log identifiers instead of personal data.",
    )
    def pii_in_logs(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends up to three POST bodies whose text properties carry a marked e-mail address,
        phone number or card number, then reads the target's captured output; reported per
        kind found verbatim, and when a scan identity's token or password appears."""
        assert ctx.log_source is not None
        values = planted(ctx)
        sent = 0
        last = None
        posts = [o for o in ctx.operations if o.method == "POST" and o.body_properties()]
        for candidate in [o for o in posts if not ends_session(o)]:
            if sent >= 3:
                break
            probe = base_request(ctx, candidate)
            if isinstance(probe, str) or probe.body is None:
                continue
            body = dict(probe.body)
            for name, value in body.items():
                if isinstance(value, str):
                    body[name] = _field_value(name, values)
            path = candidate.fill(probe.path_values) or candidate.url_path
            last = (candidate, ctx.send("POST", path, probe.identity, json_body=body))
            sent += 1
        time.sleep(0.3)  # let the target flush its log lines
        text = ctx.log_source()
        findings: list[Finding] = []
        for kind, value in values.items():
            if value in text and last is not None:
                line = next(line for line in text.splitlines() if value in line)
                findings.append(
                    ctx.finding(
                        last[0],
                        last[1],
                        parameter=kind,
                        title=f"{kind.capitalize()} written to the service's logs",
                        note=f"the {kind} the scan sent appears verbatim in the captured output",
                        extra={"log_line": line[:300]},
                    )
                )
        for who in ctx.identities:
            for secret in who.secrets():
                if len(secret) >= 8 and secret in text:
                    findings.append(
                        ctx.finding(
                            None,
                            None,
                            parameter="credentials",
                            severity=Severity.HIGH,
                            title=f"Credentials of {who.name} written to the service's logs",
                            note="a token, API key, password or session cookie of a scan "
                            "identity appears verbatim in the captured output",
                        )
                    )
                    break
        if sent == 0 and not findings:
            return Outcome.clean("no POST body to carry PII; only credentials were looked for")
        return Outcome.found(*findings)
