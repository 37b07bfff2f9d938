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
from battletest.report.svg import bar_chart, line_chart
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


HISTOGRAM_FILE = "load-latency.hdr"  # the load suite's merged histogram in the run folder


def render(report: Report, latency_hdr: str | None = None) -> str:
    """The full HTML document for ``report`` (already redacted: ``write_run_folder`` passes every
    format one redacted copy).

    ``latency_hdr``: the load run's merged latency histogram (µs, HdrHistogram-encoded), drawn
    as the distribution of every request's latency.
    """
    env = _environment()
    template = env.get_template(TEMPLATE)
    context = _context(report)
    context["latency_histogram"] = latency_histogram_chart(latency_hdr) if latency_hdr else ""
    return template.render(**context)


def latency_histogram_chart(encoded: str, buckets: int = 16) -> str:
    """Every request's latency in log-spaced buckets, from an encoded HdrHistogram (µs)."""
    from hdrh.histogram import HdrHistogram

    try:
        hist = HdrHistogram.decode(encoded.strip().encode("ascii"))
    except Exception:  # a damaged file beside the report must not cost the whole page
        return ""
    values = [
        (item.value_iterated_to / 1000.0, int(item.count_added_in_this_iter_step))
        for item in hist.get_recorded_iterator()
    ]
    if not values:
        return ""
    low = max(min(v for v, _ in values), 0.001)
    high = max(max(v for v, _ in values), low * 1.0001)
    counts = [0] * buckets
    for v, n in values:
        i = int(buckets * math.log(max(v, low) / low) / math.log(high / low))
        counts[min(max(i, 0), buckets - 1)] += n
    edges = [low * (high / low) ** ((i + 1) / buckets) for i in range(buckets)]
    bars = [(f"≤{format_duration_ms(e)}", float(n)) for e, n in zip(edges, counts, strict=True)]
    return bar_chart(bars, title="Latency histogram (every request)", unit="requests", width=720)


def write(report: Report, folder: Path) -> Path:
    """Write ``folder/report.html`` and return its path (a report writer for the run folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILENAME
    hdr = folder / HISTOGRAM_FILE
    encoded = hdr.read_text(encoding="ascii", errors="replace") if hdr.is_file() else None
    path.write_text(render(report, encoded), encoding="utf-8")
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
        **dashboard(report),
    }


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Advice derived from the data, naming the measurement it comes from."""

    severity: str  # "high" | "medium" | "low"
    text: str
    source: str


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _load_view(metrics: dict[str, Any]) -> dict[str, Any]:
    series = [r for r in metrics.get("series") or [] if isinstance(r, dict)]

    def pts(key: str) -> list[tuple[float, float]]:
        return [
            (float(r["t"]), float(r[key]))
            for r in series
            if _is_number(r.get("t")) and _is_number(r.get(key))
        ]

    lat = _as_dict(metrics.get("latency_ms"))
    dist = [
        (label, float(lat[key]))
        for key, label in (
            ("min", "min"),
            ("p50", "p50"),
            ("p90", "p90"),
            ("p95", "p95"),
            ("p99", "p99"),
            ("p999", "p99.9"),
            ("max", "max"),
        )
        if _is_number(lat.get(key))
    ]
    endpoints = []
    for name, ep in sorted((metrics.get("endpoints") or {}).items()):
        if isinstance(ep, dict):
            ep_lat = _as_dict(ep.get("latency_ms"))
            row: dict[str, Any] = {"name": name}
            row.update({k: ep.get(k) for k in ("requests", "failed", "rps")})
            row["lat"] = {k: _num(ep_lat.get(k)) for k in ("p50", "p95", "p99", "max")}
            endpoints.append(row)
    return {
        "rps_chart": line_chart({"rps": pts("rps")}, title="Throughput over time", unit="req/s"),
        "latency_chart": line_chart(
            {"p50": pts("p50"), "p95": pts("p95"), "p99": pts("p99")},
            title="Latency percentiles over time",
            unit="ms",
        ),
        "dist_chart": bar_chart(dist, title="Latency distribution", unit="ms"),
        "endpoints": endpoints,
        "figures": [
            (k, format_value(metrics.get(k)))
            for k in ("requests", "failed", "error_rate", "rps", "duration_s", "executor")
            if k in metrics
        ],
        "intervals": len(series),
    }


def _trend_view(trend: Any) -> dict[str, Any]:
    rows = [r for r in trend or [] if isinstance(r, dict)]
    if len(rows) < 1:
        return {"rows": [], "chart": ""}
    idx = list(range(1, len(rows) + 1))
    lines = {
        key: [
            (float(i), float(r[key]))
            for i, r in zip(idx, rows, strict=True)
            if _is_number(r.get(key))
        ]
        for key in ("p50", "p95", "p99")
    }
    chart = line_chart(lines, title="Latency across runs", unit="ms")
    return {"rows": rows, "chart": chart.replace(" s</text>", "</text>")}


def dashboard(report: Report) -> dict[str, Any]:
    """The dashboard sections' data: load charts, baseline comparison, trend, flaky and
    quarantined tests, coverage gaps and recommendations (empty parts are left out)."""
    load = next((s for s in report.suites if s.name == "load" and s.metrics), None)
    load_view = _load_view(load.metrics) if load is not None else None
    comparison = load.metrics.get("baseline") if load is not None else None
    if not isinstance(comparison, dict):
        comparison = None
    trend = _trend_view(load.metrics.get("trend") if load is not None else None)
    flaky: list[tuple[str, Case, str]] = []
    quarantined: list[tuple[str, Case, str]] = []
    for s in report.suites:
        for c in s.cases:
            if c.details.get("quarantined"):
                why = str(c.details.get("quarantine_reason") or c.message)
                quarantined.append((s.name, c, why))
            elif c.details.get("flaky"):
                flaky.append((s.name, c, str(c.details.get("flaky_reason") or c.message)))
    gaps: list[dict[str, str]] = []
    for s in report.suites:
        for gap in s.metrics.get("coverage_gaps") or []:
            g = _as_dict(gap)
            if g.get("file") and g.get("function"):  # quality.coverage_gaps.CoverageGap rows
                what = f"{g['file']}:{g.get('first_line', '?')} {g['function']}"
                detail = (
                    f"{g.get('kind', 'uncovered')}: {g.get('missing_lines', '?')} lines and "
                    f"{g.get('missing_branches', '?')} branches missing, complexity "
                    f"{g.get('complexity', '?')}, churn {g.get('churn', '?')}"
                )
            else:
                what = str(next((g[k] for k in ("what", "operation", "path") if g.get(k)), gap))
                detail = format_value(g.get("reason") or g.get("detail") or "")
            gaps.append({"suite": s.name, "what": what, "detail": detail})
    return {
        "load": load_view,
        "comparison": comparison,
        "trend": trend,
        "flaky": flaky,
        "quarantined": quarantined,
        "coverage_gaps": gaps,
        "recommendations": recommendations(report),
    }


def recommendations(report: Report) -> list[Recommendation]:
    """Advice derived from the measurements, most severe first; each names its source."""
    out: list[Recommendation] = []
    for g in report.gates:
        if g.passed is False:
            out.append(
                Recommendation(
                    "high",
                    f"Gate {g.name} failed: measured {format_value(g.measured)} against "
                    f"{format_value(g.limit)}. {g.reason}".strip(),
                    f"gates.{g.name}",
                )
            )
    findings = [f for s in report.suites for f in s.findings]
    serious = [f for f in findings if f.severity.rank >= Severity.HIGH.rank]
    if serious:
        first = max(serious, key=lambda f: f.severity.rank)
        out.append(
            Recommendation(
                "high",
                f"Fix {len(serious)} high or critical security finding(s) first, starting with "
                f"{first.title} ({first.check_id}). {first.remediation}".strip(),
                "findings[severity>=high]",
            )
        )
    load = next((s for s in report.suites if s.name == "load"), None)
    m = load.metrics if load is not None else {}
    lat = _as_dict(m.get("latency_ms"))
    err = _num(m.get("error_rate"))
    if err is not None and err > 0.01:
        out.append(
            Recommendation(
                "high",
                f"{err * 100:.1f}% of load requests failed; look at the error kinds "
                f"({', '.join(sorted(m.get('errors') or {})) or 'see the load suite'}).",
                "load.error_rate",
            )
        )
    p50, p99 = _num(lat.get("p50")), _num(lat.get("p99"))
    if p50 and p99 and p99 / p50 >= 5:
        out.append(
            Recommendation(
                "medium",
                f"Tail latency is {p99 / p50:.1f}× the median (p99 {p99:g} ms vs p50 {p50:g} ms): "
                "look for queueing, locks, GC pauses or a slow dependency.",
                "load.latency_ms.p99 / load.latency_ms.p50",
            )
        )
    dropped = _num(m.get("dropped_iterations"))
    if dropped:
        out.append(
            Recommendation(
                "medium",
                f"{dropped:g} iterations were dropped: the target (or max VUs) could not keep "
                "the arrival rate; raise --max-vus or lower the rate.",
                "load.dropped_iterations",
            )
        )
    cmp = m.get("baseline") if isinstance(m.get("baseline"), dict) else None
    if cmp is not None:
        regressed = [r for r in cmp.get("rows", []) if r.get("verdict") == "regression"]
        if regressed:
            worst = max(regressed, key=lambda r: abs(r.get("change_pct") or 0))
            out.append(
                Recommendation(
                    "high",
                    f"{len(regressed)} metric(s) regressed against baseline run "
                    f"{cmp.get('baseline_run')}; worst: {worst['scope']} {worst['metric']} "
                    f"{worst['change_pct']:+.1f}% (p = {worst.get('p_value')}).",
                    "load.baseline.rows",
                )
            )
    elif load is not None and m.get("requests"):
        out.append(
            Recommendation(
                "low",
                "No baseline to compare with: save this run as one (battletest baseline save) "
                "so the next run can detect regressions.",
                "load.baseline (missing)",
            )
        )
    for s in report.suites:
        cov = s.metrics.get("coverage")
        if isinstance(cov, dict) and _is_number(cov.get("line")) and cov["line"] < 80:
            out.append(
                Recommendation(
                    "medium",
                    f"Line coverage is {cov['line']:.1f}%: the coverage gaps list the code "
                    "no test reaches.",
                    f"{s.name}.coverage.line",
                )
            )
    flaky = [c for s in report.suites for c in s.cases if c.details.get("flaky")]
    if flaky:
        out.append(
            Recommendation(
                "medium",
                f"{len(flaky)} test(s) are flaky: fix or quarantine them "
                "(battletest flaky quarantine).",
                "cases[details.flaky]",
            )
        )
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(out, key=lambda r: order[r.severity])


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
    "HISTOGRAM_FILE",
    "Recommendation",
    "dashboard",
    "duration_histogram",
    "format_duration_ms",
    "format_value",
    "latency_histogram_chart",
    "recommendations",
    "render",
    "series_sparklines",
    "write",
]
