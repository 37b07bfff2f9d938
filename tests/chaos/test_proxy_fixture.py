"""The ``bt_fault`` fixture and ``FaultProxy`` as a library used from several threads."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from battletest.chaos.proxy import FaultProxy
from battletest.errors import UsageError

pytestmark = pytest.mark.chaos


def test_bt_fault_applies_for_the_block_only(bt_fault: Any, echo_server: Any) -> None:
    url = bt_fault.proxy("fixture_echo", echo_server.address)
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    with bt_fault("fixture_echo", "limit_data", bytes=2) as toxic:
        assert toxic.type == "limit_data"
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"abcd")
            got = b""
            while chunk := sock.recv(10):
                got += chunk
        assert got == b"ab"
    assert bt_fault.faults.toxics("fixture_echo") == []


def test_fault_scope_cleans_up_whatever_the_test_did(faults: FaultProxy, echo_server: Any) -> None:
    from battletest.chaos.proxy.facade import FaultScope

    scope = FaultScope(faults)
    scope.proxy("p", echo_server.address)
    with pytest.raises(AssertionError), scope("p", "latency", latency=100):
        assert faults.toxics("p")
        raise AssertionError("the test failed inside the block")
    assert faults.toxics("p") == []
    scope("p", "timeout", timeout=0).__enter__()  # a block that never ended
    faults.toxic("p", "slicer", average_size=1)  # goes with the proxy the scope created
    scope.close()  # the fixture's teardown
    assert faults.list() == {}


def test_sync_calls_from_many_threads(echo_server: Any) -> None:
    with FaultProxy() as faults:
        faults.add("t", echo_server.address)
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                for j in range(10):
                    with faults.fault("t", "latency", name=f"lat_{i}_{j}", latency=1):
                        pass
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert faults.toxics("t") == []


def test_calls_before_start_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not running"):
        FaultProxy().add("x", "127.0.0.1:1")


def test_async_core_in_an_existing_loop(echo_server: Any) -> None:
    import asyncio

    asyncio.run(_use_the_core(echo_server.address))


async def _use_the_core(upstream: str) -> None:
    import asyncio

    from battletest.chaos.proxy import ProxyServer

    async with ProxyServer() as server:
        proxy = await server.create("a", upstream)
        server.add_toxic("a", {"type": "latency", "attributes": {"latency": 1}})
        host, port = proxy.listen_address
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"async")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"async"
        writer.close()
        await writer.wait_closed()


def test_disabled_context_restores(bt_fault: Any, echo_server: Any) -> None:
    bt_fault.proxy("d", echo_server.address)
    with bt_fault.disabled("d"):
        assert bt_fault.faults.get("d")["enabled"] is False
    assert bt_fault.faults.get("d")["enabled"] is True


def test_calling_from_the_proxy_loop_itself_is_a_usage_error(faults: FaultProxy) -> None:
    import concurrent.futures

    outcome: concurrent.futures.Future[BaseException | None] = concurrent.futures.Future()

    def inside() -> None:
        try:
            faults.list()
        except BaseException as exc:
            outcome.set_result(exc)
        else:
            outcome.set_result(None)

    assert faults._loop is not None
    faults._loop.call_soon_threadsafe(inside)
    error = outcome.result(10)
    assert isinstance(error, UsageError) and "ProxyServer" in str(error)


def test_ipv6_loopback_listen_and_upstream(faults: FaultProxy) -> None:
    server = socket.socket(socket.AF_INET6)
    server.bind(("::1", 0))
    server.listen(4)
    with server:
        created = faults.add("six", f"[::1]:{server.getsockname()[1]}", listen="[::1]:0")
        assert created["listen"].startswith("[::1]:") and faults.url("six").startswith("http://[")
        host, port = created["listen"].rsplit(":", 1)
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5) as client:
            client.sendall(b"six")
            conn, _ = server.accept()
            with conn:
                assert conn.recv(10) == b"six"
