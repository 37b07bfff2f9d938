"""WebSocket steps of a TOML scenario, run on a VU's named sockets (see ``flow.WsAction``).

Each VU keeps its sockets by name; ``sockets = N`` on an ``open`` holds N of them under one
name and every later step on that name acts on all N at once. What is recorded, under the
step's label, in the same histograms as HTTP requests:

- ``open``: the handshake time of each socket (from the iteration's intended start on an
  arrival-rate executor, as for a first request);
- ``send`` with ``reply``: each message's round trip, from its send to the first later message
  that matches (replies are matched in order); a reply later than ``timeout`` is a failed one
  at its elapsed time, and so is every message still unanswered when the socket closes;
- ``wait``: the time until a matching message (failed at ``timeout``).

Messages are sent at a fixed cadence (``every``) measured from the first send, so a slow reply
never slows the stream down: audio chunks go out at their rate, as a caller's would.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections import deque
from typing import TYPE_CHECKING

from battletest.load.client import perf_counter
from battletest.load.flow import render_step
from battletest.load.templates import render_value
from battletest.load.ws import WsFailed, WsSocket, connect

if TYPE_CHECKING:
    from battletest.load.flow import Step, WsAction, WsMatch
    from battletest.load.vus import FlowRunner


def _pattern(size: int) -> bytes:
    """``size`` bytes of a 16-bit PCM-like ramp: deterministic, not all zeros."""
    ramp = bytes(i & 0xFF for i in range(512))
    return (ramp * (size // len(ramp) + 1))[:size]


def _payload(runner: FlowRunner, step: Step) -> str | bytes:
    action = step.ws
    assert action is not None
    if action.binary:
        return _pattern(action.binary)
    lookup = runner.state.lookup
    if step.json is not None:
        return jsonlib.dumps(render_value(step.json, lookup), separators=(",", ":"))
    assert step.body is not None
    return step.body.render(lookup)


async def ws_step(runner: FlowRunner, step: Step, start: float | None) -> bool:
    """Run one WebSocket step; False when the rest of the task cannot go on."""
    action = step.ws
    assert action is not None
    if action.action == "open":
        return await _open(runner, step, action, start)
    sockets = runner.sockets.get(action.socket, [])
    live = [s for s in sockets if s.open]
    if action.action == "close":
        runner.sockets.pop(action.socket, None)
        await asyncio.gather(*(s.close(action.timeout) for s in sockets))
        return True
    if not live:
        kind = f"ws_not_open:{action.socket}"
        if step.records:
            runner.rec.lose(step.label, kind, 0.0)
        else:
            runner.rec.rec.error(kind)
        return False
    if action.action == "send":
        results = await asyncio.gather(*(_stream(runner, step, action, s) for s in live))
    else:
        results = await asyncio.gather(
            *(_wait(runner, step, action, s, start, first=i == 0) for i, s in enumerate(live))
        )
    return all(results)


async def _open(runner: FlowRunner, step: Step, action: WsAction, start: float | None) -> bool:
    rec = runner.rec
    client = rec.client
    path, headers, _ = render_step(step, runner.state)
    merged = {**client.headers, **headers}  # the VU's headers_after (e.g. Authorization) too
    begin = perf_counter() if start is None else start

    async def one() -> WsSocket | None:
        try:
            sock = await connect(
                client.target,
                client.address,
                path,
                merged,
                action.subprotocols,
                action.timeout,
                client.ssl,
                rec.rec,
            )
        except WsFailed as exc:
            rec.lose(step.label, exc.kind, perf_counter() - begin)
            return None
        rec.sample(step.label, perf_counter() - begin)
        return sock

    for old in runner.sockets.pop(action.socket, []):
        old.abort()
    opened = await asyncio.gather(*(one() for _ in range(action.sockets)))
    runner.sockets[action.socket] = [s for s in opened if s is not None]
    return bool(runner.sockets[action.socket])


async def _stream(runner: FlowRunner, step: Step, action: WsAction, sock: WsSocket) -> bool:
    """Send ``repeat`` messages at the cadence; with ``reply``, time each one's answer."""
    loop = asyncio.get_running_loop()
    rec = runner.rec
    sent: deque[float] = deque()
    state = {"sending": True, "failed": ""}
    more = asyncio.Event()

    async def sender() -> None:
        first = loop.time()
        try:
            for k in range(action.repeat):
                sock.send(_payload(runner, step))
                sent.append(perf_counter())
                more.set()
                if action.every and k + 1 < action.repeat:
                    await asyncio.sleep(max(0.0, first + (k + 1) * action.every - loop.time()))
        except WsFailed as exc:
            state["failed"] = exc.kind
            rec.rec.error(exc.kind)
        finally:
            state["sending"] = False
            more.set()

    reply = action.reply
    if reply is None:
        await sender()
        return not state["failed"]
    sending = asyncio.ensure_future(sender())
    ok = True
    try:
        ok = await _replies(runner, step, action, reply, sock, sent, state, more)
    finally:
        if not sending.done():
            sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
    return ok and not state["failed"]


async def _replies(
    runner: FlowRunner,
    step: Step,
    action: WsAction,
    reply: WsMatch,
    sock: WsSocket,
    sent: deque[float],
    state: dict[str, object],
    more: asyncio.Event,
) -> bool:
    rec = runner.rec
    answered = 0
    while answered < action.repeat:
        if not sent:
            if not state["sending"]:
                return False  # the sender stopped early (the socket closed): nothing to await
            more.clear()
            await more.wait()
            continue
        left = sent[0] + action.timeout - perf_counter()
        try:
            message = await sock.receive(max(left, 0.0))
        except WsFailed as exc:
            if exc.kind == "timeout":  # the oldest message went unanswered; the rest may not
                sent.popleft()
                rec.lose(step.label, "timeout", action.timeout)
                answered += 1
                continue
            now = perf_counter()
            while sent:  # the socket closed: every message still unanswered failed
                rec.lose(step.label, exc.kind, min(now - sent.popleft(), action.timeout))
            return False
        if reply.matches(message):
            t = sent.popleft()
            elapsed = perf_counter() - t
            if elapsed > action.timeout:
                rec.lose(step.label, "timeout", action.timeout)
            else:
                rec.sample(step.label, elapsed)
            answered += 1
    return True


async def _wait(
    runner: FlowRunner,
    step: Step,
    action: WsAction,
    sock: WsSocket,
    start: float | None,
    first: bool,
) -> bool:
    rec = runner.rec
    match = action.match
    assert match is not None
    begin = perf_counter() if start is None else start
    while True:
        left = begin + action.timeout - perf_counter()
        try:
            message = await sock.receive(max(left, 0.0))
        except WsFailed as exc:
            rec.lose(step.label, exc.kind, min(perf_counter() - begin, action.timeout))
            return False
        if match.matches(message):
            break
    rec.sample(step.label, perf_counter() - begin)
    if first:  # values come from the first socket's message
        body = message if isinstance(message, bytes) else message.encode()
        for ex in step.extract:
            found, value = ex.apply(101, {}, body)
            if not found:
                rec.fail(step.label, "extract_failed")
                return False
            runner.state.vars[ex.var] = value
    return True
