"""The coordinator: check the target, start worker processes, merge what they send.

``run`` is the library entry point behind ``battletest load`` and the ``load`` suite. It never
prints: progress goes to the ``progress`` callable (see ``console.py``), the outcome is a
``LoadResult``. Ctrl-C (or ``stop.set()``) stops the workers gracefully and the partial result
is returned with ``interrupted=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import httptools

from battletest.errors import ConfigError, ScenarioError, TargetUnreachable, UsageError
from battletest.load.executors import ExecutorSpec, intended_iterations
from battletest.load.result import Aggregator, LatencyMs, LoadResult, ThresholdRow
from battletest.load.runtime import TLSOptions, WorkerConfig
from battletest.load.scenario import Endpoint, Target, parse_target, request_bytes
from battletest.load.thresholds import Threshold, parse_thresholds

Pipe = multiprocessing.connection.Connection
HISTOGRAM_FILE = "load-latency.hdr"
_PER_SECOND = frozenset({"error_rate", "p50", "p95", "p99", "rps", "rps_ok"})
CONNECT_TIMEOUT = 3.0  # the reachability check's own: a TCP connect (and TLS handshake)
PROBE_TIMEOUT = 30.0  # ...then one request, generous: a slow target is up, not unreachable
DEFAULT_DROPPED = "dropped_iterations==0"
SERIES_FILE = "load-series.jsonl"  # one line per second, appended while the run goes
FD_HEADROOM = 64


@dataclass(frozen=True, slots=True)
class LiveStats:
    """What the console shows while a run is going (cumulative unless noted)."""

    elapsed: float
    planned: float
    vus: int  # active in the last second
    rps: float  # last second
    p50: float  # ms, last second
    p95: float
    p99: float
    requests: int
    failed: int
    dropped: int


Progress = Callable[[LiveStats], None]


class Watcher(Protocol):
    """Sees a run as it goes (the live web view): every snapshot a worker sends, and every
    second once all workers have moved past it (``session.agg`` holds the merged figures)."""

    def snapshot(self, snap: dict[str, Any]) -> None: ...

    def second(self, session: _Session, keys: list[int]) -> None: ...


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def preflight(
    target: Target, endpoint: Endpoint, tls: TLSOptions, timeout: float | None = None
) -> str:
    """Resolve, connect and send one request; return the address workers connect to.

    The check has its own timeouts, not the run's ``--timeout``: a short one for the TCP
    connect and TLS handshake (``CONNECT_TIMEOUT``), then a generous one for the answer
    (``PROBE_TIMEOUT``, or ``timeout`` when that is longer), so a slow-but-up target is
    load-tested — and fails its thresholds — instead of being called unreachable.
    Raises ``TargetUnreachable`` with the cause and the fix (DNS, refused, TLS, not HTTP).
    """
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetUnreachable(
            f"cannot resolve host {target.host!r} ({exc.strerror})",
            hint="check the host name in --target",
        ) from None
    sockaddr = infos[0][4]
    address = str(sockaddr[0])
    try:
        sock = socket.create_connection((address, target.port), timeout=CONNECT_TIMEOUT)
    except ConnectionRefusedError:
        raise TargetUnreachable(
            f"connection refused by {target.url}",
            hint="is the service running and listening on that port?",
        ) from None
    except OSError as exc:
        raise TargetUnreachable(
            f"cannot connect to {target.url}: {exc.strerror or exc}",
            hint="check --target and that the service is running",
        ) from None
    try:
        if target.tls:
            try:
                ctx = tls.context()
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"cannot load TLS files: {exc}",
                    hint="check --ca-cert, --client-cert and --client-key paths (PEM)",
                ) from None
            try:
                sock = ctx.wrap_socket(sock, server_hostname=target.host)
            except ssl.SSLCertVerificationError as exc:
                raise TargetUnreachable(
                    f"TLS certificate of {target.url} not trusted: {exc.verify_message}",
                    hint="pass its CA with --ca-cert, or --insecure to skip verification",
                ) from None
            except (ssl.SSLError, OSError) as exc:
                raise TargetUnreachable(
                    f"TLS handshake with {target.url} failed: {exc}",
                    hint="check https vs http, and --client-cert if the server requires one",
                ) from None
        sock.settimeout(max(PROBE_TIMEOUT, timeout or 0.0))
        _probe_http(sock, target, endpoint)
    finally:
        sock.close()
    return address


class _Probe:
    def __init__(self) -> None:
        self.complete = False
        self.headers = False

    def on_headers_complete(self) -> None:
        self.headers = True

    def on_message_complete(self) -> None:
        self.complete = True


def _probe_http(sock: socket.socket, target: Target, endpoint: Endpoint) -> None:
    probe_ep = endpoint if endpoint.method == "GET" else Endpoint(path="/")
    sock.sendall(request_bytes(target, probe_ep))
    probe = _Probe()
    parser = httptools.HttpResponseParser(probe)
    received = b""
    try:
        while not probe.headers:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            parser.feed_data(chunk)
    except httptools.HttpParserError:
        raise TargetUnreachable(
            f"{target.url} does not speak HTTP/1.1 (it answered {received[:24]!r})",
            hint="check the port and scheme in --target",
        ) from None
    except TimeoutError:
        raise TargetUnreachable(
            f"{target.url} accepted the connection but sent no HTTP response within "
            f"{sock.gettimeout():g} s",
            hint="check the port in --target and that the service answers",
        ) from None
    except OSError as exc:
        raise TargetUnreachable(
            f"{target.url} dropped the connection: {exc}", hint="check the service's logs"
        ) from None
    if not probe.headers:
        raise TargetUnreachable(
            f"{target.url} closed the connection without an HTTP response"
            + (f" (it sent {received[:24]!r})" if received else ""),
            hint="check the port and scheme in --target",
        )


def dropped_threshold(
    spec: ExecutorSpec, checks: list[Threshold], setting: str | int | bool | None, breakpoint: bool
) -> list[Threshold]:
    """The default ``dropped_iterations==0`` of an open-model run (k6 counts dropped
    iterations; a load test that silently sent fewer requests than asked measured another
    load). None when the executor is closed, the run is a breakpoint search (drops are how
    it breaks), ``setting`` is False, or a threshold on dropped iterations is already given."""
    if setting is False or (setting is None and (not spec.open_model or breakpoint)):
        return []
    if any(t.metric in ("dropped_iterations", "dropped_rate") for t in checks):
        return []
    if setting is None or setting is True:
        text = DEFAULT_DROPPED
    elif isinstance(setting, int):
        if setting < 0:
            raise UsageError("dropped_iterations_threshold must be >= 0", hint="e.g. 0 or 50")
        text = f"dropped_iterations<={setting}"
    else:
        text = str(setting)
    parsed = parse_thresholds(text)
    if any(t.metric not in ("dropped_iterations", "dropped_rate") for t in parsed):
        raise UsageError(
            f"dropped_iterations_threshold {text!r} is not about dropped iterations",
            hint="e.g. 'dropped_iterations<=50', a number, or false",
        )
    # the default never aborts a run by itself (only its own abortOnFail would)
    return [dataclasses.replace(t, abort_on_fail=t.abort_on_fail or False) for t in parsed]


def ensure_fd_limit(
    needed: int,
    getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
    setrlimit: Callable[[int, tuple[int, int]], None] = resource.setrlimit,
) -> int:
    """Raise the soft descriptor limit to ``needed`` (inherited by workers) or fail clearly."""
    soft, hard = getrlimit(resource.RLIMIT_NOFILE)
    if needed <= soft:
        return soft
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise ConfigError(
            f"this run needs {needed} file descriptors per worker but the hard limit is {hard}",
            hint="lower --vus/--max-vus, add --workers, or raise `ulimit -Hn`",
        )
    setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def run(
    target: str,
    *,
    executor: ExecutorSpec | None = None,
    endpoints: Sequence[Endpoint] = (),
    thresholds: Any = (),
    abort_on_fail: bool = False,
    dropped_iterations_threshold: str | int | bool | None = None,
    workers: int | None = None,
    timeout: float = 10.0,
    think_time: tuple[float, float] = (0.0, 0.0),
    tls: TLSOptions | None = None,
    snapshot_interval: float = 1.0,
    progress: Progress | None = None,
    run_dir: str | Path | None = None,
    stop: threading.Event | None = None,
    seed: int = 0,
    scenario: Any = None,
    target_pid: int | None = None,
    resource_interval: float = 1.0,
    memory_threshold_mb: float | None = None,
    leak_threshold_mb: float | None = None,
    breakpoint: bool = False,
    environment: str | None = None,
    allow_destructive: bool = False,
    cluster: str | None = None,
    target_named: bool = True,
    watch: Watcher | None = None,
) -> LoadResult:
    """Run a load test against ``target`` and return what it measured.

    ``cluster`` (``local:N`` or a Dask scheduler address): the workers run as Dask tasks
    (``distributed.py``); ``target_named`` False (the CLI's demo fallback) refuses that.
    ``watch`` sees every snapshot and every closed second (the live web view, ``web.py``).

    ``environment`` "production" (unless ``allow_destructive``): a plan with an unsafe method
    or a destructive-looking path is refused (``SafetyError``) before anything is sent.

    ``scenario`` (a ``FlowScenario`` from TOML or a ``PythonScenario``) replaces
    ``endpoints``: VUs run its tasks and results are reported per step (or task) name.
    ``target_pid``: sample the target's process tree (``resources.py``); the memory and leak
    limits then become threshold rows. ``breakpoint``: the thresholds are checked on every
    second instead of the whole run (default ``error_rate<1%``); two broken seconds in a row
    stop the run and ``capacity_rps`` is the highest rate of good responses before that.
    ``thresholds``: strings, k6 objects or a k6 mapping (``thresholds.parse_thresholds``).
    ``dropped_iterations_threshold``: an open-model run (arrival rate) gets
    ``dropped_iterations==0`` unless a threshold on dropped iterations is given; pass an
    integer N (at most N dropped), another threshold, or False for none.
    """
    if environment == "production" and not allow_destructive:  # the write policy
        from battletest.transport.policy import plan_requests, refuse_unsafe_plan

        refuse_unsafe_plan(plan_requests(endpoints, scenario))
    spec = (executor or ExecutorSpec()).validate()
    parsed = parse_target(target)
    if scenario is not None:
        endpoints = [Endpoint(path="/", name=n) for n in scenario.names]
    eps = tuple(e.validate() for e in (endpoints or (Endpoint(),)))
    names = [e.label for e in eps]
    if len(set(names)) != len(names):
        raise ScenarioError("two endpoints share a name", hint="give each endpoint a unique name")
    checks = parse_thresholds(thresholds)
    checks.extend(dropped_threshold(spec, checks, dropped_iterations_threshold, breakpoint))
    for t in checks:
        if t.endpoint is not None and t.endpoint not in names:
            raise UsageError(
                f"threshold {t.source!r} names unknown endpoint {t.endpoint!r}",
                hint=f"known endpoints: {', '.join(names)}",
            )
    if timeout <= 0:
        raise UsageError("--timeout must be positive", hint="e.g. --timeout 10s")
    if think_time[0] < 0 or think_time[1] < think_time[0]:
        raise UsageError("invalid think time", hint="use MIN..MAX with 0 <= MIN <= MAX")
    tls = tls or TLSOptions()
    dask = None
    if cluster is not None:
        from battletest.load.distributed import check_target, connect, refuse_unnamed

        refuse_unnamed(target_named)
        dask = connect(cluster)
    try:
        if dask is not None:
            check_target(target, dask)
        count = spec.worker_count(len(dask.workers) if dask else (workers or default_workers()))
        per_worker = -(-spec.effective_max_vus // count)
        ensure_fd_limit(per_worker + FD_HEADROOM)
        address = preflight(parsed, Endpoint() if scenario is not None else eps[0], tls)
        shared: tuple[tuple[str, Any], ...] = ()
        if scenario is not None and bool(getattr(scenario, "setup", None)):
            from battletest.load.setup import run_steps

            shared = tuple(run_steps(scenario, "setup", parsed, address, tls, timeout, {}).items())

        configs = [
            WorkerConfig(
                i,
                count,
                parsed,
                address,
                eps,
                spec,
                timeout,
                think_time,
                tls,
                snapshot_interval,
                seed,
                scenario,
                shared,
            )
            for i in range(count)
        ]
        monitor = None
        if target_pid is not None:
            from battletest.load.resources import ResourceMonitor

            monitor = ResourceMonitor(target_pid, resource_interval, run_dir)
        started_at = datetime.now(UTC)
        cpu0 = time.thread_time()
        agg = Aggregator(names, count, snapshot_interval, timeout)
        session = _Session(configs, agg, checks, abort_on_fail, progress, stop, spec)
        session.cluster, session.watch = dask, watch
        if breakpoint:
            session.breakpoint = [
                t for t in checks if t.endpoint is None and t.metric in _PER_SECOND
            ]
            if not session.breakpoint:
                session.breakpoint = parse_thresholds(["error_rate<1%"])
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            session.series_path = Path(run_dir) / SERIES_FILE
        if monitor is not None:
            monitor.start()
        try:
            session.execute()
        finally:
            report = monitor.stop(leak_threshold_mb or 10.0) if monitor is not None else None
        result = _build(session, parsed, spec, started_at, cpu0, count, checks)
        result.load_shape = spec.shape()
        if dask is not None:
            result.cluster = session.cluster_summary()
        if breakpoint:
            result.capacity_rps = round(session.best, 1)
            if session.broke is None and not session.interrupted:
                result.warnings.append(
                    f"breakpoint: nothing broke up to the end of the ramp; capacity is at least "
                    f"{session.best:.0f}/s (raise the top rate)"
                )
            elif session.broke is not None:
                result.warnings.append(
                    f"breakpoint: {session.broke[1]} broke at {session.broke[0]:.0f} s; highest "
                    f"sustained rate {session.best:.1f}/s"
                )
        if report is not None:
            _resource_rows(result, report, memory_threshold_mb, leak_threshold_mb)
        if scenario is not None and bool(getattr(scenario, "teardown", None)):
            from battletest.load.setup import run_steps

            try:
                run_steps(scenario, "teardown", parsed, address, tls, timeout, dict(shared))
            except ScenarioError as exc:
                result.warnings.append(str(exc))
        if run_dir is not None:
            folder = Path(run_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / HISTOGRAM_FILE).write_text(result.histogram + "\n", encoding="ascii")
        return result

    finally:
        if dask is not None:
            dask.close()


class _Session:
    """Worker processes and the message loop; turns Ctrl-C into a graceful stop."""

    def __init__(
        self,
        configs: list[WorkerConfig],
        agg: Aggregator,
        checks: list[Any],
        abort_on_fail: bool,
        progress: Progress | None,
        stop: threading.Event | None,
        spec: ExecutorSpec,
    ) -> None:
        self.configs = configs
        self.agg = agg
        self.checks = checks
        self.abort_on_fail = abort_on_fail
        self.progress = progress
        self.stop = stop or threading.Event()
        self.spec = spec
        self.interrupted = False
        self.aborted = False
        self.stopping = False
        self.warnings: list[str] = []
        self.shown = 0
        self.series_path: Path | None = None
        self.breakpoint: list[Any] | None = None
        self.best = 0.0  # breakpoint: highest per-second rate of good responses so far
        self.broke: tuple[float, str] | None = None
        self.strikes = 0
        self.last_good: float | None = None
        self.watch: Watcher | None = None
        self.cluster: Any = None  # a distributed.Cluster: the workers are Dask tasks
        self.cluster_workers: list[dict[str, Any]] = []
        self.started = 0.0  # monotonic time the workers were told to start
        self.per_worker: dict[int, list[int]] = {}  # worker -> [requests, failed]
        self.worker_hists: dict[int, str] = {}  # distributed runs: each worker's own (encoded)

    def add(self, snap: dict[str, Any]) -> None:
        """Merge one worker snapshot (and count it per worker)."""
        self.agg.add(snap)
        counts = self.per_worker.setdefault(int(snap.get("worker", 0)), [0, 0])
        for ep in snap["endpoints"]:
            counts[0] += ep["requests"]
            counts[1] += ep["failed"]
        if self.watch is not None:
            self.watch.snapshot(snap)

    def cluster_summary(self) -> dict[str, Any]:
        """Where a distributed run ran and what each worker did (the histogram it merged
        itself, on its own host; empty for a worker lost before its end)."""
        workers = []
        for w in self.cluster_workers:
            requests, failed = self.per_worker.get(w["index"], [0, 0])
            workers.append(
                {
                    **w,
                    "requests": requests,
                    "failed": failed,
                    "histogram": self.worker_hists.get(w["index"], ""),
                }
            )
        return {"scheduler": self.cluster.spec.address or "local", "workers": workers}

    def execute(self) -> None:
        if self.cluster is not None:
            from battletest.load.distributed import execute

            execute(self, self.cluster)
            return
        main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGINT) if main else None
        procs: list[subprocess.Popen[bytes]] = []
        pipes: list[Pipe] = []
        try:
            for cfg in self.configs:
                parent, child = multiprocessing.Pipe()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "battletest.load.worker", str(child.fileno())],
                    pass_fds=[child.fileno()],
                    start_new_session=True,  # Ctrl-C reaches the coordinator only
                )
                child.close()
                parent.send(cfg)
                procs.append(proc)
                pipes.append(parent)
            if main:
                signal.signal(signal.SIGINT, self._on_sigint)
            self._wait_ready(pipes)
            for pipe in pipes:
                pipe.send(("start",))
            self._loop(pipes)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
            for pipe in pipes:
                pipe.close()  # a worker still waiting sees EOF and stops
            for proc in procs:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.interrupted:  # a second Ctrl-C: stop waiting for in-flight requests
            self.stop.set()
            self._hard = True
        self.interrupted = True
        self.stop.set()

    _hard = False

    def _wait_ready(self, pipes: list[Pipe]) -> None:
        waiting = set(pipes)
        deadline = time.monotonic() + 60
        while waiting:
            ready = cast(list[Pipe], multiprocessing.connection.wait(list(waiting), timeout=0.5))
            for pipe in ready:
                try:
                    pipe.recv()
                except EOFError:
                    raise ScenarioError(
                        "a load worker process exited during start-up",
                        hint="run with a smaller --workers and check the error output above",
                    ) from None
                waiting.discard(pipe)
            if time.monotonic() > deadline:
                raise ScenarioError("load workers did not start within 60 s")

    def _loop(self, pipes: list[Pipe]) -> None:
        pending = set(pipes)
        sent: float | None = None  # the grace last sent with "stop"
        while pending:
            if self.stop.is_set():
                grace = 0.0 if self._hard else min(self.spec.graceful_stop, 2.0)
                if sent is None or grace < sent:  # a second Ctrl-C shortens the grace to 0
                    if not self.interrupted and not self.aborted:
                        self.interrupted = True
                    for pipe in pending:
                        with contextlib.suppress(OSError):
                            pipe.send(("stop", grace))
                    sent = grace
            ready = cast(list[Pipe], multiprocessing.connection.wait(list(pending), timeout=0.2))
            for pipe in ready:
                try:
                    kind, payload = pipe.recv()
                except (EOFError, OSError):
                    self.warnings.append("a load worker process exited unexpectedly")
                    pending.discard(pipe)
                    continue
                if kind == "snapshot":
                    self.add(payload)
                elif kind == "done":
                    self.add(payload["snapshot"])
                    self.agg.cpu_s += float(payload["cpu_s"])
                    pending.discard(pipe)
                elif kind == "error":
                    self.warnings.append(f"a load worker failed: {payload}")
                    pending.discard(pipe)
            self._report()

    def _breakpoint(self, seconds: list[int]) -> None:
        assert self.breakpoint is not None
        for k in seconds:
            smp = self.agg.sample(k)
            requests, errors = smp.requests, smp.errors
            if requests < 10:
                continue
            good = smp.rps * (requests - errors) / requests
            values = {
                "error_rate": errors / requests,
                "p50": smp.p50,
                "p95": smp.p95,
                "p99": smp.p99,
                "rps": smp.rps,
                "rps_ok": good,
            }
            broken = [t.source for t in self.breakpoint if not t.check(values[t.metric])]
            # sustained: the mean of two consecutive intervals, so one burst does not count
            if self.last_good is not None:
                self.best = max(self.best, (self.last_good + good) / 2)
            self.last_good = good
            self.strikes = self.strikes + 1 if broken else 0
            if self.strikes >= 2:
                self.broke = (smp.t, broken[0])
                self.aborted = True
                self.stopping = True
                self.stop.set()
                return

    def _should_abort(self) -> bool:
        """A failing threshold that aborts (its own ``abortOnFail``, else ``--abort-on-fail``)
        once its ``delayAbortEval`` has passed."""
        elapsed = self.agg.elapsed
        for r in self.agg.evaluate(self.checks, final=False):
            t = r.threshold
            aborts = self.abort_on_fail if t.abort_on_fail is None else t.abort_on_fail
            if r.passed is False and aborts and elapsed >= t.delay_abort_eval:
                return True
        return False

    def _report(self) -> None:
        complete = self.agg.complete_seconds()
        fresh = [k for k in complete if k > self.shown]
        if not fresh:
            return
        self.shown = fresh[-1]
        if self.breakpoint is not None and self.broke is None:
            self._breakpoint(fresh)
        if self.series_path is not None:
            with self.series_path.open("a", encoding="utf-8") as out:
                for k in fresh:
                    out.write(json.dumps(dataclasses.asdict(self.agg.sample(k))) + "\n")
        if self.checks and not self.stopping and self._should_abort():
            self.aborted = True
            self.stopping = True
            self.stop.set()
        if self.watch is not None:
            self.watch.second(self, fresh)
        if self.progress is not None:
            sample = self.agg.sample(self.shown)
            self.progress(
                LiveStats(
                    elapsed=sample.t,
                    planned=self.spec.planned_duration,
                    vus=sample.vus,
                    rps=sample.rps,
                    p50=sample.p50,
                    p95=sample.p95,
                    p99=sample.p99,
                    requests=self.agg.total.requests,
                    failed=self.agg.total.failed,
                    dropped=self.agg.dropped,
                )
            )


def _resource_rows(
    result: LoadResult, report: Any, memory_mb: float | None, leak_mb: float | None
) -> None:
    """Attach the target's resources; memory and leak limits become threshold rows."""
    result.resources = report.to_dict()
    if report.lost:
        result.warnings.append(report.lost)
    if memory_mb is not None:
        ok = report.peak_rss_mb <= memory_mb
        result.thresholds.append(
            ThresholdRow(
                threshold=f"memory<{memory_mb:g}MB",
                measured=report.peak_rss_mb,
                passed=ok if report.samples else None,
                line=f"peak RSS {report.peak_rss_mb:.1f} MB "
                + ("<=" if ok else ">")
                + f" {memory_mb:g} MB",
            )
        )
    if leak_mb is not None:
        verdict = report.leak
        result.thresholds.append(
            ThresholdRow(
                threshold=f"leak<{leak_mb:g}MB",
                measured=verdict.growth_low_mb if verdict else None,
                passed=(not verdict.leak) if verdict else None,
                line=verdict.line if verdict else "too few resource samples for a leak verdict",
            )
        )


def _build(
    session: _Session,
    target: Target,
    spec: ExecutorSpec,
    started_at: Any,
    cpu0: float,
    workers: int,
    checks: list[Any],
) -> LoadResult:
    from battletest.load import histogram

    agg = session.agg
    total = agg.total
    elapsed = agg.elapsed
    rows = [
        ThresholdRow(
            threshold=r.threshold.source, measured=r.measured, passed=r.passed, line=r.line
        )
        for r in agg.evaluate(checks)
    ]
    warnings = list(session.warnings)
    if agg.dropped:
        warnings.append(
            f"{agg.dropped} iterations dropped: {spec.effective_max_vus} connections "
            "(--max-vus) could not sustain the arrival rate; raise --max-vus"
        )
    if total.requests == 0 and not session.interrupted:
        warnings.append("no request completed; check the target and the --timeout")
    return LoadResult(
        target=target.url,
        executor=spec.kind,
        workers=workers,
        started_at=started_at,
        duration_s=round(elapsed, 3),
        requests=total.requests,
        failed=total.failed,
        error_rate=round(total.failed / total.requests, 6) if total.requests else 0.0,
        rps=round(total.requests / elapsed, 2) if elapsed > 0 else 0.0,
        intended_iterations=intended_iterations(spec),
        dropped_iterations=agg.dropped,
        interrupted_iterations=agg.interrupted,
        latency_ms=LatencyMs(**histogram.summary_ms(total.hist)),
        endpoints={name: agg.endpoint_metrics(name) for name in agg.names},
        errors=dict(sorted(agg.errors.items())),
        bytes_in=agg.bytes_in,
        bytes_out=agg.bytes_out,
        counters=dict(sorted(agg.counters.items())),
        series=agg.series(),
        endpoint_series=agg.endpoint_series(),
        rps_ok=round((total.requests - total.failed) / elapsed, 2) if elapsed > 0 else 0.0,
        iterations=agg.iterations,
        timeout_s=agg.timeout or 0.0,
        client_cpu_s=round(agg.cpu_s + time.thread_time() - cpu0, 4),
        thresholds=rows,
        interrupted=session.interrupted and not session.aborted,
        aborted=session.aborted,
        warnings=warnings,
        histogram=histogram.encode(total.hist),
    )
