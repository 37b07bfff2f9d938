"""The Toxiproxy-compatible REST API: routes, bodies and status codes, over a real socket."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from battletest.chaos.proxy import FaultProxy
from battletest.netutil import free_port

pytestmark = pytest.mark.chaos

# One pooled client for the module: a fresh client per call costs ~50 ms of TLS setup.
HTTP = httpx.Client(timeout=10)


def teardown_module() -> None:
    HTTP.close()


@pytest.fixture
def api(faults_api: FaultProxy) -> str:
    assert faults_api.api_url is not None
    return faults_api.api_url


def _post(url: str, body: Any, content_type: str | None = None) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return HTTP.post(url, content=json.dumps(body), headers=headers)


def test_proxy_lifecycle_with_toxiproxy_status_codes(api: str, echo_server: Any) -> None:
    # JSON accepted whatever the Content-Type says, as Toxiproxy does.
    r = _post(f"{api}/proxies", {"name": "pms", "upstream": echo_server.address}, "text/plain")
    assert r.status_code == 201
    created = r.json()
    assert created["name"] == "pms" and created["enabled"] is True and created["toxics"] == []
    assert created["listen"].startswith("127.0.0.1:") and not created["listen"].endswith(":0")

    assert _post(f"{api}/proxies", {"name": "pms", "upstream": "x:1"}).status_code == 409
    assert HTTP.get(f"{api}/proxies").json()["pms"]["upstream"] == echo_server.address
    assert HTTP.get(f"{api}/proxies/pms").status_code == 200

    toxic = {"type": "latency", "stream": "upstream", "attributes": {"latency": 10}}
    r = _post(f"{api}/proxies/pms/toxics", toxic, "application/x-www-form-urlencoded")
    assert r.status_code == 200
    assert r.json()["name"] == "latency_upstream"
    assert _post(f"{api}/proxies/pms/toxics", toxic).status_code == 409
    assert [t["name"] for t in HTTP.get(f"{api}/proxies/pms/toxics").json()] == ["latency_upstream"]

    r = _post(f"{api}/proxies/pms/toxics/latency_upstream", {"attributes": {"jitter": 3}})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"latency": 10, "jitter": 3}
    r = HTTP.patch(f"{api}/proxies/pms/toxics/latency_upstream", json={"toxicity": 0.5})
    assert r.status_code == 200 and r.json()["toxicity"] == 0.5
    assert HTTP.get(f"{api}/proxies/pms/toxics/latency_upstream").json()["toxicity"] == 0.5

    assert _post(f"{api}/proxies/pms", {"enabled": False}).json()["enabled"] is False
    assert HTTP.patch(f"{api}/proxies/pms", json={"enabled": True}).json()["enabled"] is True

    assert HTTP.delete(f"{api}/proxies/pms/toxics/latency_upstream").status_code == 204
    assert HTTP.get(f"{api}/proxies/pms/toxics/latency_upstream").status_code == 404
    assert HTTP.delete(f"{api}/proxies/pms").status_code == 204
    assert HTTP.get(f"{api}/proxies/pms").status_code == 404


def test_reset_enables_everything_and_removes_toxics(api: str, echo_server: Any) -> None:
    _post(f"{api}/proxies", {"name": "a", "upstream": echo_server.address, "enabled": False})
    _post(f"{api}/proxies", {"name": "b", "upstream": echo_server.address})
    _post(f"{api}/proxies/b/toxics", {"type": "timeout", "attributes": {"timeout": 5}})
    r = HTTP.post(f"{api}/reset")
    assert r.status_code == 204 and r.content == b""
    proxies = HTTP.get(f"{api}/proxies").json()
    assert proxies["a"]["enabled"] is True and proxies["b"]["toxics"] == []


def test_version(api: str) -> None:
    r = HTTP.get(f"{api}/version")
    assert r.status_code == 200 and r.json()["version"].startswith("2.")


def test_populate_creates_and_replaces(api: str, echo_server: Any) -> None:
    body = [
        {"name": "one", "listen": "127.0.0.1:0", "upstream": echo_server.address},
        {"name": "two", "upstream": echo_server.address, "enabled": False},
    ]
    r = _post(f"{api}/populate", body, "text/plain")
    assert r.status_code == 201
    assert [p["name"] for p in r.json()["proxies"]] == ["one", "two"]
    r = _post(f"{api}/populate", [{"name": "one", "upstream": "127.0.0.1:9"}])
    assert r.status_code == 201 and r.json()["proxies"][0]["upstream"] == "127.0.0.1:9"


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/proxies", {"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ("/proxies", {"name": "x"}, 400, "missing required field: upstream"),
        ("/proxies", {"name": "x", "upstream": "nope"}, 400, "not host:port"),
        ("/proxies", {"name": "x/y", "upstream": "h:1"}, 400, "invalid name"),
        ("/proxies/ghost/toxics", {"type": "latency"}, 404, "proxy not found"),
        ("/populate", {"name": "not-a-list"}, 400, "a JSON list of proxies"),
    ],
)
def test_bad_requests(api: str, path: str, body: Any, status: int, message: str) -> None:
    r = _post(f"{api}{path}", body)
    assert r.status_code == status
    assert message in r.json()["error"] and r.json()["status"] == status


def test_bad_json_is_a_400(api: str) -> None:
    r = HTTP.post(f"{api}/proxies", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"].startswith("bad request body")


def test_bad_toxics_are_400_and_never_half_applied(api: str, echo_server: Any) -> None:
    _post(f"{api}/proxies", {"name": "p", "upstream": echo_server.address})
    for toxic in (
        {"type": "earthquake"},
        {"type": "latency", "attributes": {"latency": 10, "bogus": 1}},
        {"type": "latency", "toxicity": 1.01},
    ):
        r = _post(f"{api}/proxies/p/toxics", toxic)
        assert r.status_code == 400, toxic
    assert HTTP.get(f"{api}/proxies/p/toxics").json() == []
    _post(f"{api}/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 10}})
    r = _post(f"{api}/proxies/p/toxics/latency_downstream", {"attributes": {"latency": -1}})
    assert r.status_code == 400
    assert HTTP.get(f"{api}/proxies/p/toxics").json()[0]["attributes"]["latency"] == 10


def test_populate_is_all_or_nothing(api: str, echo_server: Any) -> None:
    taken = echo_server.address  # already bound: the second proxy cannot listen there
    body = [
        {"name": "fine", "upstream": echo_server.address},
        {"name": "clash", "listen": taken, "upstream": echo_server.address},
    ]
    r = _post(f"{api}/populate", body)
    assert r.status_code == 409 and "already in use" in r.json()["error"]
    assert HTTP.get(f"{api}/proxies").json() == {}
    r = _post(f"{api}/populate", [{"name": "ok", "upstream": "h:1"}, {"name": "bad"}])
    assert r.status_code == 400 and "proxy #2" in r.json()["error"]
    assert HTTP.get(f"{api}/proxies").json() == {}


def test_api_port_in_use_is_a_clear_error(api: str) -> None:
    from battletest.errors import ConfigError

    taken = api.split("://", 1)[1]
    with pytest.raises(ConfigError, match="cannot be bound"), FaultProxy(api=taken):
        pass


def test_proxy_listen_update_moves_the_listener(api: str, echo_server: Any) -> None:
    _post(f"{api}/proxies", {"name": "m", "upstream": echo_server.address})
    port = free_port()
    r = _post(f"{api}/proxies/m", {"listen": f"127.0.0.1:{port}"})
    assert r.status_code == 200 and r.json()["listen"] == f"127.0.0.1:{port}"
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"moved")
        assert sock.recv(10) == b"moved"


def test_moving_to_a_busy_port_keeps_the_old_listener(api: str, echo_server: Any) -> None:
    created = _post(f"{api}/proxies", {"name": "stay", "upstream": echo_server.address}).json()
    r = _post(f"{api}/proxies/stay", {"listen": echo_server.address})
    assert r.status_code == 409 and "already in use" in r.json()["error"]
    shown = HTTP.get(f"{api}/proxies/stay").json()
    assert shown["listen"] == created["listen"] and shown["enabled"] is True
    import socket

    host, port = created["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"still")
        assert sock.recv(10) == b"still"


def test_populate_with_toxics_applies_them_or_nothing(api: str, echo_server: Any) -> None:
    good = [
        {
            "name": "pms",
            "upstream": echo_server.address,
            "toxics": [{"type": "latency", "attributes": {"latency": 50}}],
        }
    ]
    r = _post(f"{api}/populate", good)
    assert r.status_code == 201
    assert r.json()["proxies"][0]["toxics"][0]["attributes"]["latency"] == 50
    bad = [
        {"name": "pms", "upstream": echo_server.address, "toxics": [{"type": "latency"}]},
        {"name": "tts", "upstream": echo_server.address, "toxics": [{"type": "nope"}]},
    ]
    r = _post(f"{api}/populate", bad)
    assert r.status_code == 400 and "proxy 'tts': unknown toxic type 'nope'" in r.json()["error"]
    proxies = HTTP.get(f"{api}/proxies").json()
    assert sorted(proxies) == ["pms"]
    assert proxies["pms"]["toxics"][0]["attributes"]["latency"] == 50


def test_populate_failure_restores_replaced_proxies(api: str, echo_server: Any) -> None:
    first = _post(f"{api}/populate", [{"name": "a", "upstream": echo_server.address}])
    listen = first.json()["proxies"][0]["listen"]
    body = [
        {"name": "a", "upstream": "127.0.0.1:9"},  # a replacement ...
        {"name": "b", "listen": echo_server.address, "upstream": "127.0.0.1:9"},  # ... fails
    ]
    assert _post(f"{api}/populate", body).status_code == 409
    shown = HTTP.get(f"{api}/proxies/a").json()
    assert shown["upstream"] == echo_server.address and shown["listen"] == listen
    import socket

    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"back")
        assert sock.recv(10) == b"back"
