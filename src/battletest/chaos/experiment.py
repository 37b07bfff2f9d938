"""Run a chaos experiment: steady state → fault → recovery, with rollbacks that always run.

    result = run_experiment(load_experiment("examples/concierge/pms_outage.toml"))
    result.verdict, result.time_to_recover_s

One open-model load run (``battletest.load.run``) spans the three phases; the method's actions
fire on a timeline from a second thread while it runs. When the fault phase ends the rollbacks
run (each failure is reported and the remaining rollbacks still run; they also run on an error
or Ctrl-C). The load engine's per-interval samples are then cut into phases on the same clock
(see ``experiment_model``) and the time to recover is measured from the start of the rollbacks
(the fault's removal; a restart's boot time counts) until the thresholds hold again.

That figure is the *client-visible* recovery: what the load saw. A service that answers from a
stale cache recovers "in 0 s" for its clients while its dependency may not be reached at all.
So for each dependency a fault acted on through a battletest mock, the mock's journal gives the
*dependency's* recovery too: seconds from the fault's removal until a request reached it again
and got a normal answer (``dependency_recovery``), or the fact that none did while observed.

Targets: ``demo = true`` starts the built-in demo with battletest mocks (named ``pms`` and
``tts``) forwarding to its real dependencies; ``command = [...]`` starts a process battletest
owns (so it can SIGKILL and restart it); ``url`` alone tests a running service.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from battletest.chaos.experiment_model import (
    Action,
    Experiment,
    PhaseResult,
    analyse_phase,
    intervals_from_series,
    time_to_recover,
)
from battletest.errors import BattletestError, ScenarioError, TargetUnreachable
from battletest.netutil import free_port
from battletest.results import Case, Status, SuiteResult

SNAPSHOT_INTERVAL_S = 0.25


class ActionOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str
    at_s: float  # on the experiment clock (0 = the load started)
    ok: bool
    message: str = ""


class ExperimentResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    verdict: Literal["pass", "fail", "interrupted"]
    reasons: list[str] = Field(default_factory=list)
    phases: list[PhaseResult] = Field(default_factory=list)
    fault_started_s: float | None = None
    fault_removed_s: float | None = None
    time_to_recover_s: float | None = None  # client-visible: the load's thresholds held again
    # per dependency behind a mock the fault acted on: seconds from the fault's removal until a
    # request reached it again with a normal answer (None: none did while observed)
    dependency_recovery: dict[str, float | None] = Field(default_factory=dict)
    observed_after_s: float = 0.0  # how long after the fault's removal the load ran
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    actions: list[ActionOutcome] = Field(default_factory=list)
    rollbacks: list[ActionOutcome] = Field(default_factory=list)
    duration_s: float = 0.0

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.name == name), None)

    def to_suite_result(self) -> SuiteResult:
        """The experiment as a ``chaos`` suite result (one case per phase, recovery, rollbacks)."""
        cases = []
        for p in self.phases:
            status = (
                Status.SKIPPED if p.holds is None else Status.PASSED if p.holds else Status.FAILED
            )
            lines = [f"{v.threshold}: {v.measured}" for v in p.thresholds]
            cases.append(
                Case(
                    name=f"{self.title}: {p.name}",
                    status=status,
                    message="; ".join(lines),
                    details=p.model_dump(mode="json"),
                )
            )
        recovered = self.time_to_recover_s is not None
        cases.append(
            Case(
                name=f"{self.title}: recovery",
                status=Status.PASSED if recovered else Status.FAILED,
                message=f"client-visible recovery in {self.time_to_recover_s:.2f}s (the "
                "load's thresholds held again)"
                if recovered
                else "did not recover: " + "; ".join(self.reasons),
                details={
                    "time_to_recover_s": self.time_to_recover_s,
                    "measures": "client-visible",
                },
            )
        )
        for dep, seconds in self.dependency_recovery.items():
            reached = seconds is not None
            cases.append(
                Case(
                    name=f"{self.title}: dependency {dep} reached again",
                    status=Status.PASSED if reached else Status.SKIPPED,
                    message=dependency_words(dep, seconds, self.observed_after_s),
                    details={
                        "dependency_time_to_recover_s": seconds,
                        "measures": "dependency (mock journal)",
                        **({} if reached else {"outcome": "inconclusive"}),
                    },
                )
            )
        for rb in self.rollbacks:
            cases.append(
                Case(
                    name=f"{self.title}: rollback {rb.action}",
                    status=Status.PASSED if rb.ok else Status.ERROR,
                    message=rb.message,
                )
            )
        return SuiteResult.from_cases("chaos", cases, self.duration_s)


def dependency_words(dep: str, seconds: float | None, observed: float) -> str:
    if seconds is not None:
        return f"{dep} answered a request again {seconds:.2f}s after the fault's removal"
    return (
        f"{dep} was not reached again in the {observed:.1f}s observed after the fault's removal "
        "(its clients were answered from elsewhere, e.g. a cache or a fallback)"
    )


def dependency_recovery(
    entries: list[dict[str, Any]], removed_epoch: float, end_epoch: float
) -> float | None:
    """Seconds from the fault's removal until the first journal entry that reached the
    dependency and got a normal answer (a status below 500, no fault, no failure scenario);
    None when none did before ``end_epoch``."""
    for e in sorted(entries, key=lambda e: float(e.get("timestamp") or 0.0)):
        at = float(e.get("timestamp") or 0.0)
        if at < removed_epoch or at > end_epoch:
            continue
        status = e.get("status")
        if e.get("fault") or e.get("scenario") or not isinstance(status, int) or status >= 500:
            continue
        return round(at - removed_epoch, 3)
    return None


def read_journal(admin_url: str) -> list[dict[str, Any]] | None:
    """A mock's journal over its admin API (None when it cannot be read)."""
    try:
        r = httpx.get(admin_url.rstrip("/") + "/__admin/requests", timeout=5.0)
        r.raise_for_status()
        rows = r.json().get("requests")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return rows if isinstance(rows, list) else None


# ------------------------------------------------------------------------------ environment


class ManagedProcess:
    """A target process battletest starts, kills, restarts, stops and continues."""

    def __init__(self, argv: list[str], url: str, ready_path: str, ready_timeout: float) -> None:
        self.argv = argv
        self.url = url.rstrip("/")
        self.ready_path = ready_path
        self.ready_timeout = ready_timeout
        self.log_dir = Path(tempfile.mkdtemp(prefix="battletest-chaos-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _spawn(self) -> None:
        self.starts += 1
        log = open(self.log_dir / f"target-{self.starts}.log", "wb")  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches battletest, which then stops it
            )
        except OSError as exc:
            raise TargetUnreachable(f"cannot start the target {self.argv[0]!r}: {exc}") from None
        finally:
            log.close()

    def start(self) -> float:
        """Start (again) and wait until it answers; returns the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + self.ready_timeout
        self._spawn()
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:  # died (e.g. the port not free yet): try again
                time.sleep(0.2)
                self._spawn()
                continue
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=1.0).status_code < 500:
                    return time.monotonic() - t0
            time.sleep(0.05)
        waited = time.monotonic() - t0
        raise TargetUnreachable(
            f"the target did not come back: not ready at {self.url}{self.ready_path} after "
            f"{waited:.1f}s (log: {self.log_dir / f'target-{self.starts}.log'})"
        )

    @property
    def pid(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            raise ScenarioError("the target process is not running")
        return self.proc.pid

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT) and self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Environment:
    """What the actions act on."""

    base_url: str
    placeholders: dict[str, str] = field(default_factory=dict)
    mock_admin: dict[str, str] = field(default_factory=dict)  # name → admin URL
    process: ManagedProcess | None = None
    target_pid: Callable[[], int] | None = None
    dependencies: Any = None  # a DemoHandle whose PMS/TTS processes can be stopped


@contextmanager
def open_environment(exp: Experiment) -> Iterator[Environment]:
    from battletest.chaos.mock import MockServer

    t = exp.target
    with ExitStack() as stack:
        mocks: dict[str, str] = {}
        placeholders: dict[str, str] = {"python": sys.executable}
        for name, spec in t.mocks.items():
            if spec.url:
                mocks[name] = spec.url.rstrip("/")
                placeholders[f"{name}_url"] = spec.url.rstrip("/")
                continue
            if spec.stubs:
                mock = MockServer.from_file(
                    spec.stubs, admin_port=0, name=name, scenarios=exp.scenarios
                )
            else:
                mock = MockServer(
                    upstream=spec.upstream, admin_port=0, name=name, scenarios=exp.scenarios
                )
            stack.enter_context(mock)
            mocks[name] = mock.admin_url
            placeholders[f"{name}_url"] = mock.url
        if t.demo:
            import battletest.demo as demo

            deps = None
            if not {"pms", "tts"} <= set(mocks):  # real dependencies behind the mocks
                deps = stack.enter_context(demo.start())
                for name, real in (("pms", deps.pms_url), ("tts", deps.tts_url)):
                    if name not in mocks:
                        mock = stack.enter_context(
                            MockServer(
                                upstream=real, admin_port=0, name=name, scenarios=exp.scenarios
                            )
                        )
                        mocks[name] = mock.admin_url
                        placeholders[f"{name}_url"] = mock.url
            key = "btk_" + secrets.token_urlsafe(18)
            options = {
                "pms_url": placeholders["pms_url"],
                "tts_url": placeholders["tts_url"],
                "service_api_key": key,
                **t.demo_options,
            }
            handle = stack.enter_context(demo.start(**options))
            placeholders.update(service_api_key=key, target_url=handle.base_url)
            yield Environment(
                handle.base_url,
                placeholders,
                mocks,
                target_pid=lambda: int(handle.pids["app"]),
                dependencies=deps,
            )
            return
        port = str(free_port())
        placeholders["port"] = port
        assert t.url is not None
        url = _fill(t.url, placeholders)
        placeholders["target_url"] = url
        process = None
        if t.command:
            argv = [_fill(a, placeholders) for a in t.command]
            process = ManagedProcess(argv, url, t.ready_path, t.ready_timeout)
            stack.callback(process.stop)
            process.start()
        yield Environment(url, placeholders, mocks, process=process)


def _fill(text: str, values: dict[str, str]) -> str:
    for k, v in values.items():
        text = text.replace("{" + k + "}", v)
    return text


# ------------------------------------------------------------------------------ actions


def perform(action: Action, env: Environment, phase_seconds: float) -> str:
    """Carry out one action; returns what happened, raises BattletestError/OSError on failure."""
    kind = action.action
    if kind in ("mock.activate", "mock.deactivate"):
        assert action.mock is not None
        admin = env.mock_admin[action.mock] + "/__admin"
        try:
            if kind == "mock.activate":
                seconds = action.seconds or phase_seconds
                r = httpx.post(
                    f"{admin}/scenarios/{action.scenario}",
                    json={"seconds": seconds, "paths": action.paths},
                    timeout=10,
                )
            else:
                suffix = f"/{action.scenario}" if action.scenario else ""
                r = httpx.delete(f"{admin}/scenarios{suffix}", timeout=10)
        except httpx.HTTPError as exc:
            raise TargetUnreachable(
                f"mock {action.mock!r} admin API: {type(exc).__name__}"
            ) from None
        if r.status_code >= 400:
            raise ScenarioError(f"mock {action.mock!r}: {r.json().get('error', r.text)}")
        return "ok"
    if kind in ("dependency.stop", "dependency.start"):
        assert action.dependency is not None
        if env.dependencies is None:
            raise ScenarioError(
                f"{kind} needs the demo's own {action.dependency}: remove [target.mocks] "
                "pms and tts so the demo starts them"
            )
        if kind == "dependency.stop":
            env.dependencies.stop_dependency(action.dependency)
        else:
            env.dependencies.start_dependency(action.dependency)
        return "ok"
    if kind == "process.restart":
        assert env.process is not None
        if env.process.proc is not None and env.process.proc.poll() is None:
            env.process.stop()
        waited = env.process.start()
        return f"ready after {waited:.2f}s"
    if kind.startswith("process."):
        sig = {
            "process.kill": getattr(signal, action.signal),
            "process.stop": signal.SIGSTOP,
            "process.cont": signal.SIGCONT,
        }[kind]
        if env.process is not None:
            env.process.signal(sig)
        else:
            assert env.target_pid is not None
            os.kill(env.target_pid(), sig)
        return signal.Signals(sig).name
    if kind == "exec":
        assert action.command is not None
        argv = [_fill(a, env.placeholders) for a in action.command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise ScenarioError(f"{argv[0]} exited {done.returncode}: {tail[0]}")
        return "exit 0"
    if kind == "wait":
        assert action.duration is not None
        time.sleep(action.duration)
        return f"waited {action.duration:g}s"
    raise ScenarioError(f"unknown action {kind!r}")  # the model rejects these first


# ------------------------------------------------------------------------------ the run


class _Clock:
    """The experiment clock: 0 is when the load engine started sending."""

    def __init__(self) -> None:
        self.origin: float | None = None
        self.ready = threading.Event()

    def observe(self, elapsed: float) -> None:
        estimate = time.monotonic() - elapsed
        if self.origin is None or estimate < self.origin:
            self.origin = estimate
        self.ready.set()

    def now(self) -> float:
        return self.at(time.monotonic())

    def at(self, monotonic: float) -> float:
        """A time.monotonic() stamp on the experiment clock (with the best origin so far)."""
        assert self.origin is not None
        return monotonic - self.origin


def run_experiment(
    exp: Experiment,
    *,
    stop: threading.Event | None = None,
    on_event: Callable[[str], None] | None = None,
    environment: str | None = None,
    allow_destructive: bool = False,
) -> ExperimentResult:
    """Run ``exp`` end to end and return its result (``stop.set()`` interrupts it).

    ``environment`` "production": refused (``SafetyError``, before anything starts) unless
    ``allow_destructive`` — an experiment injects faults and loads the target on purpose."""
    if environment == "production" and not allow_destructive:
        from battletest.errors import SafetyError

        raise SafetyError(
            f"experiment {exp.title!r} is refused in production: it injects faults on purpose",
            hint="run it against staging, or set allow_destructive = true for this profile",
        )
    stop = stop or threading.Event()
    say = on_event or (lambda _msg: None)
    started = time.monotonic()
    with open_environment(exp) as env:
        say(f"target {env.base_url}")
        result = _run(exp, env, stop, say)
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _run(
    exp: Experiment, env: Environment, stop: threading.Event, say: Callable[[str], None]
) -> ExperimentResult:
    from battletest.load import Endpoint, ExecutorSpec, run

    ph, ss = exp.phases, exp.steady_state
    total = ph.before + ph.during + ph.after
    endpoints = [
        Endpoint(
            _fill(e.path, env.placeholders),
            e.method,
            e.name,
            e.weight,
            tuple((k, _fill(v, env.placeholders)) for k, v in e.headers.items()),
            _fill(e.body, env.placeholders).encode(),
            tuple(e.expect),
        )
        for e in ss.endpoints
    ]
    clock = _Clock()
    load_stop = threading.Event()
    box: dict[str, Any] = {}

    def drive() -> None:
        try:
            box["result"] = run(
                env.base_url,
                executor=ExecutorSpec(
                    "constant-arrival-rate",
                    rate=ss.rate,
                    duration=total,
                    max_vus=ss.max_vus,
                    graceful_stop=min(ss.timeout, 2.0),
                ),
                endpoints=endpoints,
                workers=1,
                timeout=ss.timeout,
                snapshot_interval=SNAPSHOT_INTERVAL_S,
                progress=lambda s: clock.observe(s.elapsed),
                stop=load_stop,
            )
        except BaseException as exc:  # reported by the main thread
            box["error"] = exc
        finally:
            clock.ready.set()

    loader = threading.Thread(target=drive, name="battletest-chaos-load", daemon=True)
    loader.start()
    actions: list[ActionOutcome] = []
    rollbacks: list[ActionOutcome] = []
    reasons: list[str] = []
    fault_started: float | None = None  # time.monotonic() stamps
    fault_removed: float | None = None
    interrupted = False
    try:
        while not clock.ready.wait(0.1):
            if stop.is_set():
                raise KeyboardInterrupt
        if "error" in box:
            raise box["error"]
        if clock.origin is None:
            done = box.get("result")
            why = "; ".join(done.warnings) if done is not None and done.warnings else "no sample"
            raise ScenarioError(f"the steady-state load ended before it reported a sample: {why}")
        say(f"steady state for {ph.before:g}s at {ss.rate:g} req/s")
        _sleep_until(clock, ph.before, stop)
        fault_started = time.monotonic()
        say("fault phase: " + ", ".join(a.describe() for a in exp.method))
        for act in sorted(exp.method, key=lambda a: a.at):
            _sleep_until(clock, ph.before + act.at, stop)
            actions.append(_attempt(act, env, clock, ph.during - act.at, reasons))
        _sleep_until(clock, ph.before + ph.during, stop)
    except KeyboardInterrupt:
        interrupted = True
        reasons.append("interrupted")
    except BattletestError as exc:
        reasons.append(str(exc))
    finally:
        say("rollbacks")
        # the fault's removal starts with the rollbacks (a restart's boot time counts)
        fault_removed = time.monotonic() if clock.origin is not None else None
        removed_epoch = time.time()
        for act in exp.rollbacks:
            rollbacks.append(_attempt(act, env, clock, 0.0, None))
        for rb in rollbacks:
            if not rb.ok:
                reasons.append(f"rollback {rb.action} failed: {rb.message}")
    try:
        if not interrupted and fault_removed is not None:
            say(f"recovery: observing for {ph.after:g}s")
            removed_at = clock.at(fault_removed)
            _sleep_until(clock, max(ph.before + ph.during, removed_at) + ph.after, stop)
    except KeyboardInterrupt:
        interrupted = True
        reasons.append("interrupted")
    if interrupted:
        load_stop.set()
    try:
        loader.join(total + ss.timeout + 30)
    except KeyboardInterrupt:  # Ctrl-C while the load winds down: stop it, keep the result
        interrupted = True
        load_stop.set()
        loader.join(ss.timeout + 10)
    load = box.get("result")
    if load is None:
        err = box.get("error")
        if isinstance(err, BattletestError):
            raise err
        raise ScenarioError(f"the steady-state load did not run: {err}")
    result = _analyse(
        exp, load, clock, fault_started, fault_removed, actions, rollbacks, reasons, interrupted
    )
    if fault_removed is not None:
        result.observed_after_s = round(max(0.0, time.monotonic() - fault_removed), 3)
        result.dependency_recovery = _dependencies_recovered(exp, env, removed_epoch)
    return result


def _dependencies_recovered(
    exp: Experiment, env: Environment, removed_epoch: float
) -> dict[str, float | None]:
    """The dependency's own recovery for each mock a fault acted on (its journal)."""
    out: dict[str, float | None] = {}
    faulted = sorted({a.mock for a in exp.method if a.mock and a.mock in env.mock_admin})
    for name in faulted:
        entries = read_journal(env.mock_admin[name])
        if entries is not None:
            out[name] = dependency_recovery(entries, removed_epoch, time.time())
    return out


def _attempt(
    act: Action, env: Environment, clock: _Clock, remaining: float, reasons: list[str] | None
) -> ActionOutcome:
    at = round(clock.now(), 3) if clock.origin is not None else 0.0
    try:
        message = perform(act, env, max(remaining, 0.1))
    except (BattletestError, OSError, subprocess.SubprocessError, KeyError) as exc:
        if reasons is not None:
            reasons.append(f"{act.describe()}: {exc}")
        return ActionOutcome(action=act.describe(), at_s=at, ok=False, message=str(exc))
    return ActionOutcome(action=act.describe(), at_s=at, ok=True, message=message)


def _sleep_until(clock: _Clock, t: float, stop: threading.Event) -> None:
    while True:
        left = t - clock.now()
        if left <= 0:
            return
        if stop.wait(min(left, 0.1)):
            raise KeyboardInterrupt


def _analyse(
    exp: Experiment,
    load: Any,
    clock: _Clock,
    fault_started: float | None,
    fault_removed: float | None,
    actions: list[ActionOutcome],
    rollbacks: list[ActionOutcome],
    reasons: list[str],
    interrupted: bool,
) -> ExperimentResult:
    from battletest.load import parse_threshold

    ph, ss = exp.phases, exp.steady_state
    intervals = intervals_from_series(load.series)
    steady = [parse_threshold(t) for t in ss.thresholds]
    during_t = [parse_threshold(t) for t in ss.during]
    end = intervals[-1].end if intervals else 0.0
    # stamps are converted with the final origin: the earliest-delivered sample fixes it best
    start_fault = clock.at(fault_started) if fault_started is not None else ph.before
    removed = clock.at(fault_removed) if fault_removed is not None else start_fault + ph.during
    ttr = time_to_recover(intervals, removed, steady, ss.recovery_window)
    # "after" is the recovered service: from the moment the thresholds held again
    recovered_at = removed + (ttr or 0.0)
    phases = [
        analyse_phase("before", intervals, 0.0, start_fault, steady),
        analyse_phase("during", intervals, start_fault, removed, during_t, overlap=True),
        analyse_phase("after", intervals, recovered_at, max(end, recovered_at), steady),
    ]
    if phases[0].holds is False:
        reasons.insert(0, "the steady state did not hold before the fault (inconclusive)")
    if phases[1].holds is False:
        failed = [v.threshold for v in phases[1].thresholds if v.passed is False]
        reasons.append(f"no graceful degradation during the fault: {', '.join(failed)}")
    if ttr is None and not interrupted:
        reasons.append(
            f"did not recover: {', '.join(ss.thresholds)} did not hold for "
            f"{ss.recovery_window:g}s within {max(0.0, end - removed):.1f}s after the fault"
        )
    verdict: Literal["pass", "fail", "interrupted"] = (
        "interrupted" if interrupted else "fail" if reasons else "pass"
    )
    return ExperimentResult(
        title=exp.title,
        verdict=verdict,
        reasons=reasons,
        phases=phases,
        fault_started_s=round(start_fault, 3),
        fault_removed_s=round(removed, 3),
        time_to_recover_s=ttr,
        errors_by_kind=dict(load.errors),
        actions=actions,
        rollbacks=rollbacks,
    )


__all__ = [
    "ExperimentResult",
    "ManagedProcess",
    "dependency_recovery",
    "read_journal",
    "run_experiment",
]
