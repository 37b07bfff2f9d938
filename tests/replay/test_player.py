"""The player without sockets: a fake sender stands in for the transport."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from battletest.redact import Redactor
from battletest.replay.correlate import correlate, protect
from battletest.replay.player import replay_suite
from battletest.results import Status
from battletest.transport import Exchange

from .test_correlate import flow


class FakeService:
    """Answers like the recorded service, with new ids and tokens; records what it was sent."""

    def __init__(self, interrupt_at: int = 0) -> None:
        self.sent: list[tuple[str, str, dict[str, str], bytes]] = []
        self.redactor = Redactor()
        self.policy = None
        self.interrupt_at = interrupt_at

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str = "",
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
    ) -> Exchange:
        body = content.encode() if isinstance(content, str) else (content or b"")
        self.sent.append((method, path, dict(headers or {}), body))
        if self.interrupt_at and len(self.sent) == self.interrupt_at:
            raise KeyboardInterrupt
        token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJuZXcifQ.bmV3LXNpZ25hdHVyZQ"
        answers = {
            "/v1/auth/login": (200, {"access_token": token, "expires_in": 900}),
            "/v1/calls": (201, {"id": "call_77aa00bb11cc", "kind": "transcript"}),
        }
        status, data = answers.get(path.split("?")[0], (200, {}))
        headers_out = {"content-type": "application/json"}
        return Exchange(
            method, path, [], body, status, httpx.Headers(headers_out), json.dumps(data).encode()
        )

    def release(self, key: str) -> None:
        pass

    def url(self, path: str) -> str:
        return "http://svc" + path


INPUTS = {"username": "ada@example.com", "password": "pw", "caller": "+14155550100"}


def test_new_values_are_extracted_and_sent_on() -> None:
    service = FakeService()
    episode = protect(correlate(flow()))
    suite = replay_suite([episode], service, inputs=INPUTS)
    assert suite.status is Status.PASSED, [c.message for c in suite.cases]
    _, event_path, event_headers, event_body = service.sent[2]
    assert event_path == "/v1/calls/call_77aa00bb11cc/transcript?page=900"
    assert event_headers["Authorization"].endswith("bmV3LXNpZ25hdHVyZQ")
    assert json.loads(event_body) == {"call": "call_77aa00bb11cc", "n": 1}
    assert json.loads(service.sent[0][3]) == {"username": "ada@example.com", "password": "pw"}


def test_ctrl_c_keeps_what_was_replayed() -> None:
    suite = replay_suite([protect(correlate(flow()))], FakeService(interrupt_at=2), inputs=INPUTS)
    assert [c.status for c in suite.cases] == [Status.PASSED]
    assert suite.message.endswith("(interrupted)")
