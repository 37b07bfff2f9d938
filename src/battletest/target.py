"""The system under test: a URL, or an app battletest launches and owns.

``open_target(config)`` is a context manager yielding a ``Target``:

- ``target.url``: a running service; checked reachable (health path if given).
- ``target.app = "module:attr"``: an ASGI app, or a WSGI app wrapped with a2wsgi, served by
  uvicorn in a child process on a free loopback port (``python -m battletest.target``).
- ``target.command = "… {port} …"``: any command; ``{port}`` becomes a free loopback port.

Launched processes log to ``logs_path``, are waited on until healthy, and are shut down (the
whole process group) on exit. ``Target.pid`` lets later suites sample the process.
"""

from __future__ import annotations

import importlib
import inspect
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from battletest.config import Config, TargetConfig
from battletest.errors import ConfigError, TargetUnreachable
from battletest.netutil import LOOPBACK, free_port
from battletest.transport import Transport, WritePolicy


@dataclass(slots=True)
class Target:
    """Where requests go, and the process behind it when battletest started it."""

    base_url: str
    kind: str  # url | app | command | demo
    process: subprocess.Popen[bytes] | None = None
    logs_path: Path | None = None
    description: str = ""
    external_pid: int | None = None  # a process battletest did not start but may sample

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else self.external_pid

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def log_tail(self, lines: int = 10) -> str:
        if self.logs_path is None or not self.logs_path.is_file():
            return ""
        text = self.logs_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def _reader(base_url: str, timeout: float) -> Iterator[httpx.Client]:
    """A client of the one transport for the reachability polls: read-only (a destructive-looking
    health path is refused, not sent), no retries (a 429 or 503 is an answer here)."""
    transport = Transport(
        base_url,
        timeout=timeout,
        retry_statuses=frozenset(),
        policy=WritePolicy(read_only=True, why_read_only="the reachability check only reads"),
    )
    try:
        yield transport("reachability")
    finally:
        transport.close()


def check_reachable(base_url: str, health: str | None, timeout: float) -> None:
    """Poll ``health`` (or the base URL) until it answers below 500; raise TargetUnreachable."""
    url = base_url.rstrip("/") + (health or "/")
    deadline = time.monotonic() + timeout
    last = "no answer"
    with _reader(base_url, min(5.0, timeout)) as client:
        while True:
            try:
                resp = client.get(url)
                if resp.status_code < 500 or not health:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = f"{exc.__class__.__name__}"
            if time.monotonic() >= deadline:
                raise TargetUnreachable(
                    f"target {base_url} not reachable: GET {url} → {last} for {timeout:g}s",
                    hint="start the service, or fix --target / [target].url",
                )
            time.sleep(0.1)


def _wait_process(target: Target, health: str | None, timeout: float) -> None:
    url = target.base_url.rstrip("/") + (health or "/")
    deadline = time.monotonic() + timeout
    proc = target.process
    assert proc is not None
    with _reader(target.base_url, 2.0) as client:
        while True:
            code = proc.poll()
            if code is not None:
                tail = target.log_tail(5).replace("\n", " | ")
                raise TargetUnreachable(
                    f"{target.description} exited with code {code} before answering"
                    + (f": {tail}" if tail else ""),
                    hint=f"see {target.logs_path}",
                )
            try:
                resp = client.get(url)
                if resp.status_code < 500 or not health:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                raise TargetUnreachable(
                    f"{target.description} did not answer GET {url} within {timeout:g}s",
                    hint=f"see {target.logs_path}, or raise [target].startup_timeout_s",
                )
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=grace)


@contextmanager
def launch(
    argv: list[str],
    port: int,
    description: str,
    logs_dir: Path | None,
    health: str | None,
    timeout: float,
) -> Iterator[Target]:
    """Start ``argv`` (already holding the port), wait until healthy, stop it afterwards."""
    folder = logs_dir or Path(tempfile.mkdtemp(prefix="battletest-target-"))
    folder.mkdir(parents=True, exist_ok=True)
    logs = folder / "target.log"
    with logs.open("ab") as sink:
        try:
            proc = subprocess.Popen(
                argv,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=os.getcwd(),
            )
        except OSError as exc:
            raise TargetUnreachable(
                f"could not start {description}: {exc.strerror or exc}",
                hint="check the command in [target].command",
            ) from None
    target = Target(f"http://{LOOPBACK}:{port}", "app", proc, logs, description)
    try:
        _wait_process(target, health, timeout)
        yield target
    finally:
        _stop(proc)


@contextmanager
def open_target(config: Config | TargetConfig, logs_dir: Path | None = None) -> Iterator[Target]:
    """The target a config (or its ``[target]`` section) describes — a URL, an app, or a
    command — for the duration of a run."""
    if isinstance(config, Config):
        config = config.target
    if config.url:
        check_reachable(config.url, config.health, min(config.startup_timeout_s, 3.0))
        yield Target(config.url, "url", description=config.url)
    elif config.app:
        if ":" not in config.app:
            raise ConfigError(
                f"--app {config.app!r} is not 'module:attribute'", hint="e.g. mypkg.main:app"
            )
        port = free_port()
        argv = [sys.executable, "-m", "battletest.target", config.app, str(port)]
        with launch(
            argv, port, f"app {config.app}", logs_dir, config.health, config.startup_timeout_s
        ) as target:
            yield target
    elif config.command:
        port = free_port()
        try:
            argv = shlex.split(config.command.replace("{port}", str(port)))
        except ValueError as exc:
            raise ConfigError(
                f"[target].command cannot be parsed: {exc}", hint="fix quoting"
            ) from None
        with launch(
            argv, port, f"command {argv[0]}", logs_dir, config.health, config.startup_timeout_s
        ) as target:
            target.kind = "command"
            yield target
    else:
        raise ConfigError(
            "no target: give --target URL, --app module:attr or [target].command",
            hint="or run without a target to use the built-in demo",
        )


# ------------------------------------------------------------------- child process: serve an app


def is_asgi(app: Any) -> bool:
    """ASGI apps are coroutine functions (or objects with an async ``__call__``)."""
    if inspect.iscoroutinefunction(app):
        return True
    call = getattr(app, "__call__", None)  # noqa: B004 - we need the bound method itself
    return inspect.iscoroutinefunction(call)


def import_app(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    if inspect.isfunction(obj) and not inspect.iscoroutinefunction(obj):
        required = [
            p
            for p in inspect.signature(obj).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not required:
            obj = obj()  # an app factory; a plain WSGI function takes (environ, start_response)
    return obj


def serve(spec: str, port: int) -> None:
    """Serve ``module:attr`` (ASGI, or WSGI through a2wsgi) on loopback with uvicorn."""
    import uvicorn

    app = import_app(spec)
    if not is_asgi(app):
        from a2wsgi import WSGIMiddleware

        app = WSGIMiddleware(app)
    uvicorn.run(app, host=LOOPBACK, port=port, log_level="info", lifespan="auto")


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    serve(sys.argv[1], int(sys.argv[2]))


__all__ = ["Target", "check_reachable", "import_app", "is_asgi", "launch", "open_target"]
