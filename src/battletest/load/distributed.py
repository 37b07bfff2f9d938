"""Distributed load on a Dask cluster: ``battletest load --cluster tcp://scheduler:8786``.

The workers are the same ``Runtime`` as the local worker processes, run as Dask tasks: one
task per Dask worker, pinned to it (``workers=[address]``, no other worker allowed), each
owning a disjoint execution segment of the load (``WorkerConfig.index`` of ``count``: VU j and
arrival i belong to worker j % count, so an arrival rate is exact in total). Everything a task
needs travels as data in its envelope: the executor, the endpoints or parsed TOML scenario, the
setup's variables, and a Python scenario's source text (written to a temporary file on the
worker host; no shared files are assumed).

Transport is Dask's own, not a socket protocol of ours: snapshots go up a ``distributed.Queue``
(one per run, held by the scheduler), the start and the stop come down as
``distributed.Event``s with the grace period in a ``distributed.Variable``. The coordinator
merges every snapshot into the same ``Aggregator`` as a local run, so percentiles, thresholds
and ``abortOnFail`` are evaluated on the merged histograms every second while the test runs.

A worker that leaves the cluster (or whose task fails, or that sends nothing for
``SILENT_S``) is reported with the second it was lost; its remaining share of an arrival-rate
run is counted in ``dropped_iterations`` (so the default ``dropped_iterations==0`` fails: the
run measured less load than asked), and the run goes on with the others. A pinned task is never
rescheduled on another worker, so a lost share is never run twice.

Safety: the coordinator refuses a distributed run whose target the user did not name, and a
run on a cluster with workers beyond this machine whose target is a loopback address (each
worker would load its own host's loopback service, not the one named).
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from battletest.errors import ConfigError, SafetyError, ScenarioError, UsageError
from battletest.load.executors import worker_offsets
from battletest.netutil import is_loopback_host

if TYPE_CHECKING:
    from battletest.load.coordinator import _Session
    from battletest.load.runtime import WorkerConfig

START_TIMEOUT = 120.0  # a cluster on a loaded machine (or a slow network) may take a while
SILENT_S = 15.0  # a worker that sends nothing this long while the run goes is lost
LOSS_CHECK_S = 1.0
CLUSTER_EXTRA = "pip install 'battletest[cluster]' (dask and distributed)"


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """Where the Dask workers are: ``local:N`` (a LocalCluster of N processes) or a
    scheduler address (``tcp://host:8786``, ``tls://host:8786``)."""

    address: str | None = None
    local_workers: int = 0

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        text = text.strip()
        if text.startswith("local:") or text == "local":
            count = text.partition(":")[2] or "2"
            if not count.isdigit() or int(count) < 1:
                raise UsageError(
                    f"--cluster {text!r}: local needs a worker count",
                    hint="e.g. --cluster local:2",
                )
            return cls(local_workers=int(count))
        scheme = urlsplit(text).scheme
        if scheme not in ("tcp", "tls", "ucx", "inproc") or not urlsplit(text).netloc:
            raise UsageError(
                f"--cluster {text!r} is not a Dask scheduler address",
                hint="e.g. --cluster tcp://scheduler:8786 or --cluster local:2",
            )
        return cls(address=text)

    @property
    def local(self) -> bool:
        return self.local_workers > 0


@dataclass(slots=True)
class Cluster:
    """A connected Dask client and the worker addresses the run will use (one task each)."""

    client: Any
    workers: list[str]
    spec: ClusterSpec
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer.close()


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--cluster needs Dask's distributed package, which is not installed",
            hint=CLUSTER_EXTRA,
        ) from None
    return distributed


def connect(text: str, *, timeout: float = 30.0) -> Cluster:
    """Start a LocalCluster (``local:N``) or connect to a scheduler; list its workers.

    TLS and other security settings come from Dask's own configuration
    (``distributed.comm.tls.*``, see docs/distributed.md), as ``dask worker`` reads them.
    """
    spec = ClusterSpec.parse(text)
    distributed = _import_distributed()
    closers: list[Any] = []
    try:
        if spec.local:
            local = distributed.LocalCluster(
                n_workers=spec.local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                host="127.0.0.1",
                silence_logs=50,  # logging.CRITICAL: the run reports what matters
            )
            closers.append(local)
            client = distributed.Client(local, timeout=timeout)
        else:
            client = distributed.Client(spec.address, timeout=timeout)
        closers.append(client)
        if spec.local:
            client.wait_for_workers(spec.local_workers, timeout=timeout)
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    except (OSError, TimeoutError) as exc:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                closer.close()
        raise ConfigError(
            f"cannot reach the Dask cluster {text}: {exc}",
            hint="start it with `dask scheduler` and `dask worker tcp://HOST:8786`",
        ) from None
    if not workers:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                closer.close()
        raise ConfigError(
            f"the Dask cluster {text} has no workers", hint="start some: dask worker ADDRESS"
        )
    return Cluster(client, workers, spec, closers)


def worker_host(address: str) -> str:
    return urlsplit(address).hostname or ""


def refuse_unnamed(named: bool) -> None:
    """The safety rule of a distributed run: load only a target the user named (never a
    default such as the built-in demo), checked before any cluster is contacted."""
    if not named:
        raise SafetyError(
            "a distributed load run needs a target you name",
            hint="pass --target http://HOST:PORT (or [target] url in the config)",
        )


def check_target(target: str, cluster: Cluster) -> None:
    """Refuse a loopback target on workers beyond this machine (each would load its own
    host's loopback, not the service the user named)."""
    host = urlsplit(target).hostname or ""
    remote = [w for w in cluster.workers if not is_loopback_host(worker_host(w))]
    if remote and is_loopback_host(host):
        raise SafetyError(
            f"target {target} is loopback but Dask worker {remote[0]} runs on another host: "
            "each worker would load its own machine",
            hint="name the target by an address the workers reach",
        )


def _ship_files(cfg: WorkerConfig) -> dict[str, str]:
    """The source of a Python scenario, so a worker host needs no copy of the file."""
    scenario = cfg.scenario
    file = getattr(scenario, "file", None)
    if isinstance(file, str) and file.endswith(".py"):
        return {file: Path(file).read_text(encoding="utf-8")}
    return {}


@dataclass(frozen=True, slots=True)
class Channels:
    """The Dask names of one run's queue, events and variable."""

    up: str
    go: str
    stop: str
    grace: str

    @classmethod
    def new(cls) -> Channels:
        run = uuid.uuid4().hex[:12]
        return cls(f"bt-{run}-up", f"bt-{run}-go", f"bt-{run}-stop", f"bt-{run}-grace")


def run_share(cfg: WorkerConfig, channels: Channels, files: dict[str, str]) -> dict[str, Any]:
    """The Dask task: run one execution segment and stream its snapshots up the queue.

    Runs in a Dask worker's task thread: the runtime gets an event loop of its own (uvloop)
    in this thread; a sender thread does the (blocking) queue puts so the loop never waits on
    the scheduler, and a watcher thread turns the stop event into ``Runtime.stop(grace)``.
    """
    import tempfile

    from battletest.load import histogram
    from battletest.load.runtime import Runtime, cpu_seconds
    from battletest.netutil import new_event_loop

    dd = _import_distributed()
    client = dd.get_client()
    up = dd.Queue(channels.up, client=client)
    outbox: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()

    def send() -> None:
        while (message := outbox.get()) is not None:
            up.put(message)

    sender = threading.Thread(target=send, name="battletest-send", daemon=True)
    sender.start()
    folder = None
    if files:  # a Python scenario: its source, written where this host can import it
        folder = tempfile.TemporaryDirectory(prefix="battletest-scenario-")
        path = Path(folder.name) / Path(next(iter(files))).name
        path.write_text(next(iter(files.values())), encoding="utf-8")
        cfg = dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, file=str(path)))
    try:
        outbox.put(("ready", cfg.index))
        if not dd.Event(channels.go, client=client).wait(timeout=START_TIMEOUT):
            return {"started": False}
        cpu0 = cpu_seconds()
        loop = new_event_loop()
        done = threading.Event()
        holder: list[Runtime] = []

        def watch() -> None:
            stop = dd.Event(channels.stop, client=client)
            grace_var = dd.Variable(channels.grace, client=client)
            applied: float | None = None
            while not done.is_set():
                with contextlib.suppress(Exception):
                    if stop.wait(timeout=0.5) and holder:
                        grace = float(grace_var.get(timeout=5))
                        if applied is None or grace < applied:
                            loop.call_soon_threadsafe(holder[0].stop, grace)
                            applied = grace
                        done.wait(0.3)

        own = histogram.new_histogram()  # this worker's whole run, merged here, not upstream

        def sink(message: tuple[str, Any]) -> None:
            for ep in message[1]["endpoints"]:
                if ep["hist"]:
                    histogram.merge(own, ep["hist"])
            outbox.put(message)

        async def serve() -> dict[str, Any]:
            runtime = Runtime(cfg, sink)
            holder.append(runtime)
            return await runtime.run()

        watcher = threading.Thread(target=watch, name="battletest-watch", daemon=True)
        watcher.start()
        try:
            final = loop.run_until_complete(serve())
        except Exception as exc:  # reported to the coordinator, which turns it into one line
            outbox.put(("error", (cfg.index, f"{type(exc).__name__}: {exc}")))
            return {"started": True}
        finally:
            done.set()
            loop.close()
        cpu = cpu_seconds() - cpu0  # the whole worker process: Dask's comms are client cost
        for ep in final["endpoints"]:
            if ep["hist"]:
                histogram.merge(own, ep["hist"])
        outbox.put(("done", {"snapshot": final, "cpu_s": cpu, "histogram": histogram.encode(own)}))
        return {"started": True, "cpu_s": cpu}
    finally:
        outbox.put(None)
        sender.join(timeout=30)
        if folder is not None:
            folder.cleanup()


@dataclass(slots=True)
class _Worker:
    index: int
    address: str
    future: Any
    last_seen: float = 0.0
    last_elapsed: float = 0.0
    lost_at: int | None = None


def _drain(up: Any, wait: float) -> list[Any]:
    """Whatever the queue holds: wait up to ``wait`` for the first item, then take the rest."""
    try:
        first = up.get(timeout=wait)
    except TimeoutError:
        return []
    rest = up.get(batch=True)
    return [first, *rest]


def execute(session: _Session, cluster: Cluster) -> None:
    """The coordinator's side of a distributed run (``_Session.execute`` on Dask)."""
    dd = _import_distributed()
    client = cluster.client
    channels = Channels.new()
    up = dd.Queue(channels.up, client=client)
    go = dd.Event(channels.go, client=client)
    stop_event = dd.Event(channels.stop, client=client)
    grace_var = dd.Variable(channels.grace, client=client)
    workers = []
    for cfg, address in zip(session.configs, cluster.workers, strict=False):
        future = client.submit(
            run_share,
            cfg,
            channels,
            _ship_files(cfg),
            key=f"battletest-load-{channels.up}-{cfg.index}",
            workers=[address],
            allow_other_workers=False,
            pure=False,
            retries=0,
        )
        workers.append(_Worker(cfg.index, address, future))
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        if main:
            signal.signal(signal.SIGINT, session._on_sigint)
        _wait_ready(up, workers, session)
        if session.stop.is_set():
            return
        session.started = time.monotonic()
        for w in workers:
            w.last_seen = session.started
        go.set()
        _loop(session, up, workers, stop_event, grace_var, cluster)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        stop_event.set()
        with contextlib.suppress(Exception):
            client.cancel([w.future for w in workers], force=True)
        session.cluster_workers = [
            {"index": w.index, "address": w.address, "lost_at": w.lost_at} for w in workers
        ]


def _wait_ready(up: Any, workers: list[_Worker], session: _Session) -> None:
    waiting = {w.index for w in workers}
    deadline = time.monotonic() + START_TIMEOUT
    while waiting and not session.stop.is_set():
        for message in _drain(up, 0.5):
            if message[0] == "ready":
                waiting.discard(int(message[1]))
        for w in workers:
            if w.index in waiting and w.future.status in ("error", "cancelled", "lost"):
                raise ScenarioError(
                    f"the load task on Dask worker {w.address} failed during start-up: "
                    f"{_future_error(w.future)}",
                    hint="is battletest (same version) installed on every Dask worker?",
                )
        if time.monotonic() > deadline:
            raise ScenarioError(
                f"{len(waiting)} Dask worker(s) did not start the load task within "
                f"{START_TIMEOUT:.0f} s",
                hint="check that the workers are idle and have battletest installed",
            )


def _future_error(future: Any) -> str:
    with contextlib.suppress(Exception):
        exc = future.exception(timeout=1)
        return f"{type(exc).__name__}: {exc}"
    return str(future.status)


def _loop(
    session: _Session,
    up: Any,
    workers: list[_Worker],
    stop_event: Any,
    grace_var: Any,
    cluster: Cluster,
) -> None:
    by_index = {w.index: w for w in workers}
    pending = set(by_index)
    sent: float | None = None
    checked = time.monotonic()
    while pending:
        if session.stop.is_set():
            grace = 0.0 if session._hard else min(session.spec.graceful_stop, 2.0)
            if sent is None or grace < sent:
                if not session.interrupted and not session.aborted:
                    session.interrupted = True
                grace_var.set(grace)
                stop_event.set()
                sent = grace
        now = time.monotonic()
        for kind, payload in _drain(up, 0.2):
            if kind == "snapshot":
                index = int(payload["worker"])
                if index in pending:
                    session.add(payload)
                    by_index[index].last_seen = now
                    by_index[index].last_elapsed = float(payload["elapsed"])
            elif kind == "done":
                index = int(payload["snapshot"]["worker"])
                if index in pending:
                    session.add(payload["snapshot"])
                    session.agg.cpu_s += float(payload["cpu_s"])
                    session.worker_hists[index] = str(payload["histogram"])
                    pending.discard(index)
            elif kind == "error":
                index, text = payload
                session.warnings.append(f"the load task on worker {index} failed: {text}")
                _lose(session, by_index[int(index)], now, reason="its task failed")
                pending.discard(int(index))
        if now - checked >= LOSS_CHECK_S:
            checked = now
            for index in sorted(pending):
                reason = _lost_reason(by_index[index], cluster, now)
                if reason is not None:
                    _lose(session, by_index[index], now, reason=reason)
                    pending.discard(index)
        session._report()


def _alive(cluster: Cluster) -> set[str]:
    with contextlib.suppress(Exception):
        return set(cluster.client.scheduler_info(n_workers=-1)["workers"])
    return set(cluster.workers)


def _lost_reason(worker: _Worker, cluster: Cluster, now: float) -> str | None:
    if worker.future.status in ("error", "cancelled", "lost"):
        return f"its task ended ({_future_error(worker.future)})"
    if worker.address not in _alive(cluster):
        return "it left the cluster"
    if now - worker.last_seen > SILENT_S:
        return f"it sent nothing for {SILENT_S:.0f} s"
    return None


def _lose(session: _Session, worker: _Worker, now: float, *, reason: str) -> None:
    """Report a lost worker with the second it was lost; count the rest of its arrival-rate
    share as dropped iterations; let the merge move on without it."""
    second = int(now - session.started) if session.started else 0
    worker.lost_at = second
    agg = session.agg
    agg.finished[worker.index] = True
    spec = session.spec
    cfg = session.configs[worker.index]
    line = (
        f"worker {worker.index} ({worker.address}) lost at {second} s: {reason}; "
        f"last snapshot at {worker.last_elapsed:.1f} s"
    )
    if spec.open_model and not session.stop.is_set():
        after = worker.last_elapsed
        shortfall = sum(1 for o in worker_offsets(spec, cfg.count, cfg.index) if o >= after)
        agg.dropped += shortfall
        line += f"; the {shortfall} iterations of its share after that are counted as dropped"
    else:
        line += "; its VUs ran no more"
    session.warnings.append(line)
