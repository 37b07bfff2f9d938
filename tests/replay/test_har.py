"""The HAR model: written and read back without loss; browser HARs and VCR.py cassettes in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from battletest.errors import ConfigError
from battletest.replay.har import (
    Entry,
    Episode,
    episode_from_har,
    episode_paths,
    read_episode,
    write_episode,
)

DATA = Path(__file__).parent / "data"


def test_write_then_read_keeps_everything(tmp_path: Path) -> None:
    entry = Entry(
        method="POST",
        url="http://127.0.0.1:8000/v1/calls?x=1",
        status=201,
        request_headers=[("Content-Type", "application/json"), ("X-Trace", "a"), ("X-Trace", "b")],
        request_body=b'{"caller": "{{input.caller}}"}',
        response_headers=[("content-type", "audio/wav")],
        response_body=bytes(range(256)),
        http_version="HTTP/1.1",
        reason="Created",
        started="2026-12-03T12:00:00.000Z",
        time_ms=12.5,
        timings={"send": 0.0, "wait": 12.5, "receive": 0.0},
        extract={"call_id": "json:id"},
    )
    episode = Episode([entry], variables={"call_id": "call_1"}, inputs=["caller"])
    path = write_episode(episode, tmp_path / "e.har")
    data = json.loads(path.read_text())
    assert data["log"]["version"] == "1.2"
    assert data["log"]["entries"][0]["response"]["content"]["encoding"] == "base64"
    back = read_episode(path)
    assert back.entries[0] == entry  # headers in order, duplicates, binary body, timings
    assert back.variables == {"call_id": "call_1"} and back.inputs == ["caller"]


def test_a_browser_har_is_read_in_send_order_without_pseudo_headers() -> None:
    episode = read_episode(DATA / "chromium.har")
    assert episode.creator and len(episode.entries) >= 2
    starts = [e.started_at() for e in episode.entries]
    assert starts == sorted(starts)
    for entry in episode.entries:
        assert not any(k.startswith(":") for k, _ in entry.request_headers)
        assert entry.status in (200, 201, 404) and entry.http_version
    posted = next(e for e in episode.entries if e.method == "POST")
    assert json.loads(posted.request_body) == {"hello": "world"}


def test_a_vcr_cassette_is_read_without_loss() -> None:
    episode = read_episode(DATA / "vcr_cassette.yaml")
    assert episode.creator == "vcr.py"
    get, post = episode.entries
    assert (get.method, get.status, post.method, post.status) == ("GET", 200, "POST", 201)
    assert json.loads(post.request_body) == {"name": "Ada"}
    assert ("content-type", "application/json") in post.response_headers
    assert ("location", "/users/u_1002") in post.response_headers  # every header, as recorded
    assert json.loads(post.response_body)["name"] == "Ada"
    assert get.http_version == ""  # VCR.py does not keep it: not guessed


def test_bad_recordings_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.har"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="is not a HAR file"):
        read_episode(bad)
    bad.write_text('{"log": {"entries": [{"request": {"method": "GET"}, "response": {}}]}}')
    with pytest.raises(ConfigError, match="entry #1: the request needs a method and a url"):
        read_episode(bad)
    with pytest.raises(ConfigError, match="cannot read recording"):
        read_episode(tmp_path / "missing.har")
    with pytest.raises(ConfigError, match=r"list\.har is not a HAR file"):
        episode_from_har([], "list.har")


def test_paths_from_files_folders_globs_and_a_batch_file(tmp_path: Path) -> None:
    for name in ("b.har", "a.har"):
        write_episode(Episode(), tmp_path / name)
    (tmp_path / "batch.txt").write_text("# nightly\nb.har\n")
    assert [p.name for p in episode_paths([str(tmp_path)])] == ["a.har", "b.har"]
    assert [p.name for p in episode_paths([str(tmp_path / "*.har")])] == ["a.har", "b.har"]
    assert [p.name for p in episode_paths([], str(tmp_path / "batch.txt"))] == ["b.har"]
    with pytest.raises(ConfigError, match="recording not found"):
        episode_paths([str(tmp_path / "nope.har")])
