"""security.sarif: the security suite's findings as SARIF 2.1.0, for code-scanning upload.

One rule per check (id, title, OWASP and CWE tags, ``security-severity``), one result per
finding with a logical location (``METHOD /path``), a physical location on the OpenAPI document,
a stable partial fingerprint, and the redacted evidence and curl command as properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from battletest import __version__
from battletest.results import Finding, Report, Severity

FILENAME = "security.sarif"
SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/battletest/battletest/blob/main/docs/security-checks.md"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule_name(check_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", check_id) if part)


def fingerprint(f: Finding) -> str:
    return " ".join([f.check_id, f.method or "*", f.path or "*", f.parameter or "*"])


def sarif_log(
    findings: Iterable[Finding],
    *,
    artifact_uri: str = "openapi.json",
    rules: Mapping[str, Mapping[str, str]] | None = None,
    tool_version: str = __version__,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of ``findings`` (already redacted). ``rules`` adds per-check text
    (``title``, ``description``) for checks that produced no finding or need a longer help."""
    findings = list(findings)
    meta = {k: dict(v) for k, v in (rules or {}).items()}
    for f in findings:
        entry = meta.setdefault(f.check_id, {})
        entry.setdefault("title", f.title)
        entry.setdefault("severity", f.severity.value)
        if f.owasp:
            entry.setdefault("owasp", f.owasp)
        if f.cwe:
            entry.setdefault("cwe", f.cwe)
        if f.remediation:
            entry.setdefault("remediation", f.remediation)
    ids = sorted(meta)
    rule_objects = []
    for rid in ids:
        m = meta[rid]
        severity = Severity(m.get("severity", "medium"))
        tags = ["security", *[m[k] for k in ("owasp", "cwe") if m.get(k)]]
        rule: dict[str, Any] = {
            "id": rid,
            "name": _rule_name(rid),
            "shortDescription": {"text": m.get("title", rid)},
            "fullDescription": {"text": m.get("description") or m.get("title", rid)},
            "helpUri": INFORMATION_URI + "#" + rid,
            "defaultConfiguration": {"level": LEVELS[severity]},
            "properties": {
                "tags": tags,
                "security-severity": SECURITY_SEVERITY[severity],
                "precision": "high",
            },
        }
        if m.get("remediation"):
            rule["help"] = {"text": m["remediation"]}
        rule_objects.append(rule)
    results = []
    for f in findings:
        where = " ".join(p for p in (f.method, f.path) if p) or "target"
        text = f"{f.title} ({where}" + (f", parameter {f.parameter})" if f.parameter else ")")
        properties: dict[str, Any] = {
            "severity": f.severity.value,
            "confidence": f.confidence.value,
            "evidence": f.evidence,
        }
        for key in ("owasp", "cwe", "parameter", "reproduce"):
            value = getattr(f, key)
            if value:
                properties[key] = value
        results.append(
            {
                "ruleId": f.check_id,
                "ruleIndex": ids.index(f.check_id),
                "level": LEVELS[f.severity],
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri},
                            "region": {"startLine": 1},
                        },
                        "logicalLocations": [
                            {"name": where, "fullyQualifiedName": where, "kind": "function"}
                        ],
                    }
                ],
                "partialFingerprints": {"battletestFinding/v1": fingerprint(f)},
                "properties": properties,
            }
        )
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "battletest",
                        "semanticVersion": tool_version,
                        "version": tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rule_objects,
                    }
                },
                "results": results,
                "columnKind": "utf16CodeUnits",
            }
        ],
    }


def write_sarif(path: Path, findings: Iterable[Finding], **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sarif_log(findings, **kwargs), indent=2) + "\n", encoding="utf-8")
    return path


def write(report: Report, folder: Path) -> Path:
    """The run folder's security.sarif (an empty run when no security suite ran)."""
    findings = [f for s in report.suites if s.name == "security" for f in s.findings]
    spec = (report.run.config.get("target") or {}).get("spec") if report.run.config else None
    uri = Path(str(spec)).name if spec and "://" not in str(spec) else "openapi.json"
    return write_sarif(Path(folder) / FILENAME, findings, artifact_uri=uri)


__all__ = ["FILENAME", "fingerprint", "sarif_log", "write", "write_sarif"]
