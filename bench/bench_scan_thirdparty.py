"""battletest scan at standard depth, identities only, against the third-party apps.

    python bench/bench_scan_thirdparty.py [--app kinto] [--depth standard] [--keep DIR]

Starts each app of tests/thirdparty (``make thirdparty`` first) on loopback, makes Kinto's
accounts through its API, runs ``battletest scan`` as a child process with the config
tests/thirdparty/configs.py writes from each app's documentation (identities and nothing
vulnerability-specific), and prints every finding: check, severity, operation, parameter and
one line of evidence, highest severity first, then the scan's notes. Each finding above low is meant to be verified
by hand (curl) and listed with its verdict in the closing note. Exits 1 when a scan crashed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402  (pytest.fail is what the harness raises for a missing venv)
from tests.thirdparty.apps import APPS, serve  # noqa: E402
from tests.thirdparty.configs import write_config  # noqa: E402
from tests.thirdparty.kinto_seed import create_accounts  # noqa: E402
from tests.thirdparty.runs import assert_completed, battletest, target_args  # noqa: E402

RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def evidence_line(finding: dict[str, Any]) -> str:
    """The finding's note (or its title) on one line, at most 160 characters."""
    evidence = finding.get("evidence") or {}
    text = str(evidence.get("note") or finding.get("title") or "")
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def finding_rows(report: dict[str, Any]) -> list[str]:
    """One line per finding of the security suite, highest severity first."""
    findings = [
        f for s in report.get("suites", []) if s["name"] == "security" for f in s["findings"]
    ]
    findings.sort(key=lambda f: (-RANK.get(f["severity"], 0), f["check_id"], f.get("path", "")))
    rows = []
    for f in findings:
        where = f"{f.get('method') or ''} {f.get('path') or ''}".strip() or "*"
        param = f" [{f['parameter']}]" if f.get("parameter") else ""
        rows.append(f"{f['severity']:<8} {f['check_id']:<22} {where}{param}: {evidence_line(f)}")
    return rows


def bench_app(name: str, workdir: Path, depth: str) -> bool:
    app = APPS[name]
    with serve(app, workdir / "app") as running:
        if name == "kinto":
            create_accounts(running)
        print(f"\n## {name} {app.version}: {running.url}")
        folder = workdir / "scan"
        config = write_config(folder, name, suites=["security"])
        config.write_text(config.read_text().replace('depth = "basic"', f'depth = "{depth}"'))
        argv = ["scan", "--config", str(config), *target_args(running), "--depth", depth]
        start = time.monotonic()
        outcome = battletest(argv, folder)
        wall = time.monotonic() - start
        try:
            assert_completed(outcome)
        except AssertionError as crash:
            print(f"battletest scan: CRASHED in {wall:.1f}s: {str(crash).splitlines()[0]}")
            return False
        rows = finding_rows(outcome.report)
        above = sum(1 for r in rows if not r.startswith(("low", "info")))
        print(
            f"battletest scan: exit {outcome.code} in {wall:.1f}s, {len(rows)} findings, {above} above low"
        )
        for row in rows:
            print("  " + row)
        for suite in outcome.report["suites"]:
            for note in (
                suite.get("metrics", {}).get("notes", []) if suite["name"] == "security" else []
            ):
                print(f"  note: {note}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=sorted(APPS), action="append")
    parser.add_argument(
        "--depth", default="standard", choices=["basic", "standard", "comprehensive"]
    )
    parser.add_argument("--keep", type=Path, help="keep scan folders and app logs here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-scan-thirdparty-"))
    ok = True
    for name in args.app or sorted(APPS):
        try:
            ok = bench_app(name, base / name, args.depth) and ok
        except pytest.fail.Exception as missing:
            print(f"{name}: {missing}")
            ok = False
    print(f"\nscan folders under {base}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
