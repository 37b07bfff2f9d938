"""The worker runtime: one process, one uvloop event loop, callback-driven HTTP/1.1 clients.

This is the hot path. Each TCP connection is an ``asyncio.Protocol`` with an ``httptools``
response parser; a completed response is recorded (one list append of integer microseconds)
and the next iteration is written from the same callback, with no task or future per
request. Timeouts are enforced by a sweep every ``TICK`` seconds instead of a timer per
request. Per-snapshot counters and latencies are folded into HdrHistograms and sent to the
coordinator as plain picklable dicts over a pipe (``worker_main``), so nothing here assumes
shared memory with the coordinator.
"""

from __future__ import annotations

import asyncio
import math
import random
import resource
import signal
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httptools

from battletest.load import histogram
from battletest.load.executors import ExecutorSpec, local_vus, share, vus_at, worker_offsets
from battletest.load.scenario import Endpoint, Target, pick_sequence, request_bytes

if TYPE_CHECKING:
    from battletest.load.vus import VUDriver

TICK = 0.05
perf_counter = time.perf_counter


@dataclass(frozen=True, slots=True)
class TLSOptions:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything a worker needs, as picklable data (it may run on another machine)."""

    index: int
    count: int
    target: Target
    address: str  # resolved IP to connect to
    endpoints: tuple[Endpoint, ...]
    spec: ExecutorSpec
    timeout: float = 10.0
    think_time: tuple[float, float] = (0.0, 0.0)
    tls: TLSOptions = TLSOptions()
    snapshot_interval: float = 1.0
    seed: int = 0
    scenario: Any = None  # a FlowScenario or PythonScenario: VU coroutines instead of payloads
    shared: tuple[tuple[str, Any], ...] = ()  # variables the scenario's setup extracted


class Sink(Protocol):
    def __call__(self, message: tuple[str, Any]) -> None: ...


def error_kind(exc: BaseException | None) -> str:
    """Errors by kind, as reported: refused, reset, timeout, tls, dns, closed, connect."""
    if exc is None:
        return "closed"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, socket.gaierror):
        return "dns"
    return "connect"


async def open_connection(
    loop: asyncio.AbstractEventLoop,
    protocol: asyncio.Protocol,
    address: str,
    target: Target,
    ssl_context: ssl.SSLContext | None,
    timeout: float,
) -> str | None:
    """Connect ``protocol`` to the target at ``address``; the error kind if that fails."""
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: protocol,
                address,
                target.port,
                ssl=ssl_context,
                server_hostname=target.host if ssl_context else None,
            ),
            timeout=timeout,
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return error_kind(exc)
    return None


class Recorder:
    """Counters and latencies of the current snapshot interval."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "counters",
        "counts_iterations",
        "dropped",
        "endpoints",
        "errors",
        "failed",
        "interrupted",
        "iterations",
        "lat",
        "lost",
    )

    def __init__(self, endpoints: int, counts_iterations: bool = False) -> None:
        self.endpoints = endpoints
        self.counts_iterations = counts_iterations  # scenarios: iterations != requests
        self.reset()

    def reset(self) -> None:
        """Start a new interval (in place: connections keep a reference to the recorder)."""
        endpoints = self.endpoints
        self.lat: list[list[int]] = [[] for _ in range(endpoints)]
        self.failed = [0] * endpoints  # responses that failed their check
        self.lost = [0] * endpoints  # requests that got no response (transport errors)
        self.errors: dict[str, int] = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.counters: dict[str, int] = {}  # named counters (WebSocket messages, bytes, ...)
        self.dropped = 0
        self.interrupted = 0
        self.iterations = 0 if self.counts_iterations else -1  # -1: one request each

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def snapshot(
        self, seq: int, elapsed: float, vus: int, final: bool, worker: int = 0
    ) -> dict[str, Any]:
        """The interval as plain data. Every request has one latency in ``lat`` — a failed
        or timed-out one too, at its elapsed time — so ``requests`` is ``len(lat)``."""
        return {
            "seq": seq,
            "worker": worker,
            "elapsed": elapsed,
            "final": final,
            "vus": vus,
            "endpoints": [
                {
                    "hist": histogram.encode(histogram.fold(lat)) if lat else None,
                    "requests": len(lat),
                    "failed": failed + lost,
                    "lost": lost,
                }
                for lat, failed, lost in zip(self.lat, self.failed, self.lost, strict=True)
            ],
            "errors": dict(self.errors),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "counters": dict(self.counters),
            "dropped": self.dropped,
            "interrupted": self.interrupted,
            "iterations": self.iterations,
        }


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; at most one request in flight."""

    __slots__ = ("closed", "ep", "finished", "parser", "rec", "rt", "start", "transport", "user")

    def __init__(self, rt: Runtime, user: User) -> None:
        self.rt = rt
        self.rec = rt.rec  # the recorder lives as long as the runtime (snapshots swap contents)
        self.user = user
        self.finished = user.driver.finished
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.ep = -1  # endpoint in flight, -1 when idle
        self.start = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.rec.bytes_in += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail("protocol")

    def on_message_complete(self) -> None:
        ep = self.ep
        if ep < 0:
            return
        now = perf_counter()
        rec = self.rec
        rec.lat[ep].append(int((now - self.start) * 1_000_000))
        status = self.parser.get_status_code()
        expect = self.rt.expect[ep]  # inlined scenario.status_failure: 5xx never expected
        if expect:
            if status not in expect:
                rec.failed[ep] += 1
                rec.error("check_failed" if status < 500 else f"status_{status}")
        elif status >= 400 or status < 200:
            rec.failed[ep] += 1
            rec.error(f"status_{status}")
        self.ep = -1
        if not self.parser.should_keep_alive():
            self.close()
        self.finished(self.user, False, now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self.ep >= 0:
            self._lose(error_kind(exc))

    def fail(self, kind: str) -> None:
        """The request in flight failed without a usable response: count it, drop the socket."""
        self.close(abort=True)
        if self.ep >= 0:
            self._lose(kind)

    def _lose(self, kind: str) -> None:
        """Count a request without a response, at its elapsed time (a timeout at the
        timeout), so failures stay in the latency distribution as k6 keeps them."""
        rec = self.rec
        now = perf_counter()
        ep = self.ep
        elapsed = self.rt.cfg.timeout if kind == "timeout" else now - self.start
        rec.lat[ep].append(int(elapsed * 1_000_000))
        rec.lost[ep] += 1
        rec.error(kind)
        self.ep = -1
        self.finished(self.user, True, now)

    def close(self, abort: bool = False) -> None:
        self.closed = True
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
            self.transport = None

    def send(self, ep: int, start: float) -> None:
        self.ep = ep
        self.start = start
        if self.transport is not None:
            payload = self.rt.payloads[ep]
            self.transport.write(payload)
            self.rec.bytes_out += len(payload)


class User:
    """A VU (closed model) or a connection slot (open model): owns one connection at a time."""

    __slots__ = ("conn", "driver", "index", "iterations", "parked", "rt")

    def __init__(self, rt: Runtime, driver: Driver, index: int) -> None:
        self.rt = rt
        self.driver = driver
        self.index = index
        self.conn: Connection | None = None
        self.iterations = 0
        self.parked = True

    @property
    def busy(self) -> bool:
        return self.conn is not None and self.conn.ep >= 0

    def fire(self, ep: int, start: float) -> None:
        conn = self.conn
        if conn is None or conn.closed:
            conn = self.conn = Connection(self.rt, self)
            conn.send(ep, start)
            self.rt.connect(conn)
        else:
            conn.send(ep, start)


class Driver(Protocol):
    users: list[User]

    def begin(self) -> None: ...
    def tick(self, offset: float) -> None: ...
    def finished(self, user: User, error: bool, now: float) -> None: ...
    def exhausted(self, offset: float) -> bool: ...
    def active(self) -> int: ...


class ClosedDriver:
    """constant-vus, ramping-vus, per-vu-iterations and shared-iterations."""

    def __init__(self, rt: Runtime, cfg: WorkerConfig) -> None:
        self.rt = rt
        self.cfg = cfg
        self.spec = spec = cfg.spec
        self.users: list[User] = []
        self.target = 0
        self.stopping = False
        self.remaining = (
            share(spec.iterations, cfg.count, cfg.index) if spec.kind == "shared-iterations" else -1
        )
        self.per_vu = spec.iterations if spec.kind == "per-vu-iterations" else -1
        low, high = cfg.think_time
        self.think: Callable[[], float] | None = None
        if high > 0:
            rng = random.Random(cfg.seed + cfg.index)
            self.think = (lambda: low) if high == low else (lambda: rng.uniform(low, high))
        self.loop = asyncio.get_running_loop()
        # constant-vus without think time: no per-iteration bookkeeping at all
        self.simple = spec.kind == "constant-vus" and self.think is None
        self.weighted = len(cfg.endpoints) > 1

    def begin(self) -> None:
        self.tick(0.0)

    def tick(self, offset: float) -> None:
        if self.stopping:
            return
        cfg = self.cfg
        self.target = local_vus(vus_at(self.spec, offset), cfg.count, cfg.index)
        while len(self.users) < self.target:
            self.users.append(User(self.rt, self, len(self.users)))
        for user in self.users[: self.target]:
            if user.parked and self._may_run(user):
                user.parked = False
                self._next(user)
        # graceful ramp-down: VUs above the target finish their iteration, up to a limit
        limit = perf_counter() - self.spec.graceful_ramp_down
        for user in self.users[self.target :]:
            conn = user.conn
            if conn is not None and conn.ep >= 0 and conn.start < limit:
                self.rt.rec.interrupted += 1
                conn.ep = -1
                conn.close(abort=True)
                user.parked = True

    def _may_run(self, user: User) -> bool:
        if self.stopping or user.index >= self.target:
            return False
        if self.per_vu >= 0 and user.iterations >= self.per_vu:
            return False
        return self.remaining != 0

    def _next(self, user: User) -> None:
        if not self._may_run(user):
            user.parked = True
            return
        if self.remaining > 0:
            self.remaining -= 1
        user.fire(self.rt.pick(), perf_counter())

    def finished(self, user: User, error: bool, now: float) -> None:
        conn = user.conn
        # the hot path: the next request on the same socket, no per-iteration bookkeeping
        if (
            self.simple
            and not error
            and not self.stopping
            and conn is not None
            and conn.transport is not None
        ):
            conn.send(self.rt.pick() if self.weighted else 0, now)
            return
        user.iterations += 1
        if not self._may_run(user):
            user.parked = True
            return
        think = self.think() if self.think is not None else 0.0
        if error:
            think = max(think, 0.01)  # a refusing target must not spin the CPU
        if think > 0:
            self.loop.call_later(think, self._next, user)
        else:
            self._next(user)

    def exhausted(self, offset: float) -> bool:
        if self.spec.kind in ("per-vu-iterations", "shared-iterations"):
            return all(u.parked for u in self.users)
        return False

    def active(self) -> int:
        return sum(1 for u in self.users if not u.parked)

    def busy(self) -> bool:
        return any(u.busy for u in self.users)

    def stop(self) -> None:
        self.stopping = True


class ArrivalDriver:
    """constant-arrival-rate and ramping-arrival-rate: start iterations at intended times.

    Latency is measured from each iteration's intended start; an iteration whose time came
    while every connection slot (``max_vus``) was busy is dropped and counted.
    """

    def __init__(self, rt: Runtime, cfg: WorkerConfig, clock: Callable[[], float]) -> None:
        self.rt = rt
        self.users: list[User] = []
        self.idle: list[User] = []
        self.max_users = share(cfg.spec.effective_max_vus, cfg.count, cfg.index)
        self.offsets: Iterator[float] = worker_offsets(cfg.spec, cfg.count, cfg.index)
        self.next_offset: float | None = next(self.offsets, None)
        self.clock = clock
        self.t0 = 0.0
        self.stopping = False

    def begin(self) -> None:
        self.t0 = self.rt.t0
        self.dispatch()

    def dispatch(self) -> float | None:
        """Start every iteration that is due; return seconds until the next one (None: done)."""
        if self.stopping:
            return None
        now = self.clock() - self.t0
        nxt = self.next_offset
        while nxt is not None and nxt <= now:
            self.launch(nxt)
            nxt = next(self.offsets, None)
        self.next_offset = nxt
        if nxt is None:
            return None
        delay = nxt - now
        self.rt.call_later(max(delay, 0.001), self.dispatch)
        return delay

    def launch(self, offset: float) -> None:
        if self.idle:
            user = self.idle.pop()
        elif len(self.users) < self.max_users:
            user = User(self.rt, self, len(self.users))
            user.parked = False
            self.users.append(user)
        else:
            self.rt.rec.dropped += 1
            return
        user.fire(self.rt.pick(), self.t0 + offset)

    def tick(self, offset: float) -> None:
        return None

    def finished(self, user: User, error: bool, now: float) -> None:
        self.idle.append(user)

    def exhausted(self, offset: float) -> bool:
        return self.next_offset is None

    def active(self) -> int:
        return len(self.users) - len(self.idle)

    def busy(self) -> bool:
        return any(u.busy for u in self.users)

    def stop(self) -> None:
        self.stopping = True


class Runtime:
    """One worker's event-loop side: connections, the driver, snapshots and the end."""

    def __init__(self, cfg: WorkerConfig, sink: Sink, clock: Callable[[], float] = perf_counter):
        self.cfg = cfg
        self.sink = sink
        self.clock = clock
        self.loop = asyncio.get_running_loop()
        self.rec = Recorder(len(cfg.endpoints), cfg.scenario is not None)
        self.payloads = [request_bytes(cfg.target, ep) for ep in cfg.endpoints]
        self.expect = [frozenset(s for s in ep.expect if s < 500) for ep in cfg.endpoints]
        self.sequence = pick_sequence(cfg.endpoints, cfg.seed + cfg.index)
        self.seq_pos = 0
        self.ssl = cfg.tls.context() if cfg.target.tls else None
        self.t0 = 0.0
        self.seq = 0
        self.done = asyncio.Event()
        self.stop_at: float | None = None  # offset after which in-flight work is abandoned
        self.driver: ClosedDriver | ArrivalDriver | VUDriver
        if cfg.scenario is not None:
            from battletest.load.vus import VUDriver

            self.driver = VUDriver(self, cfg)
        elif cfg.spec.open_model:
            self.driver = ArrivalDriver(self, cfg, clock)
        else:
            self.driver = ClosedDriver(self, cfg)

    def pick(self) -> int:
        seq = self.sequence
        if len(seq) == 1:
            return 0
        self.seq_pos = (self.seq_pos + 1) % len(seq)
        return seq[self.seq_pos]

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        self.loop.call_later(delay, fn)

    def connect(self, conn: Connection) -> None:
        self.loop.create_task(self._connect(conn))

    async def _connect(self, conn: Connection) -> None:
        cfg = self.cfg
        failed = await open_connection(
            self.loop, conn, cfg.address, cfg.target, self.ssl, cfg.timeout
        )
        if failed is not None:
            conn.fail(failed)
            return
        if conn.closed or conn.ep < 0:  # timed out or stopped while connecting
            if conn.transport is not None:
                conn.transport.abort()
                conn.transport = None
        else:
            conn.send(conn.ep, conn.start)

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        spec = cfg.spec
        self.t0 = self.clock()
        end = spec.planned_duration
        next_snapshot = cfg.snapshot_interval
        self.driver.begin()
        while True:
            await asyncio.sleep(TICK)
            offset = self.clock() - self.t0
            self._sweep_timeouts()
            if self.stop_at is None:
                if offset >= end or self.driver.exhausted(offset):
                    self.stop(spec.graceful_stop, offset)
                else:
                    self.driver.tick(offset)
            if offset >= next_snapshot:
                self.sink(("snapshot", self.take_snapshot(offset, final=False)))
                next_snapshot += cfg.snapshot_interval * max(
                    1, math.floor((offset - next_snapshot) / cfg.snapshot_interval) + 1
                )
            if self.stop_at is not None and (offset >= self.stop_at or not self.driver.busy()):
                break
        if not isinstance(self.driver, ClosedDriver | ArrivalDriver):
            await self.driver.close()
        for user in self.driver.users:
            if user.conn is not None:
                if user.conn.ep >= 0:
                    self.rec.interrupted += 1
                    user.conn.ep = -1
                user.conn.close(abort=True)
        return self.take_snapshot(self.clock() - self.t0, final=True)

    def stop(self, grace: float, offset: float | None = None) -> None:
        """Start no new iterations; abandon the ones in flight after ``grace`` seconds."""
        if offset is None:
            offset = self.clock() - self.t0
        if self.stop_at is None or offset + grace < self.stop_at:
            self.stop_at = offset + grace
        self.driver.stop()

    def _sweep_timeouts(self) -> None:
        limit = self.clock() - self.cfg.timeout
        if not isinstance(self.driver, ClosedDriver | ArrivalDriver):
            self.driver.sweep(limit)
            return
        for user in self.driver.users:
            conn = user.conn
            if conn is not None and conn.ep >= 0 and conn.start < limit:
                conn.fail("timeout")

    def take_snapshot(self, offset: float, final: bool) -> dict[str, Any]:
        self.seq += 1
        snap = self.rec.snapshot(self.seq, offset, self.driver.active(), final, self.cfg.index)
        self.rec.reset()
        return snap


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_main(cfg: WorkerConfig, pipe: Any) -> None:
    """Entry point of a worker process: wait for start, run, stream snapshots, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator owns Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        pass
    pipe.send(("ready", cfg.index))
    try:
        message = pipe.recv()
    except EOFError:  # the coordinator gave up before the start
        return
    if message[0] != "start":
        return
    try:
        final = asyncio.run(_serve(cfg, pipe))
    except Exception as exc:  # reported to the coordinator, which turns it into one line
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    pipe.send(("done", {"snapshot": final, "cpu_s": cpu_seconds()}))


async def _serve(cfg: WorkerConfig, pipe: Any) -> dict[str, Any]:
    runtime = Runtime(cfg, pipe.send)
    loop = asyncio.get_running_loop()

    def on_message() -> None:
        while pipe.poll():
            try:
                message = pipe.recv()
            except EOFError:  # the coordinator went away: stop now
                loop.remove_reader(pipe.fileno())
                runtime.stop(0.0)
                return
            if message[0] == "stop":
                runtime.stop(float(message[1]))

    loop.add_reader(pipe.fileno(), on_message)
    try:
        return await runtime.run()
    finally:
        loop.remove_reader(pipe.fileno())
