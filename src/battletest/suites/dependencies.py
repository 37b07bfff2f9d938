"""MOCK mode for the built-in demo: its PMS and TTS dependencies replaced by battletest mocks.

``mocked_demo()`` starts two ``MockServer`` instances serving stubs of the PMS and TTS APIs
(built from the demo's seed data, so a reservation lookup answers as the real PMS would) and
starts the demo with ``pms_url``/``tts_url`` pointing at them. Every call the demo makes to a
dependency is then in the mocks' journals, and the mocks' failure scenarios can be switched on
during a run.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

JSON = {"content-type": "application/json"}


def _silent_wav(samples: int = 800, rate: int = 8000) -> str:
    """A short 8-bit mono WAV of near-silence whose bytes are all ASCII (a stub body is text)."""
    data = b"\x7f" * samples
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate, 1, 8)
        + b"data"
        + struct.pack("<I", len(data))
    )
    raw = header + data
    assert max(raw) < 0x80, "the WAV must stay ASCII to travel as a stub body"
    return raw.decode("ascii")


def pms_stubs() -> list[dict[str, Any]]:
    """Stubs of the PMS API: health, a reservation by id, a search by code, phone or hotel."""
    from battletest.demo import seed

    stubs: list[dict[str, Any]] = [
        {
            "name": "health",
            "method": "GET",
            "path": "/health",
            "response": {"json": {"status": "ok", "service": "pms (mock)"}},
        }
    ]
    for r in seed.RESERVATIONS:
        record = seed.reservation_record(r)
        stubs.append(
            {
                "name": f"reservation {r.id}",
                "method": "GET",
                "path": f"/reservations/{r.id}",
                "response": {"headers": JSON, "json": record},
            }
        )
        for key in ("confirmation_code", "guest_phone"):
            query = {"confirmation_code" if key == "confirmation_code" else "phone": record[key]}
            stubs.append(
                {
                    "name": f"search {r.id} by {key}",
                    "method": "GET",
                    "path": "/reservations",
                    "query": query,
                    "priority": 3,
                    "response": {"headers": JSON, "json": {"items": [record]}},
                }
            )
    stubs += [
        {
            "name": "search: nothing else",
            "method": "GET",
            "path": "/reservations",
            "priority": 9,
            "response": {"headers": JSON, "json": {"items": []}},
        },
        {
            "name": "unknown reservation",
            "method": "GET",
            "path": "/reservations/{rid}",
            "priority": 9,
            "response": {
                "status": 404,
                "headers": JSON,
                "json": {"error": "reservation not found"},
            },
        },
    ]
    return stubs


def tts_stubs() -> list[dict[str, Any]]:
    """Stubs of the TTS API: health, the voices, a (silent) synthesis for any known voice."""
    from battletest.demo import seed

    wav = {"content-type": "audio/wav"}
    stubs: list[dict[str, Any]] = [
        {
            "name": "health",
            "method": "GET",
            "path": "/health",
            "response": {"json": {"status": "ok", "service": "tts (mock)"}},
        },
        {
            "name": "voices",
            "method": "GET",
            "path": "/voices",
            "response": {"headers": JSON, "json": {"voices": list(seed.VOICES)}},
        },
    ]
    for voice in seed.VOICES:
        stubs += [
            {
                "name": f"sample {voice}",
                "method": "GET",
                "path": f"/voices/{voice}.wav",
                "response": {"headers": wav, "body": _silent_wav()},
            },
            {
                "name": f"synthesize {voice}",
                "method": "POST",
                "path": "/synthesize",
                "body": {"json": {"voice": voice}},
                "priority": 3,
                "response": {"headers": wav, "body": _silent_wav()},
            },
        ]
    stubs.append(
        {
            "name": "synthesize: unknown voice",
            "method": "POST",
            "path": "/synthesize",
            "priority": 9,
            "response": {"status": 422, "headers": JSON, "json": {"error": "unknown voice"}},
        }
    )
    return stubs


@dataclass(slots=True)
class MockedDemo:
    """The demo handle and the mocks standing in for its dependencies."""

    demo: Any  # battletest.demo.DemoHandle
    mocks: dict[str, Any]  # "pms" | "tts" → battletest.chaos.mock.MockServer


@contextmanager
def mocked_demo(seed: int | None = None, **options: Any) -> Iterator[MockedDemo]:
    """Start the PMS and TTS mocks, then the demo wired to them; stop all three at the end."""
    from battletest.chaos.mock import MockServer
    from battletest.demo import start

    with ExitStack() as stack:
        mocks = {
            "pms": stack.enter_context(
                MockServer(pms_stubs(), seed=seed, name="pms", admin_port=0)
            ),
            "tts": stack.enter_context(
                MockServer(tts_stubs(), seed=seed, name="tts", admin_port=0)
            ),
        }
        demo = stack.enter_context(
            start(pms_url=mocks["pms"].url, tts_url=mocks["tts"].url, **options)
        )
        yield MockedDemo(demo, mocks)


__all__ = ["MockedDemo", "mocked_demo", "pms_stubs", "resilience_section", "tts_stubs"]


def resilience_section(mocked: MockedDemo) -> dict[str, Any]:
    """A ``[resilience]`` table for the mocked demo: its PMS behind the PMS mock, probed through
    the reservation lookup as the service identity, ``/health`` as the unrelated endpoint."""
    demo = mocked.demo
    key = next(i.api_key for i in demo.identities if i.api_key)
    opts = demo.options
    return {
        "headers": {"X-API-Key": key},
        "dependencies": [
            {
                "name": "pms",
                "mock_url": mocked.mocks["pms"].admin_url,
                "path": "/v1/reservations/bt-{n}",
                "cached_path": "/v1/reservations/r-1001",
                "breaker_reset_s": opts.breaker_reset_s,
                "max_attempts": opts.retries + 1,
                "fail_fast_s": opts.dependency_timeout_s * (opts.retries + 1) + 2.0,
                # the demo backs off with full jitter (uniform in 0..50 ms x 2^n): short gaps
                # happen, so the floor is low and the medians come from more samples
                "min_backoff_ms": 10.0,
                "samples": 10,
            }
        ],
        "unrelated": {"path": "/health"},
    }
