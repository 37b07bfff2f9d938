"""The demo's two outbound dependencies, each run as its own process on loopback.

* PMS (property-management system): reservations by id, confirmation code or guest phone.
* TTS (text-to-speech): voices and ``POST /synthesize`` returning a WAV.

Both are small Starlette apps (they start fast) that echo ``X-Correlation-ID`` and keep a
journal of the requests they received (``GET /_journal``) so tests can observe propagation.
Run with ``python -m battletest.demo.deps pms|tts --fd N`` (the launcher does this).
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import wave
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from battletest.demo import seed

JOURNAL_SIZE = 500
MAX_TTS_CHARS = 2000


class Journal:
    """Records method, path, query and correlation id of each request (newest last)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.entries: deque[dict[str, Any]] = deque(maxlen=JOURNAL_SIZE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        correlation = headers.get("x-correlation-id")
        if scope["path"] != "/_journal":
            self.entries.append(
                {
                    "method": scope["method"],
                    "path": scope["path"],
                    "query": scope["query_string"].decode("latin-1"),
                    "correlation_id": correlation,
                }
            )

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start" and correlation:
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-correlation-id", correlation.encode("latin-1")),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_pms_app() -> Journal:
    records = {r.id: seed.reservation_record(r) for r in seed.RESERVATIONS}

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "pms"})

    async def get_reservation(request: Request) -> Response:
        record = records.get(request.path_params["rid"])
        if record is None:
            return JSONResponse({"error": "reservation not found"}, status_code=404)
        return JSONResponse(record)

    async def find_reservations(request: Request) -> Response:
        q = request.query_params
        found = [
            r
            for r in records.values()
            if (not q.get("confirmation_code") or r["confirmation_code"] == q["confirmation_code"])
            and (not q.get("phone") or r["guest_phone"] == q["phone"])
            and (not q.get("hotel_id") or r["hotel_id"] == q["hotel_id"])
        ]
        return JSONResponse({"items": found})

    return _with_journal(
        [
            Route("/health", health),
            Route("/reservations", find_reservations),
            Route("/reservations/{rid}", get_reservation),
        ]
    )


def synthesize_wav(text: str, voice: str, rate: int = 8000) -> bytes:
    """A short 16-bit mono WAV: one tone per word, pitch chosen by the voice."""
    base = 220.0 + 110.0 * (seed.VOICES.index(voice) if voice in seed.VOICES else 0)
    words = text.split() or [""]
    samples = bytearray()
    for i, word in enumerate(words[:40]):
        freq = base * (1.0 + 0.05 * ((len(word) + i) % 8))
        for n in range(rate // 20):
            samples += struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * n / rate)))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(samples))
    return buf.getvalue()


def create_tts_app() -> Journal:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "tts"})

    async def voices(request: Request) -> Response:
        return JSONResponse({"voices": list(seed.VOICES)})

    async def voice_sample(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in seed.VOICES:
            return JSONResponse({"error": "voice not found"}, status_code=404)
        return Response(synthesize_wav("sample voice", name), media_type="audio/wav")

    async def synthesize(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            text = str(body["text"])
            voice = str(body.get("voice", seed.VOICES[0]))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected JSON {text, voice}"}, status_code=400)
        if voice not in seed.VOICES:
            return JSONResponse({"error": "unknown voice"}, status_code=422)
        if len(text) > MAX_TTS_CHARS:
            return JSONResponse({"error": "text too long"}, status_code=422)
        return Response(synthesize_wav(text, voice), media_type="audio/wav")

    return _with_journal(
        [
            Route("/health", health),
            Route("/voices", voices),
            Route("/voices/{name}.wav", voice_sample),
            Route("/synthesize", synthesize, methods=["POST"]),
        ]
    )


def _with_journal(routes: list[Route]) -> Journal:
    holder: list[Journal] = []

    async def journal(request: Request) -> Response:
        return JSONResponse({"entries": list(holder[0].entries)})

    app = Starlette(routes=[*routes, Route("/_journal", journal)])
    wrapped = Journal(app)
    holder.append(wrapped)
    return wrapped


def main(argv: list[str] | None = None) -> None:
    from battletest.demo.child import parse_fd, serve

    args = list(sys.argv[1:] if argv is None else argv)
    kind = args.pop(0) if args else ""
    factories = {"pms": create_pms_app, "tts": create_tts_app}
    if kind not in factories:
        sys.exit("usage: python -m battletest.demo.deps pms|tts --fd N")
    serve(factories[kind](), parse_fd(args))


if __name__ == "__main__":
    main()
