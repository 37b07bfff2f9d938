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
import re
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
    return bar_chart(
        bars,
        title="Latency histogram (every request)",
        unit="requests",
        x_label="latency, upper edge of each bucket (log scale)",
    )


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
    durations = [c.duration_ms for c in report.test_results if c.status is not Status.SKIPPED]
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
        "failure_groups": failure_groups(report),
        "replay_diffs": _replay_diffs(report),
        "findings": findings,
        "severity_counts": _severity_counts(findings),
        "status_order": [s.value for s in _STATUS_ORDER],
        "status_bar": _status_bar(report),
        # Only where cases carry durations: a load-only run's cases are thresholds (0 ms).
        "histogram": duration_histogram(durations) if any(d > 0 for d in durations) else [],
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

    # ``t`` is an interval's end and ``span`` its real length (seconds) when the load engine
    # says so: throughput and error rate are drawn as steps over each interval's own length.
    timed = [r for r in series if _is_number(r.get("t"))]
    spans = [float(r["span"]) for r in timed if _is_number(r.get("span"))]
    has_spans = len(spans) == len(timed) and bool(timed)

    def sent(r: dict[str, Any]) -> float:
        """Requests in an interval: recorded, else its rate times its length."""
        if _is_number(r.get("requests")):
            return float(r["requests"])
        span = float(r["span"]) if _is_number(r.get("span")) else 1.0
        return float(r["rps"]) * span if _is_number(r.get("rps")) else 0.0

    error_pts = [
        (float(r["t"]), 100.0 * float(r["errors"]) / sent(r) if sent(r) > 0 else 0.0)
        for r in timed
        if _is_number(r.get("errors"))
    ]
    rps_pts = pts("rps")

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
        "rps_chart": line_chart(
            {"rps": rps_pts},
            title="Throughput over time",
            unit="requests per second",
            spans={"rps": spans} if has_spans and len(spans) == len(rps_pts) else None,
        ),
        "latency_chart": line_chart(
            {"p50": pts("p50"), "p95": pts("p95"), "p99": pts("p99")},
            title="Latency percentiles over time",
            unit="ms",
        ),
        "error_chart": line_chart(
            {"errors": error_pts},
            title="Error rate over time",
            unit="% of requests failed",
            spans={"errors": spans} if has_spans and len(spans) == len(error_pts) else None,
        )
        if len(error_pts) == len(timed)
        else "",
        "dist_chart": bar_chart(
            dist, title="Latency distribution", unit="ms", x_label="percentile of all requests"
        ),
        "endpoints": endpoints,
        "figures": [
            (k, format_value(metrics.get(k)))
            for k in ("requests", "failed", "error_rate", "rps", "duration_s", "executor")
            if k in metrics
        ],
        "intervals": len(series),
    }


def _trend_view(trend: Any, current_run: str) -> dict[str, Any]:
    """The trend rows (oldest first) and chart; the row of this run, when the trend holds it,
    is marked ``current``."""
    rows = [
        {**r, "current": r.get("run_id") == current_run} for r in trend or [] if isinstance(r, dict)
    ]
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
    chart = line_chart(
        lines, title="Latency across runs", unit="ms", x_label="run, oldest to newest", x_unit=""
    )
    return {"rows": rows, "chart": chart}


def dashboard(report: Report) -> dict[str, Any]:
    """The dashboard sections' data: load charts, baseline comparison, trend, flaky and
    quarantined tests, coverage gaps and recommendations (empty parts are left out)."""
    load = next((s for s in report.suites if s.name == "load" and s.metrics), None)
    load_view = _load_view(load.metrics) if load is not None else None
    comparison = load.metrics.get("baseline") if load is not None else None
    if not isinstance(comparison, dict):
        comparison = None
    trend = _trend_view(load.metrics.get("trend") if load is not None else None, report.run.id)
    flaky: list[tuple[str, Case, str]] = []
    quarantined: list[tuple[str, Case, str]] = []
    broken: list[tuple[str, Case, str]] = []
    for s in report.suites:
        for c in s.cases:
            if c.details.get("broken"):
                broken.append((s.name, c, str(c.details.get("broken_reason") or c.message)))
            elif c.details.get("quarantined"):
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
        "broken": broken,
        "coverage_gaps": gaps,
        "recommendations": recommendations(report),
    }


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed cases with one cause: the same suite, the same check and the same problem."""

    suite: str
    check: str
    problem: str  # the first member's message, as measured
    members: tuple[Case, ...]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def example(self) -> Case:
        """One member to reproduce the problem with (the first that has a command)."""
        return next((c for c in self.members if c.reproduce), self.members[0])

    @property
    def status(self) -> str:
        return "error" if any(c.status is Status.ERROR for c in self.members) else "failed"


# An operation label inside a case name ("wrong types: GET /rooms/{id}") and the parts of a
# message that change from one member to the next (numbers, quoted values, paths, ids).
_OPERATION = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE)\s+/\S*")
_VARYING = re.compile(
    r"'[^']*'|\"[^\"]*\"|(?<![\w/])/[\w.{}~%-]+(?:/[\w.{}~%-]*)*|\b[0-9a-f]{8,}\b|\d+(?:\.\d+)?"
)


def _check_of(case: Case) -> str:
    """The check a case ran: its declared check id, else its name without the operation."""
    declared = case.details.get("check") or case.details.get("check_id")
    if declared:
        return str(declared)
    name = _OPERATION.sub("", case.name).strip(" :·-›")
    return name or case.name


def problem_key(message: str) -> str:
    """A message with what varies between members of one cause replaced by ``…``."""
    return _VARYING.sub("…", message.strip().splitlines()[0] if message.strip() else "")


def failure_groups(report: Report) -> list[FailureGroup]:
    """The run's failed and errored cases grouped by cause, biggest group first."""
    groups: dict[tuple[str, str, str], list[Case]] = {}
    for case in _failures(report):
        key = (case.suite or "", _check_of(case), problem_key(case.message))
        groups.setdefault(key, []).append(case)
    out = [
        FailureGroup(suite, check, members[0].message, tuple(members))
        for (suite, check, _), members in groups.items()
    ]
    return sorted(out, key=lambda g: (-g.count, g.status != "error", g.suite, g.check))


def _causes(groups: list[FailureGroup]) -> list[tuple[str, str, list[FailureGroup]]]:
    """Groups with the same problem in one suite, across checks: (suite, problem, groups)."""
    merged: dict[tuple[str, str], list[FailureGroup]] = {}
    for g in groups:
        merged.setdefault((g.suite, problem_key(g.problem)), []).append(g)
    return sorted(
        ((suite, gs[0].problem, gs) for (suite, _), gs in merged.items()),
        key=lambda item: -sum(g.count for g in item[2]),
    )


def _advice(suite: str, problem: str, count: int, example: Case) -> str:
    """What to change for one cause: the service change, or the config key when the
    expectation is what is wrong."""
    text = problem.lower()
    where = f" (e.g. {example.name})" if count > 1 else ""
    if "application/problem+json" in text or "rfc 7807" in text:
        return (
            f"{count} {suite} case(s) fail on one error-format mismatch{where}: {problem}. "
            "Make the service answer 4xx errors as application/problem+json (RFC 7807), or, "
            'if its error format is deliberate, set [suites.errors] error_format = "any" in '
            "battletest.toml."
        )
    if re.search(r"\b5\d\d\b|\b5xx\b", text):
        return (
            f"{count} {suite} case(s) get a server error{where}: {problem}. Fix the handler: bad "
            "input must be a 4xx; reproduce it with the command under Failures."
        )
    if "correlation" in text:
        return (
            f"{count} {suite} case(s) fail on the correlation id{where}: {problem}. Make the "
            "service echo the correlation header it is sent and generate one when none is, or "
            "name its header with [suites.errors] correlation_header (null: not checked)."
        )
    if re.search(r"accepted with 2\d\d|expected a 4xx", text):
        return (
            f"{count} {suite} case(s) were accepted although the input is invalid{where}: "
            f"{problem}. Validate that input in the service (answer 4xx), or correct the "
            "OpenAPI document if the input is in fact allowed."
        )
    if "timeout" in text or "timed out" in text:
        return (
            f"{count} {suite} case(s) time out{where}: {problem}. Find the slow handler or "
            "dependency; raise [target] request_timeout_s only if the wait is expected."
        )
    if "401" in problem or "403" in problem or "unauthori" in text or "forbidden" in text:
        return (
            f"{count} {suite} case(s) were refused{where}: {problem}. Check the identities and "
            "[auth] settings in battletest.toml (the RBAC matrix when the refusal is right)."
        )
    if "schema" in text or "does not match" in text:
        return (
            f"{count} {suite} case(s) answer outside the documented schema{where}: {problem}. "
            "Change the response or the OpenAPI document so they agree."
        )
    return (
        f"{count} {suite} case(s) fail with one problem{where}: {problem}. Fix it once and "
        "re-run; the reproduce command is under Failures."
    )


def _slowest_endpoint(metrics: dict[str, Any], key: str) -> tuple[str, float, Any] | None:
    """The endpoint with the highest latency ``key`` (p95, p99, max…): (name, ms, requests)."""
    best: tuple[str, float, Any] | None = None
    for name, ep in (metrics.get("endpoints") or {}).items():
        value = _num(_as_dict(_as_dict(ep).get("latency_ms")).get(key))
        if value is not None and (best is None or value > best[1]):
            best = (name, value, _as_dict(ep).get("requests"))
    return best


def _most_failing_endpoint(metrics: dict[str, Any]) -> tuple[str, int, Any] | None:
    rows = [
        (name, int(_num(_as_dict(ep).get("failed")) or 0), _as_dict(ep).get("requests"))
        for name, ep in (metrics.get("endpoints") or {}).items()
    ]
    rows = [r for r in rows if r[1] > 0]
    return max(rows, key=lambda r: r[1]) if rows else None


_THRESHOLD = re.compile(r"^\s*(p\(?[\d.]+\)?|avg|med|min|max)\b")


def _gate_advice(g: GateResult, report: Report, groups: list[FailureGroup]) -> str | None:
    """For a failed gate whose cause the run shows: what to change, naming the measurement."""
    load = next((s for s in report.suites if s.name == "load"), None)
    m = load.metrics if load is not None else {}
    if g.name == "load_thresholds" and any(
        x.name.startswith("load: ") and x.passed is False for x in report.gates
    ):
        return ""  # each failed threshold has its own row and its own advice
    if g.name == "success_rate" and groups and _gate_failed(report, "no_failed_cases"):
        return (
            f"Gate success_rate failed (measured {format_value(g.measured)} against "
            f"{format_value(g.limit)}): the same failed cases as no_failed_cases."
        )
    if g.name in ("no_failed_cases", "success_rate") and groups:
        causes = _causes(groups)
        first = next((c for c in causes if c[0] != "load"), causes[0])
        n = sum(x.count for x in first[2])
        return (
            f"Gate {g.name} failed (measured {format_value(g.measured)} against "
            f"{format_value(g.limit)}): the {sum(x.count for x in groups)} failed case(s) come "
            f"down to {len(causes)} problem(s); the biggest is {n} {first[0]} case(s) with “{first[1]}” "
            "(what to change for each cause follows)."
        )
    if g.name.startswith("load: ") or g.name == "load_thresholds":
        threshold = str(g.limit if g.name.startswith("load: ") else "")
        metric = _THRESHOLD.match(threshold.split("<")[0].split(">")[0]) if threshold else None
        if metric:
            key = metric.group(1).replace("(", "").replace(")", "")
            key = {"med": "p50", "p99.9": "p999"}.get(key, key)
            slow = _slowest_endpoint(m, key)
            value = _num(g.measured)
            measured = format_duration_ms(value) if value is not None else "–"
            if slow is not None:
                return (
                    f"Threshold {threshold} failed at {measured}: the slowest "
                    f"endpoint is {slow[0]} ({key} {format_duration_ms(slow[1])} over "
                    f"{format_value(slow[2])} requests) — look at that handler and what it waits "
                    "on, or give it its own threshold ([load] endpoint thresholds)."
                )
    if (
        g.name == "load_error_rate"
        or "error_rate" in str(g.limit)
        or "http_req_failed" in str(g.limit)
    ):
        worst = _most_failing_endpoint(m)
        kinds = sorted((m.get("errors") or {}).items(), key=lambda kv: -int(kv[1] or 0))
        if worst is not None or kinds:
            parts = []
            if kinds:
                parts.append("most failures are " + ", ".join(f"{k} ({v})" for k, v in kinds[:3]))
            if worst is not None:
                parts.append(f"{worst[0]} fails most ({worst[1]} of {format_value(worst[2])})")
            return (
                f"Gate {g.name} failed (measured {format_value(g.measured)} against "
                f"{format_value(g.limit)}): " + "; ".join(parts) + ". Fix that endpoint first "
                "(the error-rate chart shows when the failures happened)."
            )
    return None


def _gate_failed(report: Report, name: str) -> bool:
    return any(g.name == name and g.passed is False for g in report.gates)


def recommendations(report: Report) -> list[Recommendation]:
    """Advice derived from the measurements, most severe first; each names its source.

    Failed cases are advised on by cause (one recommendation for every case with the same
    problem in a suite, whatever check found it), saying what to change; a failed gate names
    the measurement behind it rather than restating the gate table."""
    out: list[Recommendation] = []
    groups = failure_groups(report)
    for g in report.gates:
        if g.passed is False:
            advice = _gate_advice(g, report, groups)
            if advice == "":
                continue
            out.append(
                Recommendation(
                    "high",
                    advice
                    or (f"Gate {g.name} failed: {g.advice}" if g.advice else "")
                    or f"Gate {g.name} failed: measured {format_value(g.measured)} against "
                    f"{format_value(g.limit)}. {g.reason}".strip(),
                    f"gates.{g.name}",
                )
            )
    # Load cases are its thresholds: their gate rows above say what to change.
    for suite, problem, gs in _causes([x for x in groups if x.suite != "load"])[:5]:
        count = sum(x.count for x in gs)
        checks = ", ".join(sorted({x.check for x in gs}))
        out.append(
            Recommendation(
                "high",
                _advice(suite, problem, count, gs[0].example),
                f"failures: {count} {suite} case(s), check(s) {checks}",
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
    broken = [c for s in report.suites for c in s.cases if c.details.get("broken")]
    if broken:
        since = sorted({str(c.details.get("broken_since") or "?") for c in broken})
        out.append(
            Recommendation(
                "high",
                f"{len(broken)} test(s) are broken, not flaky: they failed every run since "
                f"{', '.join(since)}. Fix them (or the change that broke them); they are never "
                "quarantined, so they fail the build until then.",
                "cases[details.broken]",
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
        structured.append((key, _pretty_json(_without_histograms(value))))
    anchor = f"suite-{index}-" + "".join(ch if ch.isalnum() else "-" for ch in suite.name)
    return SuiteView(suite, anchor, counts, scalars, structured, sparklines)


def _failures(report: Report) -> list[Case]:
    order = {Status.ERROR: 0, Status.FAILED: 1}
    return sorted(report.failed_tests, key=lambda c: (order.get(c.status, 2), c.suite or ""))


def _replay_diffs(report: Report) -> list[Case]:
    """Failed cases that carry a recorded and a new answer (``battletest replay``): each gets
    a diff view — the differences, both answers side by side, the curl."""
    return [c for c in report.failed_tests if c.details.get("differences") is not None]


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


def _without_histograms(value: Any) -> Any:
    """A metric as a reader sees it: the encoded per-interval histograms (``hist``, kept in
    report.json for baselines) left out of the page, where they are only noise and bulk."""
    if isinstance(value, dict):
        return {k: _without_histograms(v) for k, v in value.items() if k != "hist"}
    if isinstance(value, list):
        return [_without_histograms(v) for v in value]
    return value


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


__all__ = [
    "FILENAME",
    "HISTOGRAM_FILE",
    "FailureGroup",
    "Recommendation",
    "dashboard",
    "duration_histogram",
    "failure_groups",
    "format_duration_ms",
    "format_value",
    "latency_histogram_chart",
    "problem_key",
    "recommendations",
    "render",
    "series_sparklines",
    "write",
]
