"""A call's live audio stream: ``WS /v1/calls/{call_id}/audio`` (see docs/demo.md).

The caller's side sends 16 kHz 16-bit mono audio as binary frames (640 bytes = 20 ms is the
usual chunk). The service answers each frame with a ``partial`` JSON message (so a client can
time the round trip per frame), and every ``SEGMENT_FRAMES`` frames with a final
``transcript`` segment — stored on the call as a transcript event when the call is in
progress — followed by the assistant's spoken answer: a ``tts`` JSON message and the WAV bytes
from the TTS dependency as one binary frame (``degraded`` when TTS is unavailable).

Text frames are JSON control messages: ``{"type": "ping", "id": …}`` → ``pong``,
``{"type": "say", "text": …}`` → a ``tts`` answer, ``{"type": "end"}`` → close 1000.

Authentication is the API's: ``Authorization: Bearer <token>`` or ``X-API-Key`` on the
handshake (or ``?access_token=`` for browsers, which cannot set headers); the roles that may
post call events may stream. A refused handshake is closed before it is accepted (HTTP 403).
Close codes: 1000 normal, 1003 a text frame that is not a known JSON message, 1008 policy
(the call ended meanwhile), 1009 a frame over ``MAX_FRAME`` bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from battletest.demo.app import Services
from battletest.demo.connectors import DependencyUnavailable
from battletest.demo.policy import allowed_roles

SUBPROTOCOL = "concierge.audio.v1"
SEGMENT_FRAMES = 25  # 25 frames of 20 ms: a transcript segment every half second of audio
MAX_FRAME = 64 * 1024
STREAMABLE = ("ringing", "in_progress")


def register(
    app: FastAPI,
    s: Services,
    principal: Callable[[HTTPConnection], Any],
    visible_call: Callable[[Any, str], Any],
) -> None:
    roles = allowed_roles("POST", "/v1/calls/{call_id}/events")

    @app.websocket("/v1/calls/{call_id}/audio")
    async def call_audio(websocket: WebSocket, call_id: str) -> None:
        token = websocket.query_params.get("access_token")
        if token and "authorization" not in websocket.headers:
            websocket.scope["headers"] = [
                *websocket.scope["headers"],
                (b"authorization", f"Bearer {token}".encode()),
            ]
            websocket = WebSocket(websocket.scope, websocket.receive, websocket.send)
        try:
            p = principal(websocket)
            if p.role not in roles:
                raise HTTPException(403, "role may not stream audio")
            row = visible_call(p, call_id)
        except HTTPException:
            await websocket.close(code=1008)
            return
        if row["status"] not in STREAMABLE:
            await websocket.close(code=1008)
            return
        offered = websocket.scope.get("subprotocols", [])
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        await websocket.send_json(
            {"type": "ready", "call_id": call_id, "sample_rate": 16000, "frame_bytes": 640}
        )
        try:
            await _stream(websocket, s, call_id)
        except WebSocketDisconnect:
            return

    async def speak(websocket: WebSocket, text: str, voice: str) -> None:
        try:
            audio = await s.tts.synthesize(text, voice)
        except (DependencyUnavailable, ValueError):
            await websocket.send_json({"type": "degraded", "dependency": "tts"})
            return
        await websocket.send_json({"type": "tts", "text": text, "bytes": len(audio)})
        await websocket.send_bytes(audio)

    async def _stream(websocket: WebSocket, s: Services, call_id: str) -> None:
        frames = audio_bytes = segment = 0
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is not None:
                if len(data) > MAX_FRAME:
                    await websocket.close(code=1009)
                    return
                frames += 1
                audio_bytes += len(data)
                await websocket.send_json({"type": "partial", "seq": frames, "bytes": len(data)})
                if frames % SEGMENT_FRAMES == 0:
                    segment += 1
                    seconds = audio_bytes / 32000
                    text = f"segment {segment}: {seconds:.1f} s of caller audio"
                    row = s.store.call(call_id)
                    if row is None or row["status"] not in STREAMABLE:
                        await websocket.close(code=1008)
                        return
                    if row["status"] == "in_progress":
                        s.store.add_event(
                            call_id, "transcript", "caller", text, "in_progress", None
                        )
                    await websocket.send_json(
                        {"type": "transcript", "segment": segment, "text": text, "final": True}
                    )
                    await speak(websocket, f"I heard {seconds:.1f} seconds.", "alloy")
                continue
            try:
                control = json.loads(message.get("text") or "")
                kind = control["type"]
            except (ValueError, KeyError, TypeError):
                await websocket.close(code=1003)
                return
            if kind == "ping":
                await websocket.send_json({"type": "pong", "id": control.get("id")})
            elif kind == "say" and isinstance(control.get("text"), str):
                await speak(websocket, control["text"][:500], str(control.get("voice", "alloy")))
            elif kind == "end":
                await websocket.close(code=1000)
                return
            else:
                await websocket.close(code=1003)
                return
