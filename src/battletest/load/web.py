"""The live web view of a load run: ``battletest load --web [127.0.0.1:8089]``.

A page served while the test runs: requests/s, p50/p95/p99, errors and active VUs per second
(and requests per worker, on Dask or local worker processes), the thresholds turning red as
they break, a per-endpoint table, and a stop button that ends the run as Ctrl-C does (partial
results kept, exit 130). The page draws itself with inline JS and CSS (no CDN: it works
offline) from a Server-Sent Events stream, one frame per closed second. When the run is over
the page links to the run folder's report.html, which this server then serves.

It listens on loopback by default. Another address needs ``allow_remote`` and a token, as the
fault proxy's control API does (``netutil.guard_control_bind``); with a token every request
must carry it (``?token=`` or the ``X-Battletest-Token`` header). Without one the page still
gets a random per-run token for its stop button, and requests whose ``Host`` is not the bound
address are refused, so another web page in the same browser cannot stop the run.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from battletest.errors import UsageError
from battletest.netutil import guard_control_bind, is_loopback_host, token_matches

if TYPE_CHECKING:
    from battletest.load.coordinator import _Session
    from battletest.load.result import LoadResult

DEFAULT_BIND = "127.0.0.1:8089"
MAX_ENDPOINTS = 50  # the table's rows: a spec-driven run may have hundreds
LINGER_S = 5.0  # after the run: how long a connected page may take to fetch report.html


def parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "8089"
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--web {text!r}: not HOST:PORT", hint="e.g. --web 127.0.0.1:8089")
    return host, int(port)


class LiveView:
    """A ``coordinator.Watcher`` that serves what it sees; ``stop`` is the run's stop event."""

    def __init__(
        self,
        bind: str = DEFAULT_BIND,
        *,
        stop: threading.Event,
        allow_remote: bool = False,
        token: str | None = None,
        planned_s: float = 0.0,
    ) -> None:
        host, port = parse_bind(bind)
        guard_control_bind(
            host,
            allow_remote=allow_remote,
            token=token,
            what="the live web view",
            token_hint="--web-token TOKEN (or BATTLETEST_WEB_TOKEN)",
        )
        self.host, self.port = host, port
        self.required_token = token  # every request must carry it (a remote bind)
        self.page_token = token or secrets.token_urlsafe(16)  # the stop button's
        self.stop = stop
        self.planned_s = planned_s
        self.frames: list[dict[str, Any]] = []
        self.end: dict[str, Any] | None = None
        self.changed = threading.Condition()
        self.per_worker: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.report_path: Path | None = None
        self.report_fetched = threading.Event()
        self.clients = 0
        self.stopped_from_page = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.interval = 1.0

    # -- the Watcher side (called from the coordinator's thread) --------------------------

    def snapshot(self, snap: dict[str, Any]) -> None:
        key = max(int(float(snap["elapsed"]) // self.interval), 1)
        requests = sum(int(ep["requests"]) for ep in snap["endpoints"])
        self.per_worker[key][int(snap.get("worker", 0))] += requests

    def second(self, session: _Session, keys: list[int]) -> None:
        agg = session.agg
        rows = [
            {"threshold": r.threshold.source, "passed": r.passed, "line": r.line}
            for r in agg.evaluate(session.checks, final=False)
        ]
        endpoints = []
        for name in agg.names[:MAX_ENDPOINTS]:
            m = agg.per_endpoint[name]
            if not m.requests:
                endpoints.append({"name": name, "requests": 0, "failed": 0})
                continue
            from battletest.load import histogram

            pct = histogram.percentiles_ms(m.hist, [50.0, 95.0, 99.0])
            endpoints.append(
                {
                    "name": name,
                    "requests": m.requests,
                    "failed": m.failed,
                    "p50": round(pct[50.0], 3),
                    "p95": round(pct[95.0], 3),
                    "p99": round(pct[99.0], 3),
                }
            )
        frames = []
        for key in keys:
            if key not in agg.samples:
                continue
            s = agg.sample(key)
            frames.append(
                {
                    "t": s.t,
                    "rps": s.rps,
                    "p50": s.p50,
                    "p95": s.p95,
                    "p99": s.p99,
                    "errors": s.errors,
                    "vus": s.vus,
                    "requests": s.requests,
                    "workers": {str(w): n for w, n in sorted(self.per_worker.pop(key, {}).items())},
                }
            )
        if not frames:
            return
        frames[-1].update(
            thresholds=rows,
            endpoints=endpoints,
            total={
                "requests": agg.total.requests,
                "failed": agg.total.failed,
                "dropped": agg.dropped,
            },
            warnings=list(session.warnings),
            planned=self.planned_s,
        )
        with self.changed:
            self.frames.extend(frames)
            self.changed.notify_all()

    def finish(self, result: LoadResult, report: Path | None) -> None:
        """The run is over: the last figures, and where its report.html is."""
        self.report_path = report
        with self.changed:
            self.end = {
                "interrupted": result.interrupted,
                "aborted": result.aborted,
                "passed": result.passed,
                "requests": result.requests,
                "failed": result.failed,
                "dropped": result.dropped_iterations,
                "p95": result.latency_ms.p95,
                "p99": result.latency_ms.p99,
                "thresholds": [
                    {"threshold": r.threshold, "passed": r.passed, "line": r.line}
                    for r in result.thresholds
                ],
                "warnings": result.warnings,
                "report": "/report.html" if report is not None and report.exists() else None,
            }
            self.changed.notify_all()

    def linger(self, timeout: float = LINGER_S) -> None:
        """Give a connected page the time to show the end and fetch report.html."""
        if self.clients and self.end is not None and self.end.get("report"):
            self.report_fetched.wait(timeout)

    # -- the server -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = f"/?token={self.required_token}" if self.required_token else "/"
        return f"http://{host}:{self.port}{suffix}"

    def start(self) -> str:
        view = self

        class Handler(_Handler):
            live = view

        try:
            server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise UsageError(
                f"--web cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
                hint="pick another port, e.g. --web 127.0.0.1:0",
            ) from None
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self.url

    def close(self) -> None:
        with self.changed:
            if self.end is None:
                self.end = {"closed": True}
            self.changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LiveView:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _loopback_literal(host: str) -> bool:
    """``localhost`` or a loopback IP, never resolved: a DNS-rebinding name resolves to
    127.0.0.1 too, and the check is there to refuse it."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    live: LiveView
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the engine never prints
        return

    def _allowed(self) -> bool:
        live = self.live
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        if is_loopback_host(live.host) and not _loopback_literal(host):
            self._send(403, b"forbidden: Host is not loopback\n", "text/plain")
            return False
        if live.required_token:
            query = parse_qs(urlsplit(self.path).query)
            headers = {k.lower(): v for k, v in self.headers.items()}
            given = query.get("token", [""])[0]
            if not token_matches(headers, live.required_token) and not (
                given and token_matches({"x-battletest-token": given}, live.required_token)
            ):
                self._send(401, b"token required\n", "text/plain")
                return False
        return True

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if path == "/":
            page = PAGE.replace("__TOKEN__", json.dumps(self.live.page_token))
            self._send(200, page.encode(), "text/html; charset=utf-8")
        elif path == "/events":
            self._events()
        elif path == "/state":
            live = self.live
            with live.changed:
                body = {"frames": live.frames, "end": live.end}
            self._send(200, json.dumps(body).encode(), "application/json")
        elif path == "/report.html" and self.live.report_path is not None:
            data = self.live.report_path.read_bytes()
            self._send(200, data, "text/html; charset=utf-8")
            self.live.report_fetched.set()
        else:
            self._send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        if not self._allowed():
            return
        if urlsplit(self.path).path != "/stop":
            self._send(404, b"not found\n", "text/plain")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not token_matches(headers, self.live.page_token):
            self._send(403, b"the stop button's token is missing\n", "text/plain")
            return
        self.live.stopped_from_page = True
        self.live.stop.set()  # as Ctrl-C: the coordinator stops the workers gracefully
        self._send(202, b'{"stopping": true}', "application/json")

    def _events(self) -> None:
        live = self.live
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent = 0
        live.clients += 1
        try:
            while True:
                with live.changed:
                    if sent == len(live.frames) and live.end is None:
                        live.changed.wait(1.0)
                    frames = live.frames[sent:]
                    end = live.end
                sent += len(frames)
                chunk = "".join(f"data: {json.dumps(f)}\n\n" for f in frames)
                if end is not None:
                    chunk += f"event: end\ndata: {json.dumps(end)}\n\n"
                self.wfile.write((chunk or ": keep-alive\n\n").encode())
                self.wfile.flush()
                if end is not None:
                    return
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            live.clients -= 1


def wait_for_frames(view: LiveView, count: int, timeout: float) -> bool:
    """Block until ``count`` frames were published (tests and scripts)."""
    deadline = time.monotonic() + timeout
    with view.changed:
        while len(view.frames) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            view.changed.wait(left)
    return True


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>battletest load — live</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 8px} .muted{color:#666}
.row{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}
.card b{display:block;font-size:20px}
canvas{background:#fff;border:1px solid #ddd;border-radius:6px;margin-top:10px}
table{border-collapse:collapse;margin-top:10px;background:#fff}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} td:first-child{text-align:left}
.fail{color:#fff;background:#c62828} .pass{background:#e8f5e9} .na{background:#eee}
button{font-size:15px;padding:6px 16px;background:#c62828;color:#fff;border:0;border-radius:4px}
button:disabled{background:#999} #end{margin-top:12px;font-weight:bold}
</style></head><body>
<h1>battletest load <span class="muted" id="status">connecting…</span></h1>
<div class="row">
<div class="card">elapsed<b id="elapsed">0 s</b></div>
<div class="card">requests/s<b id="rps">–</b></div>
<div class="card">p50 / p95 / p99 ms<b id="pct">–</b></div>
<div class="card">errors<b id="errors">0</b></div>
<div class="card">active VUs<b id="vus">0</b></div>
<div class="card">requests<b id="requests">0</b></div>
<div class="card">dropped<b id="dropped">0</b></div>
<div class="card"><button id="stop">Stop the run</button></div>
</div>
<canvas id="chart-rps" width="900" height="160"></canvas>
<canvas id="chart-lat" width="900" height="160"></canvas>
<h2>Thresholds</h2><table id="thresholds"><tbody></tbody></table>
<h2>Endpoints</h2><table id="endpoints"><thead><tr><th>endpoint</th><th>requests</th>
<th>failed</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></thead><tbody></tbody></table>
<h2>Workers (requests in the last second)</h2><table id="workers"><tbody></tbody></table>
<ul id="warnings"></ul>
<div id="end"></div>
<script>
"use strict";
const TOKEN = __TOKEN__;
const query = new URLSearchParams(location.search).get("token");
const suffix = query ? "?token=" + encodeURIComponent(query) : "";
const frames = [];
const $ = (id) => document.getElementById(id);
function cell(tr, text, cls) {
  const td = document.createElement("td"); td.textContent = text;
  if (cls) td.className = cls; tr.appendChild(td); return td;
}
function draw(id, series, colors, label) {
  const c = $(id), g = c.getContext("2d"), w = c.width, h = c.height;
  g.clearRect(0, 0, w, h); g.fillStyle = "#666"; g.fillText(label, 8, 14);
  const all = series.flat(); const top = Math.max(1e-9, ...all) * 1.1;
  series.forEach((s, k) => {
    g.strokeStyle = colors[k]; g.beginPath();
    s.forEach((v, i) => {
      const x = 40 + (w - 50) * (s.length > 1 ? i / (s.length - 1) : 0);
      const y = h - 10 - (h - 30) * v / top;
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  });
  g.fillText(top.toFixed(1), 2, 26);
}
function thresholds(rows) {
  const body = $("thresholds").tBodies[0]; body.textContent = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.className = r.passed === false ? "fail" : r.passed ? "pass" : "na";
    tr.dataset.threshold = r.threshold;
    cell(tr, r.threshold); cell(tr, r.passed === false ? "FAIL" : r.passed ? "ok" : "n/a");
    cell(tr, r.line); body.appendChild(tr);
  }
}
function show(f) {
  frames.push(f);
  $("status").textContent = "running";
  $("elapsed").textContent = f.t.toFixed(0) + " s" + (f.planned ? " / " + f.planned + " s" : "");
  $("rps").textContent = f.rps.toFixed(1);
  $("pct").textContent = [f.p50, f.p95, f.p99].map((v) => v.toFixed(2)).join(" / ");
  $("vus").textContent = f.vus;
  $("errors").textContent = frames.reduce((a, x) => a + x.errors, 0);
  if (f.total) {
    $("requests").textContent = f.total.requests; $("dropped").textContent = f.total.dropped;
  }
  if (f.thresholds) thresholds(f.thresholds);
  if (f.endpoints) {
    const body = $("endpoints").tBodies[0]; body.textContent = "";
    for (const e of f.endpoints) {
      const tr = document.createElement("tr");
      cell(tr, e.name); cell(tr, e.requests); cell(tr, e.failed, e.failed ? "fail" : "");
      for (const k of ["p50", "p95", "p99"]) cell(tr, e[k] === undefined ? "–" : e[k]);
      body.appendChild(tr);
    }
  }
  const wb = $("workers").tBodies[0]; wb.textContent = "";
  for (const [w, n] of Object.entries(f.workers || {})) {
    const tr = document.createElement("tr"); cell(tr, "worker " + w); cell(tr, n);
    wb.appendChild(tr);
  }
  if (f.warnings) {
    $("warnings").textContent = "";
    for (const w of f.warnings) {
      const li = document.createElement("li"); li.textContent = w; $("warnings").appendChild(li);
    }
  }
  draw("chart-rps", [frames.map((x) => x.rps)], ["#1565c0"], "requests/s");
  draw("chart-lat", [frames.map((x) => x.p50), frames.map((x) => x.p95),
    frames.map((x) => x.p99)], ["#2e7d32", "#ef6c00", "#c62828"], "p50 / p95 / p99 ms");
}
const source = new EventSource("/events" + suffix);
source.onmessage = (e) => show(JSON.parse(e.data));
source.addEventListener("end", (e) => {
  source.close();
  const end = JSON.parse(e.data);
  $("stop").disabled = true;
  if (end.closed) { $("status").textContent = "closed"; return; }
  if (end.thresholds) thresholds(end.thresholds);
  const verdict = end.interrupted ? "interrupted" : end.aborted ? "aborted" :
    end.passed ? "passed" : "thresholds failed";
  $("status").textContent = "ended: " + verdict;
  const box = $("end");
  box.textContent = "run " + verdict + ": " + end.requests + " requests, " + end.failed +
    " failed, " + end.dropped + " dropped, p95 " + end.p95 + " ms, p99 " + end.p99 + " ms. ";
  if (end.report) {  // kept as a blob: the server stops soon after the run
    fetch(end.report + suffix).then((r) => r.blob()).then((blob) => {
      const a = document.createElement("a"); a.id = "report"; a.textContent = "report.html";
      a.href = URL.createObjectURL(new Blob([blob], {type: "text/html"}));
      a.target = "_blank"; box.appendChild(a);
    }).catch(() => { box.append("(report.html: see the run folder)"); });
  }
});
source.onerror = () => { $("status").textContent = "reconnecting…"; };
$("stop").onclick = async () => {
  $("stop").disabled = true; $("status").textContent = "stopping…";
  await fetch("/stop" + suffix, {method: "POST", headers: {"X-Battletest-Token": TOKEN}});
};
</script></body></html>
"""
