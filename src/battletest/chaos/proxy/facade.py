"""``FaultProxy``: the proxy as a library, driven from synchronous code in any thread.

The async core (``ProxyServer``) runs on its own uvloop event loop in a background thread; each
method here hands a call to that loop and waits for its result, so tests, scripts and failure
scenarios can add and remove toxics, enable and disable proxies at runtime without touching
asyncio. Code that already runs inside an event loop uses ``ProxyServer`` (and ``serve_api``)
directly instead.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from battletest.chaos.proxy.core import (
    ListenError,
    Proxy,
    ProxyServer,
    format_address,
    parse_address,
)
from battletest.chaos.proxy.toxics import Toxic, ToxicKinds
from battletest.errors import ConfigError, UsageError
from battletest.netutil import guard_control_bind, listening, new_event_loop, start_loop_thread

TOKEN_ENV = "BATTLETEST_PROXY_TOKEN"

T = TypeVar("T")
CALL_TIMEOUT_S = 30.0


def bind_socket(address: str, what: str = "API") -> socket.socket:
    """A listening TCP socket on ``host:port``, or a ``ConfigError`` that says what to change."""
    host, port = parse_address(address, f"{what} address")
    hint = "pick another port, e.g. --api 127.0.0.1:8475"
    sock = listening(
        host, port, 128, ListenError, f"{what} address {address} cannot be bound", hint
    )
    sock.setblocking(False)
    return sock


@dataclass
class RunningApi:
    """The control API served by uvicorn on the proxy's loop."""

    uvicorn: Any
    task: asyncio.Task[None]

    async def wait(self) -> None:
        """Until the server exits (Ctrl-C, SIGTERM or ``stop``)."""
        await self.task

    async def stop(self) -> None:
        self.uvicorn.should_exit = True
        await self.task


async def serve_api(
    server: ProxyServer, sock: socket.socket, *, token: str | None = None
) -> RunningApi:
    """Serve the control API for ``server`` on the listening ``sock`` within the running loop;
    with a ``token``, every request must carry it (401 otherwise)."""
    import uvicorn

    from battletest.chaos.proxy.api import create_app

    config = uvicorn.Config(
        create_app(server, token=token), log_level="warning", lifespan="off", access_log=False
    )
    api = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(api.serve(sockets=[sock]))
    while not api.started:
        if task.done():
            task.result()
            raise ListenError("the control API did not start")
        await asyncio.sleep(0.005)
    return RunningApi(api, task)


class FaultProxy:
    """A fault proxy server in a background thread, optionally with its REST control API.

    >>> with FaultProxy() as faults:                                  # doctest: +SKIP
    ...     pms = faults.add("pms", upstream="127.0.0.1:9001")
    ...     with faults.fault("pms", "latency", latency=200):
    ...         ...  # calls through pms["listen"] are 200 ms slower here
    """

    def __init__(
        self,
        *,
        api: str | None = None,
        seed: int | None = None,
        kinds: ToxicKinds | None = None,
        api_token: str | None = None,
        allow_remote: bool = False,
    ) -> None:
        self.server = ProxyServer(kinds, seed=seed)
        self.api_address = api
        self.api_token = api_token or None
        if api:  # a non-loopback control API only when allowed, and then behind a token
            guard_control_bind(
                parse_address(api, "API address")[0],
                allow_remote=allow_remote,
                token=self.api_token,
                what="the proxy control API",
                token_hint=f"api_token=…, --api-token or ${TOKEN_ENV}",
            )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._api: RunningApi | None = None
        self._api_url: str | None = None

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        if self._thread is not None:
            return self
        sock = bind_socket(self.api_address) if self.api_address else None
        loop = new_event_loop()

        async def boot() -> None:
            _ = self.server.loop
            if sock is not None:
                self._api = await serve_api(self.server, sock, token=self.api_token)
                host, port = sock.getsockname()[:2]
                self._api_url = f"http://{format_address(host, port)}"

        self._loop = loop
        try:
            self._thread = start_loop_thread(
                loop, "battletest-fault-proxy", boot, loop.shutdown_asyncgens, CALL_TIMEOUT_S
            )
        except BaseException:
            self._loop = None
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            await self.server.close()
            if self._api is not None:
                await self._api.stop()

        try:
            self._run(shutdown)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str | None:
        """``http://host:port`` of the control API, when started with ``api=``."""
        return self._api_url

    # calls into the loop ------------------------------------------------------------------
    def _run(self, fn: Callable[[], Awaitable[T]]) -> T:
        loop = self._loop
        if loop is None:
            raise UsageError("the fault proxy is not running", hint="call start() or use `with`")
        if self._thread is threading.current_thread():
            raise UsageError(
                "FaultProxy was called from its own event loop",
                hint="inside async code use battletest.chaos.proxy.ProxyServer directly",
            )

        async def call() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(CALL_TIMEOUT_S)

    def _sync(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self._run(call)

    # proxies -----------------------------------------------------------------------------
    def add(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", *, enabled: bool = True
    ) -> dict[str, Any]:
        """Create a proxy; returns its JSON (``listen`` holds the bound address)."""

        async def create() -> dict[str, Any]:
            return (await self.server.create(name, upstream, listen, enabled)).to_json()

        return self._run(create)

    def get(self, name: str) -> dict[str, Any]:
        return self._sync(lambda: self.server.get(name).to_json())

    def list(self) -> dict[str, dict[str, Any]]:
        return self._sync(self.server.to_json)

    def listen(self, name: str) -> str:
        return str(self.get(name)["listen"])

    def url(self, name: str) -> str:
        """``http://host:port`` of a proxy's listener."""
        return f"http://{self.listen(name)}"

    def remove(self, name: str) -> None:
        self._run(lambda: self.server.delete(name))

    def enable(self, name: str) -> dict[str, Any]:
        return self._run(lambda: self._json(self.server.set_enabled(name, True)))

    def disable(self, name: str) -> dict[str, Any]:
        return self._run(lambda: self._json(self.server.set_enabled(name, False)))

    def reset(self) -> None:
        self._run(self.server.reset)

    def populate(
        self, proxies: builtins.list[Mapping[str, Any]] | str | Path
    ) -> builtins.list[dict[str, Any]]:
        """Create or replace proxies from a list or a JSON file (all or nothing)."""
        body: Any = load_populate_file(proxies) if isinstance(proxies, str | Path) else proxies

        async def run() -> builtins.list[dict[str, Any]]:
            return [p.to_json() for p in await self.server.populate(body)]

        return self._run(run)

    @staticmethod
    async def _json(pending: Awaitable[Proxy]) -> dict[str, Any]:
        return (await pending).to_json()

    # toxics ------------------------------------------------------------------------------
    def toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: Any,
    ) -> Toxic:
        body = {
            "type": type,
            "name": name,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        return self._sync(lambda: self.server.add_toxic(proxy, body))

    def update_toxic(
        self, proxy: str, name: str, *, toxicity: float | None = None, **attributes: Any
    ) -> Toxic:
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self._sync(lambda: self.server.update_toxic(proxy, name, body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._sync(lambda: self.server.remove_toxic(proxy, name))

    def toxics(self, proxy: str) -> builtins.list[dict[str, Any]]:
        return list(self.get(proxy)["toxics"])

    @contextmanager
    def fault(self, proxy: str, type: str, **options: Any) -> Iterator[Toxic]:
        """Apply a toxic for the ``with`` block; it is removed however the block ends."""
        toxic = self.toxic(proxy, type, **options)
        try:
            yield toxic
        finally:
            if self._loop is not None:
                # Already gone after a reset or the proxy's removal inside the block: fine.
                with suppress(ConfigError):
                    self.remove_toxic(proxy, toxic.name)

    @contextmanager
    def disabled(self, proxy: str) -> Iterator[None]:
        """The proxy is down (connections refused and cut) for the ``with`` block."""
        self.disable(proxy)
        try:
            yield
        finally:
            if self._loop is not None:
                self.enable(proxy)


def load_populate_file(path: str | Path) -> Any:
    """Read a Toxiproxy populate file (a JSON list of proxies) or say what is wrong with it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"populate file {str(file)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read populate file {str(file)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"populate file {str(file)!r} is not valid JSON: {exc.msg} at line {exc.lineno}",
            hint="it must be a JSON list of {name, listen, upstream} objects",
        ) from None
    return data


class FaultScope:
    """Faults for one test: ``scope(proxy, type, **attrs)`` is a context manager applying a
    toxic for its block; proxies made with ``proxy()`` and toxics still applied are removed by
    ``close()`` (the ``bt_fault`` fixture calls it at teardown, whatever the test did)."""

    def __init__(self, faults: FaultProxy) -> None:
        self.faults = faults
        self._proxies: list[str] = []
        self._toxics: list[tuple[str, str]] = []

    def proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> str:
        """Create a proxy for this test and return its ``http://host:port``."""
        created = self.faults.add(name, upstream, listen)
        self._proxies.append(name)
        return f"http://{created['listen']}"

    @contextmanager
    def __call__(self, proxy: str, type: str, **options: Any) -> Iterator[Toxic]:
        toxic = self.faults.toxic(proxy, type, **options)
        self._toxics.append((proxy, toxic.name))
        try:
            yield toxic
        finally:
            self._discard(proxy, toxic.name)

    def _discard(self, proxy: str, name: str) -> None:
        if (proxy, name) in self._toxics:
            self._toxics.remove((proxy, name))
        with suppress(ConfigError):  # removed already (reset, or the proxy is gone)
            self.faults.remove_toxic(proxy, name)

    @contextmanager
    def disabled(self, proxy: str) -> Iterator[None]:
        with self.faults.disabled(proxy):
            yield

    def close(self) -> None:
        for proxy, name in list(self._toxics):
            self._discard(proxy, name)
        for name in self._proxies:
            with suppress(ConfigError):
                self.faults.remove(name)
        self._proxies.clear()


__all__ = [
    "FaultProxy",
    "FaultScope",
    "RunningApi",
    "bind_socket",
    "load_populate_file",
    "new_event_loop",
    "serve_api",
]
