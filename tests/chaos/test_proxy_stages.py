"""Byte toxics as stages, socket-free and sleep-free: a fake loop clock drives the timers."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from battletest.chaos.proxy.stages import make_stage
from battletest.chaos.proxy.toxics import ToxicKinds

pytestmark = pytest.mark.chaos


class FakeHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """``time``, ``call_at`` and ``call_later`` on a manual clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self._timers: list[tuple[float, int, FakeHandle, Callable[[], None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, fn: Callable[..., None], *args: Any) -> FakeHandle:
        handle = FakeHandle()
        heapq.heappush(self._timers, (when, next(self._seq), handle, lambda: fn(*args)))
        return handle

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> FakeHandle:
        return self.call_at(self.now + delay, fn, *args)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, handle, fn = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not handle.cancelled:
                fn()
        self.now = end


class FakeLink:
    def __init__(self) -> None:
        self.loop: Any = FakeLoop()
        self.closed = False
        self.was_reset = False
        self.paused: set[tuple[str, int]] = set()

    def close(self) -> None:
        self.closed = True

    def reset(self) -> None:
        self.was_reset = True

    def pause(self, direction: str, paused: bool, reason: object = None) -> None:
        if paused:
            self.paused.add((direction, id(reason)))
        else:
            self.paused.discard((direction, id(reason)))


class Recorder:
    def __init__(self, loop: FakeLoop) -> None:
        self.loop = loop
        self.events: list[tuple[float, bytes | None]] = []  # None = eof

    def data(self, chunk: bytes) -> None:
        self.events.append((round(self.loop.now - 100.0, 6), chunk))

    def eof(self) -> None:
        self.events.append((round(self.loop.now - 100.0, 6), None))


def stage(type_: str, **attributes: Any) -> tuple[Any, FakeLink, Recorder]:
    link = FakeLink()
    toxic = ToxicKinds().build(type_, attributes=attributes)
    st = make_stage(toxic, link, random.Random(1))  # type: ignore[arg-type]
    out = Recorder(link.loop)
    st.next = out
    return st, link, out


def test_latency_delays_each_chunk_and_keeps_order_with_jitter() -> None:
    st, link, out = stage("latency", latency=100, jitter=90)
    for i in range(20):
        st.data(b"%d" % i)
        link.loop.advance(0.001)
    st.eof()
    link.loop.advance(1)
    chunks = [c for _, c in out.events]
    assert chunks == [b"%d" % i for i in range(20)] + [None]
    times = [t for t, _ in out.events]
    assert times == sorted(times)
    assert times[0] >= 0.01  # 100 ± 90 ms


def test_latency_without_jitter_is_exact() -> None:
    st, link, out = stage("latency", latency=10)
    st.data(b"a")
    link.loop.advance(0.0099)
    assert out.events == []
    link.loop.advance(0.0002)
    assert out.events == [(0.01, b"a")]


def test_bandwidth_paces_to_the_rate() -> None:
    st, link, out = stage("bandwidth", rate=10)  # 10 KB/s: 1000-byte pieces every 100 ms
    st.data(b"x" * 5000)
    link.loop.advance(1)
    assert [len(c or b"") for _, c in out.events] == [1000] * 5
    assert [t for t, _ in out.events] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_slicer_cuts_pieces_with_gaps() -> None:
    st, link, out = stage("slicer", average_size=4, size_variation=0, delay=1000)
    st.data(b"abcdefghij")
    link.loop.advance(1)
    assert [c for _, c in out.events] == [b"abcd", b"efgh", b"ij"]
    assert [t for t, _ in out.events] == pytest.approx([0.0, 0.001, 0.002])


def test_slow_close_delays_only_the_close() -> None:
    st, link, out = stage("slow_close", delay=500)
    st.data(b"a")
    st.eof()
    link.loop.advance(1)
    assert out.events == [(0.0, b"a"), (0.5, None)]


def test_timeout_closes_after_the_timeout_and_holds_data() -> None:
    st, link, out = stage("timeout", timeout=200)
    st.data(b"held")
    link.loop.advance(0.19)
    assert not link.closed and out.events == []
    link.loop.advance(0.02)
    assert link.closed
    assert st.take_pending() == [(b"held", False)]


def test_reset_peer_resets_after_the_timeout() -> None:
    _, link, _ = stage("reset_peer", timeout=50)
    link.loop.advance(0.049)
    assert not link.was_reset
    link.loop.advance(0.002)
    assert link.was_reset


def test_limit_data_passes_exactly_the_limit() -> None:
    st, link, out = stage("limit_data", bytes=5)
    st.data(b"abc")
    assert not link.closed
    st.data(b"defg")
    assert [c for _, c in out.events] == [b"abc", b"de"] and link.closed


def test_packet_loss_adds_the_rto_to_lost_chunks_only() -> None:
    st, link, out = stage("packet_loss", probability=0.5, rto=200)
    for i in range(40):  # one chunk a second: each is lost or not on its own
        st.data(b"%d" % i)
        link.loop.advance(1)
    assert [c for _, c in out.events] == [b"%d" % i for i in range(40)]
    delays = {round(t - i, 6) for i, (t, _) in enumerate(out.events)}
    assert delays == {0.0, 0.2}


def test_a_lost_chunk_holds_back_the_ones_behind_it() -> None:
    st, link, out = stage("packet_loss", probability=1.0, rto=200)
    st.data(b"a")
    link.loop.advance(0.05)
    st.data(b"b")
    link.loop.advance(1)
    assert out.events == [(0.2, b"a"), (0.25, b"b")]


def test_pending_data_is_handed_back_when_a_toxic_is_removed() -> None:
    st, link, out = stage("latency", latency=1000)
    st.data(b"one")
    st.data(b"two")
    pending = st.take_pending()
    assert pending == [(b"one", False), (b"two", False)]
    link.loop.advance(2)
    assert out.events == []  # the timer was cancelled


def test_a_stage_holding_too_much_pauses_its_source_until_it_drains() -> None:
    from battletest.chaos.proxy.stages import HIGH_WATER

    st, link, out = stage("bandwidth", rate=1000)  # 1 MB/s
    st.data(b"x" * (HIGH_WATER + 1))
    assert link.paused == {("downstream", id(st))}
    link.loop.advance(0.5)
    assert link.paused == {("downstream", id(st))}
    link.loop.advance(1)
    assert link.paused == set()
    assert sum(len(c or b"") for _, c in out.events) == HIGH_WATER + 1


def test_timeout_stops_reading_while_it_holds_data() -> None:
    st, link, _ = stage("timeout", timeout=0)
    st.data(b"a")
    assert link.paused == {("downstream", id(st))}
    st.take_pending()
    assert link.paused == set()
