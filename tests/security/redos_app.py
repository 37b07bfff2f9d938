"""A handle-availability service whose validator is a real exponential regex (ReDoS).

Run as its own process (the regex holds the GIL while it backtracks, so the whole server —
its health path too — stalls, as a one-worker Python service does):

    python tests/security/redos_app.py --port-file P [--fixed]

``GET /v1/handles/check?handle=…`` validates the handle with ``^(a+)+$`` in Python's ``re``
(2^n steps on ``"a" * n + "!"``: about 1 s at n = 24 on this machine); ``--fixed`` uses the
linear ``^a+$``. ``GET /`` answers ``{"status": "ok"}``. The port (bound as 0) goes to
``--port-file`` once listening.
"""

from __future__ import annotations

import argparse
import re
import socket
from typing import Any

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "handles", "version": "1"},
    "paths": {
        "/v1/handles/check": {
            "get": {
                "parameters": [
                    {
                        "name": "handle",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": {"description": "whether the handle is valid"}},
            }
        }
    },
}


def build(fixed: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    pattern = re.compile(r"^a+$" if fixed else r"^(a+)+$")

    def check(request: Request) -> JSONResponse:  # sync: matched in the thread pool
        handle = request.query_params.get("handle", "")
        return JSONResponse({"handle": handle, "valid": pattern.match(handle) is not None})

    def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/", health), Route("/v1/handles/check", check)])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--fixed", action="store_true")
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(build(args.fixed), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    with open(args.port_file, "w", encoding="utf-8") as out:
        out.write(str(sock.getsockname()[1]))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
