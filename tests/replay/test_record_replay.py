"""Record the demo's call flow through `battletest record`, replay it: the differences found
and not found (real sockets: the demo under uvicorn, the recording proxy, the mock)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.clitools import run_cli
from tests.replay.conftest import INPUTS, drive_call_flow

from battletest.demo import DemoHandle
from battletest.netutil import free_port
from battletest.replay.har import read_episode
from battletest.replay.masks import Mask, MaskSet
from battletest.replay.mock import mock_for
from battletest.replay.player import replay_suite
from battletest.results import Status
from battletest.transport import Transport, WritePolicy

pytestmark = [pytest.mark.slow, pytest.mark.network]

VARS = [arg for name, value in INPUTS.items() for arg in ("--var", f"{name}={value}")]


def _record_with_cli(target: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`battletest record` as a user runs it: drive the flow through it, then Ctrl-C."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "battletest", "record", "--target", target,
         "--listen", f"127.0.0.1:{port}", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"record did not start: {proc.communicate()}") from None
                time.sleep(0.1)
        drive_call_flow(f"http://127.0.0.1:{port}")
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def recording(recorded_demo: DemoHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "call-flow.har"
    done = _record_with_cli(recorded_demo.base_url, out)
    assert done.returncode == 0, done.stderr
    assert "14 requests" in done.stderr and "correlated" in done.stderr, done.stderr
    return out


def test_the_recording_is_har_with_placeholders_and_no_secret(recording: Path) -> None:
    text = recording.read_text()
    data = json.loads(text)
    assert data["log"]["version"] == "1.2"
    entries = data["log"]["entries"]
    assert {e["request"]["httpVersion"] for e in entries} == {"HTTP/1.1"}
    # the greeting is audio: base64, as HAR says
    wav = next(e for e in entries if e["request"]["url"].endswith("greeting.wav"))
    assert wav["response"]["content"]["encoding"] == "base64"
    assert all(e["time"] >= 0 and "wait" in e["timings"] for e in entries)
    # correlated values are named placeholders; secrets and PII never reach the file
    assert "/v1/calls/{{call_id}}/events" in text
    assert "Bearer {{access_token}}" in text
    for secret in ("staff1-Demo-2026!", "admin-Demo-2026!", "+14155550100", "staff.h1@demo.test"):
        assert secret not in text
    assert "eyJhbGciOiJIUzI1NiIs" not in text  # no token, not even the recorded one


def test_replay_against_a_fresh_demo_finds_zero_differences(
    recording: Path, fresh_demo: DemoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "battletest.toml"
    config.write_text("allow_destructive = true\n")  # the logouts: battletest owns this demo
    code, out, err = run_cli(
        ["replay", str(recording), "--target", fresh_demo.base_url, "--config", str(config),
         "--out", str(tmp_path / "reports"), *VARS],
        capsys,
    )  # fmt: skip
    assert code == 0, out + err
    assert "14 requests from 1 episode(s): 0 difference(s) in 0 answer(s)" in out
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    replay = report["suites"][0]
    assert replay["name"] == "replay" and replay["status"] == "passed"
    assert replay["metrics"]["differences"] == 0 and replay["metrics"]["requests"] == 14


def test_replay_against_the_insecure_demo_reports_its_differences(
    recording: Path, insecure_demo: DemoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "battletest.toml"
    config.write_text("allow_destructive = true\n")
    code, out, err = run_cli(
        ["replay", str(recording), "--target", insecure_demo.base_url, "--config",
         str(config), "--out", str(tmp_path / "reports"), *VARS],
        capsys,
    )  # fmt: skip
    assert code == 1, out + err
    folder = tmp_path / "reports" / "latest"
    report = json.loads((folder / "report.json").read_text())
    cases = {c["name"].split(" ", 1)[1]: c for c in report["suites"][0]["cases"]}
    diffs = {
        name: {(d["where"], d["path"], d["what"]) for d in c["details"].get("differences", [])}
        for name, c in cases.items()
    }
    # missing security headers, version banners
    assert ("header", "strict-transport-security", "missing") in diffs["#3 POST /v1/calls"]
    assert ("header", "x-powered-by", "extra") in diffs["#3 POST /v1/calls"]
    # an extra property: the user list exposes password hashes
    users = next(d for n, d in diffs.items() if n.endswith("GET /v1/users"))
    assert any(w == "body" and p.endswith(".password_hash") and k == "extra property"
               for w, p, k in users)  # fmt: skip
    # a verbose error where the secure demo answered
    guests = next(c for n, c in cases.items() if n.endswith("GET /v1/guests"))
    assert {"where": "status", "path": "status", "what": "changed", "expected": 200,
            "actual": 500} in guests["details"]["differences"]  # fmt: skip
    assert "Traceback" in guests["details"]["actual"]["body"]
    assert guests["reproduce"].startswith("curl -i -X GET")
    # JUnit and the HTML report carry the failed cases and a diff view per case
    assert "GET /v1/guests" in (folder / "junit.xml").read_text()
    html = (folder / "report.html").read_text()
    assert (
        'id="replay-diffs"' in html and html.count('class="failure panel failed replay-diff"') >= 10
    )
    assert "staff1-Demo-2026!" not in html and "staff1-Demo-2026!" not in json.dumps(report)


def test_frozen_replay_against_a_mock_of_the_recording_finds_zero_differences(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        ["replay", str(recording), "--frozen", "--out", str(tmp_path / "reports"), *VARS], capsys
    )
    assert code == 0, out + err
    assert "0 difference(s)" in out


def test_replay_without_an_input_is_an_error_naming_the_flag(
    recording: Path, fresh_demo: DemoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(
        ["replay", str(recording), "--target", fresh_demo.base_url, "--out", str(tmp_path)], capsys
    )
    assert code == 2
    assert "the recording needs {{input.caller}}, {{input.password}}" in err
    assert "(give each with --var NAME=VALUE: caller, password, password_2, username" in err
    assert not (tmp_path / "latest").exists()  # nothing was sent, nothing written


def test_a_production_profile_refuses_a_replay_that_writes(
    recording: Path, fresh_demo: DemoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(
        ["replay", str(recording), "--target", fresh_demo.base_url, "--profile", "prod",
         "--out", str(tmp_path), *VARS],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "writes (POST /v1/auth/login) and production is read-only: replay refused" in err
    assert not (tmp_path / "latest").exists()


def test_mock_serves_the_recording_with_sequences_and_faults(recording: Path) -> None:
    episode = read_episode(recording)
    with mock_for([episode]) as mock, httpx.Client(base_url=mock.url) as c:
        calls = [e for e in episode.entries if "/events" in e.url]
        path = calls[0].path.replace("{{call_id}}", "call_anything")
        # the same request answered in the recorded order: answered, transcript, ended
        states = [c.post(path, json=json.loads(e.request_body)).json()["status"] for e in calls]
        assert states == ["in_progress", "in_progress", "ended"]
        wav = c.get("/v1/calls/call_x/greeting.wav")
        assert wav.content[:4] == b"RIFF"  # binary answers as recorded
        mock.set_fault("connection_reset")
        with pytest.raises(httpx.TransportError):
            c.get("/v1/calls/call_x")
        mock.set_fault(None)
        assert c.get("/v1/calls/call_x").status_code == 200


def test_a_used_instance_differs_in_event_sequence_numbers_until_a_mask_says_so(
    recording: Path, fresh_demo: DemoHandle
) -> None:
    """Event ``seq`` numbers count across all calls of an instance: a second replay on the same
    instance gets other numbers. That is a volatile field no recogniser can know; a mask in the
    user's masks file says so, and then the replay passes."""
    episode = read_episode(recording)
    http = Transport(fresh_demo.base_url, policy=WritePolicy(allow_destructive=True))
    try:
        replay_suite([episode], http, inputs=INPUTS)  # the instance now holds a replayed call
        again = replay_suite([episode], http, inputs=INPUTS)
        paths = {d["path"] for c in again.cases for d in c.details.get("differences", [])}
        assert again.status is Status.FAILED
        assert paths and all(p.startswith("$.events[") and p.endswith("].seq") for p in paths)
        masks = MaskSet([Mask("$.events[*].seq", "number-range", low=1, high=10_000)])
        masked = replay_suite([episode], http, inputs=INPUTS, masks=masks)
    finally:
        http.close()
    failed = [(c.name, c.message) for c in masked.cases if c.status is not Status.PASSED]
    assert masked.status is Status.PASSED and masked.metrics["differences"] == 0, failed


def test_load_har_replays_the_episode_per_vu_with_its_own_correlation(
    recording: Path, fresh_demo: DemoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "load.json"
    code, stdout, err = run_cli(
        ["load", "--har", str(recording), "--target", fresh_demo.base_url, "--vus", "2",
         "--loop", "2", "--speed", "1000%", "--workers", "1", "--json", str(out), *VARS],
        capsys,
    )  # fmt: skip
    assert code == 0, stdout + err
    result = json.loads(out.read_text())
    # 2 VUs × 2 loops × 14 requests; every recorded status held, so each VU's own token and
    # call id were used (a recorded id on a fresh instance answers 404, a shared token 401)
    assert result["requests"] == 56, result["errors"]
    assert result["failed"] == 0
    assert "#3 POST /v1/calls" in stdout
