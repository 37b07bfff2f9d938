"""Toxic validation (socket-free) and each byte-level toxic over real loopback sockets."""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

import pytest

from battletest.chaos.proxy import FaultProxy, ToxicKinds
from battletest.chaos.proxy.http import malformed
from battletest.errors import ConfigError

pytestmark = pytest.mark.chaos


# --- validation ---------------------------------------------------------------------------


def test_defaults_follow_toxiproxy() -> None:
    toxic = ToxicKinds().build("latency", attributes={"latency": 100})
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 100, "jitter": 0},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "nope"}, "unknown toxic type 'nope'"),
        ({"type": "latency", "attributes": {"bogus": 1}}, "has no attribute 'bogus'"),
        ({"type": "latency", "toxicity": 1.5}, "toxicity must be in [0, 1]"),
        ({"type": "latency", "toxicity": -0.1}, "toxicity must be in [0, 1]"),
        ({"type": "latency", "stream": "sideways"}, "stream was invalid"),
        ({"type": "latency", "attributes": {"latency": -5}}, "must be at least 0"),
        ({"type": "latency", "attributes": {"latency": "fast"}}, "must be a number"),
        ({"type": "http_status", "attributes": {"status": 42}}, "must be at least 100"),
        ({"type": "http_body", "attributes": {"mode": "shred"}}, "must be one of"),
        ({"type": "http_delay", "attributes": {"path": "("}}, "not a valid regular expression"),
        ({"attributes": {}}, "missing required field: type"),
        ({"type": "latency", "colour": "red"}, "unknown toxic field"),
    ],
)
def test_bad_toxics_are_refused_with_the_fix(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ToxicKinds().from_json(body)


def test_update_merges_attributes_and_keeps_the_rest() -> None:
    kinds = ToxicKinds()
    toxic = kinds.build("latency", attributes={"latency": 100, "jitter": 5})
    updated = kinds.update(toxic, {"attributes": {"latency": 300}, "toxicity": 0.5})
    assert dict(updated.attributes) == {"latency": 300, "jitter": 5}
    assert updated.toxicity == 0.5 and updated.name == toxic.name


def test_kinds_are_per_instance() -> None:
    from battletest.chaos.proxy import ToxicKind

    mine = ToxicKinds()
    mine.register(ToxicKind("noop", "does nothing", ()))
    assert "noop" in mine
    assert "noop" not in ToxicKinds()


def test_malformed_body_keeps_length_and_breaks_json() -> None:
    import json

    body = b'{"reservation": "R-1", "guest": "Ada"}'
    broken = malformed(body)
    assert len(broken) == len(body) and broken != body
    with pytest.raises(ValueError):
        json.loads(broken)


# --- over sockets -------------------------------------------------------------------------


def _connect(faults: FaultProxy, name: str) -> socket.socket:
    host, port = faults.listen(name).rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _roundtrip(sock: socket.socket, data: bytes) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got, time.perf_counter() - t0


@pytest.mark.slow
def test_latency_applies_to_open_connections_and_goes_away(
    faults: FaultProxy, echo_server: Any
) -> None:
    faults.add("echo", echo_server.address)
    with _connect(faults, "echo") as sock:
        assert _roundtrip(sock, b"warm")[0] == b"warm"
        with faults.fault("echo", "latency", latency=150):
            got, took = _roundtrip(sock, b"slow")
            assert got == b"slow" and took >= 0.14
        got, took = _roundtrip(sock, b"fast")
        assert got == b"fast" and took < 0.14


@pytest.mark.slow
def test_upstream_latency_and_jitter_stay_in_order(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "latency", stream="upstream", latency=60, jitter=50)
    with _connect(faults, "echo") as sock:
        payload = b"".join(b"%03d," % i for i in range(50))
        for i in range(50):
            sock.sendall(b"%03d," % i)
        got = b""
        while len(got) < len(payload):
            got += sock.recv(65536)
        assert got == payload  # jitter never reorders bytes


@pytest.mark.slow
def test_bandwidth_limits_the_rate(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "bandwidth", rate=100)  # 100 KB/s downstream
    with _connect(faults, "echo") as sock:
        got, took = _roundtrip(sock, b"x" * 50_000)
    assert len(got) == 50_000 and took >= 0.45


@pytest.mark.slow
def test_slicer_delivers_small_pieces(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "slicer", average_size=10, size_variation=0, delay=20_000)
    with _connect(faults, "echo") as sock:
        sock.sendall(b"y" * 100)
        pieces = []
        while sum(map(len, pieces)) < 100:
            pieces.append(sock.recv(65536))
    assert b"".join(pieces) == b"y" * 100
    assert len(pieces) >= 5  # 20 ms between 10-byte slices: the client sees them apart


def test_limit_data_closes_after_the_limit(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "limit_data", bytes=5)
    with _connect(faults, "echo") as sock:
        sock.sendall(b"0123456789")
        got = b""
        while chunk := sock.recv(100):
            got += chunk
    assert got == b"01234"


@pytest.mark.slow
def test_timeout_holds_data_then_closes(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "timeout", timeout=300)
    with _connect(faults, "echo") as sock:
        t0 = time.perf_counter()
        sock.sendall(b"hello")
        assert sock.recv(100) == b""  # nothing came back; the proxy closed
        assert time.perf_counter() - t0 >= 0.28


@pytest.mark.slow
def test_timeout_zero_holds_until_removed(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "timeout", timeout=0)
    with _connect(faults, "echo") as sock:
        sock.settimeout(0.3)
        sock.sendall(b"held")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        faults.remove_toxic("echo", "timeout_downstream")
        sock.settimeout(5)
        assert sock.recv(100) == b"held"


def test_reset_peer_sends_rst(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "reset_peer", timeout=50)
    with _connect(faults, "echo") as sock:
        with pytest.raises(ConnectionResetError):
            for _ in range(50):
                if not sock.recv(100):
                    break
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.slow
def test_slow_close_delays_the_close(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "slow_close", stream="upstream", delay=300)
    with _connect(faults, "echo") as sock:
        assert _roundtrip(sock, b"bye")[0] == b"bye"
        t0 = time.perf_counter()
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""
        assert time.perf_counter() - t0 >= 0.28


@pytest.mark.slow
def test_blackhole_swallows_one_direction(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    with faults.fault("echo", "blackhole", stream="upstream") as toxic:
        assert faults.toxics("echo")[0]["implementation"].startswith("proxy")
        with _connect(faults, "echo") as sock:
            sock.settimeout(0.3)
            sock.sendall(b"lost")
            with pytest.raises(TimeoutError):
                sock.recv(100)
        assert toxic.type == "blackhole"
    assert echo_server.received == []


@pytest.mark.slow
def test_packet_loss_delays_lost_chunks_by_the_rto(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "packet_loss", probability=1.0, rto=200)
    with _connect(faults, "echo") as sock:
        got, took = _roundtrip(sock, b"ping")
    assert got == b"ping" and took >= 0.19
    assert "implementation" in faults.toxics("echo")[0]


def test_toxicity_zero_never_applies(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    faults.toxic("echo", "limit_data", bytes=0, toxicity=0.0)
    with _connect(faults, "echo") as sock:
        assert _roundtrip(sock, b"through")[0] == b"through"
    assert faults.toxics("echo")[0]["stats"]["matched"] == 0


def test_toxicity_is_drawn_per_connection(echo_server: Any) -> None:
    with FaultProxy(seed=3) as faults:
        faults.add("echo", echo_server.address)
        faults.toxic("echo", "limit_data", bytes=0, toxicity=0.5)
        cut = 0
        for _ in range(20):
            with _connect(faults, "echo") as sock:
                sock.sendall(b"x")
                if sock.recv(10) == b"":
                    cut += 1
        assert 3 <= cut <= 17
        assert faults.toxics("echo")[0]["stats"]["matched"] == cut


def test_disable_refuses_and_cuts_then_enable_restores(
    faults: FaultProxy, echo_server: Any
) -> None:
    faults.add("echo", echo_server.address)
    listen = faults.listen("echo")
    sock = _connect(faults, "echo")
    assert _roundtrip(sock, b"a")[0] == b"a"
    faults.disable("echo")
    assert sock.recv(10) == b""  # the open connection was cut
    sock.close()
    host, port = listen.rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2)
    faults.enable("echo")
    assert faults.listen("echo") == listen
    with _connect(faults, "echo") as again:
        assert _roundtrip(again, b"b")[0] == b"b"


def test_upstream_unreachable_closes_clients_and_the_proxy_stays_up(
    faults: FaultProxy, echo_server: Any
) -> None:
    from battletest.netutil import free_port

    faults.add("dead", f"127.0.0.1:{free_port()}")
    for _ in range(3):
        with _connect(faults, "dead") as sock:
            sock.sendall(b"hello?")
            assert sock.recv(10) == b""
    assert faults.get("dead")["stats"]["upstream_errors"] == 3
    faults.add("alive", echo_server.address)
    with _connect(faults, "alive") as sock:
        assert _roundtrip(sock, b"ok")[0] == b"ok"


def test_port_in_use_is_a_clear_error(faults: FaultProxy, echo_server: Any) -> None:
    with pytest.raises(ConfigError, match="already in use"):
        faults.add("clash", echo_server.address, listen=echo_server.address)
    assert "clash" not in faults.list()


def test_early_bytes_are_not_lost(faults: FaultProxy, echo_server: Any) -> None:
    faults.add("echo", echo_server.address)
    for _ in range(20):
        with _connect(faults, "echo") as sock:
            sock.sendall(b"first-bytes")  # sent before the upstream connection exists
            assert _roundtrip(sock, b"")[0] == b"" and sock.recv(100) == b"first-bytes"


def test_no_tasks_leak_after_clients_leave(faults: FaultProxy, echo_server: Any) -> None:
    import asyncio

    faults.add("echo", echo_server.address)
    faults.toxic("echo", "latency", latency=1)
    for _ in range(30):
        with _connect(faults, "echo") as sock:
            _roundtrip(sock, b"x")
    deadline = time.monotonic() + 5
    while faults.get("echo")["stats"]["connections_active"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert faults.get("echo")["stats"]["connections_active"] == 0

    async def count() -> int:
        return len(asyncio.all_tasks())

    assert faults._run(count) == 1  # only the task asking


@pytest.mark.slow
def test_a_slow_toxic_pauses_the_upstream_instead_of_buffering_everything(
    faults: FaultProxy, echo_server: Any
) -> None:
    import threading

    from battletest.chaos.proxy.stages import HIGH_WATER

    faults.add("echo", echo_server.address)
    faults.toxic("echo", "bandwidth", rate=500)  # 500 KB/s back to the client
    payload = bytes(range(256)) * (16 * 1024)  # 4 MiB
    with _connect(faults, "echo") as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
        sender.start()
        time.sleep(1.0)

        async def held() -> int:
            proxy = faults.server.get("echo")
            return sum(
                getattr(stage, "held", 0)
                for link in proxy.links
                for stage in link.pipes["downstream"].stages
            )

        assert 0 < faults._run(held) <= HIGH_WATER + 512 * 1024
        faults.remove_toxic("echo", "bandwidth_downstream")  # held bytes flow on, in order
        got = bytearray()
        while len(got) < len(payload):
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed early"
            got += chunk
        sender.join(10)
    assert bytes(got) == payload
