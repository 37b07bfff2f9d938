"""metrics.prom: parsed by prometheus_client's own parser; pushed to a loopback Pushgateway."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from battletest.errors import TargetUnreachable, UsageError
from battletest.netutil import free_port
from battletest.report import prom, write_run_folder
from battletest.results import Report, RunInfo, SuiteResult, utcnow

from .test_html import sample_report


def load_report(metrics: dict[str, Any]) -> Report:
    suite = SuiteResult(name="load", status="passed", metrics=metrics)
    return Report.build(RunInfo(id="r", started_at=utcnow(), version="t"), [suite], [])


def load_metrics(p50: float) -> dict[str, Any]:
    lat = {"p50": p50, "p90": p50 * 1.4, "p95": p50 * 1.5, "p99": p50 * 2, "p999": p50 * 3}
    return {
        "requests": 100,
        "rps": 50.0,
        "error_rate": 0.0,
        "latency_ms": lat,
        "endpoints": {"GET /a": {"rps": 50.0, "latency_ms": lat}},
        "baseline": {"score": 87, "regressions": 0},
    }


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_every_run_folder_has_a_parseable_metrics_prom(tmp_path: Path) -> None:
    report = sample_report()
    folder = write_run_folder(report, tmp_path)
    samples = _samples((folder / "metrics.prom").read_text())
    assert samples[("battletest_verdict_pass", ())] == 0.0
    assert samples[("battletest_gate_passed", (("gate", "pass_rate"),))] == 0.0
    assert samples[("battletest_gate_passed", (("gate", "load.p95_ms"),))] == 1.0
    assert ("battletest_gate_passed", (("gate", "coverage"),)) not in samples  # unmeasured
    assert samples[("battletest_findings", (("severity", "high"),))] == 1.0
    assert samples[("battletest_cases", (("status", "failed"), ("suite", "contract")))] == 1.0
    assert samples[("battletest_load_rps", ())] == pytest.approx(812.3)
    info = [k for k in samples if k[0] == "battletest_run_info"]
    assert dict(info[0][1])["run_id"] == report.run.id


def test_load_percentiles_per_endpoint_and_escaped_labels() -> None:
    metrics = load_metrics(10)
    metrics["endpoints"]['GET /a?q="x"\\y'] = metrics["endpoints"]["GET /a"]
    samples = _samples(prom.render(load_report(metrics)))
    assert samples[("battletest_load_latency_ms", (("quantile", "0.99"),))] == 20.0
    assert samples[("battletest_perf_score", ())] == 87.0
    key = ("endpoint", 'GET /a?q="x"\\y')
    assert samples[("battletest_load_endpoint_latency_ms", (key, ("quantile", "0.5")))] == 10.0


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200 if "/job/" in self.path else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_push_to_a_loopback_pushgateway() -> None:
    _Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = prom.push(sample_report(), f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        server.server_close()
    assert url.endswith("/metrics/job/battletest/profile/staging")
    path, ctype, body = _Gateway.received[0]
    assert path == "/metrics/job/battletest/profile/staging"
    assert ctype.startswith("text/plain; version=0.0.4")
    assert _samples(body.decode())[("battletest_verdict_pass", ())] == 0.0


def test_push_errors_are_clear() -> None:
    with pytest.raises(UsageError, match="not an http"):
        prom.push(sample_report(), "pushgateway:9091")
    with pytest.raises(TargetUnreachable, match="cannot reach the Pushgateway"):
        prom.push(sample_report(), f"http://127.0.0.1:{free_port()}", timeout=2)
