"""``MockServer``: a dependency stand-in on a real loopback port.

    with MockServer.from_file("pms_stubs.toml") as pms:
        app = make_app(pms_url=pms.url)
        pms.activate_failure("throttling", seconds=2)
        pms.verify("GET", "/reservations/{id}", at_least=1, headers={"x-correlation-id": cid})

The server runs its own event loop in a background thread, so it serves blocking test code,
other threads and other processes alike. Everything a Python caller can change (stubs, faults,
latency, failure scenarios, scenario states, the journal) is also reachable over HTTP under
``/__admin`` (see docs/mock.md), which is what ``battletest mock activate`` talks to. The
server listens on loopback; ``allow_remote=True`` lets it listen elsewhere, and then the admin
API needs ``admin_token`` on every request (401 without it).

``MockServer(upstream=URL)`` forwards every request no stub matches to a real dependency, so
failure scenarios and the journal work in front of it; ``record_upstream=URL`` also saves each
forwarded exchange as a stub (``save_recorded``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, Unpack

from battletest.chaos.mock.http import Fault, HttpServer, Request, Response
from battletest.chaos.mock.journal import Expectation, Journal, JournalEntry, Match
from battletest.chaos.mock.stubs import (
    Latency,
    Stub,
    load_stub_file,
    parse_fault,
    parse_stub,
    render,
    render_json,
    template_context,
)
from battletest.chaos.scenarios import FailureSchedule, ScenarioRegistry
from battletest.errors import BattletestError, UsageError
from battletest.netutil import (
    LOOPBACK,
    TOKEN_HEADER,
    guard_control_bind,
    new_event_loop,
    start_loop_thread,
    token_matches,
)

T = TypeVar("T")
ADMIN = "/__admin"
ADMIN_TOKEN_ENV = "BATTLETEST_MOCK_TOKEN"
_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "date",
    "server",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "host",
}


class MockServer:
    """Stubs, faults, failure scenarios and a request journal behind one loopback port."""

    def __init__(
        self,
        stubs: Iterable[Stub | Mapping[str, Any]] = (),
        *,
        host: str = LOOPBACK,
        port: int = 0,
        scenarios: Mapping[str, Mapping[str, Any]] | None = None,
        seed: int | None = None,
        record_upstream: str | None = None,
        upstream: str | None = None,
        admin_port: int | None = None,
        allow_remote: bool = False,
        admin_token: str | None = None,
        name: str = "mock",
    ) -> None:
        guard_control_bind(
            host,
            allow_remote=allow_remote,
            token=admin_token,
            what="the mock server (and its admin API)",
            token_hint=f"admin_token=…, --admin-token or ${ADMIN_TOKEN_ENV}",
        )
        self.admin_token = admin_token or None
        self.name = name
        self.host = host
        self.requested_port = port
        self.rng = random.Random(seed)
        self.registry = ScenarioRegistry(scenarios)
        self.failures = FailureSchedule(self.registry, rng=random.Random(seed))
        self.journal = Journal()
        if record_upstream and upstream:
            raise UsageError(
                "give record_upstream (proxy and record) or upstream (proxy), not both"
            )
        # unmatched requests go to the upstream; record mode also saves them as stubs
        self.upstream = (record_upstream or upstream or "").rstrip("/") or None
        self.recording = record_upstream is not None
        self._lock = threading.RLock()
        self._stubs: list[Stub] = [
            s if isinstance(s, Stub) else parse_stub(s, i) for i, s in enumerate(stubs)
        ]
        self._states: dict[str, str] = {}
        self._fault: tuple[Fault, float] | None = None
        self._latency: Latency | None = None
        self._recorded: dict[tuple[str, str], Stub] = {}
        self._http = HttpServer(self._handle, seed=seed)
        # an admin-only listener that stays up during an outage (admin_port=0: a free port)
        self._admin_http = HttpServer(self._admin) if admin_port is not None else None
        self.requested_admin_port = admin_port or 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._client: Any = None
        self._port = 0

    # ------------------------------------------------------------ construction

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> MockServer:
        """Stubs (and ``[scenarios.NAME]`` tables) from a TOML or JSON stub file."""
        stubs, scenarios = load_stub_file(path)
        merged = {**scenarios, **dict(kwargs.pop("scenarios", None) or {})}
        return cls(stubs, scenarios=merged, **kwargs)

    @classmethod
    def from_openapi(
        cls, spec: str | Path | Mapping[str, Any], *, validate: bool = False, **kwargs: Any
    ) -> MockServer:
        """One stub per operation, answering with a schema-valid example of its 2xx response;
        ``validate``: a request that breaks its operation's document gets its documented 400."""
        from battletest.chaos.mock.openapi import stubs_from_openapi

        return cls(stubs_from_openapi(spec, validate=validate), **kwargs)

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        if not self._port:
            raise UsageError(
                "the mock server is not started; call start() or use it as a context manager"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def admin_url(self) -> str:
        """Where the admin API is: the separate admin port if any, else the mock's own URL."""
        if self._admin_http is None:
            return self.url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._admin_http.port}"

    def start(self) -> MockServer:
        if self._thread is not None:
            return self
        loop = new_event_loop()

        async def boot() -> None:
            await self._http.start(self.host, self.requested_port)
            if self._admin_http is not None:
                await self._admin_http.start(self.host, self.requested_admin_port)
            self._watcher = loop.create_task(self._watch_outages())

        self._loop = loop
        try:
            self._thread = start_loop_thread(
                loop, f"battletest-mock:{self.name}", boot, self._shutdown, 15
            )
        except Exception as exc:
            raise UsageError(
                f"mock server could not listen on {self.host}:{self.requested_port}: {exc} "
                "(choose another --port)"
            ) from None
        self._port = self._http.port
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block the calling thread until ``stop()`` or Ctrl-C."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    async def _shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        await self._http.stop()
        if self._admin_http is not None:
            await self._admin_http.stop()
        if self._client is not None:
            await self._client.aclose()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None or self._thread is None:
            coro.close()
            raise UsageError("the mock server is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    # ------------------------------------------------------------ stubs and faults

    @property
    def stubs(self) -> list[Stub]:
        with self._lock:
            return list(self._stubs)

    def add_stub(self, stub: Stub | Mapping[str, Any], *, first: bool = True) -> Stub:
        """Add a stub; by default it takes precedence over the existing ones of its priority."""
        s = stub if isinstance(stub, Stub) else parse_stub(stub, len(self._stubs))
        with self._lock:
            self._stubs = [x for x in self._stubs if x.name != s.name]
            if first:
                self._stubs.insert(0, s)
            else:
                self._stubs.append(s)
        return s

    def remove_stub(self, name: str) -> bool:
        with self._lock:
            before = len(self._stubs)
            self._stubs = [x for x in self._stubs if x.name != name]
            return len(self._stubs) < before

    def clear_stubs(self) -> None:
        with self._lock:
            self._stubs = []

    def set_fault(self, fault: Fault | str | None, probability: float = 1.0) -> None:
        """A transport fault on every request (with a probability), or None to clear."""
        if not 0.0 <= probability <= 1.0:
            raise UsageError(f"fault probability must be between 0 and 1, got {probability}")
        with self._lock:
            self._fault = None if fault is None else (parse_fault(fault, "fault"), probability)

    def set_latency(self, latency: Latency | float | Mapping[str, Any] | None) -> None:
        """Latency added to every answer (ms, or a distribution), or None to clear."""
        with self._lock:
            self._latency = (
                latency
                if latency is None or isinstance(latency, Latency)
                else Latency.parse(latency, "latency")
            )

    def scenario_state(self, scenario: str) -> str:
        with self._lock:
            return self._states.get(scenario, "Started")

    def set_scenario_state(self, scenario: str, state: str) -> None:
        with self._lock:
            self._states[scenario] = state

    def _forget(self) -> None:
        with self._lock:
            self._states.clear()
            self._fault = None
            self._latency = None
        self.journal.clear()
        self.failures.deactivate()

    def reset(self) -> None:
        """Forget the journal, scenario states, faults, latency and active failures."""
        self._forget()
        if self._thread is not None:
            self._call(self._sync_listener())

    # ------------------------------------------------------------ failure scenarios

    def activate_failure(self, name: str, seconds: float, *, paths: Iterable[str] = ()) -> None:
        """Switch a named failure scenario on for ``seconds`` (see battletest.chaos.scenarios)."""
        self.failures.activate(name, seconds, paths=paths)
        if self._thread is not None:
            self._call(self._sync_listener())

    def deactivate_failure(self, name: str | None = None) -> None:
        self.failures.deactivate(name)
        if self._thread is not None:
            self._call(self._sync_listener())

    def active_failures(self) -> list[dict[str, Any]]:
        return self.failures.describe()

    async def _sync_listener(self) -> None:
        """Close the port during an outage, reopen it once the outage is over."""
        refusing = self.failures.refusing() is not None
        if refusing and self._http.listening:
            await self._http.close_listener(drop_connections=True)
        elif not refusing and not self._http.listening:
            for _ in range(50):
                try:
                    await self._http.reopen()
                    return
                except OSError:
                    await asyncio.sleep(0.05)

    async def _watch_outages(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            with contextlib.suppress(OSError):
                await self._sync_listener()

    # ------------------------------------------------------------ journal

    def verify(
        self, method: str | None = None, path: str | None = None, **expect: Unpack[Expectation]
    ) -> list[JournalEntry]:
        """Assert how often matching requests arrived (``Journal.verify``); returns them."""
        return self.journal.verify(method, path, **expect)

    def requests(
        self, method: str | None = None, path: str | None = None, **match: Unpack[Match]
    ) -> list[JournalEntry]:
        return self.journal.entries(method, path, **match)

    # ------------------------------------------------------------ record mode

    def recorded_stubs(self) -> list[Stub]:
        with self._lock:
            return list(self._recorded.values())

    def save_recorded(self, path: str | Path) -> Path:
        """Write the recorded stubs as a JSON stub file that ``from_file`` loads."""
        p = Path(path)
        doc = {"stubs": [s.to_raw() for s in self.recorded_stubs()]}
        p.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return p

    async def _forward(self, request: Request) -> Response:
        import httpx

        assert self.upstream is not None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30.0)
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP]
        try:
            up = await self._client.request(
                request.method,
                self.upstream + request.target,
                headers=headers,
                content=request.body,
            )
        except httpx.HTTPError as exc:
            return _json(502, {"error": "upstream failed", "detail": str(exc)})
        out_headers = [
            (k, v)
            for k, v in up.headers.items()
            if k.lower() not in _HOP and k.lower() != "content-encoding"
        ]
        key = (request.method, request.target)
        with self._lock:
            if self.recording and key not in self._recorded:
                ctype = up.headers.get("content-type", "")
                resp: dict[str, Any] = {"status": up.status_code, "headers": dict(out_headers)}
                try:
                    resp["json" if "json" in ctype else "body"] = (
                        up.json() if "json" in ctype else up.text
                    )
                except ValueError:
                    resp["body"] = up.text
                raw = {
                    "name": f"{request.method} {request.target}",
                    "method": request.method,
                    "path_regex": "^" + re.escape(request.path) + "$",
                    "query": {k: v[0] for k, v in request.query.items()},
                    "response": resp,
                }
                # recorded bodies are data, not templates
                for k in ("json", "body"):
                    if k in resp:
                        resp[k] = _escape_templates(resp[k])
                self._recorded[key] = parse_stub(raw, len(self._recorded))
        return Response(up.status_code, out_headers, up.content)

    # ------------------------------------------------------------ request handling

    async def _handle(self, request: Request) -> Response | Fault:
        if request.path == ADMIN or request.path.startswith(ADMIN + "/"):
            return await self._admin(request)
        started = time.monotonic()
        entry = self.journal.record(
            JournalEntry(
                seq=0,
                timestamp=time.time(),
                monotonic=started,
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.header_map,
                body=request.body.decode("utf-8", "replace"),
                client=request.client,
            )
        )
        result = await self._answer(request, entry)
        entry.duration_ms = round((time.monotonic() - started) * 1000, 3)
        if isinstance(result, Fault):
            entry.fault = result.value
        else:
            entry.status = result.status
        return result

    async def _answer(self, request: Request, entry: JournalEntry) -> Response | Fault:
        hit = self.failures.effect_for(request.path)
        if hit is not None:
            active, eff = hit
            entry.scenario = active.scenario.name
            if eff.latency_ms:
                await asyncio.sleep(eff.latency_ms / 1000)
            if eff.hang_s:
                await asyncio.sleep(eff.hang_s)
            if eff.fault:
                return Fault(eff.fault)
            if eff.status is not None:
                return Response(eff.status, list(eff.headers), eff.body.encode())
        with self._lock:
            fault, latency, stubs = self._fault, self._latency, list(self._stubs)
        if fault is not None and (fault[1] >= 1.0 or self.rng.random() < fault[1]):
            return fault[0]
        if latency is not None:
            await asyncio.sleep(latency.sample_ms(self.rng) / 1000)
        stub, params = self._match(request, stubs)
        if stub is None:
            if self.upstream is not None:
                entry.stub = "(recorded)" if self.recording else "(upstream)"
                return await self._forward(request)
            return _json(
                404,
                {
                    "error": "no stub matched",
                    "method": request.method,
                    "path": request.path,
                    "hint": f"add a stub, or list them at {ADMIN}/stubs",
                },
            )
        entry.stub = stub.name
        refused = stub.check(request, params) if stub.check is not None else None
        if refused is not None:
            return refused
        if stub.scenario is not None and stub.new_state is not None:
            with self._lock:
                self._states[stub.scenario] = stub.new_state
        r = stub.response
        if r.latency is not None:
            await asyncio.sleep(r.latency.sample_ms(self.rng) / 1000)
        if r.fault is not None:
            return r.fault
        ctx = template_context(request, params)
        headers = [(k, render(v, ctx)) for k, v in r.headers.items()]
        if r.body_bytes is not None:
            body = r.body_bytes
        elif r.json is not None:
            body = json.dumps(render_json(r.json, ctx)).encode()
            if "content-type" not in r.headers:
                headers.append(("content-type", "application/json"))
        else:
            body = render(r.body or "", ctx).encode()
        return Response(r.status, headers, body)

    def _match(self, request: Request, stubs: list[Stub]) -> tuple[Stub | None, dict[str, str]]:
        best: tuple[Stub | None, dict[str, str]] = (None, {})
        best_rank: tuple[int, bool] | None = None
        head = request.method == "HEAD"
        for stub in stubs:
            # lower priority wins, the earlier stub on a tie; a GET stub answers a HEAD only
            # when no HEAD stub of its priority does (a document may describe both)
            rank = (stub.priority, head and stub.method == "GET")
            if best_rank is not None and rank >= best_rank:
                continue
            state = self._states.get(stub.scenario) if stub.scenario else None
            params = stub.match(request, state)
            if params is not None:
                best, best_rank = (stub, params), rank
        return best

    # ------------------------------------------------------------ admin API

    async def _admin(self, request: Request) -> Response:
        if self.admin_token and not token_matches(request.header_map, self.admin_token):
            return _json(401, {"error": f"the admin API needs its token ({TOKEN_HEADER})"})
        try:
            return await self._admin_route(request)
        except BattletestError as exc:
            return _json(400, {"error": str(exc)})
        except ValueError as exc:
            return _json(400, {"error": f"bad admin request: {exc}"})

    async def _admin_route(self, request: Request) -> Response:
        parts = [p for p in request.path[len(ADMIN) :].split("/") if p]
        method = request.method
        body: Any = json.loads(request.body) if request.body.strip() else {}
        head = parts[0] if parts else ""
        rest = parts[1] if len(parts) > 1 else None
        q = {k: v[0] for k, v in request.query.items()}
        if head == "health" and method == "GET":
            return _json(200, {"status": "ok", "name": self.name, "stubs": len(self.stubs)})
        if head == "stubs":
            if method == "GET":
                return _json(200, {"stubs": [s.to_raw() for s in self.stubs]})
            if method == "POST":
                items = body.get("stubs", [body]) if isinstance(body, dict) else body
                added = [self.add_stub(s).name for s in items]
                return _json(201, {"added": added})
            if method == "DELETE":
                if rest is None:
                    self.clear_stubs()
                    return _json(200, {"removed": "all"})
                if self.remove_stub(rest):
                    return _json(200, {"removed": rest})
                return _json(404, {"error": f"no stub named {rest!r}"})
        if head == "requests":
            if method == "GET":
                entries = self.journal.entries(q.get("method"), q.get("path"))
                return _json(200, {"requests": [e.to_dict() for e in entries]})
            if method == "DELETE":
                self.journal.clear()
                return _json(200, {"cleared": True})
            if method == "POST" and rest == "count":
                n = self.journal.count(
                    body.get("method"), body.get("path"), headers=body.get("headers")
                )
                return _json(200, {"count": n})
        if head == "scenarios":
            if method == "GET":
                known = [{"name": s.name, "description": s.description} for s in self.registry]
                return _json(200, {"known": known, "active": self.active_failures()})
            if method == "POST" and rest is not None:
                self.failures.activate(
                    rest, float(body.get("seconds", 0)), paths=body.get("paths", ())
                )
                # an outage closes the port on the watcher's next tick, after this answer
                return _json(200, {"active": self.active_failures()})
            if method == "DELETE":
                n = self.failures.deactivate(rest)
                return _json(200, {"deactivated": n})
        if head == "faults":
            if method == "POST":
                self.set_fault(body.get("fault"), float(body.get("probability", 1.0)))
                return _json(200, {"fault": body.get("fault")})
            if method == "DELETE":
                self.set_fault(None)
                return _json(200, {"fault": None})
        if head == "latency":
            if method == "POST":
                self.set_latency(body)
                return _json(200, {"latency": body})
            if method == "DELETE":
                self.set_latency(None)
                return _json(200, {"latency": None})
        if head == "states" and rest is not None:
            if method == "PUT":
                self.set_scenario_state(rest, str(body.get("state", "Started")))
            return _json(200, {"scenario": rest, "state": self.scenario_state(rest)})
        if head == "recordings" and method == "GET":
            return _json(200, {"stubs": [s.to_raw() for s in self.recorded_stubs()]})
        if head == "reset" and method == "POST":
            self._forget()
            return _json(200, {"reset": True})
        return _json(
            404, {"error": f"no admin route {method} {request.path}", "hint": "see docs/mock.md"}
        )


def _json(status: int, payload: Any) -> Response:
    return Response(status, [("content-type", "application/json")], json.dumps(payload).encode())


def _escape_templates(value: Any) -> Any:
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            return "{% raw %}" + value + "{% endraw %}"
        return value
    if isinstance(value, dict):
        return {k: _escape_templates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_templates(v) for v in value]
    return value


__all__ = ["ADMIN", "MockServer"]
