"""The pytest plugin records the same way: a marker or --bt-record DIR (pytester, real sockets)."""

from __future__ import annotations

import json

import pytest

from battletest.demo import DemoHandle
from battletest.replay.har import read_episode

pytestmark = [pytest.mark.slow, pytest.mark.network]

TESTS = """
import pytest

@pytest.mark.bt_record(dir="recs")
def test_marked(bt_client):
    assert bt_client.get("/health").status_code == 200
    r = bt_client.post("/v1/auth/login", json={"username": "guest1@demo.test", "password": "guest1-Demo-2026!"})
    assert r.status_code == 200
    token = r.json()["access_token"]
    assert bt_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

def test_plain(bt_client):
    assert bt_client.get("/health").status_code == 200
"""


# in a subprocess: an in-process run drops the modules it imported (httpcore's first
# connection among them), and the next in-process run elsewhere would get a second copy whose
# exceptions httpx no longer maps


def test_a_marked_test_is_recorded_with_correlation(
    pytester: pytest.Pytester, fresh_demo: DemoHandle
) -> None:
    pytester.makepyfile(test_flow=TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--bt-target", fresh_demo.base_url
    )
    result.assert_outcomes(passed=2)
    recordings = sorted((pytester.path / "recs").glob("*.har"))
    assert [p.name for p in recordings] == ["test_flow.py__test_marked.har"]
    episode = read_episode(recordings[0])
    assert [e.status for e in episode.entries] == [200, 200, 200]
    assert episode.entries[1].extract == {"access_token": "json:access_token"}
    assert "guest1-Demo-2026!" not in recordings[0].read_text()
    assert json.loads(recordings[0].read_text())["log"]["version"] == "1.2"


def test_bt_record_dir_records_every_test(
    pytester: pytest.Pytester, fresh_demo: DemoHandle
) -> None:
    pytester.makepyfile(test_flow=TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--bt-target", fresh_demo.base_url, "--bt-record", "all"
    )
    result.assert_outcomes(passed=2)
    names = sorted(p.name for p in (pytester.path / "all").glob("*.har"))
    assert names == ["test_flow.py__test_marked.har", "test_flow.py__test_plain.har"]
