"""Ctrl-C and SIGTERM are honest: a real ``battletest`` process stopped mid-load or mid-scan
exits 130 with every report written, ``run.interrupted`` true, the verdict ``interrupted``, and
no later suite run. A run that fails at start-up leaves no empty run folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from battletest.config import load_config
from battletest.errors import ExitCode
from battletest.results import Case, Status, SuiteResult
from battletest.run import execute
from battletest.target import Target

APP = """
import time
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/items/{item_id}")
def item(item_id: int, q: str = "") -> dict:
    time.sleep(0.05)  # a scan of this app takes many seconds: there is time to stop it
    return {"id": item_id, "q": q}
"""
LOAD_TOML = """
[target]
health = "/health"

[suites]
enabled = ["load", "security"]

[load]
paths = ["/health"]
vus = 2
duration = "120s"
"""


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "slowapp.py").write_text(APP)
    (tmp_path / "battletest.toml").write_text(LOAD_TOML)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "battletest", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> str:
    """Read stderr until a line holds ``marker`` (the run's own progress says where it is)."""
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        if marker in line:
            return seen
    proc.kill()
    raise AssertionError(f"never saw {marker!r}:\n{seen}")


def _interrupt_mid_load(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _start(
        tmp_path, "run", "--app", "slowapp:app", "--out", "reports", "--seed", "1", "--no-history"
    )
    seen = _wait_for(proc, "note: load: ")  # a per-second load progress line: mid-load
    proc.send_signal(sig)
    _, rest = proc.communicate(timeout=120)
    log = seen + rest
    assert proc.returncode == ExitCode.INTERRUPTED == 130, log
    assert "Traceback" not in log
    assert "verdict: INTERRUPTED" in log
    assert "[security] started" not in log  # no next suite
    folder = tmp_path / "reports" / "latest"
    report = json.loads((folder / "report.json").read_text())
    assert report["run"]["interrupted"] is True
    assert report["summary"]["verdict"] == "interrupted"
    suites = {s["name"]: s for s in report["suites"]}
    assert suites["load"]["message"].startswith("interrupted")
    assert suites["load"]["metrics"]["requests"] > 0  # what was done is kept
    assert suites["security"]["status"] == "skipped"
    assert suites["security"]["message"] == "not run: interrupted"
    assert suites["security"]["cases"] == []
    assert any(n.startswith(f"interrupted ({sig.name})") for n in report["run"]["notes"])
    for name in ("junit.xml", "report.html", "metrics.prom"):
        assert (folder / name).is_file(), name


@pytest.mark.slow
@pytest.mark.network
def test_ctrl_c_mid_load_stops_the_run_and_exits_130(tmp_path: Path) -> None:
    _interrupt_mid_load(tmp_path, signal.SIGINT)


@pytest.mark.slow
@pytest.mark.network
def test_sigterm_mid_load_is_an_interrupt_too(tmp_path: Path) -> None:
    _interrupt_mid_load(tmp_path, signal.SIGTERM)


@pytest.fixture
def slow_api(tmp_path: Path) -> Iterator[str]:
    from battletest.netutil import serve_app

    namespace: dict[str, object] = {}
    exec(compile(APP, "slowapp.py", "exec"), namespace)
    with serve_app(namespace["app"]) as url:
        yield url


@pytest.mark.slow
@pytest.mark.network
def test_ctrl_c_mid_scan_writes_the_partial_scan_and_exits_130(
    tmp_path: Path, slow_api: str
) -> None:
    proc = _start(tmp_path, "scan", "--target", slow_api, "--out", "reports", "--depth", "standard")
    seen = _wait_for(proc, "scan: [2/")  # the second check has started: mid-scan
    proc.send_signal(signal.SIGINT)
    _out, rest = proc.communicate(timeout=120)
    log = seen + rest
    assert proc.returncode == 130, log
    assert "Traceback" not in log
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    assert report["run"]["interrupted"] is True
    assert report["summary"]["verdict"] == "interrupted"
    (security,) = report["suites"]
    assert security["message"] == "interrupted: partial results"
    assert security["metrics"]["requests"] > 0


# -- the run loop, without processes -----------------------------------------------------------


@contextmanager
def _fake_target(config: object, logs: object) -> Iterator[Target]:
    yield Target("http://127.0.0.1:9", "url")


def test_a_suite_that_was_interrupted_ends_the_run(tmp_path: Path) -> None:
    ran: list[str] = []

    def pytest_suite(ctx: object) -> SuiteResult:
        ran.append("pytest")
        case = Case(name="t::a", status=Status.PASSED)
        return SuiteResult.from_cases("pytest", [case], 0.1, message="interrupted: partial results")

    def resilience_suite(ctx: object) -> SuiteResult:
        ran.append("resilience")
        return SuiteResult(name="resilience", status=Status.PASSED)

    config = load_config(
        None,
        None,
        {"out": str(tmp_path / "reports"), "history.record": False, "target.url": "http://x"},
    )
    outcome = execute(
        config,
        only=["pytest", "resilience"],
        suites_table={"pytest": pytest_suite, "resilience": resilience_suite},
        target_factory=_fake_target,
    )
    assert ran == ["pytest"]
    assert outcome.exit_code is ExitCode.INTERRUPTED
    assert outcome.report.run.interrupted and outcome.report.summary.verdict == "interrupted"
    skipped = outcome.report.suites[-1]
    assert (skipped.name, skipped.status, skipped.message) == (
        "resilience",
        Status.SKIPPED,
        "not run: interrupted",
    )
    assert outcome.folder is not None and (outcome.folder / "report.json").is_file()


def test_a_run_that_fails_at_start_up_leaves_no_empty_run_folder(tmp_path: Path) -> None:
    from battletest.errors import TargetUnreachable

    @contextmanager
    def unreachable(config: object, logs: object) -> Iterator[Target]:
        raise TargetUnreachable("http://127.0.0.1:9 refused the connection")
        yield  # pragma: no cover

    out = tmp_path / "reports"
    config = load_config(None, None, {"out": str(out), "history.record": False})
    with pytest.raises(TargetUnreachable):
        execute(config, only=["pytest"], target_factory=unreachable)
    assert [p.name for p in out.iterdir()] == []


def test_a_cluster_load_against_the_default_demo_is_refused_not_run(tmp_path: Path) -> None:
    from battletest.target import Target

    @contextmanager
    def demo_target(cfg: object, logs: object) -> Iterator[Target]:
        yield Target("http://127.0.0.1:9", "demo")  # never contacted: refused before

    spec = tmp_path / "openapi.json"
    spec.write_text(
        json.dumps({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}})
    )
    overrides = {"out": str(tmp_path / "reports"), "history.record": False}
    overrides |= {"load.cluster": "local:2", "target.spec": str(spec)}
    config = load_config(None, None, overrides)
    outcome = execute(config, only=["load"], target_factory=demo_target, write_reports=False)
    load = outcome.report.suites[0]
    assert load.status is Status.ERROR
    assert load.message.startswith("not run: a distributed load run ([load] cluster) needs")
    assert outcome.exit_code == 1
