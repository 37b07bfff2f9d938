"""MOCK mode: the demo's PMS and TTS replaced by battletest mocks serving stubs of their APIs."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from battletest.config import Config

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_a_reservation_lookup_is_answered_from_the_pms_stub() -> None:
    from battletest.demo import seed
    from battletest.suites.dependencies import mocked_demo

    with mocked_demo() as mocked:
        demo, pms = mocked.demo, mocked.mocks["pms"]
        assert demo.pms_url == pms.url and demo.tts_url == mocked.mocks["tts"].url
        staff = next(i.name for i in demo.identities if i.role == "staff")
        headers = {**demo.headers(staff), "X-Correlation-ID": "bt-mock-1"}
        wanted = seed.RESERVATIONS[0]
        got = httpx.get(f"{demo.base_url}/v1/reservations/{wanted.id}", headers=headers)
        assert (
            got.status_code == 200 and got.json()["confirmation_code"] == wanted.confirmation_code
        )
        calls = pms.requests("GET", f"/reservations/{wanted.id}")
        assert [c.stub for c in calls] == [f"reservation {wanted.id}"]
        assert calls[0].headers["x-correlation-id"] == "bt-mock-1"
        missing = httpx.get(f"{demo.base_url}/v1/reservations/r-none", headers=headers)
        assert missing.status_code == 404
        voice = seed.VOICES[0]
        audio = httpx.post(
            f"{demo.base_url}/v1/tts/synthesize",
            json={"text": "welcome", "voice": voice},
            headers=headers,
        )
        assert audio.status_code == 200 and audio.content.startswith(b"RIFF")
        assert mocked.mocks["tts"].requests("POST", "/synthesize")


def test_run_in_mock_mode_serves_the_demo_from_the_mocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from battletest.run import run_from_options

    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "console.txt", "w") as console:
        outcome = run_from_options(
            {"mode": "MOCK", "suites": "contract", "out": str(tmp_path / "out"), "seed": 4},
            stderr=console,
        )
    report = outcome.report
    assert report.run.mode == "MOCK"
    assert any(
        n.startswith("MOCK mode: the demo's dependencies are battletest mocks")
        for n in report.run.notes
    )
    contract = report.suites[0]
    lookups = [c for c in contract.cases if "/v1/reservations" in c.name]
    assert lookups and all(c.status.value == "passed" for c in lookups), [
        c.message for c in lookups
    ]


def test_the_plugin_starts_the_mocked_demo_under_bt_mode_mock(tmp_path: Path) -> None:
    from battletest.pytest_plugin import _open_demo

    with ExitStack() as stack:
        session = _open_demo(Config(), stack, tmp_path, "MOCK")
        health = httpx.get(session.demo.pms_url + "/health").json()
        assert health["service"] == "pms (mock)"
        assert session.target.base_url == session.demo.base_url


def test_the_resilience_suite_on_the_demo_probes_the_pms_through_its_mock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from battletest.run import run_from_options

    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "console.txt", "w") as console:
        outcome = run_from_options(
            {"suites": "resilience", "out": str(tmp_path / "out"), "seed": 4}, stderr=console
        )
    assert any("for the resilience suite" in n for n in outcome.report.run.notes)
    cases = {c.name: c for c in outcome.report.suites[0].cases}
    for name in ("correlation_id[pms]", "circuit_breaker[pms]", "degraded_response[pms]"):
        assert cases[name].status.value == "passed", cases[name].message
    assert cases["rate_limit"].status.value == "skipped"
