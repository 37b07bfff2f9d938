"""Chaos experiments as data: the TOML file's model, and the analysis of what was measured.

An experiment file (documented in docs/chaos.md)::

    title = "PMS outage"
    [target]
    demo = true                          # or url = "http://…", or command = [...] + url
    [steady_state]
    endpoints = [{ path = "/v1/reservations/r-1001", headers = { "X-API-Key" = "{service_api_key}" } }]
    rate = 20                            # requests per second (open model)
    thresholds = ["p95<500ms", "error_rate<1%"]
    during = ["error_rate<50%"]          # optional: graceful degradation while the fault is on
    recovery_window = "2s"
    [phases]
    before = "10s"
    during = "20s"
    after = "30s"
    [[method]]
    at = "0s"
    action = "mock.activate"
    mock = "pms"
    scenario = "outage"
    [[rollbacks]]
    action = "mock.deactivate"
    mock = "pms"

Analysis is pure: it takes the load engine's per-interval samples and the moments the fault
started and was removed, and says per phase whether the thresholds held, and how long the
service took to recover. Thresholds are checked per sampling interval (``p95 < 500ms`` must
hold in every interval of a phase), so no percentile is ever averaged.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from battletest.durations import parse_duration
from battletest.errors import BattletestError, ScenarioError

INTERVAL_METRICS = ("p50", "p95", "p99", "error_rate", "rps")
ActionName = Literal[
    "mock.activate",
    "mock.deactivate",
    "dependency.stop",
    "dependency.start",
    "process.kill",
    "process.restart",
    "process.stop",
    "process.cont",
    "exec",
    "wait",
]
ACTIONS: tuple[str, ...] = get_args(ActionName)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _seconds(value: Any) -> float:
    try:
        return parse_duration(value, positive=True)
    except BattletestError as exc:
        raise ValueError(exc.message) from None


class MockSpec(_Model):
    """A mock the experiment starts: in front of an upstream, or serving a stub file."""

    upstream: str | None = None
    stubs: str | None = None
    url: str | None = None  # an already running mock (its admin API)


class TargetSpec(_Model):
    demo: bool = False
    demo_options: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None
    command: list[str] | None = None
    ready_path: str = "/"
    ready_timeout: float = 30.0
    mocks: dict[str, MockSpec] = Field(default_factory=dict)

    @field_validator("ready_timeout", mode="before")
    @classmethod
    def _ready(cls, v: Any) -> float:
        return _seconds(v)

    @model_validator(mode="after")
    def _one_kind(self) -> TargetSpec:
        kinds = [k for k, on in (("demo", self.demo), ("command", self.command)) if on]
        if len(kinds) > 1:
            raise ValueError("give demo = true or command = [...], not both")
        if not self.demo and not self.url:
            raise ValueError("needs demo = true, or url = (with command = [...] to own it)")
        if self.demo and self.url:
            raise ValueError("demo = true starts its own target; drop url")
        return self


class EndpointSpec(_Model):
    path: str
    method: str = "GET"
    name: str = ""
    weight: float = Field(default=1.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""
    expect: list[int] = Field(default_factory=list)


class SteadyState(_Model):
    endpoints: list[EndpointSpec] = Field(min_length=1)
    rate: float = Field(gt=0, description="requests per second")
    thresholds: list[str] = Field(min_length=1)
    during: list[str] = Field(default_factory=list)
    recovery_window: float = 2.0
    timeout: float = 5.0
    max_vus: int = Field(default=0, ge=0)

    @field_validator("recovery_window", "timeout", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> float:
        return _seconds(v)


class Phases(_Model):
    before: float
    during: float
    after: float

    @field_validator("before", "during", "after", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> float:
        return _seconds(v)


class Action(_Model):
    action: ActionName
    at: float = 0.0
    mock: str | None = None
    scenario: str | None = None
    seconds: float | None = Field(default=None, alias="for")
    paths: list[str] = Field(default_factory=list)
    dependency: str | None = None
    signal: str = "SIGKILL"
    command: list[str] | None = None
    duration: float | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("at", "seconds", "duration", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, int | float) and not isinstance(v, bool) and v == 0:
            return 0.0
        if isinstance(v, str) and v.strip() in ("0", "0s", "0ms"):
            return 0.0
        return _seconds(v)

    @model_validator(mode="after")
    def _needs(self) -> Action:
        need = {
            "mock.activate": ("mock", "scenario"),
            "mock.deactivate": ("mock",),
            "dependency.stop": ("dependency",),
            "dependency.start": ("dependency",),
            "exec": ("command",),
            "wait": ("duration",),
        }.get(self.action, ())
        missing = [k for k in need if getattr(self, k) in (None, [])]
        if missing:
            raise ValueError(f"{self.action} needs {', '.join(missing)}")
        if self.action.startswith("process.") and self.signal not in SIGNALS:
            raise ValueError(f"unknown signal {self.signal!r}; use {', '.join(SIGNALS)}")
        return self

    def describe(self) -> str:
        bits: list[str] = [self.action]
        for key in ("mock", "scenario", "dependency"):
            if getattr(self, key):
                bits.append(f"{key}={getattr(self, key)}")
        if self.action == "process.kill":
            bits.append(self.signal)
        if self.command:
            bits.append(" ".join(self.command))
        return " ".join(bits)


SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGSTOP", "SIGCONT")


class Experiment(_Model):
    title: str
    description: str = ""
    target: TargetSpec
    steady_state: SteadyState
    phases: Phases
    method: list[Action] = Field(min_length=1)
    rollbacks: list[Action] = Field(default_factory=list)
    scenarios: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="User-defined failure scenarios for the mocks."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        from battletest.chaos.scenarios import ScenarioRegistry

        try:
            registry = ScenarioRegistry(self.scenarios)
        except BattletestError as exc:
            raise ValueError(str(exc)) from None
        for act in [*self.method, *self.rollbacks]:
            spec = self.target.mocks.get(act.mock or "")
            own_file = spec is not None and (spec.stubs or spec.url)
            if act.action == "mock.activate" and act.scenario and not own_file:
                try:
                    registry.get(act.scenario)
                except BattletestError as exc:
                    raise ValueError(str(exc)) from None
        for i, act in enumerate(self.method):
            if act.at > self.phases.during:
                raise ValueError(
                    f"method #{i + 1} ({act.action}) at {act.at:g}s is after the fault phase "
                    f"({self.phases.during:g}s)"
                )
        mocks = set(self.target.mocks) | ({"pms", "tts"} if self.target.demo else set())
        for act in [*self.method, *self.rollbacks]:
            if act.mock is not None and act.mock not in mocks:
                known = ", ".join(sorted(mocks)) or "none: add [target.mocks.NAME]"
                raise ValueError(f"{act.action}: unknown mock {act.mock!r} (known: {known})")
            if act.action.startswith("dependency.") and not self.target.demo:
                raise ValueError(f"{act.action} needs the demo target (stops its PMS/TTS)")
            if act.action in ("process.kill", "process.restart") and not self.target.command:
                raise ValueError(
                    f"{act.action} needs a target battletest owns: [target] command = [...]"
                )
            owned = self.target.command or self.target.demo
            if act.action in ("process.stop", "process.cont") and not owned:
                raise ValueError(f"{act.action} needs [target] command = [...] or demo = true")
        from battletest.load import parse_threshold

        for text in [*self.steady_state.thresholds, *self.steady_state.during]:
            try:
                t = parse_threshold(text)
            except BattletestError as exc:
                raise ValueError(str(exc)) from None
            if t.metric not in INTERVAL_METRICS or t.endpoint is not None:
                raise ValueError(
                    f"threshold {text!r} cannot be checked per interval; "
                    f"use {', '.join(INTERVAL_METRICS)} without {{name=…}}"
                )
        return self


def load_experiment(path: str | Path) -> Experiment:
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"experiment file {str(p)!r} not found (pass a .toml experiment)")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p.name}: not valid TOML: {exc}") from None
    return parse_experiment(data, p.name)


def parse_experiment(data: Any, source: str = "experiment") -> Experiment:
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ScenarioError(
            f"{source}: {where + ': ' if where else ''}{msg}", hint="see docs/chaos.md"
        ) from None


# ------------------------------------------------------------------------------ analysis


class Interval(_Model):
    """One sampling interval of the load run, on the experiment's clock (seconds)."""

    start: float
    end: float
    requests: float
    errors: int
    p50: float
    p95: float
    p99: float

    @property
    def rps(self) -> float:
        return self.requests / max(self.end - self.start, 1e-6)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 1.0

    def value(self, metric: str) -> float:
        return float(getattr(self, metric))


class ThresholdVerdict(_Model):
    threshold: str
    measured: float | None
    passed: bool | None
    worst_interval_s: float | None = None


class PhaseResult(_Model):
    name: Literal["before", "during", "after"]
    start_s: float
    end_s: float
    requests: int
    errors: int
    error_rate: float
    worst_p95_ms: float
    worst_p99_ms: float
    rps: float
    thresholds: list[ThresholdVerdict]
    holds: bool | None  # None: nothing checked, or no sample in the phase


def intervals_from_series(series: Sequence[Any], origin_offset: float = 0.0) -> list[Interval]:
    """Load-engine samples (``t`` = end of interval, ``rps``) → intervals on our clock."""
    out: list[Interval] = []
    prev = 0.0
    for s in series:
        span = max(float(s.t) - prev, 1e-6)
        out.append(
            Interval(
                start=prev + origin_offset,
                end=float(s.t) + origin_offset,
                requests=round(float(s.rps) * span, 3),
                errors=int(s.errors),
                p50=float(s.p50),
                p95=float(s.p95),
                p99=float(s.p99),
            )
        )
        prev = float(s.t)
    return out


def interval_holds(iv: Interval, thresholds: Sequence[Any]) -> bool | None:
    """All thresholds hold in this interval; None when nothing completed in it (a stalled
    request is counted later, with its full latency, in the interval where it completes)."""
    if iv.requests < 0.5:
        return None
    return all(t.check(iv.value(t.metric)) for t in thresholds)


def analyse_phase(
    name: Literal["before", "during", "after"],
    intervals: Sequence[Interval],
    start: float,
    end: float,
    thresholds: Sequence[Any],
    *,
    overlap: bool = False,
) -> PhaseResult:
    """The intervals wholly inside [start, end) make up the phase; with ``overlap`` (the fault
    phase) every interval that overlaps it, so an interval straddling the fault's start or end
    counts against the fault, never against the steady state."""
    eps = 0.02
    if overlap:
        inside = [iv for iv in intervals if iv.end > start + eps and iv.start < end - eps]
    else:
        inside = [iv for iv in intervals if iv.start >= start - eps and iv.end <= end + eps]
    requests = sum(iv.requests for iv in inside)
    errors = sum(iv.errors for iv in inside)
    verdicts: list[ThresholdVerdict] = []
    for t in thresholds:
        if not inside:
            verdicts.append(ThresholdVerdict(threshold=t.source, measured=None, passed=None))
            continue
        if t.metric == "error_rate":
            measured = errors / requests if requests else 1.0
            worst = max(inside, key=lambda iv: iv.error_rate)
        elif t.metric == "rps":
            measured = requests / max(end - start, 1e-6)
            worst = min(inside, key=lambda iv: iv.rps)
        else:  # latency: the worst interval must still hold
            worst = max(inside, key=lambda iv: iv.value(t.metric))
            measured = worst.value(t.metric)
        bad = [iv for iv in inside if interval_holds(iv, [t]) is False]
        passed = t.check(measured) and (t.metric in ("error_rate", "rps") or not bad)
        verdicts.append(
            ThresholdVerdict(
                threshold=t.source,
                measured=round(measured, 4),
                passed=passed,
                worst_interval_s=round(worst.start, 3),
            )
        )
    holds = None if not thresholds or not inside else all(v.passed for v in verdicts)
    return PhaseResult(
        name=name,
        start_s=round(start, 3),
        end_s=round(end, 3),
        requests=round(requests),
        errors=errors,
        error_rate=round(errors / requests, 4) if requests else 0.0,
        worst_p95_ms=max((iv.p95 for iv in inside), default=0.0),
        worst_p99_ms=max((iv.p99 for iv in inside), default=0.0),
        rps=round(requests / max(end - start, 1e-6), 2),
        thresholds=verdicts,
        holds=holds,
    )


def time_to_recover(
    intervals: Sequence[Interval], removed_at: float, thresholds: Sequence[Any], window: float
) -> float | None:
    """Seconds from the fault's removal until the thresholds hold for ``window`` seconds
    without a break; None when they never do within the measured intervals."""
    after = [iv for iv in intervals if iv.end > removed_at]
    for i, first in enumerate(after):
        if not interval_holds(first, thresholds):
            continue
        for iv in after[i:]:
            if interval_holds(iv, thresholds) is False:
                break
            if iv.end - max(first.start, removed_at) >= window - 1e-6:
                return round(max(0.0, first.start - removed_at), 3)
    return None


def window_intervals(window: float, interval: float) -> int:
    return max(1, math.ceil(window / interval - 1e-9))
