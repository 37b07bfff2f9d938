"""A loopback listener the scanner runs during a scan: it serves documents a vulnerable target
will fetch (a JWKS for ``jku`` injection; SSRF payloads in part 2) and records every hit, which
is the proof that the target followed a URL the scanner planted.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Hit:
    method: str
    path: str


class Canary:
    """A threaded HTTP server on ``host``: ``serve(path, json)`` and read ``hits``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.hits: list[Hit] = []
        self._documents: dict[str, bytes] = {}
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary.hits.append(Hit("GET", self.path))
                body = canary._documents.get(self.path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="battletest-canary", daemon=True
        )
        self._thread.start()
        port = self._server.server_address[1]
        self.base_url = f"http://{host}:{port}"

    def serve(self, path: str, document: Any) -> str:
        self._documents[path] = json.dumps(document).encode()
        return self.base_url + path

    def hits_for(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path.split("?", 1)[0] == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
