"""Start and stop the demo: the concierge app, the PMS and the TTS, each its own process.

``start(**options)`` binds every listening socket here (so URLs are known before any child runs),
spawns the three processes in parallel, waits for each to say ``ready`` and returns a
``DemoHandle``. ``stop()`` terminates all of them; children also die with this process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from battletest.demo import seed
from battletest.demo.options import DemoOptions
from battletest.errors import AuthError, SafetyError, TargetUnreachable, UsageError
from battletest.netutil import is_loopback_host, listening

READY_TIMEOUT_S = 30.0
DEPENDENCIES = ("pms", "tts")


@dataclass(frozen=True, slots=True)
class Identity:
    """A demo identity, as written to battletest.toml ``[[identities]]``."""

    name: str
    role: str
    tenant: str | None = None
    username: str | None = None
    password: str | None = None
    api_key: str | None = None

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        """Headers for an API-key identity, or for a user given its access token."""
        if self.api_key:
            return {"X-API-Key": self.api_key}
        if token is None:
            raise UsageError(f"identity {self.name!r} needs a token from /v1/auth/login")
        return {"Authorization": f"Bearer {token}"}


@dataclass
class _Child:
    name: str
    module: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None


def _bind(host: str, port: int, what: str) -> socket.socket:
    why = f"cannot listen on {host}:{port} for the demo {what}"
    sock = listening(host, port, 1024, UsageError, why, "pass --port 0, or stop what uses it")
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class DemoHandle:
    """A running demo. Use as a context manager, or call ``stop()``."""

    options: DemoOptions
    base_url: str
    pms_url: str
    tts_url: str
    identities: list[Identity]
    db_path: str
    run_dir: Path
    _children: dict[str, _Child] = field(default_factory=dict, repr=False)
    _own_run_dir: bool = True

    @property
    def dependencies(self) -> dict[str, str]:
        return {"pms": self.pms_url, "tts": self.tts_url}

    @property
    def insecure(self) -> bool:
        return bool(self.options.active_vulns)

    @property
    def spec_url(self) -> str:
        return self.base_url + "/openapi.json"

    @property
    def pids(self) -> dict[str, int]:
        return {n: c.process.pid for n, c in self._children.items() if c.process is not None}

    def log_path(self, name: str = "app") -> Path:
        return self._children[name].log_path

    def identity(self, name: str) -> Identity:
        for ident in self.identities:
            if ident.name == name:
                return ident
        raise UsageError(
            f"no demo identity named {name!r}",
            hint="one of " + ", ".join(i.name for i in self.identities),
        )

    def headers(self, name: str) -> dict[str, str]:
        """Ready-to-send auth headers for an identity (logs a user in for a fresh token)."""
        import httpx

        ident = self.identity(name)
        if ident.api_key:
            return ident.auth_headers()
        r = httpx.post(
            self.base_url + "/v1/auth/login",
            json={"username": ident.username, "password": ident.password},
            timeout=30,
        )
        if r.status_code != 200:
            raise AuthError(
                f"demo identity {name!r} could not log in: HTTP {r.status_code}",
                hint="a lockout or rate limit may be in force; wait or start a fresh demo",
            )
        return ident.auth_headers(str(r.json()["access_token"]))

    def config_toml(self) -> str:
        from battletest.demo.config_file import render_config

        return render_config(self)

    def write_config(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        try:
            target.write_text(self.config_toml(), encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot write {target}: {exc.strerror}",
                hint="choose a writable path for --write-config",
            ) from None
        return target

    # ---- dependency processes --------------------------------------------------------------
    def stop_dependency(self, name: str) -> None:
        """Stop the PMS or TTS process (the app keeps running and must degrade)."""
        child = self._dependency(name)
        _terminate([child])

    def start_dependency(self, name: str, timeout: float = READY_TIMEOUT_S) -> None:
        """Start a stopped PMS or TTS process again on the same port."""
        child = self._dependency(name)
        if child.process is not None and child.process.poll() is None:
            return
        sock = _bind(self.options.host, child.port, name)
        try:
            _spawn(child, sock, None)
        finally:
            sock.close()
        _wait_ready([child], timeout)

    def _dependency(self, name: str) -> _Child:
        if name not in self._children or name == "app":
            raise UsageError(
                f"no demo dependency process named {name!r}",
                hint="use 'pms' or 'tts' (externally given URLs are not managed by the demo)",
            )
        return self._children[name]

    def stop(self) -> None:
        _terminate(list(self._children.values()))  # all at once: uvicorn needs ~0.1-0.2 s each
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> DemoHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _spawn(child: _Child, sock: socket.socket, stdin_data: bytes | None) -> None:
    log = open(child.log_path, "ab")  # noqa: SIM115 - handed to the child process
    try:
        child.process = subprocess.Popen(
            [sys.executable, "-m", *child.module, "--fd", str(sock.fileno())],
            pass_fds=(sock.fileno(),),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # Ctrl-C in a terminal goes to the launcher, which stops us
        )
    finally:
        log.close()
    if stdin_data is not None:
        assert child.process.stdin is not None
        child.process.stdin.write(stdin_data)
        child.process.stdin.close()


def _wait_ready(children: list[_Child], timeout: float) -> None:
    selector = selectors.DefaultSelector()
    pending: dict[int, _Child] = {}
    for child in children:
        assert child.process is not None and child.process.stdout is not None
        selector.register(child.process.stdout, selectors.EVENT_READ, child)
        pending[child.process.stdout.fileno()] = child
    deadline = time.monotonic() + timeout
    try:
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                names = ", ".join(c.name for c in pending.values())
                raise TargetUnreachable(
                    f"demo process(es) {names} did not start in {timeout:.0f}s",
                    hint=f"see the logs in {children[0].log_path.parent}",
                )
            for key, _ in selector.select(min(remaining, 0.5)):
                child = key.data
                assert child.process is not None and child.process.stdout is not None
                line = child.process.stdout.readline()
                selector.unregister(child.process.stdout)
                pending.pop(child.process.stdout.fileno(), None)
                child.process.stdout.close()
                if line.strip() != b"ready":
                    tail = _tail(child.log_path)
                    raise TargetUnreachable(
                        f"demo {child.name} process failed to start: {tail}",
                        hint=f"full log: {child.log_path}",
                    )
    finally:
        selector.close()


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no output"


def _terminate(children: list[_Child], grace: float = 5.0) -> None:
    live = [c for c in children if c.process is not None and c.process.poll() is None]
    for c in live:
        assert c.process is not None
        with contextlib.suppress(ProcessLookupError):
            c.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for c in live:
        assert c.process is not None
        try:
            c.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.process.kill()
            c.process.wait(5)
    for c in children:
        if c.process is not None and c.process.stdout is not None:
            c.process.stdout.close()


def identities_for(options: DemoOptions) -> list[Identity]:
    users = [Identity(u.identity, u.role, u.hotel_id, u.email, u.password) for u in seed.USERS]
    return [*users, Identity("service", "service", None, api_key=options.service_api_key)]


def start(**options: Any) -> DemoHandle:
    """Start the demo (app + PMS + TTS on loopback) and return its handle.

    Options are the fields of ``DemoOptions`` (``port``, ``db``, ``token_ttl_s``,
    ``insecure``, ``rate_limit``, ``breaker``, ``backoff``, ``pms_url``, ``tts_url``, …).
    """
    import json
    import secrets

    opts = DemoOptions.build(**options)
    if not is_loopback_host(opts.host):
        raise SafetyError(
            f"the demo only listens on loopback, not {opts.host!r}",
            hint="use --host 127.0.0.1 or ::1",
        )
    if not opts.service_api_key:
        opts = replace(opts, service_api_key="btk_" + secrets.token_urlsafe(24))
    run_dir = Path(tempfile.mkdtemp(prefix="battletest-demo-"))
    db_path = str(Path(opts.db).resolve()) if opts.db else str(run_dir / "concierge.db")
    if opts.db and not Path(db_path).parent.is_dir():
        shutil.rmtree(run_dir, ignore_errors=True)
        raise UsageError(
            f"the directory for --db {opts.db} does not exist",
            hint="create it or choose another path",
        )
    children: dict[str, _Child] = {}
    sockets: dict[str, socket.socket] = {}
    try:
        sockets["app"] = _bind(opts.host, opts.port, "app")
        urls: dict[str, str] = {}
        for name, given, port in (
            ("pms", opts.pms_url, opts.pms_port),
            ("tts", opts.tts_url, opts.tts_port),
        ):
            if given:
                urls[name] = given.rstrip("/")
                continue
            sockets[name] = _bind(opts.host, port, name)
            urls[name] = _url(opts.host, sockets[name].getsockname()[1])
        for name, sock in sockets.items():
            module = ["battletest.demo.server"] if name == "app" else ["battletest.demo.deps", name]
            children[name] = _Child(name, module, sock.getsockname()[1], run_dir / f"{name}.log")
        launch = json.dumps(
            {
                "options": opts.to_json(),
                "db": db_path,
                "pms_url": urls["pms"],
                "tts_url": urls["tts"],
            }
        ).encode()
        for name, child in children.items():
            _spawn(child, sockets[name], launch if name == "app" else None)
        for sock in sockets.values():
            sock.close()
        _wait_ready(list(children.values()), READY_TIMEOUT_S)
    except BaseException:
        for sock in sockets.values():
            sock.close()
        _terminate(list(children.values()))
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return DemoHandle(
        options=opts,
        base_url=_url(opts.host, children["app"].port),
        pms_url=urls["pms"],
        tts_url=urls["tts"],
        identities=identities_for(opts),
        db_path=db_path,
        run_dir=run_dir,
        _children=children,
    )
