"""No planted secret survives a run: every byte written to the run folder, the history
database, the console (rich live and plain), the webhook body and the Pushgateway push.

The target is a small app of this test's own (not the demo) that hands out opaque tokens and a
session cookie, declares an API-key scheme under a custom header (``X-Service-Key``), and
echoes credentials back in its answers and errors — so the suites' evidence (the scanner's
findings and security.sarif too), messages and reproduce commands carry them unless redaction
removes them.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from rich.console import Console

from battletest.config import load_config
from battletest.netutil import free_port, serve_app
from battletest.report.console import ConsoleProgress, print_summary
from battletest.results import Case, SuiteResult
from battletest.run import execute

USERINFO_PW = "Userinfo-Pw-7q3z"
ALICE_PW = "Alice-Pw-9k2m"
SERVICE_KEY = "svc-key-4f8d1c"
JWT_SECRET = "jwt-secret-6b0e2a"
HOOK_TOKEN = "hook-tok-1c7e9d"
PUSH_TOKEN = "push-tok-5a3b8f"


bearer = HTTPBearer(auto_error=False)
service = APIKeyHeader(name="X-Service-Key", auto_error=False)


class Login(BaseModel):
    username: str
    password: str


def leaky_app() -> tuple[FastAPI, list[str]]:
    """An API whose answers echo the credentials they were called with."""
    app = FastAPI(title="leaky")
    issued: list[str] = []

    @app.post("/login")
    def login(body: Login, response: Response) -> dict[str, str]:
        if (body.username, body.password) != ("alice", ALICE_PW):
            raise HTTPException(401, "bad credentials")
        token, refresh, session = (f"opq{secrets.token_hex(12)}" for _ in range(3))
        issued.extend([token, refresh, session])
        response.set_cookie("session", session)
        return {"access_token": token, "refresh_token": refresh}

    @app.get("/me")
    def me(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> dict[str, str]:
        if cred is None or cred.credentials not in issued:
            raise HTTPException(401, "no token")
        return {"user": "alice", "your_bearer": f"Bearer {cred.credentials}"}

    @app.get("/reports")
    def reports(request: Request, key: Annotated[str | None, Depends(service)]) -> JSONResponse:
        if key != SERVICE_KEY:
            raise HTTPException(401, "no key")
        # a broken endpoint that dumps what it got: a failing case with leaky evidence
        echoed = {k: v for k, v in request.headers.items()}
        return JSONResponse({"error": f"backend down for key {key}", "got": echoed}, 500)

    return app, issued


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def _take(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).bodies.append(raw)  # the body only: the URL is where it went
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT = _take

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Both:
    """One progress stream drawn twice: on a (forced) terminal and as plain lines."""

    def __init__(self, *reporters: ConsoleProgress) -> None:
        self.reporters = reporters

    def suite_started(self, name: str, total: int | None) -> None:
        for r in self.reporters:
            r.suite_started(name, total)

    def case_done(self, suite: str, case: Case) -> None:
        for r in self.reporters:
            r.case_done(suite, case)

    def suite_done(self, result: SuiteResult) -> None:
        for r in self.reporters:
            r.suite_done(result)

    def note(self, message: str) -> None:
        for r in self.reporters:
            r.note(message)


@pytest.mark.slow
def test_no_planted_secret_reaches_any_output(tmp_path: Path, receiver: str) -> None:
    app, issued = leaky_app()
    history = tmp_path / "history.db"
    with serve_app(app) as url:
        host = url.removeprefix("http://")
        toml = tmp_path / "battletest.toml"
        toml.write_text(
            f"""
out = "{tmp_path / "reports"}"
seed = 7
[target]
url = "http://admin:{USERINFO_PW}@{host}"
spec = "{url}/openapi.json"
[auth]
login_path = "/login"
api_key_header = "X-Service-Key"
jwt_secret = "{JWT_SECRET}"
[[identities]]
name = "alice"
username = "alice"
password = "env:ALICE_PW"
[[identities]]
name = "svc"
role = "service"
api_key = "{SERVICE_KEY}"
[suites]
enabled = ["contract", "auth", "errors", "security"]
[suites.contract]
examples = 1
[report]
webhook_url = "{receiver}/hooks/{HOOK_TOKEN}"
pushgateway_url = "{receiver}/{PUSH_TOKEN}"
[history]
url = "sqlite:///{history}"
"""
        )
        config = load_config(toml, environ={"ALICE_PW": ALICE_PW})
        live_buf, plain_buf = io.StringIO(), io.StringIO()
        live = Console(file=live_buf, force_terminal=True, width=240)
        plain = Console(file=plain_buf, force_terminal=False, no_color=True, width=240)
        with (
            ConsoleProgress(live, verbose=True) as p1,
            ConsoleProgress(plain, verbose=True) as p2,
        ):
            outcome = execute(config, progress=_Both(p1, p2))
        print_summary(live, outcome.report, outcome.folder)
        print_summary(plain, outcome.report, outcome.folder)

    assert outcome.folder is not None
    assert outcome.report.summary.verdict == "fail"  # the 500 fails: the webhook is sent
    assert len(issued) >= 3  # alice logged in: tokens and a session cookie were issued
    assert len(_Receiver.bodies) == 2, "webhook and Pushgateway both received"
    outputs: dict[str, bytes] = {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in sorted(outcome.folder.rglob("*"))
        if p.is_file()
    }
    for p in tmp_path.glob("history.db*"):
        outputs[p.name] = p.read_bytes()
    outputs["console (live)"] = live_buf.getvalue().encode()
    outputs["console (plain)"] = plain_buf.getvalue().encode()
    for i, body in enumerate(_Receiver.bodies):
        outputs[f"received {i}"] = body
    assert {"report.json", "report.html", "junit.xml", "security.sarif", "metrics.prom"} <= {
        Path(k).name for k in outputs
    }
    planted = [USERINFO_PW, ALICE_PW, SERVICE_KEY, JWT_SECRET, HOOK_TOKEN, PUSH_TOKEN, *issued]
    leaks = [
        (name, secret)
        for name, data in outputs.items()
        for secret in planted
        if secret.encode() in data
    ]
    assert leaks == []
    # what the secrets stood for is still readable
    report = json.loads(outputs[next(k for k in outputs if k.endswith("report.json"))])
    assert report["run"]["target"] == f"http://***@{host}"
    text = outputs[next(k for k in outputs if k.endswith("report.json"))].decode().lower()
    assert "x-service-key: ***" in text and "cookie: ***" in text
