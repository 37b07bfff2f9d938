"""junit.xml: one ``<testsuite>`` per suite, one ``<testcase>`` per case, for CI test views.

The gates follow as a last ``<testsuite name="gates">``: one testcase per gate row, a failure
when it failed, skipped ("not measured: …") when it could not be measured — so a CI test view
shows a gate without input as what it is, never as a pass.

Failures carry the message and the reproducing command; valid against ``schemas/junit.xsd``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

from battletest.results import Report, Status

FILENAME = "junit.xml"
XSD_PATH = Path(__file__).resolve().parent.parent / "schemas" / "junit.xsd"


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def render(report: Report) -> bytes:
    stamp = report.run.started_at.strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element(
        "testsuites",
        name=f"battletest {report.run.id}",
        tests=str(report.summary.total_tests),
        failures=str(report.summary.failed),
        errors=str(report.summary.errors),
        time=_seconds(report.summary.total_duration_ms / 1000),
    )  # skipped counts and timestamps sit on each testsuite, where every CI reader looks
    host = socket.gethostname()
    for suite in report.suites:
        counts = {st: sum(1 for c in suite.cases if c.status is st) for st in Status}
        ts = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(counts[Status.FAILED]),
            errors=str(counts[Status.ERROR]),
            skipped=str(counts[Status.SKIPPED]),
            time=_seconds(suite.duration_s),
            timestamp=stamp,
            hostname=host,
        )
        props = ET.SubElement(ts, "properties")
        for name, value in (
            ("run_id", report.run.id),
            ("seed", "" if report.run.seed is None else str(report.run.seed)),
            ("target", report.run.target or ""),
            ("profile", report.run.profile),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        # flaky and quarantined tests (the history's verdicts, in case details): one property
        # per test at suite level, since the schema has no properties on a testcase
        for case in suite.cases:
            for flag in ("quarantined", "flaky"):
                if case.details.get(flag):
                    ET.SubElement(props, "property", name=flag, value=_clean(case.name))
        for case in suite.cases:
            tc = ET.SubElement(
                ts,
                "testcase",
                name=_clean(case.name),
                classname=f"battletest.{suite.name}",
                time=_seconds(case.duration_ms / 1000),
            )
            body = _clean(
                case.message + (f"\nreproduce: {case.reproduce}" if case.reproduce else "")
            )
            if case.status is Status.FAILED:
                el = ET.SubElement(
                    tc, "failure", message=_clean(case.message), type="AssertionError"
                )
                el.text = body
            elif case.status is Status.ERROR:
                el = ET.SubElement(tc, "error", message=_clean(case.message), type="ToolError")
                el.text = body
            elif case.status is Status.SKIPPED:
                ET.SubElement(tc, "skipped", message=_clean(case.message))
    _gates(root, report, stamp, host)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _gates(root: ET.Element, report: Report, stamp: str, host: str) -> None:
    if not report.gates:
        return
    failed = sum(g.passed is False for g in report.gates)
    unmeasured = sum(g.passed is None for g in report.gates)
    ts = ET.SubElement(
        root,
        "testsuite",
        name="gates",
        tests=str(len(report.gates)),
        failures=str(failed),
        errors="0",
        skipped=str(unmeasured),
        time="0.000",
        timestamp=stamp,
        hostname=host,
    )
    for gate in report.gates:
        tc = ET.SubElement(
            ts, "testcase", name=_clean(gate.name), classname="battletest.gates", time="0.000"
        )
        text = _clean(f"{gate.reason} (limit {gate.limit}, measured {gate.measured})")
        if gate.passed is False:
            el = ET.SubElement(tc, "failure", message=_clean(gate.reason), type="GateFailed")
            el.text = text
        elif gate.passed is None:
            ET.SubElement(tc, "skipped", message=_clean(f"not measured: {gate.reason}"))


def write(report: Report, folder: Path) -> Path:
    path = folder / FILENAME
    path.write_bytes(render(report))
    return path


__all__ = ["FILENAME", "XSD_PATH", "render", "write"]
