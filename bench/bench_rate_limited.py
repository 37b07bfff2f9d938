"""`battletest scan` and `battletest run` on the rate-limited demo, with the unlimited demo beside.

Issue 18: with `battletest demo serve --insecure` at its default limits (120 requests/min per
client) and the config `--write-config` writes, both commands must find what they find on an
unlimited demo, with zero cases decided on a 429, and say how long the pacing made them take.

Each job starts its own insecure demo (fresh database and rate-limit state), writes its config
with `DemoHandle.write_config` — the file `demo serve --write-config` writes — and runs the
command as a user would, in a child process:

    battletest scan --config bt.toml --out DIR --json
    battletest run  --config bt.toml --out DIR --no-history      (every suite it enables)

Printed per job: planted vulnerabilities found / 18 (tests/security/demo_truth.py; under `run`
also an auth-suite failure of the same kind: its `alg none:`, `expired token:` and `rbac:`
cases own those checks there), per suite the cases, the inconclusive ones, the cases decided on
a 429 (a passed or failed case whose answers include a 429, or whose message names one) and the
time; the security suite's conclusive check runs; the pacing time the run reported; and the 429
answers the demo itself counted (its /metrics), which must be 0 where the limits are declared.

    .venv/bin/python bench/bench_rate_limited.py [--jobs scan,run] [--limits default,unlimited]
                                                 [--sequential] [--json FILE]

The four jobs run side by side by default (each paced job mostly waits; about 9 min in all on
the 2-core machine). Exits 1 when a case was decided on a 429, the demo answered a 429 under
declared limits, or the paced command found fewer planted vulnerabilities than the unlimited.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.security.demo_truth import IN_SCOPE  # noqa: E402  (the ground truth the tests use)

BATTLETEST = ROOT / ".venv" / "bin" / "battletest"
LIMITS: dict[str, dict[str, Any]] = {
    "default": {},  # the demo's own: 120 requests / 60 s per client, like `demo serve`
    "unlimited": {"rate_limit": False},  # `demo serve --no-rate-limit`
}
# under `run` the auth suite owns these checks (the scanner skips them): its failed cases count
AUTH_CASES = {"alg none:": "jwt_alg_none", "expired token:": "no_token_expiry", "rbac:": "bfla"}
NAMES_429 = re.compile(r"(HTTP|status|answered|→) 429\b|\(429\)|429 Too Many|rate limited")


def found(report: dict[str, Any]) -> set[str]:
    """The planted vulnerabilities a report shows: a finding of one of their checks, or a failed
    auth-suite case of the kind the auth suite owns under `run`."""
    checks = {f["check_id"] for s in report["suites"] for f in s.get("findings", [])}
    out = {item for item, ids in IN_SCOPE.items() if ids & checks}
    for suite in report["suites"]:
        if suite["name"] != "auth":
            continue
        for case in suite["cases"]:
            for prefix, item in AUTH_CASES.items():
                if case["status"] == "failed" and case["name"].startswith(prefix):
                    out.add(item)
    return out


def decided_on_429(case: dict[str, Any]) -> bool:
    if case["status"] not in ("passed", "failed"):
        return False
    statuses = (case.get("details") or {}).get("statuses") or {}
    message = (case.get("message") or "").split("(documented:")[0]
    return "429" in statuses or bool(NAMES_429.search(message))


def inconclusive(case: dict[str, Any]) -> bool:
    details = case.get("details") or {}
    return details.get("outcome") == "inconclusive" or details.get("conclusive") is False


def answered_429(base_url: str) -> int:
    """The 429 answers the demo counted (its Prometheus /metrics)."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("concierge_requests_total") and 'status="429"' in line
    )


def paced_s(report: dict[str, Any]) -> float:
    notes = [*report["run"].get("notes", [])]
    for s in report["suites"]:
        notes += (s.get("metrics") or {}).get("notes") or []
    waited = [float(m.group(1)) for n in notes for m in [re.search(r"waited ([\d.]+)s", n)] if m]
    return max(waited, default=0.0)


def run_job(command: str, limits: str) -> dict[str, Any]:
    from battletest.demo import start

    with start(insecure=True, **LIMITS[limits]) as demo:
        folder = Path(tempfile.mkdtemp(prefix=f"bt-rl-{command}-{limits}-"))
        config = demo.write_config(folder / "bt.toml")
        out = folder / "out"
        argv = [str(BATTLETEST), command, "--config", str(config), "--out", str(out)]
        argv += ["--json"] if command == "scan" else ["--no-history"]
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=folder, check=False)
        wall = time.perf_counter() - started
        refused = answered_429(demo.base_url)
    [report_path] = [p for p in out.glob("*/report.json") if p.parent.name != "latest"]
    report = json.loads(report_path.read_text())
    suites = []
    for s in report["suites"]:
        if not s["cases"] and s["status"] == "skipped":
            continue  # not run (pytest without a path)
        suites.append(
            {
                "suite": s["name"],
                "cases": len(s["cases"]),
                "inconclusive": sum(inconclusive(c) for c in s["cases"]),
                "decided_on_429": [c["name"] for c in s["cases"] if decided_on_429(c)],
                "time_s": round(s.get("duration_s", 0.0), 1),
            }
        )
    return {
        "command": command,
        "limits": limits,
        "exit": proc.returncode,
        "wall_s": round(wall, 1),
        "paced_s": paced_s(report),
        "found": sorted(found(report)),
        "target_429s": refused,
        "suites": suites,
        "folder": str(report_path.parent),
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| command | demo limits | found | suite: cases / inconclusive / decided on 429 / time "
        "| wall | pacing | 429s the demo sent | exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = "; ".join(
            f"{s['suite']}: {s['cases']} / {s['inconclusive']} / {len(s['decided_on_429'])} / "
            f"{s['time_s']} s"
            for s in r["suites"]
        )
        limit = "120/min per client" if r["limits"] == "default" else "none"
        lines.append(
            f"| {r['command']} | {limit} | {len(r['found'])}/{len(IN_SCOPE)} | {cells} | "
            f"{r['wall_s']} s | {r['paced_s']} s | {r['target_429s']} | {r['exit']} |"
        )
    return "\n".join(lines)


def problems(results: list[dict[str, Any]]) -> list[str]:
    out = []
    by = {(r["command"], r["limits"]): r for r in results}
    for r in results:
        for s in r["suites"]:
            if s["decided_on_429"]:
                out.append(
                    f"{r['command']}/{r['limits']}: {s['suite']} decided on a 429: {s['decided_on_429'][:3]}"
                )
        if r["limits"] == "default" and r["target_429s"]:
            out.append(
                f"{r['command']}: the demo answered {r['target_429s']} 429s under declared limits"
            )
        free = by.get((r["command"], "unlimited"))
        if r["limits"] == "default" and free is not None:
            lost = sorted(set(free["found"]) - set(r["found"]))
            if lost:
                out.append(f"{r['command']}: the paced run missed {', '.join(lost)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="scan,run")
    parser.add_argument("--limits", default="default,unlimited")
    parser.add_argument("--sequential", action="store_true", help="one job at a time")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    jobs = [(c, lim) for c in args.jobs.split(",") for lim in args.limits.split(",")]
    results: dict[tuple[str, str], dict[str, Any]] = {}

    def one(command: str, limits: str) -> None:
        results[(command, limits)] = run_job(command, limits)

    if args.sequential:
        for job in jobs:
            one(*job)
    else:
        threads = [threading.Thread(target=one, args=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ordered = [results[j] for j in jobs if j in results]
    print(table(ordered))
    for r in ordered:
        missed = sorted(set(IN_SCOPE) - set(r["found"]))
        sec = next((s for s in r["suites"] if s["suite"] == "security"), None)
        share = f"{sec['cases'] - sec['inconclusive']}/{sec['cases']}" if sec else "-"
        print(
            f"{r['command']}/{r['limits']}: security check runs conclusive {share}; missed "
            f"{', '.join(missed) or 'nothing'} ({r['folder']})"
        )
    if args.json:
        args.json.write_text(json.dumps(ordered, indent=2))
    bad = problems(ordered)
    for p in bad:
        print("PROBLEM:", p)
    return 1 if bad or len(ordered) < len(jobs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
