"""Serve one third-party WSGI app on loopback with a request journal (run by the app's own venv).

This file is executed by the interpreter of ``.venv-thirdparty/<app>/`` (never imported by our
tests), so it uses only the standard library, waitress and the app itself:

    .venv-thirdparty/kinto/bin/python serve.py kinto --ini kinto.ini --port-file P --journal J

WSGI apps (Kinto, httpbin) run under waitress; Jupyter Server runs its own Tornado server. Each
binds port 0 (no free-port race between xdist workers), writes the chosen port to
``--port-file`` once listening, and appends one JSON line per answered request to ``--journal``
(method, path, query, status): the ground truth of what reached the app, independent of what
battletest reports about itself.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def journal_writer(path: str) -> Callable[[str, str, str, int], None]:
    """A thread-safe appender of one JSON line per answered request."""
    lock = threading.Lock()
    out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives as long as the server)

    def write(method: str, path: str, query: str, status: int, seconds: float) -> None:
        line = {"method": method, "path": path, "query": query, "status": status}
        line["seconds"] = round(
            seconds, 4
        )  # from the request's arrival to its answer's status line
        with lock:
            out.write(json.dumps(line) + "\n")

    return write


def journaled(app: WsgiApp, path: str) -> WsgiApp:
    """``app`` wrapped so that each request's method, path and status land in ``path``."""
    write = journal_writer(path)

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()

        def recording_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            write(
                environ.get("REQUEST_METHOD", ""),
                environ.get("PATH_INFO", ""),
                environ.get("QUERY_STRING", ""),
                int(status.split(" ", 1)[0]),
                time.monotonic() - started,
            )
            return start_response(status, headers, *exc)

        return app(environ, recording_start)

    return wrapper


def load_app(name: str, ini: str | None) -> WsgiApp:
    if name == "kinto":
        from pyramid.paster import get_app, setup_logging

        if not ini:
            raise SystemExit("kinto needs --ini")
        setup_logging(ini)
        return get_app(ini, "main")
    if name == "httpbin":
        from httpbin import app

        return app
    raise SystemExit(f"unknown app {name!r}")


def write_port(port_file: str, port: int) -> None:
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(port))
    os.replace(tmp, port_file)  # the reader never sees a half-written number


def serve_jupyter(args: argparse.Namespace) -> None:
    """Jupyter Server on 127.0.0.1:0 with the token and root folder the harness chose.

    Its own request log hook (Tornado's ``log_function``) writes the journal.
    """
    from jupyter_server.serverapp import ServerApp

    write = journal_writer(args.journal)

    def log_function(handler: Any) -> None:
        r = handler.request
        write(r.method or "", r.path, r.query, handler.get_status(), r.request_time())

    app = ServerApp()
    app.initialize(
        argv=[
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={args.root_dir}",
            f"--IdentityProvider.token={args.token}",
        ]
    )
    app.web_app.settings["log_function"] = log_function
    write_port(args.port_file, app.port)
    app.start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("--ini")
    parser.add_argument("--root-dir")
    parser.add_argument("--token")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if args.app == "jupyter-server":
        serve_jupyter(args)
        return

    from waitress import create_server

    server = create_server(
        journaled(load_app(args.app, args.ini), args.journal),
        host="127.0.0.1",
        port=0,
        threads=args.threads,
        # httpbin's /delay, /drip and /stream answer slowly by design; keep waitress quiet
        # about its queue instead of warning on every burst.
        channel_timeout=30,
    )
    write_port(args.port_file, server.effective_port)
    server.run()


if __name__ == "__main__":
    main()
