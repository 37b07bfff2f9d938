"""report.html at scale: a run with 1,000 cases, 100 findings and a 10-minute load series.

Goals: the page is under 2 MB and Chromium's navigation-to-load time (``performance.timing``,
read through selenium, median of 5 loads) is under 1 s. The peer, run side by side: pytest-html
4.2 (``--self-contained-html``, from ``.venv-peers``) for a pytest session with the same 1,000
tests, loaded in the same browser. Also printed: render time of battletest's page.

Exit 1 when a goal is missed or the peer did not run.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEER_REQUIREMENT = "pytest-html==4.2.0"
CASES, FINDINGS, SECONDS = 1000, 100, 600
MAX_BYTES, MAX_LOAD_MS = 2 * 1024 * 1024, 1000.0


def big_report() -> Any:
    from battletest.results import (
        Case,
        Finding,
        GateResult,
        Report,
        RunInfo,
        Severity,
        Status,
        SuiteResult,
    )

    rng = random.Random(42)
    statuses = (
        [Status.PASSED] * 90 + [Status.FAILED] * 5 + [Status.SKIPPED] * 3 + [Status.ERROR] * 2
    )
    suites = []
    for s in range(5):
        cases = []
        for i in range(CASES // 5):
            st = rng.choice(statuses)
            cases.append(
                Case(
                    name=f"GET /resource{s}/{{id}} case {i} matches the schema",
                    status=st,
                    duration_ms=rng.lognormvariate(2, 1),
                    message="" if st is Status.PASSED else "expected 200, got 500: internal error",
                    reproduce=None
                    if st is Status.PASSED
                    else f"curl 'http://127.0.0.1:8000/r{s}/{i}'",
                    details={} if st is Status.PASSED else {"status": 500, "body": {"error": "x"}},
                )
            )
        suites.append(SuiteResult.from_cases(f"suite{s}", cases, 3.0))
    sev = list(Severity)
    findings = [
        Finding(
            check_id=f"check.{i % 20}",
            title=f"Finding {i}: parameter reflected without encoding",
            severity=sev[i % len(sev)],
            method="GET",
            path=f"/items/{i}",
            parameter="q",
            evidence={"request": f"GET /items/{i}?q=%3Cscript%3E", "response": "<script>" * 5},
            reproduce=f"curl 'http://127.0.0.1:8000/items/{i}?q=%3Cscript%3E'",
            remediation="Encode output for its context.",
        )
        for i in range(FINDINGS)
    ]
    suites.append(SuiteResult(name="security", status=Status.FAILED, findings=findings))
    series = [
        {
            "t": float(i + 1),
            "rps": round(800 + rng.gauss(0, 30), 1),
            "p50": round(10 + rng.gauss(0, 0.5), 3),
            "p95": round(25 + rng.gauss(0, 2), 3),
            "p99": round(40 + rng.gauss(0, 4), 3),
            "errors": rng.randint(0, 2),
            "vus": 50,
        }
        for i in range(SECONDS)
    ]
    lat = {
        "min": 1.0,
        "mean": 12.0,
        "p50": 10.0,
        "p90": 20.0,
        "p95": 25.0,
        "p99": 40.0,
        "p999": 80.0,
        "max": 200.0,
    }
    ep = {"requests": 96000, "failed": 20, "error_rate": 0.0002, "rps": 160.0, "latency_ms": lat}
    load = SuiteResult(
        name="load",
        status=Status.PASSED,
        duration_s=SECONDS,
        metrics={
            "requests": 480000,
            "failed": 100,
            "error_rate": 0.0002,
            "rps": 800.0,
            "latency_ms": lat,
            "series": series,
            "endpoints": {f"GET /resource{i}": ep for i in range(5)},
        },
    )
    started = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    run = RunInfo(
        id="bench",
        started_at=started,
        finished_at=started + timedelta(minutes=12),
        version="bench",
        target="http://127.0.0.1:8000",
    )
    gates = [GateResult(name="max_failed_cases", limit=0, measured=50, passed=False)]
    return Report.build(run, [*suites, load], gates)


def peer_html(work: Path) -> Path | None:
    if not PEER_PYTHON.exists():
        print(f"peer missing: {PEER_PYTHON} (make bench installs .venv-peers)")
        return None
    has_peer = subprocess.run([str(PEER_PYTHON), "-c", "import pytest_html"], capture_output=True)
    if has_peer.returncode != 0:  # the peers venv comes from `make bench`; add the HTML peer
        subprocess.run(
            [str(PEER_PYTHON), "-m", "pip", "install", "--quiet", PEER_REQUIREMENT], check=False
        )
    tests = work / "test_many.py"
    tests.write_text(
        "import pytest\n\n"
        f"@pytest.mark.parametrize('i', range({CASES}))\n"
        "def test_case(i):\n"
        "    assert i % 20 != 7, 'expected 200, got 500: internal error'\n",
        encoding="utf-8",
    )
    out = work / "peer.html"
    proc = subprocess.run(
        [
            str(PEER_PYTHON),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tests),
            f"--html={out}",
            "--self-contained-html",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if not out.is_file():
        print("pytest-html did not run:", proc.stdout[-1500:], proc.stderr[-1500:])
        return None
    return out


def load_times_ms(paths: list[Path], rounds: int = 5) -> dict[Path, float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "1"
    profile = tempfile.mkdtemp(prefix="bench-report-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    out: dict[Path, list[float]] = {p: [] for p in paths}
    try:
        for _ in range(rounds):
            for p in paths:  # interleaved so machine noise hits both alike
                driver.get("about:blank")
                driver.get(p.as_uri())
                ms = driver.execute_script(
                    "var t = performance.timing; return t.loadEventEnd - t.navigationStart;"
                )
                out[p].append(float(ms))
    finally:
        driver.quit()
    return {p: statistics.median(v) for p, v in out.items()}


def main() -> int:
    from battletest.report import html as report_html

    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    report = big_report()
    t0 = time.perf_counter()
    ours = report_html.write(report, work)
    render_s = time.perf_counter() - t0
    peer = peer_html(work)
    paths = [ours] + ([peer] if peer else [])
    times = load_times_ms(paths)
    size = ours.stat().st_size
    print(
        f"{CASES} cases, {FINDINGS} findings, {SECONDS} s load series; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(f"{'report':<34}{'size':>12}{'nav→load ms':>14}")
    print(f"{'battletest report.html':<34}{size / 1024:>10.0f} KB{times[ours]:>14.0f}")
    if peer:
        print(
            f"{'pytest-html 4.2 (same 1,000 tests)':<34}{peer.stat().st_size / 1024:>10.0f} KB"
            f"{times[peer]:>14.0f}"
        )
        print(f"ratio battletest / pytest-html load time: {times[ours] / times[peer]:.2f}")
    print(f"battletest render time: {render_s * 1000:.0f} ms")
    ok = True
    if size >= MAX_BYTES:
        print(f"GOAL MISSED: report.html is {size} bytes (limit {MAX_BYTES})")
        ok = False
    if times[ours] >= MAX_LOAD_MS:
        print(f"GOAL MISSED: navigation-to-load {times[ours]:.0f} ms (limit {MAX_LOAD_MS:.0f})")
        ok = False
    if peer is None:
        print("FAILED: the peer (pytest-html) did not run")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
