"""MockServer over real loopback sockets: stubs, faults, scenarios, journal, admin, record."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from battletest.chaos.mock import MockServer
from battletest.errors import SafetyError, ScenarioError, UsageError

pytestmark = pytest.mark.network

RESERVATION = {
    "name": "reservation",
    "method": "GET",
    "path": "/reservations/{id}",
    "response": {
        "json": {
            "id": "{{ request.path_params.id }}",
            "guest": "Ada Lovelace",
            "cid": "{{ request.headers['x-correlation-id'] }}",
        }
    },
}


@pytest.fixture
def pms():
    with MockServer([RESERVATION], seed=7, name="pms") as mock:
        yield mock


@pytest.fixture
def client(pms: MockServer):
    with httpx.Client(base_url=pms.url, timeout=5) as c:
        yield c


def test_stub_answers_with_rendered_template(client: httpx.Client, pms: MockServer) -> None:
    r = client.get("/reservations/42", headers={"x-correlation-id": "cid-9"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"id": "42", "guest": "Ada Lovelace", "cid": "cid-9"}
    entry = pms.verify("GET", "/reservations/{id}", count=1, headers={"x-correlation-id": "cid-9"})[
        0
    ]
    assert (entry.stub, entry.status, entry.path) == ("reservation", 200, "/reservations/42")


def test_unmatched_request_is_404_and_journaled(client: httpx.Client, pms: MockServer) -> None:
    r = client.post("/nothing", json={"a": 1})
    assert r.status_code == 404 and r.json()["error"] == "no stub matched"
    assert pms.requests("POST", "/nothing")[0].body == '{"a":1}'


def test_keep_alive_serves_many_requests_on_one_connection(pms: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", pms.port), timeout=5) as s:
        # three pipelined requests in one write; answers come back in order
        s.sendall(
            b"GET /reservations/1 HTTP/1.1\r\nhost: x\r\n\r\n"
            b"HEAD /reservations/2 HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /reservations/3 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.index(b'"id": "1"') < data.index(b'"id": "3"')
    assert b'"id": "2"' not in data  # HEAD has no body


def test_malformed_request_gets_400(pms: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", pms.port), timeout=5) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 400")


def test_verify_failure_says_what_arrived(client: httpx.Client, pms: MockServer) -> None:
    client.get("/reservations/1")
    with pytest.raises(
        AssertionError, match=r"expected exactly 2 .* got 1; last requests: GET /reservations/1"
    ):
        pms.verify("GET", "/reservations/{id}", count=2)
    with pytest.raises(AssertionError, match="at least 1"):
        pms.verify("GET", "/reservations/{id}", headers={"x-correlation-id": {"present": True}})


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("connection_reset", httpx.ReadError),
        ("empty_response", httpx.RemoteProtocolError),
        ("malformed_chunk", httpx.RemoteProtocolError),
        ("random_data_then_close", httpx.RemoteProtocolError),
    ],
)
def test_transport_faults_reach_the_client(pms: MockServer, fault: str, error: type) -> None:
    pms.add_stub({"name": "broken", "path": "/broken", "response": {"fault": fault}})
    with httpx.Client(base_url=pms.url, timeout=5) as c:
        with pytest.raises(error):
            c.get("/broken")
        assert c.get("/reservations/1").status_code == 200  # the next connection is fine
    assert pms.requests(path="/broken")[0].fault == fault


def test_reset_is_a_tcp_rst(pms: MockServer) -> None:
    pms.set_fault("connection_reset")
    with socket.create_connection(("127.0.0.1", pms.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            s.recv(1024)


def test_global_fault_with_probability(pms: MockServer) -> None:
    pms.set_fault("empty_response", probability=0.5)
    answered = 0
    for _ in range(60):
        with socket.create_connection(("127.0.0.1", pms.port), timeout=5) as s:
            s.sendall(b"GET /reservations/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            answered += s.recv(16).startswith(b"HTTP/1.1 200")
    assert 12 <= answered <= 48  # seeded: about half get no answer at all
    assert sum(e.fault == "empty_response" for e in pms.requests()) == 60 - answered
    pms.set_fault(None)
    with pytest.raises(UsageError, match="between 0 and 1"):
        pms.set_fault("empty_response", probability=2)


def test_stub_latency_and_global_latency(client: httpx.Client, pms: MockServer) -> None:
    pms.add_stub({"name": "slow", "path": "/slow", "response": {"latency": {"fixed_ms": 150}}})
    t0 = time.monotonic()
    assert client.get("/slow").status_code == 200
    assert time.monotonic() - t0 >= 0.14
    pms.set_latency({"min_ms": 100, "max_ms": 120})
    t0 = time.monotonic()
    client.get("/reservations/1")
    assert time.monotonic() - t0 >= 0.095
    assert pms.requests(path="/reservations/1")[0].duration_ms >= 95


def test_priority_and_runtime_stub_precedence(client: httpx.Client, pms: MockServer) -> None:
    pms.add_stub(
        {"name": "vip", "path": "/reservations/vip", "response": {"status": 418}}, first=False
    )
    assert client.get("/reservations/vip").status_code == 200  # same priority, earlier stub wins
    pms.add_stub(
        {"name": "vip", "path": "/reservations/vip", "priority": 1, "response": {"status": 418}}
    )
    assert client.get("/reservations/vip").status_code == 418
    assert pms.remove_stub("vip") and not pms.remove_stub("vip")


def test_stateful_scenario(client: httpx.Client, pms: MockServer) -> None:
    for raw in (
        {
            "name": "book",
            "method": "POST",
            "path": "/book",
            "scenario": "booking",
            "required_state": "Started",
            "new_state": "Booked",
            "response": {"status": 201},
        },
        {
            "name": "book again",
            "method": "POST",
            "path": "/book",
            "scenario": "booking",
            "required_state": "Booked",
            "response": {"status": 409},
        },
    ):
        pms.add_stub(raw, first=False)
    assert [client.post("/book").status_code for _ in range(3)] == [201, 409, 409]
    assert pms.scenario_state("booking") == "Booked"
    pms.reset()
    assert client.post("/book").status_code == 201


def test_named_failure_for_a_duration(client: httpx.Client, pms: MockServer) -> None:
    pms.activate_failure("throttling", seconds=1.0)
    r = client.get("/reservations/1")
    assert (r.status_code, r.headers["retry-after"]) == (429, "1")
    assert pms.requests()[-1].scenario == "throttling"
    assert pms.active_failures()[0]["name"] == "throttling"
    deadline = time.monotonic() + 3
    while client.get("/reservations/1").status_code == 429:
        assert time.monotonic() < deadline, "throttling did not end"
        time.sleep(0.05)
    assert pms.active_failures() == []


def test_named_failure_only_on_paths(client: httpx.Client, pms: MockServer) -> None:
    pms.add_stub({"name": "tts", "path": "/speak", "response": {"body": "audio"}})
    pms.activate_failure("auth_failure", 5, paths=["/speak"])
    assert client.get("/speak").status_code == 401
    assert client.get("/reservations/1").status_code == 200
    pms.deactivate_failure("auth_failure")
    assert client.get("/speak").status_code == 200


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_outage_refuses_connections_then_recovers(pms: MockServer) -> None:
    pms.activate_failure("outage", seconds=1.5)
    assert refused(pms.port)
    deadline = time.monotonic() + 10
    while refused(pms.port):
        assert time.monotonic() < deadline, "the port did not reopen"
        time.sleep(0.05)
    assert httpx.get(pms.url + "/reservations/1", timeout=5).status_code == 200


def test_outage_ended_early(pms: MockServer) -> None:
    pms.activate_failure("outage", seconds=30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(pms.url + "/reservations/1", timeout=2)
    pms.deactivate_failure()
    assert httpx.get(pms.url + "/reservations/1", timeout=2).status_code == 200


def test_timeout_scenario_hangs_past_client_timeout(pms: MockServer) -> None:
    pms.activate_failure("timeout", seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(pms.url + "/reservations/1", timeout=0.3)
    entry = pms.requests("GET", "/reservations/{id}")[0]
    assert entry.scenario == "timeout"  # journaled on arrival, while still hanging


def test_unknown_scenario_is_one_clear_error(pms: MockServer) -> None:
    with pytest.raises(ScenarioError, match="unknown failure scenario 'meltdown'"):
        pms.activate_failure("meltdown", 3)


def test_user_defined_scenario_from_stub_file(tmp_path: Path) -> None:
    f = tmp_path / "stubs.toml"
    f.write_text(
        '[[stubs]]\npath = "/r"\n'
        '[scenarios.maintenance]\nstatus = 503\nheaders = { "Retry-After" = "{remaining_s}" }\n'
    )
    with MockServer.from_file(f) as mock:
        mock.activate_failure("maintenance", 20)
        r = httpx.get(mock.url + "/r")
        assert r.status_code == 503 and 19 <= int(r.headers["retry-after"]) <= 20


def test_journal_intervals_show_backoff(client: httpx.Client, pms: MockServer) -> None:
    for pause in (0.0, 0.1, 0.4):
        time.sleep(pause)
        client.get("/reservations/1")
    gaps = pms.journal.intervals("GET", "/reservations/{id}")
    assert len(gaps) == 2 and gaps[1] > gaps[0] + 0.1
    assert pms.requests()[0].timestamp <= pms.requests()[1].timestamp


def test_admin_api(client: httpx.Client, pms: MockServer) -> None:
    assert client.get("/__admin/health").json()["stubs"] == 1
    r = client.post(
        "/__admin/stubs",
        json={"name": "x", "method": "GET", "path": "/x", "response": {"status": 202}},
    )
    assert r.status_code == 201
    assert client.get("/x").status_code == 202
    assert {s["name"] for s in client.get("/__admin/stubs").json()["stubs"]} == {"x", "reservation"}
    bad = client.post("/__admin/stubs", json={"path": "/y", "headers": {"a": {"nope": 1}}})
    assert bad.status_code == 400 and "unknown matcher 'nope'" in bad.json()["error"]
    assert client.post("/__admin/requests/count", json={"path": "/x"}).json() == {"count": 1}
    assert len(client.get("/__admin/requests", params={"path": "/x"}).json()["requests"]) == 1
    assert client.post("/__admin/faults", json={"fault": "zap"}).status_code == 400
    assert client.post("/__admin/scenarios/throttling", json={"seconds": 5}).status_code == 200
    assert client.get("/x").status_code == 429
    assert client.get("/__admin/scenarios").json()["active"][0]["name"] == "throttling"
    assert client.delete("/__admin/scenarios").json() == {"deactivated": 1}
    assert client.post("/__admin/scenarios/nope", json={"seconds": 5}).status_code == 400
    client.put("/__admin/states/booking", json={"state": "Booked"})
    assert pms.scenario_state("booking") == "Booked"
    assert client.post("/__admin/latency", json={"fixed_ms": 1}).status_code == 200
    assert client.delete("/__admin/stubs/x").status_code == 200
    assert client.delete("/__admin/stubs/x").status_code == 404
    assert client.post("/__admin/reset").json() == {"reset": True}
    assert pms.requests() == [] and pms.scenario_state("booking") == "Started"
    assert client.get("/__admin/nothing").status_code == 404
    assert client.post("/__admin/stubs", content=b"{bad").status_code == 400


def test_admin_activated_outage_answers_first(pms: MockServer) -> None:
    r = httpx.post(pms.url + "/__admin/scenarios/outage", json={"seconds": 30}, timeout=5)
    assert r.status_code == 200  # answered before the port closed
    deadline = time.monotonic() + 5
    while not refused(pms.port):  # the watcher closes the port right after answering
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pms.deactivate_failure()


def test_record_mode_proxies_and_saves_stubs(pms: MockServer, tmp_path: Path) -> None:
    with MockServer(record_upstream=pms.url) as recorder:
        r = httpx.get(recorder.url + "/reservations/5?lang=en", headers={"x-correlation-id": "c"})
        assert r.json()["id"] == "5"
        httpx.get(recorder.url + "/missing")
        out = recorder.save_recorded(tmp_path / "recorded.json")
    doc = json.loads(out.read_text())
    assert [s["name"] for s in doc["stubs"]] == ["GET /reservations/5?lang=en", "GET /missing"]
    with MockServer.from_file(out) as replay:
        again = httpx.get(replay.url + "/reservations/5?lang=en")
        assert again.json() == r.json()
        assert httpx.get(replay.url + "/missing").status_code == 404
        assert (
            httpx.get(replay.url + "/reservations/5?lang=fr").json()["error"] == "no stub matched"
        )


def test_record_upstream_down_is_502(tmp_path: Path) -> None:
    with MockServer() as dead:
        url = dead.url
    with MockServer(record_upstream=url) as recorder:
        r = httpx.get(recorder.url + "/x")
        assert r.status_code == 502 and "upstream failed" in r.json()["error"]


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(SafetyError, match="not loopback"):
        MockServer(host="0.0.0.0")


def test_port_in_use_is_a_usage_error(pms: MockServer) -> None:
    with pytest.raises(UsageError, match="could not listen"):
        MockServer(port=pms.port).start()


def test_url_before_start() -> None:
    with pytest.raises(UsageError, match="not started"):
        _ = MockServer().url


def test_upstream_passthrough_applies_scenarios(pms: MockServer) -> None:
    with MockServer(upstream=pms.url) as front:
        assert httpx.get(front.url + "/reservations/3").json()["id"] == "3"
        front.activate_failure("service_failure", 5)
        assert httpx.get(front.url + "/reservations/3").status_code == 503
        assert front.recorded_stubs() == []
        assert [e.stub for e in front.requests()] == ["(upstream)", None]
    assert pms.verify("GET", "/reservations/{id}", count=1)
    with pytest.raises(UsageError, match="not both"):
        MockServer(upstream=pms.url, record_upstream=pms.url)


def test_admin_port_stays_up_during_an_outage() -> None:
    with MockServer([{"path": "/r"}], admin_port=0) as mock:
        assert mock.admin_url != mock.url
        admin = mock.admin_url + "/__admin"
        assert httpx.post(admin + "/scenarios/outage", json={"seconds": 30}).status_code == 200
        deadline = time.monotonic() + 3
        while True:
            try:
                httpx.get(mock.url + "/r", timeout=1)
            except (httpx.ConnectError, httpx.RemoteProtocolError):
                # refused, or accepted just before the listener closed and then dropped
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert httpx.get(admin + "/scenarios").json()["active"][0]["name"] == "outage"
        assert httpx.delete(admin + "/scenarios").json() == {"deactivated": 1}
        deadline = time.monotonic() + 3
        while True:
            try:
                assert httpx.get(mock.url + "/r", timeout=1).status_code == 200
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.02)
