"""battletest run (every suite that applies) and scan against the third-party apps, full budgets.

    python bench/bench_thirdparty.py [--app kinto] [--examples 3] [--depth standard] [--keep DIR]

Starts each app of tests/thirdparty (``make thirdparty`` first) on loopback, makes Kinto's
accounts through its API, runs ``battletest run`` and ``battletest scan`` as child processes
and prints, per app: version, operations, per suite cases by status and time, the scan's check
runs / conclusive / findings, and the operations that got a 2xx according to the app's own
request journal. Exits 1 when a run crashed (exit code other than 0/1, a traceback, a suite in
error). The tests run the same with small budgets; this is where the longer runs live.
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
from tests.thirdparty.runs import (  # noqa: E402
    assert_completed,
    battletest,
    case_counts,
    coverage,
    suite_rows,
    target_args,
)


def bench_app(
    name: str, workdir: Path, examples: int, depth: str, table: list[str] | None = None
) -> bool:
    app = APPS[name]
    ok = True
    with serve(app, workdir / "app") as running:
        if name == "kinto":
            create_accounts(running)
        print(f"\n## {name} {app.version}: spec {running.spec_url}")
        for command in ("run", "scan"):
            folder = workdir / command
            config = write_config(folder, name)
            text = config.read_text().replace("examples = 1", f"examples = {examples}")
            config.write_text(text.replace('depth = "basic"', f'depth = "{depth}"'))
            argv = [command, "--config", str(config), *target_args(running)]
            argv += ["--no-history"] if command == "run" else ["--depth", depth]
            mark = running.journal_mark()
            start = time.monotonic()
            outcome = battletest(argv, folder)
            wall = time.monotonic() - start
            try:
                assert_completed(outcome)
                verdict = f"completed, exit {outcome.code}"
            except AssertionError as crash:
                ok, verdict = False, f"CRASHED: {str(crash).splitlines()[0]}"
            print(f"battletest {command}: {verdict} in {wall:.1f}s")
            for row in suite_rows(outcome.report) if outcome.report else []:
                print("  " + row)
            if table is not None and outcome.report:
                table += table_rows(f"{name} {command}", outcome.report, outcome.code, wall)
            seen = coverage(running, mark)
            print("  " + seen.line("journal"))
            print("  no 2xx: " + ", ".join(seen.not_succeeded))
    return ok


TABLE_HEAD = [
    "| app / command | suite | cases | failed | passed | skipped | inconclusive | time | "
    "failed threshold (limit → measured) |",
    "|---|---|---|---|---|---|---|---|---|",
]


def table_rows(label: str, report: dict[str, Any], code: int, wall: float) -> list[str]:
    """The summary table's rows of one invocation: one per suite, then its exit and wall time."""
    rows = []
    for suite in report["suites"]:
        n = case_counts(suite)
        failed = "; ".join(
            f"{r['threshold']} → {r['line'].split(': ', 1)[-1].replace(' (FAILED)', '')}"
            for r in (suite.get("metrics") or {}).get("threshold_results") or []
            if r.get("passed") is False
        )
        rows.append(
            f"| {label} | {suite['name']} | {len(suite['cases'])} | {n['failed'] + n['error']} | "
            f"{n['passed']} | {n['skipped']} | {n['inconclusive']} | "
            f"{suite['duration_s']:.1f} s | {failed or '–'} |"
        )
    rows.append(f"| {label} | (exit {code}) | | | | | | {wall:.1f} s wall | |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=sorted(APPS), action="append")
    parser.add_argument("--examples", type=int, default=3)
    parser.add_argument(
        "--depth", default="standard", choices=["basic", "standard", "comprehensive"]
    )
    parser.add_argument("--keep", type=Path, help="keep run folders and app logs here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-thirdparty-"))
    ok = True
    table: list[str] = []
    for name in args.app or sorted(APPS):
        try:
            ok = bench_app(name, base / name, args.examples, args.depth, table) and ok
        except pytest.fail.Exception as missing:
            print(f"{name}: {missing}")
            ok = False
    print("\n" + "\n".join([*TABLE_HEAD, *table]))
    print(f"\nrun folders under {base}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
