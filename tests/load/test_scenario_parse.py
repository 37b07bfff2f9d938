"""TOML scenarios, templates, extractors, Python tasks, shapes, presets: parsing and bad input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from battletest.errors import ConfigError, ScenarioError, UsageError
from battletest.load.flow import Extractor, VUState, check_response, parse_scenario, render_step
from battletest.load.presets import PRESETS, preset_settings
from battletest.load.resources import Sample, leak_verdict
from battletest.load.tasks import (
    between,
    constant_throughput,
    load_python_scenario,
    shape_target,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "concierge"

LOGIN = {
    "method": "POST",
    "path": "/login",
    "json": {"user": "u{vu}"},
    "extract": {"token": "json:access_token"},
    "headers_after": {"Authorization": "Bearer {token}"},
}


def _scenario(**extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "on_start": [LOGIN],
        "tasks": [
            {
                "name": "call",
                "steps": [
                    {"method": "POST", "path": "/calls", "extract": {"call_id": "json:id"}},
                    {
                        "method": "POST",
                        "path": "/calls/{call_id}/events",
                        "json": {"n": "{iteration}"},
                    },
                ],
            }
        ],
    }
    data.update(extra)
    return data


def test_steps_compile_and_render_with_variables() -> None:
    sc = parse_scenario(_scenario(vars={"hotel": "h1"}))
    assert sc.names == ("POST /login", "POST /calls", "POST /calls/{call_id}/events")
    state = VUState(sc, vu=3, shared={})
    state.vars.update(call_id="c-9", iteration=4)
    path, _headers, body = render_step(sc.tasks[0].steps[1], state)
    assert path == "/calls/c-9/events"
    assert body == b'{"n":4}'  # a whole-field template keeps the value's type
    assert render_step(sc.on_start[0], state)[2] == b'{"user":"u3"}'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"thinktime": "1s"}, "unknown key 'thinktime'"),
        ({"requests": [{"path": "/x", "expct": [200]}]}, "unknown key 'expct'"),
        ({"requests": [{"path": "/calls/{call_id"}]}, "bad template"),
        ({"requests": [{"path": "/calls/{nobody}"}]}, "{nobody} is not defined"),
        ({"requests": [{"path": "/c/{id:>4}"}]}, "format spec"),
        ({"requests": [{"path": "calls"}]}, "bad path template"),
        ({"requests": [{"path": "/x", "extract": {"t": "xpath://a"}}]}, "bad extractor"),
        ({"requests": [{"path": "/x/{faker.no_such_provider}"}]}, "Faker has no provider"),
        ({"requests": [{"path": "/x", "method": "BREW"}]}, "unsupported method"),
        ({"requests": [{"path": "/x", "weight": 0}]}, "weight"),
        ({"requests": [{"path": "/x", "expect": ["ok"]}]}, "bad expect"),
    ],
)
def test_bad_scenarios_are_one_config_error(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        parse_scenario({"requests": [{"path": "/ok"}], **change})


def test_a_variable_from_a_later_step_is_not_yet_defined() -> None:
    data = _scenario()
    data["on_start"] = [{"path": "/me/{token}"}, LOGIN]
    with pytest.raises(ConfigError, match="not defined before this step"):
        parse_scenario(data)


def test_a_scenario_without_requests_is_refused() -> None:
    with pytest.raises(ConfigError, match="no \\[\\[tasks\\]\\] or \\[\\[requests\\]\\]"):
        parse_scenario({"name": "empty"})


def test_extractors_follow_json_paths_headers_and_status() -> None:
    body = b'{"items": [{"id": "a"}, {"id": "b"}], "token": "t"}'
    assert Extractor("x", "json", ("items", "1", "id")).apply(200, {}, body) == (True, "b")
    assert Extractor("x", "json", ("items", "-1", "id")).apply(200, {}, body) == (True, "b")
    assert Extractor("x", "json", ("missing",)).apply(200, {}, body) == (False, None)
    assert Extractor("x", "json", ("token",)).apply(200, {}, b"not json") == (False, None)
    assert Extractor("x", "header", ("location",)).apply(201, {"location": "/c/1"}, b"") == (
        True,
        "/c/1",
    )
    assert Extractor("x", "status", ()).apply(204, {}, b"") == (True, 204)


def test_checks_on_status_and_body() -> None:
    sc = parse_scenario({"requests": [{"path": "/x", "expect": 201, "body_contains": "ringing"}]})
    step = sc.tasks[0].steps[0]
    assert check_response(step, 201, b'{"status":"ringing"}') == ""
    assert check_response(step, 200, b"ringing") == "check_failed"
    assert check_response(step, 201, b"ended") == "check_failed"
    plain = parse_scenario({"requests": [{"path": "/x"}]}).tasks[0].steps[0]
    assert check_response(plain, 503, b"") == "status_503"


def test_faker_data_is_per_vu_and_reproducible_with_a_seed() -> None:
    sc = parse_scenario({"seed": 5, "requests": [{"path": "/p/{faker.msisdn}"}]})
    step = sc.tasks[0].steps[0]
    first = [render_step(step, VUState(sc, vu, {}))[0] for vu in (1, 2)]
    again = [render_step(step, VUState(sc, vu, {}))[0] for vu in (1, 2)]
    assert first == again
    assert first[0] != first[1]


def test_examples_parse() -> None:
    from battletest.load.flow import load_scenario_file

    for name in ("call_flow.toml", "auth_load.toml", "reservations.toml", "mixed.toml"):
        sc = load_scenario_file(EXAMPLES / name)
        assert sc.tasks
    py = load_python_scenario(str(EXAMPLES / "locustish.py"))
    assert dict(py.tasks) == {"lookup": 3.0, "take_call": 1.0}


def test_python_scenarios_refuse_bad_files(tmp_path: Path) -> None:
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="exactly one VirtualUser"):
        load_python_scenario(str(none))
    sync = tmp_path / "sync.py"
    sync.write_text(
        "from battletest.load.tasks import VirtualUser, task\n"
        "class U(VirtualUser):\n    @task\n    def t(self):\n        pass\n"
    )
    with pytest.raises(ConfigError, match="must be 'async def'"):
        load_python_scenario(str(sync))
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match="failed to import: RuntimeError: boom"):
        load_python_scenario(str(broken))
    with pytest.raises(ConfigError, match="not found"):
        load_python_scenario(str(tmp_path / "missing.py"))


def test_a_shape_that_returns_nonsense_is_refused(tmp_path: Path) -> None:
    bad_values: list[object] = ["lots", (-1, 1), (5, 0), (5,), (True, 1.0)]
    for bad in bad_values:
        with pytest.raises(ScenarioError, match=r"Shape\.tick returned"):
            shape_target(bad)
    assert shape_target((3, 1)) == (3, 1.0)
    assert shape_target(None) is None
    f = tmp_path / "shaped.py"
    f.write_text(
        "from battletest.load.tasks import VirtualUser, task\n"
        "class U(VirtualUser):\n    @task\n    async def t(self):\n        pass\n"
        "class Shape:\n    def tick(self, elapsed):\n        return 'many'\n"
    )
    with pytest.raises(ScenarioError, match=r"Shape\.tick returned 'many'"):
        load_python_scenario(str(f))


def test_wait_times() -> None:
    class U:
        random = random.Random(1)
        last_task_s = 0.15

    waits = [between(0.5, 1.0)(U()) for _ in range(50)]  # type: ignore[arg-type]
    assert all(0.5 <= w <= 1.0 for w in waits) and len(set(waits)) > 1
    assert constant_throughput(4)(U()) == pytest.approx(0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        between(2, 1)


def test_presets_scale_with_vus_and_duration() -> None:
    stress = preset_settings("stress", vus=10, duration="100s")
    assert stress["executor"] == "ramping-vus"
    assert stress["stages"] == [(20.0, 5), (20.0, 5), (20.0, 10), (20.0, 10), (20.0, 0)]
    spike = preset_settings("spike", vus=100, duration="100s")
    assert max(t for _, t in spike["stages"]) == 100 and spike["stages"][-1][1] == 0
    soak = preset_settings("soak", duration="1h")
    assert soak["stages"][1] == (3240.0, 10)
    bp = preset_settings("breakpoint", rate=400, duration="60s")
    assert bp["executor"] == "ramping-arrival-rate" and bp["stages"] == [(60.0, 400)]
    assert preset_settings("baseline")["executor"] == "constant-vus"
    assert set(PRESETS) == {"baseline", "stress", "spike", "soak", "breakpoint"}
    with pytest.raises(UsageError, match="unknown preset"):
        preset_settings("huge")


def _samples(slope: float, noise: float, n: int = 40) -> list[Sample]:
    rng = random.Random(3)
    return [
        Sample(i * 0.5, 100 + slope * i * 0.5 + rng.uniform(-noise, noise), 0.0, 4, 10, 1)
        for i in range(n)
    ]


def test_leak_verdict_uses_the_lower_confidence_bound() -> None:
    growing = leak_verdict(_samples(slope=2.0, noise=1.0), threshold_mb=10)
    assert growing is not None and growing.leak and growing.growth_low_mb > 10
    flat = leak_verdict(_samples(slope=0.0, noise=3.0), threshold_mb=10)
    assert flat is not None and not flat.leak
    # a warm-up jump followed by a flat line is not a leak
    warm = [Sample(s.t, s.rss_mb + (0 if s.t > 3 else -50), 0, 1, 1, 1) for s in _samples(0, 1)]
    verdict = leak_verdict(warm, threshold_mb=10)
    assert verdict is not None and not verdict.leak
    assert leak_verdict(_samples(1, 0, n=3)) is None


def test_settings_fold_the_scenario_load_table_and_a_preset() -> None:
    from battletest.load.options import LoadSettings

    call_flow = str(EXAMPLES / "call_flow.toml")
    plain = LoadSettings.coerce({"scenario": call_flow}).executor_spec()
    assert (plain.kind, plain.vus, plain.duration) == ("constant-vus", 2, 3.0)  # its [load]
    mine = LoadSettings.coerce({"scenario": call_flow, "vus": 7}).executor_spec()
    assert mine.vus == 7  # an explicit setting wins over the scenario's table
    stress = LoadSettings.coerce(
        {"scenario": call_flow, "preset": "stress", "vus": 4, "duration": "10s"}
    )
    spec = stress.executor_spec()
    assert spec.kind == "ramping-vus" and spec.peak_vus == 4 and spec.planned_duration == 10
    bp = LoadSettings.coerce({"preset": "breakpoint", "rate": 300, "duration": "5s"})
    assert bp.executor_spec().kind == "ramping-arrival-rate"
    assert bp.run_kwargs()["breakpoint"] is True
    with pytest.raises(UsageError, match="exclude each other"):
        LoadSettings.coerce({"scenario": call_flow, "from_spec": "openapi.json"})


def test_target_pid_must_be_a_running_process() -> None:
    import subprocess
    import sys

    from battletest.load.resources import ResourceMonitor

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with pytest.raises(UsageError, match=f"cannot watch --target-pid {dead.pid}"):
        ResourceMonitor(dead.pid)


def test_from_spec_needs_a_fillable_get_operation() -> None:
    from battletest.errors import SpecError
    from battletest.load.from_spec import scenario_from_spec
    from battletest.spec import Spec, from_document

    def spec(param: dict[str, object]) -> Spec:
        op = {"parameters": [param], "responses": {"200": {"description": "ok"}}}
        doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}
        return from_document({**doc, "paths": {"/things/{id}": {"get": op}}}, "api.json")

    param: dict[str, object] = {"name": "id", "in": "path", "required": True, "schema": {}}
    with pytest.raises(SpecError, match="no safe \\(GET\\) operation"):
        scenario_from_spec(spec(param))
    param["schema"] = {"example": "t 1"}
    made = scenario_from_spec(spec(param), [("Authorization", "Bearer x")])
    step = made.tasks[0].steps[0]
    assert step.path.source == "/things/t%201"


def test_an_expected_5xx_is_refused_with_one_line() -> None:
    from battletest.load.options import LoadSettings

    with pytest.raises(ConfigError, match="5xx answer is always a failed request"):
        parse_scenario({"requests": [{"path": "/x", "expected_statuses": [200, 503]}]})
    with pytest.raises(ConfigError, match="5xx"):
        LoadSettings.coerce({"endpoints": [{"path": "/x", "expect": [500]}]}).endpoint_list()
