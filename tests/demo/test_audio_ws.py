"""The demo's call audio stream (``WS /v1/calls/{call_id}/audio``) over real sockets, and the
example scenario that loads it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.demo.conftest import headers

from battletest.demo import DemoHandle
from battletest.load import ExecutorSpec, run
from battletest.load.flow import load_scenario_file
from battletest.load.scenario import parse_target
from battletest.load.ws import WsFailed, WsSocket, connect

pytestmark = [pytest.mark.network, pytest.mark.slow]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "concierge" / "call_audio_ws.toml"


class Counts:
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def count(self, name: str, n: int = 1) -> None:
        self.seen[name] = self.seen.get(name, 0) + n


def new_call(demo: DemoHandle, who: str = "staff_h1", answer: bool = True) -> str:
    h = headers(demo, who)
    r = httpx.post(
        demo.base_url + "/v1/calls",
        json={"caller": "+15550100001", "hotel_id": "h1", "voice": "alloy"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    call_id = str(r.json()["id"])
    if answer:
        r = httpx.post(
            demo.base_url + f"/v1/calls/{call_id}/events", json={"type": "answered"}, headers=h
        )
        assert r.status_code == 200, r.text
    return call_id


def stream(
    demo: DemoHandle,
    call_id: str,
    who: str | None,
    body: Callable[[WsSocket], Awaitable[Any]],
) -> Any:
    auth = headers(demo, who) if who else {}

    async def go() -> Any:
        target = parse_target(demo.base_url)
        sock = await connect(
            target,
            "127.0.0.1",
            f"/v1/calls/{call_id}/audio",
            auth,
            ["concierge.audio.v1"],
            10.0,
            None,
            Counts(),
        )
        try:
            return await body(sock)
        finally:
            await sock.close(5.0)

    return asyncio.run(go())


async def messages(sock: WsSocket, n: int) -> list[str | bytes]:
    return [await sock.receive(10.0) for _ in range(n)]


def test_audio_frames_get_partials_a_stored_transcript_and_a_spoken_answer(
    demo: DemoHandle,
) -> None:
    call_id = new_call(demo)

    async def body(sock: WsSocket) -> list[str | bytes]:
        assert sock.subprotocol == "concierge.audio.v1"
        ready = json.loads(await sock.receive(10.0))
        assert ready["type"] == "ready" and ready["frame_bytes"] == 640
        for _ in range(25):
            sock.send(bytes(640))
        return await messages(sock, 25 + 3)  # 25 partials, transcript, tts, the audio

    got = stream(demo, call_id, "staff_h1", body)
    texts = [json.loads(m) for m in got if isinstance(m, str)]
    assert [t["seq"] for t in texts if t["type"] == "partial"] == list(range(1, 26))
    transcript = next(t for t in texts if t["type"] == "transcript")
    assert transcript["text"] == "segment 1: 0.5 s of caller audio"
    tts = next(t for t in texts if t["type"] == "tts")
    audio = [m for m in got if isinstance(m, bytes)]
    assert len(audio) == 1 and len(audio[0]) == tts["bytes"] and audio[0][:4] == b"RIFF"
    call = httpx.get(
        demo.base_url + f"/v1/calls/{call_id}", headers=headers(demo, "staff_h1")
    ).json()
    assert any(e.get("text") == transcript["text"] for e in call["events"])


def test_control_messages_answer_and_a_bad_one_closes_with_1003(demo: DemoHandle) -> None:
    call_id = new_call(demo)

    async def body(sock: WsSocket) -> tuple[Any, int | None]:
        await sock.receive(10.0)  # ready
        sock.send(json.dumps({"type": "ping", "id": 7}))
        pong = json.loads(await sock.receive(10.0))
        sock.send("not json")
        with pytest.raises(WsFailed, match="ws_closed_1003"):
            await sock.receive(10.0)
        return pong, sock.close_code

    pong, code = stream(demo, call_id, "staff_h1", body)
    assert pong == {"type": "pong", "id": 7}
    assert code == 1003


@pytest.mark.parametrize(
    ("who", "setup"),
    [
        (None, "answered"),  # no credentials
        ("guest1", "answered"),  # a role that may not post call events
        ("staff_h2", "answered"),  # another hotel's call
        ("staff_h1", "ended"),  # a call that is over
    ],
)
def test_the_handshake_is_refused_for_whom_the_api_refuses(
    demo: DemoHandle, who: str | None, setup: str
) -> None:
    call_id = new_call(demo)
    if setup == "ended":
        r = httpx.post(
            demo.base_url + f"/v1/calls/{call_id}/events",
            json={"type": "ended"},
            headers=headers(demo, "staff_h1"),
        )
        assert r.status_code == 200

    async def body(sock: WsSocket) -> None:
        raise AssertionError("the handshake should have been refused")

    with pytest.raises(WsFailed, match="ws_rejected_403"):
        stream(demo, call_id, who, body)


def test_the_example_scenario_streams_audio_at_cadence_with_no_failure(demo: DemoHandle) -> None:
    scenario = load_scenario_file(EXAMPLE)
    spec = ExecutorSpec("per-vu-iterations", vus=2, iterations=1, graceful_stop=20)
    result = run(
        demo.base_url,
        executor=spec,
        scenario=scenario,
        workers=1,
        timeout=10,
        thresholds=["ws_abnormal_closes==0", "failed==0"],
    )
    assert result.passed, result.thresholds
    frames = result.endpoints["audio frame"]
    assert frames.requests == 100 and frames.failed == 0  # 2 VUs x 50 frames, each timed
    assert result.endpoints["tts answer"].requests == 2
    assert result.counters["ws_sessions"] == 2
    assert result.counters["ws_msgs_sent"] == 100
    assert result.counters["ws_bytes_sent"] == 100 * 640
