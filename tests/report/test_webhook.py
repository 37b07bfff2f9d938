"""The gate-failure webhook against a loopback receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from battletest.errors import TargetUnreachable, UsageError
from battletest.netutil import free_port
from battletest.redact import Redactor
from battletest.report import webhook
from battletest.results import GateResult

from .test_html import sample_report


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.headers["Content-Type"] == "application/json"
        type(self).bodies.append(json.loads(raw))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies = []
    _Receiver.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/abc"
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_gate_posts_a_slack_message(receiver: str) -> None:
    report = sample_report(failing=True)
    assert webhook.notify(report, receiver, link="file:///tmp/report.html") is True
    (body,) = _Receiver.bodies
    assert "FAILED" in body["text"] and report.run.id in body["text"]
    text = json.dumps(body["blocks"])
    assert "*pass_rate*: measured 80.0 (limit 95.0)" in text
    assert "*max_severity*" in text and "load.p95_ms" not in text  # passed gates not listed
    assert body["blocks"][0]["type"] == "header"
    assert [g["name"] for g in body["battletest"]["failed_gates"]] == ["pass_rate", "max_severity"]


def test_passing_gates_send_nothing_unless_asked(receiver: str) -> None:
    report = sample_report(failing=False)
    assert webhook.notify(report, receiver) is False
    assert _Receiver.bodies == []
    assert webhook.notify(report, receiver, always=True) is True
    assert "passed" in _Receiver.bodies[0]["text"]


def test_secrets_in_gate_reasons_are_redacted(receiver: str) -> None:
    report = sample_report(failing=True)
    report.gates.append(
        GateResult(
            name="leak",
            limit=0,
            measured=1,
            passed=False,
            reason="token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        )
    )
    assert webhook.notify(report, receiver, redactor=Redactor(["c2lnbmF0dXJl"]))
    text = json.dumps(_Receiver.bodies)
    assert "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0" not in text and "c2lnbmF0dXJl" not in text
    assert "token ***(jwt alg=HS256)" in text  # the word stays; the value is masked


def test_webhook_errors(receiver: str) -> None:
    report = sample_report(failing=True)
    with pytest.raises(UsageError, match="not an http"):
        webhook.notify(report, "hooks.slack.com/x")
    with pytest.raises(TargetUnreachable, match="cannot reach the webhook"):
        webhook.notify(report, f"http://127.0.0.1:{free_port()}/", timeout=2)
    _Receiver.status = 404
    with pytest.raises(UsageError, match="answered 404"):
        webhook.notify(report, receiver)


def test_report_command_sends_the_webhook(
    receiver: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from battletest.cli import main
    from battletest.report import write_run_folder

    folder = write_run_folder(sample_report(failing=True), tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["report", str(folder), "--format", "prom", "--webhook", receiver])
    assert exc.value.code == 0
    assert "webhook sent" in capsys.readouterr().out
    assert len(_Receiver.bodies) == 1 and "FAILED" in _Receiver.bodies[0]["text"]
