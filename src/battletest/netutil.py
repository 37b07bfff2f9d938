"""Small loopback helpers shared by the demo, targets, mock servers and tests.

``serve_app`` runs an ASGI app under uvicorn in a background thread on a loopback port and
yields its base URL; it is how tests stand up small purpose-built servers over real sockets.
``guard_control_bind`` and ``token_matches`` keep control APIs (the fault proxy's, the mock
server's admin API) on loopback, or behind a token when the user allows remote access;
``remote_control_options`` gives their commands the matching flags.
``start_loop_thread`` runs an asyncio loop in a daemon thread (the fault proxy, the mock server).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from battletest.errors import BattletestError, SafetyError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind to 0 and release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def listen_socket(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host has a colon, SO_REUSEADDR).

    Raises ``OSError`` when the address cannot be bound; the caller turns it into an error
    that says what to change.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def listening(
    host: str,
    port: int,
    backlog: int,
    error: Callable[..., BattletestError],
    message: str,
    hint: str,
) -> socket.socket:
    """``listen_socket``, or ``error`` with one line: ``message`` and why the address cannot be
    bound (in use, not an address of this machine …), and ``hint`` saying what to change."""
    try:
        return listen_socket(host, port, backlog)
    except OSError as exc:
        raise error(f"{message}: {exc.strerror or exc}", hint=hint) from None


def remote_control_options(
    api: str, token_flag: str, env: str, senders: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The command-line face of ``guard_control_bind``: ``--allow-remote`` and the token option
    of a control API (the fault proxy's, the mock server's admin API, the load coordinator's)."""
    import click

    allow = click.option(
        "--allow-remote",
        is_flag=True,
        help=f"Serve the {api} on a non-loopback address (needs {token_flag}).",
    )
    token = click.option(
        token_flag,
        envvar=env,
        default=None,
        help=f"Token every {api} request must carry (X-Battletest-Token; env {env}); {senders}.",
    )
    return lambda command: allow(token(command))


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (after resolving a name)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(str(info[4][0])).is_loopback for info in infos)


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


# the header a control API reads its token from (``Authorization: Bearer TOKEN`` works too)
TOKEN_HEADER = "X-Battletest-Token"


def guard_control_bind(
    host: str,
    *,
    allow_remote: bool,
    token: str | None,
    what: str,
    token_hint: str,
) -> None:
    """Refuse a control API on a non-loopback ``host`` unless ``allow_remote``, and then only
    with a ``token``: an open control API would let anyone who reaches it create listeners to
    any upstream (an open relay) or switch faults on. ``token_hint`` names the option and
    environment variable that give one."""
    if is_loopback_host(host):
        return
    if not allow_remote:
        raise SafetyError(
            f"{what} address {host} is not loopback; anyone who reaches it could drive it",
            hint=f"bind 127.0.0.1, or pass --allow-remote with a token: {token_hint}",
        )
    if not token:
        raise SafetyError(
            f"{what} on {host} (--allow-remote) needs a token", hint=f"give one: {token_hint}"
        )


def presented_token(headers: Mapping[str, str]) -> str:
    """The token a control request carries (``headers`` with lower-case names), or ''."""
    given = headers.get(TOKEN_HEADER.lower(), "")
    if not given:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else ""
    return given


def token_matches(headers: Mapping[str, str], token: str) -> bool:
    """Whether a control request carries ``token`` (compared in constant time)."""
    return hmac.compare_digest(presented_token(headers).encode(), token.encode())


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listening on {host}:{port} after {timeout:.0f}s"
                ) from None
            time.sleep(0.02)


@contextmanager
def serve_app(
    app: Any, host: str = LOOPBACK, port: int = 0, **uvicorn_options: Any
) -> Iterator[str]:
    """Serve an ASGI app on loopback in a background thread; yield ``http://host:port``."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="auto", **uvicorn_options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"serve_app:{host}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (the measured fast path), else the stock loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def start_loop_thread(
    loop: asyncio.AbstractEventLoop,
    name: str,
    boot: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
    wait_s: float,
) -> threading.Thread:
    """Run ``boot`` and then ``loop`` in a daemon thread until the loop is stopped.

    Returns once ``boot`` has finished (or after ``wait_s``); what ``boot`` raised is raised
    here, the loop then closed. After ``loop.stop()`` the thread runs ``shutdown`` and closes it.
    """
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(shutdown())
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    ready.wait(wait_s)
    if failure:
        thread.join(5)
        raise failure[0]
    return thread
