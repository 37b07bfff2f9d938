"""A real 30 % slowdown on a real loopback target is flagged; two runs of the same build are not.

The target is a small ASGI app under uvicorn whose latency is a knob (80 ms, then 104 ms); the
load engine runs constant-vus against it with 0.2 s sampling windows, and the comparison goes
through the same path as ``battletest baseline compare`` (run folder → baseline → compare).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from battletest.netutil import serve_app
from battletest.perf.baseline import from_run_folder
from battletest.perf.compare import compare
from battletest.report import write_run_folder
from battletest.results import Report, RunInfo, utcnow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


class SlowApp:
    def __init__(self) -> None:
        self.delay_s = 0.080

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(self.delay_s)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _load_run(url: str, out: Path, run_id: str) -> Path:
    from battletest.load.coordinator import run
    from battletest.load.executors import ExecutorSpec
    from battletest.load.scenario import Endpoint
    from battletest.load.suite import suite_result

    result = run(
        url,
        executor=ExecutorSpec(kind="constant-vus", vus=8, duration=2.0),
        endpoints=[Endpoint(path="/rooms", name="rooms"), Endpoint(path="/calls", name="calls")],
        workers=1,
        snapshot_interval=0.2,
    )
    report = Report.build(
        RunInfo(id=run_id, started_at=utcnow(), version="t", target=url),
        [suite_result(result, result.duration_s)],
        [],
    )
    return write_run_folder(report, out)


def test_slowdown_flagged_same_build_not(tmp_path: Path) -> None:
    app = SlowApp()
    with serve_app(app) as url:
        first = _load_run(url, tmp_path, "first")
        second = _load_run(url, tmp_path, "second")
        app.delay_s = 0.104  # 30 % slower
        slower = _load_run(url, tmp_path, "slower")
    base = from_run_folder(first)
    same = compare(base, from_run_folder(second))
    assert same.passed, [r for r in same.rows if r.verdict == "regression"]
    slow = compare(base, from_run_folder(slower))
    flagged = {(r.scope, r.metric) for r in slow.regressions}
    assert ("total", "p50") in flagged
    assert ("rooms", "p50") in flagged and ("calls", "p50") in flagged
    assert slow.score is not None and same.score is not None and slow.score < same.score
