"""WebSocket scenario steps: parsing (socket-free) and runs against a real loopback server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.load.ws_servers import Behaviour, serve_ws

from battletest.errors import ConfigError, SafetyError, UsageError
from battletest.load import ExecutorSpec, run
from battletest.load.flow import parse_scenario
from battletest.load.thresholds import parse_thresholds


def scenario(*steps: dict[str, Any], on_start: tuple[dict[str, Any], ...] = ()) -> Any:
    return parse_scenario(
        {"on_start": list(on_start), "tasks": [{"name": "t", "steps": list(steps)}]}
    )


OPEN = {"name": "open", "ws": "open", "path": "/echo"}
CLOSE = {"ws": "close"}


# ---- parsing ------------------------------------------------------------------------------
def test_only_steps_that_time_something_are_reported_by_name() -> None:
    sc = scenario(
        OPEN,
        {"name": "fire", "ws": "send", "text": "x"},
        {"name": "rtt", "ws": "send", "text": "x", "reply": {"contains": "x"}},
        {"name": "hello", "ws": "wait", "match": {"json": {"type": "hello"}}},
        CLOSE,
    )
    assert sc.names == ("open", "rtt", "hello")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"ws": "dance"}, "bad ws 'dance'"),
        ({"ws": "open", "path": "echo"}, "needs a path starting with '/'"),
        ({"ws": "send"}, "sends one of text, json or binary"),
        ({"ws": "send", "text": "a", "binary": 10}, "sends one of text, json or binary"),
        ({"ws": "send", "text": "a", "path": "/x"}, "'path' does not apply to ws = 'send'"),
        ({"ws": "wait", "match": {"regex": "a"}}, "a table of contains, json or binary"),
        ({"ws": "send", "binary": 0}, "binary in tasks[0].steps[0] must be a positive integer"),
        ({"ws": "open", "path": "/x", "sockets": -1}, "sockets in tasks[0].steps[0] must be"),
        ({"ws": "send", "text": "{nope}"}, "nope"),
    ],
)
def test_a_bad_websocket_step_is_one_config_error(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        scenario(step)


def test_websocket_counters_are_thresholds_of_the_whole_run() -> None:
    parsed = parse_thresholds(["ws_abnormal_closes==0", "ws_msgs_received: count>10"])
    assert [t.metric for t in parsed] == ["ws_abnormal_closes", "ws_msgs_received"]
    with pytest.raises(UsageError, match="not one endpoint"):
        parse_thresholds(["ws_sessions{name=open}>1"])


def test_websocket_steps_are_refused_against_production_before_anything_is_sent() -> None:
    with pytest.raises(SafetyError, match="refused before it starts"):
        run(
            "http://127.0.0.1:9",
            executor=ExecutorSpec("per-vu-iterations", vus=1, iterations=1),
            scenario=scenario(OPEN, CLOSE),
            environment="production",
            workers=1,
        )


# ---- real sockets -------------------------------------------------------------------------
ONCE = ExecutorSpec("per-vu-iterations", vus=2, iterations=1, graceful_stop=10)


def run_on(b: Behaviour, sc: Any, *thresholds: str) -> Any:
    """Two VUs, one iteration each, against a fresh server behaving as ``b``."""
    with serve_ws(b) as url:
        return run(
            url, executor=ONCE, scenario=sc, workers=1, timeout=5, thresholds=list(thresholds)
        )


@pytest.mark.network
@pytest.mark.slow
def test_each_sent_message_gets_its_round_trip_and_n_sockets_are_held_at_once() -> None:
    b = Behaviour()
    sc = scenario(
        {**OPEN, "sockets": 5, "subprotocols": ["echo.v1"], "headers": {"X-Who": "vu{vu}"}},
        {
            "name": "rtt",
            "ws": "send",
            "json": {"n": "{iteration}"},
            "repeat": 4,
            "every": "10ms",
            "reply": {"json": {"n": 1}},
        },
        CLOSE,
    )
    result = run_on(b, sc)
    assert b.open_peak == 10  # 2 VUs x 5 sockets, all open together
    assert all(p == ["echo.v1"] for p in b.subprotocols)
    assert len(b.headers) == 10 and len({h["x-who"] for h in b.headers}) == 2
    assert result.endpoints["open"].requests == 10 and result.endpoints["open"].failed == 0
    assert result.endpoints["rtt"].requests == 40 and result.endpoints["rtt"].failed == 0
    assert result.counters["ws_sessions"] == 10
    assert result.counters["ws_msgs_sent"] == 40 == b.messages
    assert result.counters["ws_msgs_received"] == 40
    assert result.counters["ws_bytes_sent"] == result.counters["ws_bytes_received"] == 40 * 7
    assert result.counters.get("ws_abnormal_closes", 0) == 0
    assert result.passed


@pytest.mark.network
@pytest.mark.slow
def test_a_reply_later_than_the_timeout_is_a_failed_trip_at_the_timeout() -> None:
    b = Behaviour(delay=0.6)
    sc = scenario(
        OPEN,
        {
            "name": "rtt",
            "ws": "send",
            "text": "ping",
            "repeat": 2,
            "reply": {"contains": "ping"},
            "timeout": "200ms",
        },
        CLOSE,
    )
    result = run_on(b, sc, "p95{name=rtt}<100ms")
    rtt = result.endpoints["rtt"]
    assert rtt.requests == 4 and rtt.failed == 4
    assert 190 <= rtt.latency_ms.max <= 260  # censored at the step's timeout, not dropped
    assert result.errors.get("timeout") == 4
    assert not result.passed


@pytest.mark.network
@pytest.mark.slow
def test_a_server_closing_with_an_error_code_is_an_abnormal_close_and_fails_the_rest() -> None:
    b = Behaviour(close_after=2, close_code=1011)
    sc = scenario(
        OPEN,
        {
            "name": "rtt",
            "ws": "send",
            "text": "a",
            "repeat": 5,
            "every": "20ms",
            "reply": {"contains": "a"},
        },
        {"name": "after", "ws": "wait", "match": {"contains": "never"}},
        CLOSE,
    )
    result = run_on(b, sc, "ws_abnormal_closes==0")
    assert result.counters["ws_abnormal_closes"] == 2  # one per VU
    rtt = result.endpoints["rtt"]
    assert rtt.requests - rtt.failed == 2  # one answered per VU before the close
    assert any(k.startswith("ws_closed_1011") for k in result.errors)
    assert "after" not in result.endpoints or result.endpoints["after"].requests == 0
    assert not result.passed


@pytest.mark.network
@pytest.mark.slow
def test_a_refused_handshake_is_a_failed_open_and_the_task_stops_there() -> None:
    b = Behaviour(reject_status=404)
    sc = scenario(
        OPEN, {"name": "rtt", "ws": "send", "text": "a", "reply": {"contains": "a"}}, CLOSE
    )
    result = run_on(b, sc)
    assert result.endpoints["open"].requests == 2 and result.endpoints["open"].failed == 2
    assert result.errors == {"ws_rejected_404": 2}
    assert result.endpoints["rtt"].requests == 0  # never sent: no socket to send on
    assert result.counters.get("ws_sessions", 0) == 0 and b.messages == 0
