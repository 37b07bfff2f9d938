"""Scenarios over real loopback sockets: the concierge examples on the demo, correlation, bad
input during a run, shapes, target resources and leak verdicts, breakpoint capacity."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.load.servers import serve

from battletest.cli import main
from battletest.errors import ScenarioError
from battletest.load import ExecutorSpec, Stage, run
from battletest.load.flow import load_scenario_file, parse_scenario
from battletest.load.tasks import load_python_scenario

pytestmark = [pytest.mark.network, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "concierge"
LEAKY_APP = Path(__file__).with_name("leaky_app.py")
SHORT = ExecutorSpec("constant-vus", vus=2, duration=1.5, graceful_stop=2)


@pytest.fixture(scope="module")
def demo() -> Iterator[Any]:
    from battletest.demo import start

    with start(rate_limit=False, kdf_time_cost=1, kdf_memory_kib=64) as handle:
        yield handle


@pytest.fixture
def leaky_app(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    args = getattr(request, "param", [])
    proc = subprocess.Popen(
        [sys.executable, str(LEAKY_APP), *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_call_flow_reuses_the_extracted_token_and_call_id(
    demo: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    argv = ["load", "--target", demo.base_url, "--scenario", str(EXAMPLES / "call_flow.toml")]
    argv += ["--vus", "2", "--duration", "2s", "--workers", "1", "--json", str(out)]
    with pytest.raises(SystemExit) as info:
        main(argv)
    capsys.readouterr()
    assert info.value.code in (0, None)
    result = json.loads(out.read_text())
    eps = result["endpoints"]
    assert eps["login"]["requests"] == 2  # once per VU: the token is reused afterwards
    created = eps["create call"]["requests"]
    assert created >= 2
    for step in ("create call", "answered", "transcript", "ended", "get call"):
        assert eps[step]["failed"] == 0, (step, result["errors"])
    assert eps["get call"]["requests"] >= created - 2  # every call's id reached its last step
    assert result["failed"] == 0


@pytest.mark.parametrize(
    "name", ["auth_load.toml", "reservations.toml", "mixed.toml", "locustish.py"]
)
def test_concierge_examples_run_clean_on_the_demo(demo: Any, name: str) -> None:
    path = EXAMPLES / name
    scenario = (
        load_scenario_file(path) if name.endswith(".toml") else load_python_scenario(str(path))
    )
    result = run(demo.base_url, executor=SHORT, scenario=scenario, workers=1)
    assert result.requests > 4
    assert result.failed == 0, result.errors
    if name == "auth_load.toml":
        assert result.endpoints["login"].requests == 2
        assert result.endpoints["refresh"].requests >= 1  # rotated tokens carried forward


def test_an_extractor_that_matches_nothing_is_a_check_failure() -> None:
    scenario = parse_scenario(
        {
            "tasks": [
                {
                    "name": "t",
                    "steps": [
                        {"name": "create", "path": "/a", "extract": {"id": "json:id"}},
                        {"name": "use", "path": "/b/{id}"},
                    ],
                }
            ],
            "think_time": "0.05s",
        }
    )
    with serve("ok") as (url, _):
        result = run(
            url, executor=ExecutorSpec("constant-vus", vus=1, duration=1), scenario=scenario
        )
    assert result.errors.get("extract_failed", 0) >= 5
    assert result.endpoints["create"].failed == result.endpoints["create"].requests
    assert result.endpoints["use"].requests == 0  # the rest of the task is skipped


def test_a_python_task_that_raises_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    f = tmp_path / "raising.py"
    f.write_text(
        "from battletest.load.tasks import VirtualUser, constant, task\n"
        "class U(VirtualUser):\n"
        "    wait_time = constant(0.02)\n"
        "    @task\n"
        "    async def fine(self):\n"
        "        await self.client.get('/ok', expect=200)\n"
        "    @task\n"
        "    async def broken(self):\n"
        "        raise ValueError('no such guest')\n"
    )
    with serve("ok") as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=2, duration=1),
            scenario=load_python_scenario(str(f)),
            workers=1,
        )
    assert result.errors["task_error:broken: ValueError: no such guest"] >= 3
    assert result.endpoints["fine"].requests >= 3
    assert result.endpoints["fine"].failed == 0


def test_arrival_rate_starts_scenario_iterations_on_schedule() -> None:
    scenario = parse_scenario({"requests": [{"name": "r", "path": "/r"}]})
    spec = ExecutorSpec("constant-arrival-rate", rate=40, duration=1, max_vus=5)
    with serve("ok") as (url, b):
        result = run(url, executor=spec, scenario=scenario, workers=1)
    assert result.requests == 40
    assert result.dropped_iterations == 0
    assert b.paths.count("/r") == 40


def test_a_shape_drives_the_users_and_ends_the_test(tmp_path: Path) -> None:
    f = tmp_path / "shaped.py"
    f.write_text(
        "from battletest.load.tasks import VirtualUser, constant, task\n"
        "class U(VirtualUser):\n"
        "    wait_time = constant(0.05)\n"
        "    @task\n"
        "    async def t(self):\n"
        "        await self.client.get('/s')\n"
        "class Shape:\n"
        "    def tick(self, elapsed):\n"
        "        return (3, 100) if elapsed < 1.0 else None\n"
    )
    with serve("ok") as (url, _):
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=1, duration=30),
            scenario=load_python_scenario(str(f)),
            workers=1,
        )
    assert result.duration_s < 5  # the shape's None ended it, not the 30 s duration
    assert max(s.vus for s in result.series) == 3


def test_a_failing_setup_stops_before_any_load() -> None:
    scenario = parse_scenario(
        {
            "setup": [{"name": "admin", "path": "/login", "extract": {"t": "json:token"}}],
            "requests": [{"path": "/x"}],
        }
    )
    with serve("ok") as (url, b):
        with pytest.raises(ScenarioError, match="extractor 't' matched"):
            run(url, executor=SHORT, scenario=scenario)
        assert "/x" not in b.paths  # no VU ran


@pytest.mark.parametrize("leaky_app", [["--leak-kb", "64"]], indirect=True)
def test_a_leaking_app_is_flagged(leaky_app: tuple[str, int], tmp_path: Path) -> None:
    url, pid = leaky_app
    result = run(
        url,
        executor=ExecutorSpec("constant-arrival-rate", rate=200, duration=3),
        workers=1,
        target_pid=pid,
        resource_interval=0.2,
        leak_threshold_mb=10,
        memory_threshold_mb=4096,
        run_dir=tmp_path,
    )
    assert result.resources is not None
    assert result.resources["leak"]["leak"] is True
    rows = {row.threshold: row for row in result.thresholds}
    assert rows["leak<10MB"].passed is False
    assert rows["memory<4096MB"].passed is True
    assert not result.passed
    streamed = (tmp_path / "resources.jsonl").read_text().splitlines()
    assert len(streamed) >= 10 and "rss_mb" in json.loads(streamed[-1])
    assert len((tmp_path / "load-series.jsonl").read_text().splitlines()) >= 2


def test_the_demo_is_not_flagged(demo: Any) -> None:
    result = run(
        demo.base_url,
        executor=ExecutorSpec("constant-vus", vus=4, duration=3),
        endpoints=[],
        workers=1,
        target_pid=demo.pids["app"],
        resource_interval=0.2,
        leak_threshold_mb=10,
    )
    assert result.requests > 100
    assert result.resources is not None and result.resources["peak_rss_mb"] > 10
    assert result.resources["leak"]["leak"] is False, result.resources["leak"]["line"]
    assert result.passed


@pytest.mark.parametrize("leaky_app", [["--limit", "200"]], indirect=True)
def test_breakpoint_finds_the_rate_limit(leaky_app: tuple[str, int]) -> None:
    url, _ = leaky_app
    result = run(
        url,
        executor=ExecutorSpec("ramping-arrival-rate", rate=20, stages=(Stage(8, 600),)),
        workers=1,
        snapshot_interval=0.5,
        breakpoint=True,
    )
    assert result.capacity_rps is not None
    assert 160 <= result.capacity_rps <= 240, result.warnings
    assert result.duration_s < 7  # it stopped at the break, not at the end of the ramp
    assert any("breakpoint: error_rate<1% broke" in w for w in result.warnings)


def test_a_bad_scenario_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[requests]]\npath = "/calls/{call_id}"\n')
    with pytest.raises(SystemExit) as info:
        main(["load", "--target", "http://127.0.0.1:9", "--scenario", str(bad)])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") <= 2 and "{call_id} is not defined" in err


def test_several_scenarios_run_at_their_start_times_and_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.toml").write_text('[[requests]]\nname = "a"\npath = "/a"\n')
    (tmp_path / "b.toml").write_text('[[requests]]\nname = "b"\npath = "/b"\n')
    multi = tmp_path / "both.toml"
    multi.write_text(
        'thresholds = ["error_rate<1%", "p95<5s"]\n'
        '[scenarios.steady]\nscenario = "a.toml"\nexecutor = "constant-arrival-rate"\n'
        'rate = 30\nduration = "2s"\nworkers = 1\ntags = { kind = "steady" }\n'
        '[scenarios.late]\nscenario = "b.toml"\nexecutor = "constant-arrival-rate"\n'
        'rate = 20\nduration = "1s"\nstart_time = "1s"\nworkers = 1\n'
    )
    out = tmp_path / "r.json"
    with serve("ok") as (url, b):
        with pytest.raises(SystemExit) as info:
            main(["load", "--target", url, "--scenario", str(multi), "--json", str(out)])
        first_b = b.paths.index("/b")
        assert b.paths[:first_b].count("/a") >= 20  # /b started about a second after /a
    capsys.readouterr()
    result = json.loads(out.read_text())
    # each open-model scenario carries the default dropped-iterations threshold
    rows = {row["threshold"]: row for row in result["thresholds"]}
    dropped = {n: s["dropped_iterations"] for n, s in result["scenarios"].items()}
    for name in ("steady", "late"):
        assert rows[f"{name}: dropped_iterations==0"]["passed"] is (dropped[name] == 0)
    assert info.value.code == (1 if any(dropped.values()) else 0) or (
        info.value.code is None and not any(dropped.values())
    )
    assert result["executor"] == "scenarios"
    # every intended iteration is either sent or counted as dropped (a loaded machine may
    # leave a VU busy at the instant one was due)
    sent_a = result["endpoints"]["steady:a"]["requests"]
    sent_b = result["endpoints"]["late:b"]["requests"]
    assert sent_a + sent_b == result["requests"]
    assert result["requests"] + result["dropped_iterations"] == 80
    assert sent_a >= 55 and sent_b >= 15
    assert result["scenarios"]["steady"]["tags"] == {"kind": "steady"}
    assert result["scenarios"]["late"]["start_time"] == 1.0
    assert rows["error_rate<1%"]["passed"] and rows["p95<5s"]["passed"]


def test_a_scenario_request_that_takes_too_long_times_out() -> None:
    scenario = parse_scenario({"requests": [{"name": "slow", "path": "/slow"}]})
    with serve("ok", hang_after=1) as (url, _):  # the preflight is answered, then nothing
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=2, duration=1, graceful_stop=0.5),
            scenario=scenario,
            timeout=0.3,
            workers=1,
        )
    assert result.errors.get("timeout", 0) >= 2
    assert result.endpoints["slow"].failed == result.endpoints["slow"].requests


def test_python_setup_runs_once_and_its_data_reaches_every_user(tmp_path: Path) -> None:
    f = tmp_path / "with_setup.py"
    f.write_text(
        "from battletest.load.tasks import VirtualUser, constant, task\n"
        "async def setup(client):\n"
        "    await client.get('/setup')\n"
        "    return {'token': 'abc'}\n"
        "async def teardown(client, data):\n"
        "    await client.get('/done/' + data['token'])\n"
        "class U(VirtualUser):\n"
        "    wait_time = constant(0.05)\n"
        "    @task\n"
        "    async def t(self):\n"
        "        await self.client.get('/t/' + self.shared['token'])\n"
    )
    with serve("ok") as (url, b):
        result = run(
            url,
            executor=ExecutorSpec("constant-vus", vus=2, duration=1),
            scenario=load_python_scenario(str(f)),
            workers=1,
        )
        paths = [p for p in b.paths if p != "/"]  # "/" is the preflight
    assert paths[0] == "/setup" and paths.count("/setup") == 1
    assert paths[-1] == "/done/abc"
    assert paths.count("/t/abc") == result.endpoints["t"].requests >= 4


def test_from_spec_loads_the_demo_s_get_operations(
    demo: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    key = demo.identity("service").auth_headers()["X-API-Key"]
    argv = ["load", "--target", demo.base_url, "--from-spec", demo.spec_url]
    argv += ["--header", f"X-API-Key: {key}", "--vus", "2", "--duration", "1.5s"]
    argv += ["--workers", "1", "--json", str(out)]
    with pytest.raises(SystemExit):
        main(argv)
    capsys.readouterr()
    eps = json.loads(out.read_text())["endpoints"]
    for public in ("GET /health", "GET /version", "GET /v1/calls"):
        assert eps[public]["requests"] > 0 and eps[public]["failed"] == 0, eps[public]
    # a path parameter without an example is correlated from its collection
    assert "GET /v1/calls/{call_id} (list)" in eps
    assert "GET /v1/guests" not in eps  # a required parameter without an example: left out
