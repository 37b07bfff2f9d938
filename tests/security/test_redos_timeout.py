"""A ReDoS probe the target never answers in time is a finding, not an aborted scan (issue 19).

A real exponential regex (``^(a+)+$`` in Python's ``re``) behind a one-process loopback
service (``redos_app.py``), the scanner's request timeout set below the time the regex takes
at the probe's length: the unanswered probe, a fast benign input of the same length and the
repeated probe make the finding; the health probe answers in between, so the scan goes on
(no exit 3). The fixed service (``^a+$``) gives nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from battletest.security import ScanSettings, scan

from .redos_app import SPEC

APP = Path(__file__).with_name("redos_app.py")


@contextmanager
def redos_service(tmp_path: Path, *, fixed: bool) -> Iterator[str]:
    port_file = tmp_path / "port"
    cmd = [sys.executable, str(APP), "--port-file", str(port_file)] + (["--fixed"] if fixed else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the ReDoS app exited"
            assert time.monotonic() < deadline, "the ReDoS app did not start"
            if port_file.exists() and port_file.read_text():
                base = f"http://127.0.0.1:{port_file.read_text()}"
                try:
                    httpx.get(base + "/", timeout=2).raise_for_status()
                    break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        yield base
    finally:
        proc.kill()  # SIGTERM waits for a match to end, which may be never
        proc.wait(timeout=10)


def _scan(base: str) -> object:
    # the regex takes ~1 s at 24 characters (longer on a loaded machine); the scanner gives
    # up after 0.4 s; the health probe may wait until the match is over
    settings = ScanSettings(
        checks=["redos", "security-headers"], depth="basic", timeout_s=0.4, health_wait_s=60
    )
    return scan(base, SPEC, [], settings)


@pytest.mark.slow
@pytest.mark.network
def test_an_unanswered_redos_probe_is_a_finding_and_the_scan_goes_on(tmp_path: Path) -> None:
    with redos_service(tmp_path, fixed=False) as base:
        outcome = _scan(base)
    assert outcome.unreachable is None  # type: ignore[attr-defined]
    redos = [f for f in outcome.findings if f.check_id == "redos"]  # type: ignore[attr-defined]
    assert [(f.path, f.parameter) for f in redos] == [("/v1/handles/check", "query handle")]
    note = redos[0].evidence["note"]
    assert note.startswith("length 25: no answer within 0.4 s, then no answer within 0.4 s")
    assert "a benign input of the same length: HTTP 200" in note
    assert "a" * 24 + "%21" in (redos[0].reproduce or "")  # the curl sends the probe itself
    # the checks after it ran and concluded: the scan did not stop at the stalled probe
    headers = [r for r in outcome.runs if r.check_id == "security-headers"]  # type: ignore[attr-defined]
    assert headers and all(r.conclusive for r in headers)


@pytest.mark.slow
@pytest.mark.network
def test_a_linear_validator_gives_no_redos_finding(tmp_path: Path) -> None:
    with redos_service(tmp_path, fixed=True) as base:
        outcome = _scan(base)
    assert outcome.unreachable is None  # type: ignore[attr-defined]
    assert [f.check_id for f in outcome.findings if f.check_id == "redos"] == []  # type: ignore[attr-defined]
    assert all(r.conclusive for r in outcome.runs if r.check_id == "redos")  # type: ignore[attr-defined]
