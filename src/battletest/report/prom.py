"""metrics.prom: the run's figures in the Prometheus text exposition format (0.0.4).

Written into every run folder (node_exporter's textfile collector can pick it up) and, with
``push(report, url)``, sent to a Pushgateway (``PUT URL/metrics/job/battletest/profile/P``).
Every series is a gauge named ``battletest_*``; labels are escaped as the format requires.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from battletest.errors import TargetUnreachable, UsageError
from battletest.redact import Redactor
from battletest.results import Report, Severity, Status

FILENAME = "metrics.prom"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_QUANTILES = (("p50", "0.5"), ("p90", "0.9"), ("p95", "0.95"), ("p99", "0.99"), ("p999", "0.999"))

_HELP: dict[str, str] = {
    "battletest_run_info": "The run (value 1): id, profile, mode, version, target.",
    "battletest_verdict_pass": "1 when every gate passed, 0 when one failed.",
    "battletest_cases": "Cases by suite and status.",
    "battletest_success_rate_percent": "Percent of executed cases that passed.",
    "battletest_suite_duration_seconds": "Wall time of each suite.",
    "battletest_gate_passed": "1 pass, 0 fail for each measured gate.",
    "battletest_findings": "Security findings by severity.",
    "battletest_load_requests": "Requests the load suite sent.",
    "battletest_load_failed_requests": "Load requests that failed.",
    "battletest_load_rps": "Load throughput (requests per second).",
    "battletest_load_error_rate": "Fraction of load requests that failed.",
    "battletest_load_latency_ms": "Load latency percentiles (merged histogram), milliseconds.",
    "battletest_load_endpoint_latency_ms": "Per-endpoint latency percentiles, milliseconds.",
    "battletest_load_endpoint_rps": "Per-endpoint throughput.",
    "battletest_perf_score": "Performance score 0-100 against the baseline.",
    "battletest_perf_regressions": "Metrics judged regressed against the baseline.",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _samples(report: Report) -> Iterator[tuple[str, dict[str, str], float]]:
    run = report.run
    yield (
        "battletest_run_info",
        {
            "run_id": run.id,
            "profile": run.profile,
            "mode": run.mode,
            "version": run.version,
            "target": run.target or "",
        },
        1.0,
    )
    yield "battletest_verdict_pass", {}, 1.0 if report.summary.verdict == "pass" else 0.0
    yield "battletest_success_rate_percent", {}, report.summary.success_rate
    for suite in report.suites:
        for status in Status:
            n = sum(1 for c in suite.cases if c.status is status)
            yield "battletest_cases", {"suite": suite.name, "status": status.value}, float(n)
        yield "battletest_suite_duration_seconds", {"suite": suite.name}, suite.duration_s
    for gate in report.gates:
        if gate.passed is not None:
            yield "battletest_gate_passed", {"gate": gate.name}, 1.0 if gate.passed else 0.0
    findings = [f for s in report.suites for f in s.findings]
    for sev in Severity:
        yield (
            "battletest_findings",
            {"severity": sev.value},
            float(sum(1 for f in findings if f.severity is sev)),
        )
    load = next((s for s in report.suites if s.name == "load"), None)
    if load is not None:
        yield from _load_samples(load.metrics)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _load_samples(m: dict[str, Any]) -> Iterator[tuple[str, dict[str, str], float]]:
    for key, name in (
        ("requests", "battletest_load_requests"),
        ("failed", "battletest_load_failed_requests"),
        ("rps", "battletest_load_rps"),
        ("error_rate", "battletest_load_error_rate"),
    ):
        v = _num(m.get(key))
        if v is not None:
            yield name, {}, v
    lat = _dict(m.get("latency_ms"))
    for key, q in _QUANTILES:
        v = _num(lat.get(key))
        if v is not None:
            yield "battletest_load_latency_ms", {"quantile": q}, v
    endpoints = _dict(m.get("endpoints"))
    for ep, data in sorted(endpoints.items()):
        if not isinstance(data, dict):
            continue
        ep_lat = _dict(data.get("latency_ms"))
        for key, q in _QUANTILES:
            v = _num(ep_lat.get(key))
            if v is not None:
                yield "battletest_load_endpoint_latency_ms", {"endpoint": ep, "quantile": q}, v
        rps = _num(data.get("rps"))
        if rps is not None:
            yield "battletest_load_endpoint_rps", {"endpoint": ep}, rps
    base = _dict(m.get("baseline"))
    score, regressions = _num(base.get("score")), _num(base.get("regressions"))
    if score is not None:
        yield "battletest_perf_score", {}, score
    if regressions is not None:
        yield "battletest_perf_regressions", {}, regressions


def render(report: Report) -> str:
    """The exposition text: one ``# HELP``/``# TYPE gauge`` block per metric family."""
    families: dict[str, list[str]] = {}
    for name, labels, value in _samples(report):
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        line = f"{name}{{{label_text}}} {_number(value)}" if labels else f"{name} {_number(value)}"
        families.setdefault(name, []).append(line)
    out: list[str] = []
    for name, lines in families.items():
        out.append(f"# HELP {name} {_HELP[name]}")
        out.append(f"# TYPE {name} gauge")
        out.extend(lines)
    return "\n".join(out) + "\n"


def write(report: Report, folder: Path) -> Path:
    path = folder / FILENAME
    path.write_text(render(report), encoding="utf-8")
    return path


def push(
    report: Report,
    gateway: str,
    *,
    job: str = "battletest",
    timeout: float = 10.0,
    redactor: Redactor | None = None,
) -> str:
    """PUT the metrics of a redacted copy of ``report`` to a Pushgateway (grouped by job and
    profile); return the URL used."""
    import httpx

    safe = redactor or Redactor()

    if not gateway.startswith(("http://", "https://")):
        raise UsageError(
            f"--push {gateway!r} is not an http(s) URL", hint="e.g. --push http://pushgateway:9091"
        )
    url = f"{gateway.rstrip('/')}/metrics/job/{job}/profile/{report.run.profile}"
    try:
        response = httpx.put(
            url,
            content=render(safe.report(report)).encode("utf-8"),
            headers={"Content-Type": CONTENT_TYPE},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            safe.text(f"cannot reach the Pushgateway at {gateway}: {exc}"),
            hint="check the --push URL and that the Pushgateway is running",
        ) from None
    if response.status_code >= 300:
        raise UsageError(
            f"the Pushgateway answered {response.status_code} to PUT {url}",
            hint="check the --push URL (the Pushgateway's base URL, e.g. http://host:9091)",
        )
    return url


__all__ = ["CONTENT_TYPE", "FILENAME", "push", "render", "write"]
