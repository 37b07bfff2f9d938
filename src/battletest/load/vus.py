"""Scenario VUs in a worker: TOML flows and Python tasks as coroutines, one client each.

``VUDriver`` is the runtime's driver when the run has a scenario. Closed-model executors (and
a Python ``Shape``) keep N VU coroutines looping over weighted tasks; arrival-rate executors
start one iteration per intended time on an idle VU (measured from that time, so a stalled
target still shows in the percentiles) and drop it when ``max_vus`` are busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from battletest.load.client import Client, RequestFailed, Response, perf_counter
from battletest.load.executors import local_vus, share, vus_at, worker_offsets
from battletest.load.flow import FlowScenario, Step, VUState, check_response, render_step
from battletest.load.scenario import status_failure
from battletest.load.tasks import PythonScenario, UserClient, import_file, shape_target

if TYPE_CHECKING:
    from battletest.load.runtime import Recorder, Runtime, WorkerConfig


class Runner(Protocol):
    async def on_start(self) -> None: ...
    async def iterate(self, start: float | None) -> None: ...
    async def on_stop(self) -> None: ...
    def wait(self) -> float: ...
    def close(self) -> None: ...
    def client(self) -> Client: ...


class Recording:
    """Send through a VU's client and record the outcome under a label."""

    def __init__(self, rec: Recorder, names: tuple[str, ...], client: Client) -> None:
        self.rec = rec
        self.index = {n: i for i, n in enumerate(names)}
        self.client = client

    async def send(
        self,
        label: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        start: float | None,
    ) -> Response | None:
        rec = self.rec
        i = self.index[label]
        client = self.client
        before = client.bytes_out
        begin = perf_counter() if start is None else start
        try:
            resp = await client.send(method, path, headers, body, begin)
        except RequestFailed as exc:
            # in the latency distribution at its elapsed time (a timeout at the timeout)
            elapsed = client.timeout if exc.kind == "timeout" else perf_counter() - begin
            rec.lat[i].append(int(elapsed * 1_000_000))
            rec.lost[i] += 1
            rec.error(exc.kind)
            return None
        finally:
            rec.bytes_out += client.bytes_out - before
            rec.bytes_in += client.take_bytes_in()
        rec.lat[i].append(int(resp.elapsed_ms * 1000))
        return resp

    def fail(self, label: str, kind: str) -> None:
        self.rec.failed[self.index[label]] += 1
        self.rec.error(kind)

    def sample(self, label: str, seconds: float) -> None:
        """A latency that is not an HTTP response's (a socket's handshake, a message's trip)."""
        self.rec.lat[self.index[label]].append(int(seconds * 1_000_000))

    def lose(self, label: str, kind: str, seconds: float) -> None:
        """A failed one, in the latency distribution at its elapsed time."""
        i = self.index[label]
        self.rec.lat[i].append(int(seconds * 1_000_000))
        self.rec.lost[i] += 1
        self.rec.error(kind)


class FlowRunner:
    def __init__(self, scenario: FlowScenario, vu: int, shared: dict[str, Any], rec: Recording):
        self.scenario = scenario
        self.state = VUState(scenario, vu, shared)
        self.rec = rec
        self.weights = [t.weight for t in scenario.tasks]
        low, high = scenario.think
        self.think = (low, high)
        self.sockets: dict[str, list[Any]] = {}  # WebSocket sockets by name (see ``wsflow``)

    async def steps(self, steps: tuple[Step, ...], start: float | None) -> bool:
        state = self.state
        for step in steps:
            if step.ws is not None:
                from battletest.load.wsflow import ws_step

                if not await ws_step(self, step, start):
                    return False
                start = None
                low, high = step.think
                if high > 0:
                    await asyncio.sleep(state.rng.uniform(low, high))
                continue
            path, headers, body = render_step(step, state)
            resp = await self.rec.send(step.label, step.method, path, headers, body, start)
            start = None
            if resp is None:
                return False
            kind = check_response(step, resp.status, resp.body)
            for ex in step.extract:
                found, value = ex.apply(resp.status, resp.headers, resp.body)
                if not found:
                    kind = "extract_failed"
                    break
                state.vars[ex.var] = value
            if kind:
                self.rec.fail(step.label, kind)
                if kind == "extract_failed":
                    return False
            for name, template in step.headers_after:
                self.rec.client.headers[name] = template.render(state.lookup)
            low, high = step.think
            if high > 0:
                await asyncio.sleep(state.rng.uniform(low, high))
        return True

    async def on_start(self) -> None:
        await self.steps(self.scenario.on_start, None)

    async def iterate(self, start: float | None) -> None:
        state = self.state
        state.vars["iteration"] += 1
        tasks = self.scenario.tasks
        chosen = tasks[0] if len(tasks) == 1 else state.rng.choices(tasks, self.weights)[0]
        await self.steps(chosen.steps, start)

    async def on_stop(self) -> None:
        await self.steps(self.scenario.on_stop, None)

    def wait(self) -> float:
        low, high = self.think
        return low if high == low else self.state.rng.uniform(low, high)

    def close(self) -> None:
        for sockets in self.sockets.values():
            for sock in sockets:
                sock.abort()
        self.sockets.clear()
        self.rec.client.close()

    def client(self) -> Client:
        return self.rec.client


class PythonRunner:
    def __init__(
        self, scenario: PythonScenario, vu: int, rec: Recording, shared: dict[str, Any]
    ) -> None:
        module = import_file(scenario.file)
        self.user = getattr(module, scenario.user_class)()
        self.user.vu = vu
        self.user.shared = shared
        self.user.random = random.Random(scenario.seed * 7919 + vu)
        self.label = "on_start"
        self.rec = rec
        self.user.client = UserClient(self._send)
        self.tasks = [getattr(self.user, name) for name, _ in scenario.tasks]
        self.names = [name for name, _ in scenario.tasks]
        self.weights = [w for _, w in scenario.tasks]
        self.start: float | None = None

    async def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes, expect: tuple[int, ...]
    ) -> Response:
        start, self.start = self.start, None
        resp = await self.rec.send(self.label, method, path, headers, body, start)
        if resp is None:
            raise RequestFailed("request failed")
        kind = status_failure(resp.status, expect)
        if kind:
            self.rec.fail(self.label, kind)
        return resp

    async def _call(self, label: str, fn: Any) -> None:
        self.label = label
        loop = asyncio.get_running_loop()
        begun = loop.time()
        try:
            await fn()
        except RequestFailed:
            pass  # already recorded
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = str(exc).replace("\n", " ")[:80]
            rec = self.rec.rec
            rec.error(f"task_error:{label}: {type(exc).__name__}: {message}")
            # one failed request at the task's elapsed time, so requests == len(latencies)
            rec.lat[self.rec.index[label]].append(int((loop.time() - begun) * 1_000_000))
            rec.lost[self.rec.index[label]] += 1
        self.user.last_task_s = loop.time() - begun

    async def on_start(self) -> None:
        await self._call("on_start", self.user.on_start)

    async def iterate(self, start: float | None) -> None:
        i = (
            0
            if len(self.tasks) == 1
            else self.user.random.choices(range(len(self.tasks)), self.weights)[0]
        )
        self.start = start
        await self._call(self.names[i], self.tasks[i])

    async def on_stop(self) -> None:
        await self._call("on_stop", self.user.on_stop)

    def wait(self) -> float:
        return float(type(self.user).wait_time(self.user))

    def close(self) -> None:
        self.rec.client.close()

    def client(self) -> Client:
        return self.rec.client


class VUDriver:
    """The runtime driver for scenarios (see the module docstring)."""

    def __init__(self, rt: Runtime, cfg: WorkerConfig) -> None:
        self.rt = rt
        self.cfg = cfg
        self.spec = cfg.spec
        self.users: list[Any] = []  # the runtime's per-connection sweep has nothing to do here
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.runners: dict[int, Runner] = {}
        self.idle: list[int] = []
        self.busy_count = 0
        self.launched = 0
        self.target = 0
        self.stopping = False
        self.shape: Any = None
        self.shape_users = 0.0
        self.last_tick = 0.0
        scenario = cfg.scenario
        if isinstance(scenario, PythonScenario) and scenario.shape:
            self.shape = import_file(scenario.file).Shape()
        self.remaining = (
            share(self.spec.iterations, cfg.count, cfg.index)
            if self.spec.kind == "shared-iterations"
            else -1
        )
        self.offsets: Iterator[float] | None = None
        self.next_offset: float | None = None
        if self.spec.open_model and self.shape is None:
            self.offsets = worker_offsets(self.spec, cfg.count, cfg.index)
            self.next_offset = next(self.offsets, None)
            self.max_users = share(self.spec.effective_max_vus, cfg.count, cfg.index)
        self.shape_done = False
        self.iterations: dict[int, int] = {}

    def _runner(self, local: int) -> Runner:
        cfg = self.cfg
        vu = local * cfg.count + cfg.index + 1
        client = Client(cfg.target, cfg.address, cfg.timeout, self.rt.ssl)
        names = tuple(ep.label for ep in cfg.endpoints)
        rec = Recording(self.rt.rec, names, client)
        scenario = cfg.scenario
        if isinstance(scenario, FlowScenario):
            return FlowRunner(scenario, vu, dict(cfg.shared), rec)
        return PythonRunner(scenario, vu, rec, dict(cfg.shared))

    # closed model -------------------------------------------------------------------------
    def begin(self) -> None:
        if self.offsets is not None:
            self.dispatch()
        else:
            self.tick(0.0)

    def tick(self, offset: float) -> None:
        if self.stopping or self.offsets is not None:
            return
        cfg = self.cfg
        if self.shape is not None:
            wanted = shape_target(self.shape.tick(offset))
            if wanted is None:
                self.shape_done = True
                return
            users, spawn_rate = wanted
            dt = max(offset - self.last_tick, 0.0)
            if users > self.shape_users:
                self.shape_users = min(float(users), self.shape_users + spawn_rate * max(dt, 0.05))
            else:
                self.shape_users = float(users)
            self.last_tick = offset
            self.target = local_vus(int(self.shape_users), cfg.count, cfg.index)
        else:
            self.target = local_vus(vus_at(self.spec, offset), cfg.count, cfg.index)
        for local in range(self.target):
            task = self.tasks.get(local)
            if task is None or task.done():
                if local in self.runners and not self._may_run(local):
                    continue
                self.tasks[local] = asyncio.get_running_loop().create_task(self._vu(local))

    def _may_run(self, local: int) -> bool:
        if self.stopping or local >= self.target or self.remaining == 0:
            return False
        return not (
            self.spec.kind == "per-vu-iterations"
            and self.iterations.get(local, 0) >= (self.spec.iterations)
        )

    async def _vu(self, local: int) -> None:
        runner = self.runners.get(local)
        if runner is None:
            runner = self.runners[local] = self._runner(local)
            await runner.on_start()
        while self._may_run(local):
            if self.remaining > 0:
                self.remaining -= 1
            self.busy_count += 1
            try:
                await runner.iterate(None)
            finally:
                self.busy_count -= 1
            self.rt.rec.iterations += 1
            self.iterations[local] = self.iterations.get(local, 0) + 1
            pause = runner.wait()
            if pause > 0:
                await asyncio.sleep(pause)

    # open model ---------------------------------------------------------------------------
    def dispatch(self) -> None:
        if self.stopping or self.offsets is None:
            return
        now = self.rt.clock() - self.rt.t0
        nxt = self.next_offset
        while nxt is not None and nxt <= now:
            self._launch(nxt)
            nxt = next(self.offsets, None)
        self.next_offset = nxt
        if nxt is not None:
            self.rt.call_later(max(nxt - now, 0.001), self.dispatch)

    def _launch(self, offset: float) -> None:
        if self.idle:
            local = self.idle.pop()
        elif len(self.runners) < self.max_users:
            local = len(self.runners)
            self.runners[local] = self._runner(local)
        else:
            self.rt.rec.dropped += 1
            return
        # busy from now, not from when the task first runs: a stop in between must wait for it
        self.busy_count += 1
        task = asyncio.get_running_loop().create_task(self._arrival(local, self.rt.t0 + offset))
        self.launched += 1
        key = -self.launched
        self.tasks[key] = task
        task.add_done_callback(lambda _t: self.tasks.pop(key, None))  # no task kept per iteration

    async def _arrival(self, local: int, start: float) -> None:
        runner = self.runners[local]
        try:
            if not getattr(runner, "started", False):
                runner.started = True  # type: ignore[attr-defined]
                await runner.on_start()
            await runner.iterate(start)
            self.rt.rec.iterations += 1
        finally:
            self.busy_count -= 1
            self.idle.append(local)

    # both ---------------------------------------------------------------------------------
    def finished(self, user: Any, error: bool, now: float) -> None:
        return None

    def exhausted(self, offset: float) -> bool:
        if self.shape_done:
            return True
        if self.offsets is not None:
            return self.next_offset is None
        if self.spec.kind in ("per-vu-iterations", "shared-iterations"):
            return bool(self.tasks) and all(t.done() for t in self.tasks.values())
        return False

    def active(self) -> int:
        if self.offsets is not None:
            return self.busy_count
        return sum(1 for t in self.tasks.values() if not t.done())

    def busy(self) -> bool:
        return self.busy_count > 0

    def sweep(self, limit: float) -> None:
        """Time out requests that started before ``limit`` (called every runtime tick)."""
        for runner in self.runners.values():
            runner.client().expire(limit)

    def stop(self) -> None:
        self.stopping = True

    async def close(self) -> None:
        tasks = list(self.tasks.values())  # finished arrival tasks remove themselves
        for task in tasks:
            if not task.done():
                self.rt.rec.interrupted += 1
                task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for runner in self.runners.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.on_stop(), timeout=self.cfg.timeout)
            runner.close()
