"""The asyncio TCP proxy: one listener per named proxy, toxics applied per connection.

A connection is a ``Link``: two ``asyncio.Protocol`` halves (client side, upstream side) and two
directions. With no toxic a direction is a direct ``transport.write`` (the measured fast path);
with toxics it runs through a chain of stages (``stages.py``, ``http.py``) ending in a sink that
writes to the other side. Early client bytes are buffered until the upstream connection exists
(uvloop ignores ``pause_reading`` inside ``connection_made``). Everything runs on one event loop:
``ProxyServer`` is the async core; ``FaultProxy`` (``facade.py``) drives it from other threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from battletest.chaos.proxy.http import (
    ExchangeObserver,
    HttpCounters,
    HttpExchange,
    HttpRule,
    ToxicStats,
)
from battletest.chaos.proxy.netem import loss_implementation
from battletest.chaos.proxy.stages import Sink, Stage, make_stage
from battletest.chaos.proxy.toxics import Stream, Toxic, ToxicKinds, check_name, lookup
from battletest.errors import ConfigError

UP: Stream = "upstream"
DOWN: Stream = "downstream"


class ProxyNotFound(ConfigError):
    """No proxy (or toxic) by that name (HTTP 404)."""

    status = 404


class AlreadyExists(ConfigError):
    """A proxy or toxic by that name exists already (HTTP 409)."""

    status = 409


class ListenError(ConfigError):
    """The listen address cannot be bound (HTTP 409)."""

    status = 409


def parse_address(value: Any, what: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` / ``:port`` → (host, port); loopback if the host is empty."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be 'host:port', got {value!r}")
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f"{what} {value!r} is not host:port", hint="e.g. 127.0.0.1:19001 or [::1]:19001"
        )
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(slots=True)
class ProxyStats:
    connections_total: int = 0
    connections_active: int = 0
    upstream_errors: int = 0


class _PipeSink:
    """End of a direction: write to the other side, or pass the end of the stream on."""

    __slots__ = ("direction", "link")

    def __init__(self, link: Link, direction: Stream) -> None:
        self.link = link
        self.direction = direction

    def data(self, chunk: bytes) -> None:
        dest = self.link.upstream if self.direction == UP else self.link.client
        if dest is not None and not dest.is_closing():
            dest.write(chunk)

    def eof(self) -> None:
        self.link.half_close(self.direction)


class _Pipe:
    """One direction of a link: its toxic stages in order, then the sink."""

    __slots__ = ("head", "link", "sink", "stages")

    def __init__(self, link: Link, direction: Stream) -> None:
        self.link = link
        self.sink = _PipeSink(link, direction)
        self.stages: list[Stage] = []
        self.head: Sink = self.sink

    def rebuild(self, stages: list[Stage]) -> None:
        old = self.stages
        kept = {id(s) for s in stages}
        self.stages = stages
        nodes: list[Sink] = [*stages, self.sink]
        for stage, nxt in zip(stages, nodes[1:], strict=False):
            stage.next = nxt
        self.head = nodes[0]
        # Hand what removed or replaced stages still held to the stage now in their place.
        for index in range(len(old) - 1, -1, -1):
            stage = old[index]
            if id(stage) in kept:
                continue
            pending = stage.take_pending()
            if not pending:
                continue
            target: Sink = self.sink
            for later in old[index + 1 :]:
                if id(later) in kept:
                    target = later
                    break
            replacement = next((s for s in stages if s.toxic.name == stage.toxic.name), None)
            if replacement is not None:
                target = replacement
            for chunk, is_eof in pending:
                if is_eof:
                    target.eof()
                else:
                    target.data(chunk)

    def stop(self) -> None:
        for stage in self.stages:
            stage.stop()


class Link:
    """One proxied connection: client transport, upstream transport, two directions."""

    def __init__(self, proxy: Proxy, client: asyncio.Transport) -> None:
        self.proxy = proxy
        self.loop = proxy.loop
        self.client: asyncio.Transport | None = client
        self.upstream: asyncio.Transport | None = None
        self.early: list[bytes] = []
        self.early_eof = False
        self.closed = False
        self.done = {UP: False, DOWN: False}
        self.holds: dict[Stream, set[object]] = {UP: set(), DOWN: set()}
        self.pipes = {UP: _Pipe(self, UP), DOWN: _Pipe(self, DOWN)}
        self.stage_of: dict[str, Stage] = {}
        self.rolls: dict[str, tuple[float, bool]] = {}
        self.http: HttpExchange | None = None
        self.client_side: ClientSide | None = None
        self.upstream_side: UpstreamSide | None = None
        self.connecting: asyncio.Task[None] | None = self.loop.create_task(self._connect())
        self.connecting.add_done_callback(self._connected)

    # setup -------------------------------------------------------------------------------
    async def _connect(self) -> None:
        host, port = self.proxy.upstream_address
        await self.loop.create_connection(lambda: UpstreamSide(self), host, port)

    def _connected(self, task: asyncio.Task[None]) -> None:
        self.connecting = None
        if task.cancelled():
            return
        if task.exception() is not None or self.upstream is None:
            self.proxy.stats.upstream_errors += 1
            self.close()

    def upstream_made(self, transport: asyncio.Transport, side: UpstreamSide) -> None:
        if self.closed:
            transport.abort()
            return
        self.upstream = transport
        self.upstream_side = side
        self.apply_toxics()
        for chunk in self.early:
            self.pipes[UP].head.data(chunk)
        self.early.clear()
        if self.early_eof:
            self.pipes[UP].head.eof()

    def apply_toxics(self) -> None:
        """(Re)build both directions from the proxy's current toxics."""
        if self.closed:
            return
        proxy = self.proxy
        if (proxy.http_rules or proxy.observe is not None) and self.http is None:
            observer = proxy.observe() if proxy.observe is not None else None
            self.http = HttpExchange(
                self, proxy.get_http_rules, proxy.rng, proxy.http_counters, observer
            )
        chains: dict[Stream, list[Stage]] = {UP: [], DOWN: []}
        if self.http is not None:
            chains[UP].append(self.http.request)
            chains[DOWN].append(self.http.response)
        rolls: dict[str, tuple[float, bool]] = {}
        stage_of: dict[str, Stage] = {}
        for toxic in proxy.toxics.values():
            if proxy.kinds.get(toxic.type).http:
                continue
            previous = self.rolls.get(toxic.name)
            if previous is not None and previous[0] == toxic.toxicity:
                active = previous[1]
            else:
                active = toxic.toxicity >= 1.0 or proxy.rng.random() < toxic.toxicity
                if active:
                    proxy.toxic_stats[toxic.name].matched += 1
            rolls[toxic.name] = (toxic.toxicity, active)
            if not active:
                continue
            stage = self.stage_of.get(toxic.name)
            if stage is None or stage.toxic is not toxic:
                stage = make_stage(toxic, self, proxy.rng)
                proxy.toxic_stats[toxic.name].applied += 1
            stage_of[toxic.name] = stage
            chains[toxic.stream].append(stage)
        self.rolls = rolls
        self.stage_of = stage_of
        for direction in (UP, DOWN):
            self.pipes[direction].rebuild(chains[direction])
        if self.client_side is not None:
            self.client_side.forward = self._forwarder(UP)
        if self.upstream_side is not None:
            self.upstream_side.forward = self._forwarder(DOWN)

    def _forwarder(self, direction: Stream) -> Callable[[bytes], None]:
        pipe = self.pipes[direction]
        if pipe.stages:
            return pipe.head.data
        dest = self.upstream if direction == UP else self.client
        return dest.write if dest is not None else self.early.append

    # events ------------------------------------------------------------------------------
    def source_eof(self, direction: Stream) -> None:
        if self.upstream is None and direction == UP:
            self.early_eof = True
            return
        self.pipes[direction].head.eof()

    def half_close(self, direction: Stream) -> None:
        """The end of the stream reached the far side of ``direction``."""
        self.done[direction] = True
        dest = self.upstream if direction == UP else self.client
        if self.done[UP] and self.done[DOWN]:
            self.close()
        elif dest is not None and not dest.is_closing():
            if dest.can_write_eof():
                try:
                    dest.write_eof()
                except OSError:
                    self.close()
            else:
                self.close()

    def lost(self, direction: Stream, eof_sent: bool) -> None:
        """The side that feeds ``direction`` went away."""
        other: Stream = DOWN if direction == UP else UP
        self.done[other] = True  # nothing can be written to the lost side any more
        if not eof_sent:
            self.source_eof(direction)
        if self.done[UP] and self.done[DOWN]:
            self.close()

    def pause(self, direction: Stream, paused: bool, reason: object = "transport") -> None:
        """Throttle the source of ``direction`` while any reason holds (a full far side, or a
        toxic holding too much data); resume when the last reason is gone."""
        reasons = self.holds[direction]
        before = bool(reasons)
        if paused:
            reasons.add(reason)
        else:
            reasons.discard(reason)
        if bool(reasons) == before:
            return
        source = self.client if direction == UP else self.upstream
        if source is None or source.is_closing():
            return
        with contextlib.suppress(RuntimeError):
            if reasons:
                source.pause_reading()
            else:
                source.resume_reading()

    # LinkControl -------------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for pipe in self.pipes.values():
            pipe.stop()
        if self.connecting is not None:
            self.connecting.cancel()
        for transport in (self.client, self.upstream):
            if transport is not None:
                transport.close()
        self.proxy.forget(self)

    def reset(self) -> None:
        """Close both sides with a TCP RST (SO_LINGER 0)."""
        for transport in (self.client, self.upstream):
            if transport is None:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        self.close()

    def abort(self) -> None:
        for transport in (self.client, self.upstream):
            if transport is not None:
                transport.abort()
        self.close()


class ClientSide(asyncio.Protocol):
    """The accepted connection from the client."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.link: Link | None = None
        self.forward: Callable[[bytes], None] = self._drop
        self.eof_sent = False

    def _drop(self, data: bytes) -> None:
        pass

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        link = Link(self.proxy, cast(asyncio.Transport, transport))
        link.client_side = self
        self.link = link
        self.forward = link.early.append
        self.proxy.adopt(link)

    def data_received(self, data: bytes) -> None:
        self.forward(data)

    def eof_received(self) -> bool:
        self.eof_sent = True
        if self.link is not None:
            self.link.source_eof(UP)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.link.lost(UP, self.eof_sent)

    def pause_writing(self) -> None:
        if self.link is not None:
            self.link.pause(DOWN, True)

    def resume_writing(self) -> None:
        if self.link is not None:
            self.link.pause(DOWN, False)


class UpstreamSide(asyncio.Protocol):
    """The proxy's connection to the upstream."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.forward: Callable[[bytes], None] = link.pipes[DOWN].head.data
        self.eof_sent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.link.upstream_made(cast(asyncio.Transport, transport), self)

    def data_received(self, data: bytes) -> None:
        self.forward(data)

    def eof_received(self) -> bool:
        self.eof_sent = True
        self.link.source_eof(DOWN)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.lost(DOWN, self.eof_sent)

    def pause_writing(self) -> None:
        self.link.pause(UP, True)

    def resume_writing(self) -> None:
        self.link.pause(UP, False)


class Proxy:
    """A named listener, its upstream, its toxics and its live connections."""

    def __init__(
        self,
        server: ProxyServer,
        name: str,
        listen: str,
        upstream: str,
        enabled: bool = True,
    ) -> None:
        self.server = server
        self.loop = server.loop
        self.kinds = server.kinds
        self.rng = server.rng
        self.name = check_name(name)
        self.listen_address = parse_address(listen or "127.0.0.1:0", "listen")
        self.upstream_address = parse_address(upstream, "upstream")
        self.upstream = upstream
        self.enabled = enabled
        self.toxics: dict[str, Toxic] = {}
        self.toxic_stats: dict[str, ToxicStats] = {}
        self.http_rules: list[HttpRule] = []
        self.http_counters = HttpCounters()
        # an observer per connection sees every HTTP exchange (``battletest record``)
        self.observe: Callable[[], ExchangeObserver] | None = None
        self.stats = ProxyStats()
        self.links: set[Link] = set()
        self._listener: asyncio.Server | None = None

    @property
    def listen(self) -> str:
        return format_address(*self.listen_address)

    @property
    def url(self) -> str:
        """``http://host:port`` of the listener, for HTTP upstreams."""
        return f"http://{self.listen}"

    def get_http_rules(self) -> list[HttpRule]:
        return self.http_rules

    # listener ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._listener is not None:
            return
        host, port = self.listen_address
        try:
            self._listener = await self.loop.create_server(
                lambda: ClientSide(self), host, port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ListenError(
                    f"proxy {self.name!r}: listen address {self.listen} is already in use",
                    hint="pick another port, or 127.0.0.1:0 for any free port",
                ) from None
            raise ListenError(
                f"proxy {self.name!r}: cannot listen on {self.listen}: {exc.strerror or exc}"
            ) from None
        sockets = self._listener.sockets
        if sockets:
            bound = sockets[0].getsockname()
            self.listen_address = (host, int(bound[1]))
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and cut every open connection (Toxiproxy's ``enabled: false``)."""
        listener, self._listener = self._listener, None
        self.enabled = False
        if listener is not None:
            listener.close()
        for link in list(self.links):
            link.abort()
        if listener is not None:
            await listener.wait_closed()

    def adopt(self, link: Link) -> None:
        self.links.add(link)
        self.stats.connections_total += 1
        self.stats.connections_active = len(self.links)

    def forget(self, link: Link) -> None:
        self.links.discard(link)
        self.stats.connections_active = len(self.links)

    # toxics ------------------------------------------------------------------------------
    def set_toxics(self, toxics: Iterable[Toxic]) -> None:
        self.toxics = {t.name: t for t in toxics}
        for name in list(self.toxic_stats):
            if name not in self.toxics:
                del self.toxic_stats[name]
        for name in self.toxics:
            self.toxic_stats.setdefault(name, ToxicStats())
        self.http_rules = [
            HttpRule.of(t, self.toxic_stats[t.name])
            for t in self.toxics.values()
            if self.kinds.get(t.type).http
        ]
        for link in list(self.links):
            if link.upstream is not None:
                link.apply_toxics()

    def toxic_json(self, toxic: Toxic) -> dict[str, Any]:
        out = toxic.to_json()
        stats = self.toxic_stats.get(toxic.name)
        if stats is not None:
            out["stats"] = {"matched": stats.matched, "applied": stats.applied}
        if toxic.type in ("packet_loss", "blackhole"):
            out["implementation"] = loss_implementation()
        return out

    def to_json(self) -> dict[str, Any]:
        counters = self.http_counters
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [self.toxic_json(t) for t in self.toxics.values()],
            "stats": {
                "connections_total": self.stats.connections_total,
                "connections_active": self.stats.connections_active,
                "upstream_errors": self.stats.upstream_errors,
                "http_requests": counters.requests,
                "http_responses": counters.responses,
                "http_injected": counters.injected,
                "http_status": {str(k): v for k, v in sorted(counters.by_status.items())},
            },
        }


class ProxyServer:
    """All proxies of one process, on one event loop. Every method runs on that loop."""

    def __init__(self, kinds: ToxicKinds | None = None, *, seed: int | None = None) -> None:
        self.kinds = kinds or ToxicKinds()
        self.rng = random.Random(seed)
        self.proxies: dict[str, Proxy] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def __aenter__(self) -> ProxyServer:
        _ = self.loop
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def get(self, name: str) -> Proxy:
        return lookup(
            self.proxies, name, ProxyNotFound, f"proxy not found: {name!r}", "known proxies"
        )

    async def create(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> Proxy:
        if name in self.proxies:
            raise AlreadyExists(f"proxy already exists: {name!r}")
        proxy = Proxy(self, name, listen, upstream, enabled)
        if enabled:
            await proxy.start()
        self.proxies[name] = proxy
        return proxy

    async def create_json(self, body: Any) -> Proxy:
        name, listen, upstream, enabled = _proxy_fields(body)
        toxics = self._toxics_of(body, name)
        proxy = await self.create(name, upstream, listen, enabled)
        if toxics:
            proxy.set_toxics(toxics)
        return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        proxy = self.get(name)
        if not isinstance(body, Mapping):
            raise ConfigError("a proxy update must be a JSON object")
        unknown = set(body) - {"name", "listen", "upstream", "enabled", "toxics"}
        if unknown:
            raise ConfigError(f"unknown proxy field(s) {sorted(unknown)}")
        enabled = body.get("enabled", proxy.enabled)
        if not isinstance(enabled, bool):
            raise ConfigError(f"'enabled' must be true or false, got {enabled!r}")
        listen = body.get("listen", proxy.listen)
        upstream = body.get("upstream", proxy.upstream)
        new_listen = parse_address(listen, "listen")
        new_upstream = parse_address(upstream, "upstream")
        moved = new_listen != proxy.listen_address and new_listen[1] != 0
        if moved or new_upstream != proxy.upstream_address:
            was_listening = proxy._listener is not None
            old = (proxy.listen_address, proxy.upstream_address, proxy.upstream)
            await proxy.stop()
            proxy.listen_address = new_listen if moved else proxy.listen_address
            proxy.upstream_address, proxy.upstream = new_upstream, upstream
            if enabled:
                try:
                    await proxy.start()
                except ListenError:
                    # Never half-applied: back to the old address, listening as before.
                    proxy.listen_address, proxy.upstream_address, proxy.upstream = old
                    if was_listening:
                        await proxy.start()
                    raise
        if enabled and proxy._listener is None:
            await proxy.start()
        elif not enabled and (proxy._listener is not None or proxy.enabled):
            await proxy.stop()
        return proxy

    async def set_enabled(self, name: str, enabled: bool) -> Proxy:
        return await self.update(name, {"enabled": enabled})

    async def delete(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def populate(self, body: Any) -> list[Proxy]:
        """Create or replace proxies from a list; all or nothing."""
        if isinstance(body, Mapping) and "proxies" in body:
            body = body["proxies"]
        if not isinstance(body, list):
            raise ConfigError(
                "populate expects a JSON list of proxies",
                hint='e.g. [{"name": "pms", "listen": "127.0.0.1:19001", '
                '"upstream": "127.0.0.1:9001"}]',
            )
        wanted = [_proxy_fields(item, index) for index, item in enumerate(body)]
        names = [w[0] for w in wanted]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"populate lists proxy {dupes[0]!r} more than once")
        toxics = [self._toxics_of(item, name) for item, name in zip(body, names, strict=True)]
        created: list[Proxy] = []
        replaced: list[tuple[Proxy, bool]] = []  # (old proxy, was listening)
        result: list[Proxy] = []
        try:
            for (name, listen, upstream, enabled), wanted_toxics in zip(
                wanted, toxics, strict=True
            ):
                current = self.proxies.get(name)
                same = current is not None and (
                    current.upstream_address == parse_address(upstream, "upstream")
                    and (
                        parse_address(listen, "listen")[1] == 0
                        or current.listen_address == parse_address(listen, "listen")
                    )
                )
                if current is not None and same and wanted_toxics is None:
                    result.append(current)
                    continue
                if current is not None:
                    replaced.append((current, current._listener is not None))
                    await current.stop()
                proxy = Proxy(self, name, listen, upstream, enabled)
                if enabled:
                    await proxy.start()
                proxy.set_toxics(wanted_toxics or [])
                created.append(proxy)
                result.append(proxy)
        except BaseException:
            for proxy in created:
                await proxy.stop()
            for old, was_listening in replaced:  # never half-applied: put them back
                if was_listening:
                    await old.start()
            raise
        for proxy in created:
            self.proxies[proxy.name] = proxy
        for (name, _, _, enabled), proxy in zip(wanted, result, strict=True):
            if proxy not in created:
                await self.update(name, {"enabled": enabled})
        return result

    def _toxics_of(self, item: Mapping[str, Any], name: str) -> list[Toxic] | None:
        """Toxics listed with a proxy in a populate file (a battletest extension)."""
        if "toxics" not in item:
            return None
        listed = item["toxics"]
        if not isinstance(listed, list):
            raise ConfigError(f"proxy {name!r}: 'toxics' must be a list of toxics")
        built: list[Toxic] = []
        for entry in listed:
            try:
                toxic = self.kinds.from_json(entry)
            except ConfigError as exc:
                raise ConfigError(f"proxy {name!r}: {exc}") from None
            if any(t.name == toxic.name for t in built):
                raise ConfigError(f"proxy {name!r}: toxic {toxic.name!r} is listed twice")
            built.append(toxic)
        return built

    # toxics ------------------------------------------------------------------------------
    def add_toxic(self, proxy_name: str, toxic: Toxic | Mapping[str, Any]) -> Toxic:
        proxy = self.get(proxy_name)
        if not isinstance(toxic, Toxic):
            toxic = self.kinds.from_json(toxic)
        else:
            toxic = self.kinds.build(
                toxic.type,
                name=toxic.name,
                stream=toxic.stream,
                toxicity=toxic.toxicity,
                attributes=toxic.attributes,
            )
        if toxic.name in proxy.toxics:
            raise AlreadyExists(
                f"toxic already exists: {toxic.name!r} on proxy {proxy_name!r}",
                hint="give it another name, or update or remove the existing one",
            )
        proxy.set_toxics([*proxy.toxics.values(), toxic])
        return toxic

    def get_toxic(self, proxy_name: str, toxic_name: str) -> Toxic:
        message = f"toxic not found: {toxic_name!r} on proxy {proxy_name!r}"
        return lookup(self.get(proxy_name).toxics, toxic_name, ProxyNotFound, message, "its toxics")

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        toxic = self.get_toxic(proxy_name, toxic_name)
        if not isinstance(body, Mapping):
            raise ConfigError("a toxic update must be a JSON object")
        updated = self.kinds.update(toxic, body)
        proxy = self.get(proxy_name)
        proxy.set_toxics([updated if t.name == toxic_name else t for t in proxy.toxics.values()])
        return updated

    def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        self.get_toxic(proxy_name, toxic_name)
        proxy = self.get(proxy_name)
        proxy.set_toxics([t for t in proxy.toxics.values() if t.name != toxic_name])

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        for proxy in self.proxies.values():
            if proxy._listener is None:
                await proxy.start()
            proxy.set_toxics([])

    async def close(self) -> None:
        for proxy in list(self.proxies.values()):
            await proxy.stop()
        self.proxies.clear()

    def to_json(self) -> dict[str, Any]:
        return {name: proxy.to_json() for name, proxy in sorted(self.proxies.items())}


def _proxy_fields(body: Any, index: int | None = None) -> tuple[str, str, str, bool]:
    where = "proxy" if index is None else f"proxy #{index + 1}"
    if not isinstance(body, Mapping):
        raise ConfigError(f"{where} must be a JSON object with name, listen and upstream")
    unknown = set(body) - {"name", "listen", "upstream", "enabled", "toxics"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {sorted(unknown)}",
            hint="a proxy has name, listen, upstream, enabled (and toxics)",
        )
    name = body.get("name")
    if not name:
        raise ConfigError(f"{where}: missing required field: name")
    upstream = body.get("upstream")
    if not upstream:
        raise ConfigError(f"{where} {name!r}: missing required field: upstream")
    listen = body.get("listen") or "127.0.0.1:0"
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where} {name!r}: 'enabled' must be true or false")
    check_name(name)
    parse_address(listen, f"{where} {name!r} listen")
    parse_address(upstream, f"{where} {name!r} upstream")
    return str(name), str(listen), str(upstream), enabled


__all__ = [
    "AlreadyExists",
    "Link",
    "ListenError",
    "Proxy",
    "ProxyNotFound",
    "ProxyServer",
    "ProxyStats",
    "format_address",
    "parse_address",
]
