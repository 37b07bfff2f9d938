"""Target resources during a load run: RSS, CPU, threads and open files of a process tree.

``ResourceMonitor`` samples the target (the PID battletest started, or ``--target-pid``) and
its children every ``interval`` seconds in a thread of the coordinator, appending each sample to
``resources.jsonl`` in the run folder as it goes (a crash at hour 3 keeps hours 1–3).
``leak_verdict`` fits RSS against time over the steady phase (after ``warmup_fraction`` of the
run) by least squares and calls it a leak when the 95 % lower confidence bound of the growth
over that phase exceeds ``leak_threshold_mb``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from battletest.errors import UsageError

RESOURCES_FILE = "resources.jsonl"
MB = 1024 * 1024

# two-sided 95 % Student t critical values by degrees of freedom (beyond 30: ≈ normal)
_T95 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042,
}  # fmt: skip


def t95(dof: int) -> float:
    if dof >= 30:
        return 1.96 + 2.5 / dof  # close to the table at 30, to 1.96 beyond
    best = max(k for k in _T95 if k <= max(dof, 1))
    return _T95[best]


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # seconds since the monitor started
    rss_mb: float
    cpu_percent: float
    threads: int
    open_files: int
    processes: int


@dataclass(slots=True)
class LeakVerdict:
    leak: bool
    slope_mb_per_min: float
    growth_mb: float  # slope × steady-phase length
    growth_low_mb: float  # 95 % lower bound
    growth_high_mb: float
    steady_s: float
    samples: int
    line: str


@dataclass(slots=True)
class ResourceReport:
    pid: int
    samples: list[Sample] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    mean_cpu_percent: float = 0.0
    peak_threads: int = 0
    peak_open_files: int = 0
    leak: LeakVerdict | None = None
    lost: str = ""  # set when the target exited during the run

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["samples"] = len(self.samples)
        return data


def leak_verdict(
    samples: list[Sample], threshold_mb: float = 10.0, warmup_fraction: float = 0.25
) -> LeakVerdict | None:
    """Least-squares RSS slope over the steady phase with a 95 % confidence bound."""
    if not samples:
        return None
    start = samples[0].t + (samples[-1].t - samples[0].t) * warmup_fraction
    steady = [s for s in samples if s.t >= start]
    n = len(steady)
    if n < 4:
        return None
    xs = [s.t for s in steady]
    ys = [s.rss_mb for s in steady]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    se = math.sqrt(resid / (n - 2) / sxx)
    length = xs[-1] - xs[0]
    half = t95(n - 2) * se * length
    growth = slope * length
    low, high = growth - half, growth + half
    leak = low > threshold_mb
    line = (
        f"RSS {'grows' if leak else 'steady'}: {growth:+.1f} MB over {length:.0f} s "
        f"(95% CI {low:+.1f}..{high:+.1f} MB, {slope * 60:+.2f} MB/min); "
        f"leak when the lower bound exceeds {threshold_mb:g} MB"
    )
    return LeakVerdict(
        leak, round(slope * 60, 4), round(growth, 3), round(low, 3), round(high, 3),
        round(length, 3), n, line,
    )  # fmt: skip


class ResourceMonitor:
    """Samples a process tree in a background thread; ``stop()`` returns the report."""

    def __init__(self, pid: int, interval: float = 1.0, run_dir: str | Path | None = None) -> None:
        import psutil

        try:
            self.proc = psutil.Process(pid)
            self.proc.memory_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError) as exc:
            raise UsageError(
                f"cannot watch --target-pid {pid}: {type(exc).__name__}",
                hint="give the PID of the running service (ps -ef), owned by your user",
            ) from None
        if interval <= 0:
            raise UsageError("the resource sampling interval must be positive")
        self.interval = interval
        self.report = ResourceReport(pid)
        self.stream: TextIO | None = None
        if run_dir is not None:
            folder = Path(run_dir)
            folder.mkdir(parents=True, exist_ok=True)
            self.stream = (folder / RESOURCES_FILE).open("a", encoding="utf-8")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bt-resources", daemon=True)
        self._cpu: dict[int, float] = {}

    def start(self) -> ResourceMonitor:
        self.t0 = time.monotonic()
        self._last = self.t0
        self.sample()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.sample():
                return

    def sample(self) -> bool:
        import psutil

        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            self.report.lost = f"the target process {self.report.pid} exited during the run"
            return False
        now = time.monotonic()
        rss = cpu = 0.0
        threads = files = 0
        cpu_now: dict[int, float] = {}
        for p in procs:
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    times = p.cpu_times()
                    cpu_now[p.pid] = times.user + times.system
                    threads += p.num_threads()
                    files += p.num_fds()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        span = now - self._last
        if self._cpu and span > 0:
            used = sum(v - self._cpu.get(pid, v) for pid, v in cpu_now.items())
            cpu = 100.0 * used / span
        self._cpu, self._last = cpu_now, now
        s = Sample(round(now - self.t0, 3), round(rss / MB, 3), round(cpu, 1), threads, files,
                   len(procs))  # fmt: skip
        self.report.samples.append(s)
        if self.stream is not None:
            self.stream.write(json.dumps(asdict(s)) + "\n")
            self.stream.flush()
        return True

    def stop(self, leak_threshold_mb: float = 10.0) -> ResourceReport:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.stream is not None:
            self.stream.close()
        r = self.report
        if r.samples:
            r.peak_rss_mb = max(s.rss_mb for s in r.samples)
            cpus = [s.cpu_percent for s in r.samples[1:]]
            r.mean_cpu_percent = round(sum(cpus) / len(cpus), 1) if cpus else 0.0
            r.peak_threads = max(s.threads for s in r.samples)
            r.peak_open_files = max(s.open_files for s in r.samples)
        r.leak = leak_verdict(r.samples, leak_threshold_mb)
        return r
