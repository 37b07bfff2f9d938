"""`battletest run` sends the gate-failure webhook and pushes metrics.prom, to the URLs named in
``[report]`` only, against a loopback receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.clitools import run_cli
from tests.run.conftest import make_config

from battletest.errors import ExitCode
from battletest.netutil import free_port
from battletest.results import Case, Status, SuiteResult
from battletest.run import SUITES, execute


class _Receiver(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str, bytes]]] = []

    def _record(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.command, self.path, self.headers.get("Content-Type", ""), raw))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = _record
    do_PUT = _record

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _suite(status: Status) -> Any:
    def run(ctx: Any) -> SuiteResult:
        return SuiteResult.from_cases("errors", [Case(name="one", status=status)], 0.1)

    return run


def _run(url: str, tmp_path: Path, status: Status, report: dict[str, str]) -> Any:
    cfg = make_config(url, tmp_path, report=report)
    return execute(cfg, only=["errors"], suites_table={**SUITES, "errors": _suite(status)})


@pytest.mark.slow
def test_a_failed_run_posts_the_webhook_and_pushes_metrics(
    api_url: str, tmp_path: Path, receiver: str
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    hook = f"{receiver}/hooks/T000/B000/secret-part"
    out = _run(api_url, tmp_path, Status.FAILED, {"webhook_url": hook, "pushgateway_url": receiver})
    assert out.exit_code == ExitCode.FAILED
    posts = [s for s in _Receiver.seen if s[0] == "POST"]
    puts = [s for s in _Receiver.seen if s[0] == "PUT"]
    assert [(p[1], p[2]) for p in posts] == [("/hooks/T000/B000/secret-part", "application/json")]
    body = json.loads(posts[0][3])
    assert "FAILED" in body["text"] and out.report.run.id in body["text"]
    assert body["battletest"]["verdict"] == "fail"
    assert [p[1] for p in puts] == ["/metrics/job/battletest/profile/default"]
    families = {f.name for f in text_string_to_metric_families(puts[0][3].decode())}
    assert families, "the pushed body is Prometheus text"
    notes = out.report.run.notes
    assert "gate-failure webhook sent ([report].webhook_url)" in notes
    assert any(n.startswith("metrics pushed to the Pushgateway") for n in notes)
    # the webhook URL is a credential: not in report.json
    assert out.folder is not None
    assert "secret-part" not in (out.folder / "report.json").read_text()


def test_a_passing_run_sends_no_webhook_but_still_pushes(
    api_url: str, tmp_path: Path, receiver: str
) -> None:
    out = _run(
        api_url,
        tmp_path,
        Status.PASSED,
        {"webhook_url": f"{receiver}/hook", "pushgateway_url": receiver},
    )
    assert out.exit_code == ExitCode.OK
    assert [s[0] for s in _Receiver.seen] == ["PUT"]


def test_nothing_is_sent_when_no_url_is_configured(
    api_url: str, tmp_path: Path, receiver: str
) -> None:
    out = _run(api_url, tmp_path, Status.FAILED, {})
    assert out.exit_code == ExitCode.FAILED and _Receiver.seen == []


@pytest.mark.slow
def test_an_unreachable_webhook_is_a_note_and_the_verdict_stands(
    api_url: str, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    out = _run(api_url, tmp_path, Status.FAILED, {"webhook_url": dead, "pushgateway_url": dead})
    assert out.exit_code == ExitCode.FAILED
    notes = out.report.run.notes
    assert any(n.startswith("gate-failure webhook not sent: cannot reach") for n in notes)
    assert any(n.startswith("metrics not pushed: cannot reach the Pushgateway") for n in notes)


def test_a_non_http_webhook_url_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "battletest.toml"
    cfg.write_text('[report]\nwebhook_url = "hooks.slack.com/x"\n')
    code, _, err = run_cli(["run", "--config", str(cfg), "--target", "http://127.0.0.1:9"], capsys)
    assert code == ExitCode.USAGE
    assert "report.webhook_url" in err and "not an http(s) URL" in err
