"""report.html: one self-contained page a person reads after a run.

The page is rendered from a ``Report`` with a Jinja2 template (``templates/report.html.j2``)
whose CSS and JavaScript are inline: it opens from disk with no network, and its
Content-Security-Policy forbids fetching anything. Order follows what a reader asks first:
the verdict and the gate table, the summary, each suite's cases (with status filters), the
failures with their reproduce commands, the security findings, then the run metadata.

Charts are inline SVG computed here (status bars, case-duration distribution, and a sparkline
for every numeric series a suite reports in its metrics), so the template holds no arithmetic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from battletest import __version__
from battletest.results import Case, Finding, GateResult, Report, Severity, Status, SuiteResult

FILENAME = "report.html"
TEMPLATE = "report.html.j2"
_TEMPLATES = Path(__file__).with_name("templates")
_STATUS_ORDER = (Status.FAILED, Status.ERROR, Status.PASSED, Status.SKIPPED)


@dataclass(frozen=True, slots=True)
class Sparkline:
    """One numeric series drawn as an SVG polyline (coordinates in a 0..W × 0..H box)."""

    label: str
    points: str
    first: float
    last: float
    low: float
    high: float
    count: int


@dataclass(frozen=True, slots=True)
class SuiteView:
    """A suite with the counts and charts the template shows beside it."""

    suite: SuiteResult
    anchor: str
    counts: dict[str, int]
    scalars: list[tuple[str, str]]
    structured: list[tuple[str, str]]
    sparklines: list[Sparkline] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    count: int
    height_pct: float


def render(report: Report) -> str:
    """The full HTML document for ``report`` (its text passed through ``battletest.redact``)."""
    env = _environment()
    template = env.get_template(TEMPLATE)
    return template.render(**_context(redacted(report)))


def redacted(report: Report) -> Report:
    """A copy of ``report`` with tokens, passwords, API keys and e-mails masked in every case,
    finding, metric and the run metadata (gates and counts are left as measured)."""
    from battletest.redact import redact

    data = report.model_dump(mode="json")
    for key in ("run", "suites", "test_results", "failed_tests"):
        data[key] = redact(data[key])
    return Report.model_validate(data)


def write(report: Report, folder: Path) -> Path:
    """Write ``folder/report.html`` and return its path (a report writer for the run folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILENAME
    path.write_text(render(report), encoding="utf-8")
    return path


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration_ms"] = format_duration_ms
    env.filters["value"] = format_value
    env.filters["pretty"] = _pretty_json
    return env


def _context(report: Report) -> dict[str, Any]:
    suites = [_suite_view(s, i) for i, s in enumerate(report.suites)]
    findings = sorted(
        (f for s in report.suites for f in s.findings),
        key=lambda f: (-f.severity.rank, f.check_id, f.path or ""),
    )
    started = report.run.started_at
    finished = report.run.finished_at
    wall_s = (finished - started).total_seconds() if finished else None
    return {
        "report": report,
        "run": report.run,
        "summary": report.summary,
        "perf": report.performance_metrics,
        "gates": report.gates,
        "gate_counts": _gate_counts(report.gates),
        "suites": suites,
        "failures": _failures(report),
        "findings": findings,
        "severity_counts": _severity_counts(findings),
        "status_order": [s.value for s in _STATUS_ORDER],
        "status_bar": _status_bar(report),
        "histogram": duration_histogram(
            [c.duration_ms for c in report.test_results if c.status is not Status.SKIPPED]
        ),
        "wall_s": wall_s,
        "version": __version__,
        "config_json": _pretty_json(report.run.config) if report.run.config else "",
    }


def _suite_view(suite: SuiteResult, index: int) -> SuiteView:
    counts = {st.value: sum(1 for c in suite.cases if c.status is st) for st in _STATUS_ORDER}
    scalars: list[tuple[str, str]] = []
    structured: list[tuple[str, str]] = []
    sparklines: list[Sparkline] = []
    for key, value in suite.metrics.items():
        if value is None or isinstance(value, bool | int | float | str):
            scalars.append((key, format_value(value)))
            continue
        sparklines.extend(series_sparklines(key, value))
        structured.append((key, _pretty_json(value)))
    anchor = f"suite-{index}-" + "".join(ch if ch.isalnum() else "-" for ch in suite.name)
    return SuiteView(suite, anchor, counts, scalars, structured, sparklines)


def _failures(report: Report) -> list[Case]:
    order = {Status.ERROR: 0, Status.FAILED: 1}
    return sorted(report.failed_tests, key=lambda c: (order.get(c.status, 2), c.suite or ""))


def _gate_counts(gates: list[GateResult]) -> dict[str, int]:
    return {
        "passed": sum(1 for g in gates if g.passed is True),
        "failed": sum(1 for g in gates if g.passed is False),
        "unmeasured": sum(1 for g in gates if g.passed is None),
    }


def _severity_counts(findings: list[Finding]) -> list[tuple[str, int]]:
    return [
        (sev.value, sum(1 for f in findings if f.severity is sev))
        for sev in sorted(Severity, key=lambda s: -s.rank)
    ]


def _status_bar(report: Report) -> list[tuple[str, int, float]]:
    s = report.summary
    parts = [
        ("passed", s.passed),
        ("failed", s.failed),
        ("error", s.errors),
        ("skipped", s.skipped),
    ]
    total = sum(n for _, n in parts)
    return [(name, n, 100.0 * n / total) for name, n in parts if n and total]


def duration_histogram(durations_ms: list[float], buckets: int | None = None) -> list[Bucket]:
    """Case durations in log-spaced buckets (ms), for a bar chart; empty when nothing ran.

    Without ``buckets`` the count grows with the number of cases (4 to 16).
    """
    values = [d for d in durations_ms if d >= 0 and math.isfinite(d)]
    if not values:
        return []
    if buckets is None:
        buckets = min(16, max(4, 2 * math.ceil(math.sqrt(len(values)))))
    low = max(min(values), 0.01)
    high = max(max(values), low * 1.0001)
    edges = [low * (high / low) ** (i / buckets) for i in range(buckets + 1)]
    counts = [0] * buckets
    for d in values:
        d = max(d, low)
        i = int(buckets * math.log(d / low) / math.log(high / low)) if high > low else 0
        counts[min(max(i, 0), buckets - 1)] += 1
    top = max(counts)
    return [
        Bucket(f"≤ {format_duration_ms(edges[i + 1])}", n, 100.0 * n / top if top else 0.0)
        for i, n in enumerate(counts)
    ]


def series_sparklines(key: str, value: Any, width: int = 240, height: int = 40) -> list[Sparkline]:
    """Sparklines for a metric that is a numeric series.

    A list of numbers gives one line; a list of mappings (per-second samples such as
    ``{"t": 0, "rps": 812, "p95_ms": 41}``) gives one line per numeric field other than time.
    Anything else gives none.
    """
    if not isinstance(value, list) or len(value) < 2:
        return []
    if all(_is_number(v) for v in value):
        return [_sparkline(key, [float(v) for v in value], width, height)]
    if all(isinstance(v, dict) for v in value):
        keys = [k for k in value[0] if k not in ("t", "time", "ts", "second", "timestamp")]
        lines = []
        for k in keys:
            series = [row.get(k) for row in value]
            if all(_is_number(v) for v in series):
                lines.append(_sparkline(f"{key}.{k}", [float(v) for v in series], width, height))
        return lines
    return []


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _sparkline(label: str, ys: list[float], width: int, height: int) -> Sparkline:
    low, high = min(ys), max(ys)
    span = high - low or 1.0
    step = width / (len(ys) - 1)
    pts = " ".join(
        f"{i * step:.1f},{height - 2 - (y - low) / span * (height - 4):.1f}"
        for i, y in enumerate(ys)
    )
    return Sparkline(label, pts, ys[0], ys[-1], low, high, len(ys))


def format_duration_ms(ms: float | None) -> str:
    """A duration for people: ``850 µs``, ``12.3 ms``, ``4.20 s``, ``3 min 05 s``."""
    if ms is None:
        return "–"
    if ms == 0:
        return "0 ms"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1000:
        return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.2f} s"
    minutes, seconds = divmod(round(s), 60)
    return f"{minutes} min {seconds:02d} s"


def format_value(value: Any) -> str:
    """A gate limit or measured value for a table cell."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


__all__ = [
    "FILENAME",
    "duration_histogram",
    "format_duration_ms",
    "format_value",
    "redacted",
    "render",
    "series_sparklines",
    "write",
]
