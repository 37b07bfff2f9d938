"""`battletest --help` start-up time (goal: under 0.3 s), beside `python -c pass` as the floor.

Runs each command 15 times and reports the median wall time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.3
RUNS = 15
BIN = Path(sys.executable).parent


def median_wall(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    floor = median_wall([sys.executable, "-c", "pass"])
    helper = median_wall([str(BIN / "battletest"), "--help"])
    print(f"{'command':<28}{'median s':>10}")
    print(f"{'python -c pass':<28}{floor:>10.3f}")
    print(f"{'battletest --help':<28}{helper:>10.3f}")
    print(f"ratio to bare interpreter: {helper / floor:.1f}x; goal < {GOAL_S} s")
    return 0 if helper < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
