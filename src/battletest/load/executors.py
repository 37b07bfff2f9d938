"""Executors, named and behaving as k6 users know them, as pure schedule math.

An ``ExecutorSpec`` says *how much* load to apply; this module answers the two questions the
worker runtime asks while it runs, without clocks or sockets so tests can check them exactly:

- closed model (``constant-vus``, ``ramping-vus``, ``per-vu-iterations``,
  ``shared-iterations``): how many VUs should be active at time *t* (``vus_at``);
- open model (``constant-arrival-rate``, ``ramping-arrival-rate``): at which intended offsets
  the iterations start (``arrival_offsets``), whatever the target does meanwhile.

Work is split across worker processes by index: global VU *j* and global iteration *i* belong
to worker ``j % n`` / ``i % n``, so the split is exact and needs no shared state.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from battletest.errors import UsageError

ExecutorKind = Literal[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
]
EXECUTORS: tuple[ExecutorKind, ...] = get_args(ExecutorKind)
OPEN_MODEL: frozenset[str] = frozenset({"constant-arrival-rate", "ramping-arrival-rate"})


@dataclass(frozen=True, slots=True)
class Stage:
    """Move linearly to ``target`` (VUs or iterations/s) over ``duration`` seconds."""

    duration: float
    target: float


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """How much load to apply. Durations in seconds, rates in iterations per second."""

    kind: ExecutorKind = "constant-vus"
    vus: int = 1  # constant-vus, per-vu-iterations, shared-iterations; start VUs for ramping-vus
    duration: float = 10.0  # constant-vus, constant-arrival-rate
    rate: float = 0.0  # constant-arrival-rate; start rate for ramping-arrival-rate
    max_vus: int = 0  # arrival-rate: connections available (0 → max(100, rate))
    stages: tuple[Stage, ...] = field(default_factory=tuple)
    iterations: int = 1  # per VU (per-vu-iterations) or in total (shared-iterations)
    max_duration: float = 600.0  # iteration executors stop here even if not done
    graceful_stop: float = 30.0  # in-flight iterations may finish this long after the end
    graceful_ramp_down: float = 30.0  # ramping-vus: VUs over target finish their iteration

    @property
    def open_model(self) -> bool:
        return self.kind in OPEN_MODEL

    @property
    def planned_duration(self) -> float:
        """Seconds during which new iterations start (before graceful stop)."""
        if self.kind in ("ramping-vus", "ramping-arrival-rate"):
            return sum(s.duration for s in self.stages)
        if self.kind in ("per-vu-iterations", "shared-iterations"):
            return self.max_duration
        return self.duration

    @property
    def effective_max_vus(self) -> int:
        if not self.open_model:
            return self.peak_vus
        if self.max_vus:
            return self.max_vus
        peak = max([self.rate, *(s.target for s in self.stages)])
        return max(100, math.ceil(peak))

    @property
    def peak_vus(self) -> int:
        if self.open_model:
            return self.effective_max_vus
        if self.kind == "ramping-vus":
            return int(max([self.vus, *(s.target for s in self.stages)]))
        return self.vus

    def validate(self) -> ExecutorSpec:
        """Return self, or raise ``UsageError`` naming the bad value and the fix."""
        if self.kind not in EXECUTORS:
            raise UsageError(
                f"unknown executor {self.kind!r}", hint=f"use one of {', '.join(EXECUTORS)}"
            )
        if self.kind in ("ramping-vus", "ramping-arrival-rate") and not self.stages:
            raise UsageError(f"{self.kind} needs stages", hint="e.g. --stages 30s:10,1m:50")
        if self.kind in ("constant-vus", "per-vu-iterations", "shared-iterations") and (
            self.vus < 1
        ):
            raise UsageError(f"--vus must be at least 1 (got {self.vus})", hint="e.g. --vus 10")
        if self.kind == "constant-arrival-rate" and self.rate <= 0:
            raise UsageError(f"--rate must be positive (got {self.rate:g})", hint="e.g. --rate 100")
        if self.kind in ("constant-vus", "constant-arrival-rate") and self.duration <= 0:
            raise UsageError("--duration must be positive", hint="e.g. --duration 30s")
        if self.kind in ("per-vu-iterations", "shared-iterations") and self.iterations < 1:
            raise UsageError("--iterations must be at least 1", hint="e.g. --iterations 100")
        if self.open_model and self.effective_max_vus < 1:
            raise UsageError("--max-vus must be at least 1", hint="e.g. --max-vus 100")
        if self.vus < 0 or self.rate < 0 or self.graceful_stop < 0:
            raise UsageError("VUs, rates and graceful stop cannot be negative")
        return self

    def shape(self) -> dict[str, object]:
        """What a performance baseline must match: the executor and the figures it uses."""
        out: dict[str, object] = {"executor": self.kind}
        if self.kind in ("constant-vus", "per-vu-iterations", "shared-iterations"):
            out["vus"] = self.vus
        if self.kind == "constant-arrival-rate":
            out["rate"] = self.rate
        if self.kind in ("constant-vus", "constant-arrival-rate"):
            out["duration"] = self.duration
        if self.kind in ("ramping-vus", "ramping-arrival-rate"):
            out["start"] = self.rate if self.kind == "ramping-arrival-rate" else self.vus
            out["stages"] = [[s.duration, s.target] for s in self.stages]
        if self.kind in ("per-vu-iterations", "shared-iterations"):
            out["iterations"] = self.iterations
        return out

    def worker_count(self, wanted: int) -> int:
        """No more workers than there are VUs (or connections) to give them."""
        return max(1, min(wanted, self.peak_vus or 1))

    def with_updates(self, **changes: object) -> ExecutorSpec:
        return replace(self, **changes)  # type: ignore[arg-type]


def share(total: int, workers: int, index: int) -> int:
    """How many of ``total`` items (indexed 0..total-1) fall to worker ``index`` of ``workers``."""
    return total // workers + (1 if index < total % workers else 0)


def ramp_value(start: float, stages: tuple[Stage, ...], t: float) -> float:
    """The linearly interpolated target at time ``t`` (seconds since start)."""
    level = start
    elapsed = 0.0
    for stage in stages:
        if t < elapsed + stage.duration:
            frac = (t - elapsed) / stage.duration if stage.duration > 0 else 1.0
            return level + (stage.target - level) * frac
        elapsed += stage.duration
        level = stage.target
    return level


def vus_at(spec: ExecutorSpec, t: float) -> int:
    """Global number of VUs that should be active at ``t`` (closed-model executors)."""
    if spec.kind == "ramping-vus":
        return math.floor(ramp_value(float(spec.vus), spec.stages, t) + 1e-9)
    return spec.vus


def local_vus(global_vus: int, workers: int, index: int) -> int:
    """Active VUs of one worker when ``global_vus`` are active in total (VU j → worker j % n)."""
    return share(global_vus, workers, index)


def arrival_offsets(spec: ExecutorSpec) -> Iterator[float]:
    """Intended start offsets (seconds) of every iteration of an arrival-rate executor.

    Iteration *i* starts when the integral of the rate reaches *i*: evenly spaced at a
    constant rate, on a square-root curve while the rate ramps linearly.
    """
    if spec.kind == "constant-arrival-rate":
        count = math.ceil(spec.rate * spec.duration - 1e-9)
        for i in range(count):
            yield i / spec.rate
        return
    if spec.kind != "ramping-arrival-rate":
        return
    done = 0.0  # iterations owed before the current stage (may be fractional)
    begin = 0.0
    rate0 = spec.rate
    i = 0
    for stage in spec.stages:
        length, rate1 = stage.duration, stage.target
        if length <= 0:
            rate0 = rate1
            continue
        a = (rate1 - rate0) / (2.0 * length)
        b = rate0
        total = a * length * length + b * length
        while i - done < total - 1e-9:
            need = i - done
            if abs(a) < 1e-12:
                t = need / b
            else:
                disc = max(0.0, b * b + 4.0 * a * need)
                t = (-b + math.sqrt(disc)) / (2.0 * a)
            yield begin + min(max(t, 0.0), length)
            i += 1
        done += total
        begin += length
        rate0 = rate1


def worker_offsets(spec: ExecutorSpec, workers: int, index: int) -> Iterator[float]:
    """The arrival offsets owned by one worker (iteration i → worker i % workers)."""
    if spec.kind == "constant-arrival-rate":  # direct: no need to walk the others' share
        count = math.ceil(spec.rate * spec.duration - 1e-9)
        for i in range(index, count, workers):
            yield i / spec.rate
        return
    for i, offset in enumerate(arrival_offsets(spec)):
        if i % workers == index:
            yield offset


def intended_iterations(spec: ExecutorSpec) -> int | None:
    """Total iterations the executor intends to start, when known up front."""
    if spec.open_model:
        return sum(1 for _ in arrival_offsets(spec))
    if spec.kind == "per-vu-iterations":
        return spec.vus * spec.iterations
    if spec.kind == "shared-iterations":
        return spec.iterations
    return None


__all__ = [
    "EXECUTORS",
    "ExecutorKind",
    "ExecutorSpec",
    "Stage",
    "arrival_offsets",
    "intended_iterations",
    "local_vus",
    "ramp_value",
    "share",
    "vus_at",
    "worker_offsets",
]
