"""The byte-level data path of a toxic: one ``Stage`` per toxic per connection direction.

Stages are plain callbacks chained together (``data``/``eof`` into ``next``); time-based ones
keep a FIFO and one ``loop.call_at`` timer, so order is preserved, nothing spawns a task and a
closed connection leaves nothing behind. ``make_stage`` maps a ``Toxic`` to its stage.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from typing import Protocol

from battletest.chaos.proxy.toxics import Stream, Toxic


class Sink(Protocol):
    """Where a stage passes bytes and the end of the stream."""

    def data(self, chunk: bytes) -> None: ...

    def eof(self) -> None: ...


class LinkControl(Protocol):
    """What a toxic may do to the whole connection."""

    loop: asyncio.AbstractEventLoop

    def close(self) -> None: ...

    def reset(self) -> None: ...

    def pause(self, direction: Stream, paused: bool, reason: object = ...) -> None: ...


# A stage holding more than HIGH bytes pauses reading from its source until it is under LOW.
HIGH_WATER = 1 << 20
LOW_WATER = 1 << 18

Item = tuple[bytes, bool]  # (chunk, is_eof)


class Stage:
    """Passes everything through; subclasses override what they change."""

    __slots__ = ("link", "next", "rng", "toxic")

    def __init__(self, toxic: Toxic, link: LinkControl, rng: random.Random) -> None:
        self.toxic = toxic
        self.link = link
        self.rng = rng
        self.next: Sink = _NULL

    def data(self, chunk: bytes) -> None:
        self.next.data(chunk)

    def eof(self) -> None:
        self.next.eof()

    def take_pending(self) -> list[Item]:
        """Stop and hand back what this stage still holds, oldest first (toxic removed)."""
        return []

    def stop(self) -> None:
        """The connection is gone: cancel timers, drop state."""

    def attr(self, name: str) -> float:
        return float(self.toxic.attributes[name])


class _Null:
    def data(self, chunk: bytes) -> None:
        pass

    def eof(self) -> None:
        pass


_NULL = _Null()


class DelayStage(Stage):
    """Releases each item at a computed time, never before the item ahead of it."""

    __slots__ = ("held", "last", "queue", "timer")

    def __init__(self, toxic: Toxic, link: LinkControl, rng: random.Random) -> None:
        super().__init__(toxic, link, rng)
        self.queue: deque[tuple[float, bytes, bool]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.last = 0.0
        self.held = 0  # bytes in the queue

    def push(self, when: float, chunk: bytes, is_eof: bool = False) -> None:
        when = max(when, self.last)
        self.last = when
        if not self.queue and when <= self.link.loop.time():
            self._emit(chunk, is_eof)
            return
        self.queue.append((when, chunk, is_eof))
        self.held += len(chunk)
        if self.held > HIGH_WATER:
            self.link.pause(self.toxic.stream, True, self)
        if self.timer is None:
            self.timer = self.link.loop.call_at(when, self._fire)

    def _emit(self, chunk: bytes, is_eof: bool) -> None:
        if is_eof:
            self.next.eof()
        else:
            self.next.data(chunk)

    def _fire(self) -> None:
        self.timer = None
        queue = self.queue
        now = self.link.loop.time()
        held = self.held
        while queue and queue[0][0] <= now:
            _, chunk, is_eof = queue.popleft()
            self.held -= len(chunk)
            self._emit(chunk, is_eof)
        if held > LOW_WATER >= self.held:
            self.link.pause(self.toxic.stream, False, self)
        if queue and self.timer is None:
            self.timer = self.link.loop.call_at(queue[0][0], self._fire)

    def take_pending(self) -> list[Item]:
        pending = [(chunk, is_eof) for _, chunk, is_eof in self.queue]
        self.stop()
        return pending

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        if self.held:
            self.held = 0
            self.link.pause(self.toxic.stream, False, self)

    def eof(self) -> None:
        self.push(self.link.loop.time(), b"", True)


class LatencyStage(DelayStage):
    __slots__ = ()

    def data(self, chunk: bytes) -> None:
        delay = self.attr("latency")
        jitter = self.attr("jitter")
        if jitter:
            delay += self.rng.uniform(-jitter, jitter)
        self.push(self.link.loop.time() + max(delay, 0.0) / 1000.0, chunk)


class BandwidthStage(DelayStage):
    """rate KB/s; pieces of at most 100 ms worth of data, like Toxiproxy."""

    __slots__ = ()

    def data(self, chunk: bytes) -> None:
        rate = self.attr("rate") * 1000.0  # bytes per second
        if rate <= 0:
            self.push(self.link.loop.time(), chunk)
            return
        piece = max(1, int(rate / 10))
        at = max(self.link.loop.time(), self.last)
        for i in range(0, len(chunk), piece):
            part = chunk[i : i + piece]
            at += len(part) / rate
            self.push(at, part)


class SlicerStage(DelayStage):
    __slots__ = ()

    def data(self, chunk: bytes) -> None:
        average = int(self.attr("average_size"))
        if average <= 0:
            self.push(self.link.loop.time(), chunk)
            return
        variation = int(self.attr("size_variation"))
        gap = self.attr("delay") / 1_000_000.0
        at = max(self.link.loop.time(), self.last)
        i = 0
        while i < len(chunk):
            size = max(1, average + (self.rng.randint(-variation, variation) if variation else 0))
            self.push(at, chunk[i : i + size])
            i += size
            at += gap


class SlowCloseStage(DelayStage):
    __slots__ = ()

    def data(self, chunk: bytes) -> None:
        self.push(self.link.loop.time(), chunk)

    def eof(self) -> None:
        self.push(self.link.loop.time() + self.attr("delay") / 1000.0, b"", True)


class PacketLossStage(DelayStage):
    """A lost segment reaches the application only after TCP retransmits it (rto ms later)."""

    __slots__ = ()

    def data(self, chunk: bytes) -> None:
        lost = self.rng.random() < self.attr("probability")
        delay = self.attr("rto") / 1000.0 if lost else 0.0
        self.push(self.link.loop.time() + delay, chunk)


class LimitDataStage(Stage):
    __slots__ = ("passed",)

    def __init__(self, toxic: Toxic, link: LinkControl, rng: random.Random) -> None:
        super().__init__(toxic, link, rng)
        self.passed = 0

    def data(self, chunk: bytes) -> None:
        limit = int(self.attr("bytes"))
        room = limit - self.passed
        if room > 0:
            part = chunk[:room]
            self.passed += len(part)
            self.next.data(part)
        if self.passed >= limit:
            self.link.close()


class _TimerStage(Stage):
    """Runs an action on the whole link once, ``key`` ms after the toxic applies."""

    __slots__ = ("timer",)
    key = "timeout"

    def __init__(self, toxic: Toxic, link: LinkControl, rng: random.Random) -> None:
        super().__init__(toxic, link, rng)
        self.timer: asyncio.TimerHandle | None = None
        ms = self.attr(self.key)
        if self.fires(ms):
            self.timer = link.loop.call_later(ms / 1000.0, self._fire)

    def fires(self, ms: float) -> bool:
        return True

    def _fire(self) -> None:
        self.timer = None
        self.act()

    def act(self) -> None:
        self.link.close()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def take_pending(self) -> list[Item]:
        self.stop()
        return []


class TimeoutStage(_TimerStage):
    """Holds all data; closes after timeout ms (0 = never; held data flows on removal)."""

    __slots__ = ("held",)

    def __init__(self, toxic: Toxic, link: LinkControl, rng: random.Random) -> None:
        self.held: list[Item] = []
        super().__init__(toxic, link, rng)

    def fires(self, ms: float) -> bool:
        return ms > 0

    def data(self, chunk: bytes) -> None:
        if not self.held:
            self.link.pause(self.toxic.stream, True, self)  # stop reading, as Toxiproxy does
        self.held.append((chunk, False))

    def eof(self) -> None:
        self.held.append((b"", True))

    def take_pending(self) -> list[Item]:
        self.stop()
        held, self.held = self.held, []
        return held

    def stop(self) -> None:
        super().stop()
        self.link.pause(self.toxic.stream, False, self)


class ResetPeerStage(_TimerStage):
    __slots__ = ()

    def act(self) -> None:
        self.link.reset()


class BlackholeStage(Stage):
    __slots__ = ()

    def data(self, chunk: bytes) -> None:
        pass

    def eof(self) -> None:
        pass


STAGES: dict[str, Callable[[Toxic, LinkControl, random.Random], Stage]] = {
    "latency": LatencyStage,
    "bandwidth": BandwidthStage,
    "slicer": SlicerStage,
    "slow_close": SlowCloseStage,
    "packet_loss": PacketLossStage,
    "limit_data": LimitDataStage,
    "timeout": TimeoutStage,
    "reset_peer": ResetPeerStage,
    "blackhole": BlackholeStage,
}


def make_stage(toxic: Toxic, link: LinkControl, rng: random.Random) -> Stage:
    """The stage for a byte-level toxic; unknown (registered, data-path-less) kinds pass."""
    factory = STAGES.get(toxic.type, Stage)
    return factory(toxic, link, rng)


__all__ = ["STAGES", "DelayStage", "LinkControl", "Sink", "Stage", "make_stage"]
