"""HTTP-aware toxics: the proxy parses HTTP/1.1 on a connection and faults single requests.

When a proxy has an ``http_*`` toxic, each of its connections gets an ``HttpExchange``: a request
stage at the head of the upstream direction and a response stage at the head of the downstream
direction, both fed by ``httptools``. Each request gets a decision (forward, forward after a
delay, forward and damage the response, or answer it here); a FIFO keeps answered requests in
order with the upstream's responses on a keep-alive connection. Messages are re-serialised from
the parsed pieces. Upgrades, a HEAD request pipelined behind another and unparseable bytes
switch the connection to plain byte forwarding.
"""

from __future__ import annotations

import json
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

import httptools

from battletest.chaos.proxy.stages import DelayStage, LinkControl
from battletest.chaos.proxy.toxics import Toxic

_REQUESTS = Toxic(name="http requests", type="http", stream="upstream")
_RESPONSES = Toxic(name="http responses", type="http", stream="downstream")


# a message's headers as they came off the wire: (name, value) pairs, in order, repeats kept
RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class ToxicStats:
    """Counters for one toxic on one proxy, shared by all its connections."""

    matched: int = 0  # requests (HTTP) or connections (bytes) the toxic matched
    applied: int = 0  # times the fault was actually applied


@dataclass(slots=True)
class HttpRule:
    toxic: Toxic
    stats: ToxicStats
    path: re.Pattern[str] | None = None
    header_name: bytes = b""
    header_value: re.Pattern[str] | None = None

    @classmethod
    def of(cls, toxic: Toxic, stats: ToxicStats) -> HttpRule:
        attrs = toxic.attributes
        path = str(attrs.get("path", ""))
        header = str(attrs.get("header", ""))
        name, _, value = header.partition(":")
        return cls(
            toxic,
            stats,
            re.compile(path) if path else None,
            name.strip().lower().encode("latin-1"),
            re.compile(value.strip()) if value.strip() else None,
        )

    def matches(self, method: str, target: str, headers: RawHeaders) -> bool:
        want_method = str(self.toxic.attributes.get("method", ""))
        if want_method and want_method.upper() != method:
            return False
        if self.path is not None and not self.path.search(target):
            return False
        if self.header_name:
            values = [v for n, v in headers if n.lower() == self.header_name]
            if not values:
                return False
            if self.header_value is not None and not any(
                self.header_value.search(v.decode("latin-1")) for v in values
            ):
                return False
        return True


@dataclass(slots=True)
class Decision:
    inject: bytes = b""  # a full response to send instead of forwarding
    close_after: bool = False
    body_mode: str = ""  # truncate | malformed | empty
    ready: bool = False  # the request has been read completely
    head: bool = False


class ExchangeObserver(Protocol):
    """Sees every complete request and response of one connection, in order (the recording
    proxy of ``battletest record`` is one); the bytes on the wire are not changed."""

    def request(
        self, method: str, target: str, version: str, headers: RawHeaders, body: bytes
    ) -> None: ...

    def response(
        self, status: int, reason: str, version: str, headers: RawHeaders, body: bytes
    ) -> None: ...


@dataclass(slots=True)
class HttpCounters:
    requests: int = 0
    injected: int = 0
    responses: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def injected_response(toxic: Toxic, keep_alive: bool) -> bytes:
    attrs = toxic.attributes
    status = int(attrs.get("status", 503))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Injected"
    body_text = str(attrs.get("body", ""))
    if body_text:
        body = body_text.encode()
        ctype = "text/plain; charset=utf-8"
    else:
        body = json.dumps(
            {"error": f"injected by battletest proxy ({toxic.name})", "status": status}
        ).encode()
        ctype = "application/json"
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Type: {ctype}",
        f"Content-Length: {len(body)}",
        f"X-Battletest-Fault: {toxic.name}",
    ]
    retry_after = int(attrs.get("retry_after", 0))
    if retry_after > 0:
        lines.append(f"Retry-After: {retry_after}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _head(first_line: bytes, headers: RawHeaders) -> bytes:
    parts = [first_line]
    for name, value in headers:
        parts.append(name + b": " + value)
    return b"\r\n".join(parts) + b"\r\n\r\n"


def _is_chunked(headers: RawHeaders) -> bool:
    return any(n.lower() == b"transfer-encoding" and b"chunked" in v.lower() for n, v in headers)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def malformed(body: bytes) -> bytes:
    """The same length as ``body``, but broken: the second half is invalid UTF-8 and JSON."""
    if not body:
        return body
    keep = len(body) // 2
    filler = (b"\xff<}\x00" * (len(body) // 4 + 1))[: len(body) - keep]
    return body[:keep] + filler


class HttpExchange:
    """Per-connection HTTP state: both parsers, the decision FIFO and the two stages."""

    def __init__(
        self,
        link: LinkControl,
        rules: Callable[[], list[HttpRule]],
        rng: random.Random,
        counters: HttpCounters,
        observer: ExchangeObserver | None = None,
    ) -> None:
        self.link = link
        self.observer = observer
        self.rules = rules
        self.rng = rng
        self.counters = counters
        self.fifo: deque[Decision] = deque()
        self.passthrough = False
        self.request = RequestStage(self)
        self.response = ResponseStage(self)

    def switch_to_passthrough(self) -> None:
        self.passthrough = True
        self.flush()

    def decide(self, method: str, target: str, headers: RawHeaders) -> tuple[Decision, float]:
        decision = Decision(head=method == "HEAD")
        delay_ms = 0.0
        for rule in self.rules():
            toxic = rule.toxic
            if not rule.matches(method, target, headers):
                continue
            first = int(toxic.attributes.get("first", 0))
            rule.stats.matched += 1
            if first and rule.stats.matched > first:
                continue
            if toxic.toxicity < 1.0 and self.rng.random() >= toxic.toxicity:
                continue
            rule.stats.applied += 1
            if toxic.type == "http_delay":
                jitter = float(toxic.attributes.get("jitter", 0))
                delay_ms += float(toxic.attributes.get("delay", 0)) + (
                    self.rng.uniform(-jitter, jitter) if jitter else 0.0
                )
            elif toxic.type == "http_body":
                decision.body_mode = str(toxic.attributes.get("mode", "truncate"))
            elif "status" in toxic.attributes:
                decision.inject = injected_response(toxic, keep_alive=True)
                self.counters.injected += 1
                break
        return decision, max(delay_ms, 0.0)

    def flush(self) -> None:
        """Send injected answers that are now at the head of the line."""
        fifo = self.fifo
        out = self.response.next
        while fifo and fifo[0].inject and fifo[0].ready:
            decision = fifo.popleft()
            out.data(decision.inject)
            if decision.close_after:
                out.eof()
                self.passthrough = True
                return
        if self.passthrough and fifo:
            # A switch to byte forwarding: remaining answers cannot be ordered; drop them.
            fifo.clear()


class _MessageStage(DelayStage):
    """What both HTTP directions keep of the message in hand: its headers, framing, decision."""

    __slots__ = ("chunked", "decision", "exchange", "headers", "seen")

    def __init__(self, toxic: Toxic, exchange: HttpExchange) -> None:
        super().__init__(toxic, exchange.link, exchange.rng)
        self.exchange = exchange
        self.headers: RawHeaders = []
        self.decision: Decision | None = None
        self.chunked = False
        self.seen: list[bytes] = []  # the body as parsed, kept only for an observer

    # httptools callbacks both directions share -------------------------------------------
    def on_message_begin(self) -> None:
        self.headers = []
        self.decision = None
        self.seen = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def parse(
        self,
        parser: httptools.HttpRequestParser | httptools.HttpResponseParser,
        chunk: bytes,
        onward: Callable[[bytes], None],
    ) -> None:
        """Feed ``chunk`` to the parser; after an upgrade or unparsable bytes, forward as is."""
        try:
            parser.feed_data(chunk)
        except httptools.HttpParserUpgrade as exc:
            offset = int(exc.args[0]) if exc.args and isinstance(exc.args[0], int) else 0
            self.exchange.switch_to_passthrough()
            if offset:
                onward(chunk[offset:])
        except httptools.HttpParserError:
            self.exchange.switch_to_passthrough()
            onward(chunk)


class RequestStage(_MessageStage):
    """Head of the upstream direction: parse requests, decide, forward (maybe later)."""

    __slots__ = ("parser", "until", "url")

    def __init__(self, exchange: HttpExchange) -> None:
        super().__init__(_REQUESTS, exchange)
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.until = 0.0

    # Stage interface -------------------------------------------------------------------
    def data(self, chunk: bytes) -> None:
        if self.exchange.passthrough:
            self.forward(chunk)
            return
        self.parse(self.parser, chunk, self.forward)

    def forward(self, data: bytes) -> None:
        self.push(max(self.until, self.link.loop.time()), data)

    def take_pending(self) -> list[tuple[bytes, bool]]:
        return []  # persistent across toxic changes; never drained

    # httptools callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.url = b""
        self.until = 0.0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_headers_complete(self) -> None:
        ex = self.exchange
        ex.counters.requests += 1
        method = self.parser.get_method().decode("latin-1")
        decision, delay_ms = ex.decide(method, self.url.decode("latin-1"), self.headers)
        self.decision = decision
        ex.fifo.append(decision)
        self.chunked = _is_chunked(self.headers)
        if decision.inject:
            decision.close_after = not self.parser.should_keep_alive()
            return
        self.until = self.link.loop.time() + delay_ms / 1000.0 if delay_ms else 0.0
        version = self.parser.get_http_version().encode("latin-1")
        first = self.parser.get_method() + b" " + self.url + b" HTTP/" + version
        self.forward(_head(first, self.headers))

    def on_body(self, body: bytes) -> None:
        if self.exchange.observer is not None:
            self.seen.append(body)
        decision = self.decision
        if decision is None or decision.inject:
            return
        self.forward(_chunk(body) if self.chunked else body)

    def on_message_complete(self) -> None:
        decision = self.decision
        if decision is None:
            return
        observer = self.exchange.observer
        if observer is not None:
            method = self.parser.get_method().decode("latin-1")
            version = self.parser.get_http_version()
            observer.request(
                method, self.url.decode("latin-1"), version, self.headers, b"".join(self.seen)
            )
        decision.ready = True
        if decision.inject:
            self.exchange.flush()
        elif self.chunked:
            self.forward(b"0\r\n\r\n")


class ResponseStage(_MessageStage):
    """Head of the downstream direction: re-serialise responses, damage bodies on request."""

    __slots__ = ("body", "dead", "head_buffer", "in_message", "parser", "reason")

    def __init__(self, exchange: HttpExchange) -> None:
        super().__init__(_RESPONSES, exchange)
        self.parser = httptools.HttpResponseParser(self)
        self.reason = b""
        self.body: list[bytes] = []
        self.dead = False
        self.in_message = False
        self.head_buffer = b""

    def _expects_head_response(self) -> bool:
        fifo = self.exchange.fifo
        return not self.in_message and bool(fifo) and fifo[0].head and not fifo[0].inject

    def _head_responses(self, chunk: bytes) -> bytes:
        """Answers to HEAD have headers only, which the parser cannot be told: cut them here
        and return the bytes that follow (for a fresh parser)."""
        buffer = self.head_buffer + chunk
        while self._expects_head_response():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.head_buffer = buffer
                return b""
            head, buffer = buffer[: end + 4], buffer[end + 4 :]
            self.next.data(head)
            status = head[9:12]
            if not status.startswith(b"1"):
                ex = self.exchange
                ex.fifo.popleft()
                ex.counters.responses += 1
                code = int(status) if status.isdigit() else 0
                if ex.observer is not None:  # headers only; not parsed on this path
                    ex.observer.response(code, "", head[5:8].decode("latin-1"), [], b"")
                ex.counters.by_status[code] = ex.counters.by_status.get(code, 0) + 1
                ex.flush()
        self.head_buffer = b""
        self.parser = httptools.HttpResponseParser(self)
        return buffer

    def data(self, chunk: bytes) -> None:
        if self.dead:
            return
        if self.exchange.passthrough:
            self.next.data(chunk)
            return
        if self.head_buffer or self._expects_head_response():
            chunk = self._head_responses(chunk)
            if not chunk or self.exchange.passthrough:
                if chunk:
                    self.next.data(chunk)
                return
        self.parse(self.parser, chunk, self.next.data)

    def eof(self) -> None:
        if not self.dead:
            self.next.eof()

    def take_pending(self) -> list[tuple[bytes, bool]]:
        return []

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_message = True
        self.reason = b""
        self.body = []

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_headers_complete(self) -> None:
        fifo = self.exchange.fifo
        status = self.parser.get_status_code()
        self.decision = fifo[0] if fifo and not fifo[0].inject else None
        self.chunked = _is_chunked(self.headers)
        version = self.parser.get_http_version().encode("latin-1")
        first = b"HTTP/%s %d %s" % (version, status, self.reason)
        self.next.data(_head(first, self.headers))
        if status == 101:
            self.exchange.switch_to_passthrough()
            return
        if self.decision is not None and self.decision.body_mode == "empty":
            self._die()

    def on_body(self, body: bytes) -> None:
        if self.exchange.observer is not None:
            self.seen.append(body)
        if self.dead:
            return
        if self.decision is not None and self.decision.body_mode:
            self.body.append(body)
        else:
            self.next.data(_chunk(body) if self.chunked else body)

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.dead:
            return
        status = self.parser.get_status_code()
        ex = self.exchange
        if 100 <= status < 200:
            return  # interim response; the real one follows
        if ex.observer is not None:
            ex.observer.response(
                status,
                self.reason.decode("latin-1"),
                self.parser.get_http_version(),
                self.headers,
                b"".join(self.seen),
            )
        ex.counters.responses += 1
        ex.counters.by_status[status] = ex.counters.by_status.get(status, 0) + 1
        mode = self.decision.body_mode if self.decision is not None else ""
        if mode:
            body = b"".join(self.body)
            if mode == "truncate":
                part = body[: len(body) // 2]
                if part:
                    self.next.data(_chunk(part) if self.chunked else part)
                self._die()
                return
            broken = malformed(body)
            if self.chunked:
                self.next.data((_chunk(broken) if broken else b"") + b"0\r\n\r\n")
            else:
                self.next.data(broken)
        elif self.chunked:
            self.next.data(b"0\r\n\r\n")
        if self.exchange.fifo and not self.exchange.fifo[0].inject:
            self.exchange.fifo.popleft()
        ex.flush()
        if self._expects_head_response():
            # A pipelined HEAD whose answer may already sit in this chunk, where the parser
            # would wait for a body: forward the rest of the connection as bytes.
            ex.switch_to_passthrough()

    def _die(self) -> None:
        """Cut the response short: the client sees what was sent so far, then the close."""
        self.dead = True
        self.next.eof()


__all__ = [
    "Decision",
    "ExchangeObserver",
    "HttpCounters",
    "HttpExchange",
    "HttpRule",
    "ToxicStats",
    "malformed",
]
