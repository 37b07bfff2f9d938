"""Run every benchmark in bench/ (files named bench_*.py) and fail if any of them failed.

Each benchmark prints its own table and exits non-zero when a peer did not run or a goal was
missed. ``python bench/run.py NAME`` runs only the benchmarks whose file name contains NAME.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = argv[1:] if len(argv) > 1 else [""]
    scripts = sorted(p for p in HERE.glob("bench_*.py") if any(w in p.name for w in wanted))
    failed: list[str] = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.name)
    print(f"\n{len(scripts) - len(failed)} passed, {len(failed)} failed")
    for name in failed:
        print(f"  failed: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
