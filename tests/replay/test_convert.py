"""Convert: a recording as a load scenario, mock stubs and a pytest module."""

from __future__ import annotations

import ast
import copy
import tomllib
from pathlib import Path

import pytest

from battletest.chaos.mock.stubs import parse_stub_document
from battletest.errors import UsageError
from battletest.load.flow import parse_scenario
from battletest.replay.cli import parse_speed
from battletest.replay.convert import scenario_toml, to_scenario, to_stubs, to_tests
from battletest.replay.correlate import correlate, protect

from .test_correlate import flow


def episode() -> object:
    ep = protect(correlate(flow()))
    starts = ["2026-12-03T12:00:00.000Z", "2026-12-03T12:00:01.000Z", "2026-12-03T12:00:03.000Z"]
    for entry, start in zip(ep.entries, starts, strict=True):
        entry.started, entry.time_ms = start, 0.0
    return ep


INPUTS = {"username": "u", "password": "p", "caller": "c"}


def test_to_scenario_is_a_load_scenario_with_the_same_extractions_and_scaled_think_times() -> None:
    table = to_scenario(episode(), speed=2.0, inputs=INPUTS)  # type: ignore[arg-type]
    text = scenario_toml(table)
    scenario = parse_scenario(tomllib.loads(text), "har")  # the load engine compiles it
    steps = scenario.tasks[0].steps
    assert [s.method for s in steps] == ["POST", "POST", "POST"]
    assert [e.var for e in steps[0].extract] == ["access_token"]
    assert [e.var for e in steps[1].extract] == ["call_id"]
    assert steps[2].path.source == "/v1/calls/{call_id}/transcript?page=900"
    assert [s.think for s in steps] == [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]  # 1 s, 2 s at 200%
    assert dict(scenario.variables)["input_username"] == "u"


def test_to_stubs_match_by_literals_and_sequence_repeated_requests() -> None:
    ep = episode()
    repeat = copy.deepcopy(ep.entries[2])  # type: ignore[attr-defined]
    repeat.response_body = b'{"n": 2}'
    ep.entries.append(repeat)  # type: ignore[attr-defined]
    stubs, _ = parse_stub_document({"stubs": to_stubs(ep)})  # type: ignore[arg-type]
    names = [s.name for s in stubs]
    assert names[0] == "POST /v1/auth/login"
    event = [s for s in stubs if "{call_id}" in (s.path or "")]
    assert [s.required_state for s in event] == ["Started", "step 2"]
    assert event[0].new_state == "step 2" and event[1].new_state is None
    create = stubs[1]
    assert create.body is not None and create.body.to_raw() == {"json": {"kind": "transcript"}}


def test_to_tests_is_a_pytest_module_using_bt_client() -> None:
    source = to_tests(episode(), "call-flow.har")  # type: ignore[arg-type]
    tree = ast.parse(source)
    test = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert test.name.startswith("test_") and [a.arg for a in test.args.args] == ["bt_client"]
    assert '"caller": "BT_VAR_CALLER"' in source and "call-flow.har" in source


@pytest.mark.parametrize(
    ("text", "value"), [("200%", 2.0), ("50%", 0.5), ("2x", 2.0), ("1.5", 1.5)]
)
def test_speed(text: str, value: float) -> None:
    assert parse_speed(text) == value


def test_a_bad_speed_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is not a speed"):
        parse_speed("fast")
    with pytest.raises(UsageError, match="must be positive"):
        parse_speed("0%")


def test_generated_tests_run_under_pytester(pytester: pytest.Pytester, tmp_path: Path) -> None:
    from battletest.replay.har import write_episode

    write_episode(episode(), pytester.path / "flow.har")  # type: ignore[arg-type]
    pytester.makepyfile(test_flow=to_tests(episode(), "flow.har"))  # type: ignore[arg-type]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "--bt-target", "http://127.0.0.1:9"
    )
    result.assert_outcomes(skipped=1)  # without the BT_VAR_* inputs it says what to set
    result.stdout.fnmatch_lines(["*set BT_VAR_CALLER, BT_VAR_PASSWORD, BT_VAR_USERNAME*"])
