"""A HAR Chromium's DevTools events describe, built live, is read without loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from battletest.replay.har import read_episode, write_episode

from .browser_har import CHROMEDRIVER, CHROMIUM, chromium_har

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian chromium and chromium-driver (make system-deps)",
    ),
]


def test_a_live_chromium_har_is_read_and_rewritten_without_loss(tmp_path: Path) -> None:
    har = chromium_har(tmp_path / "chromium.har")
    raw = json.loads(har.read_text())["log"]["entries"]
    episode = read_episode(har)
    assert len(episode.entries) == len(raw) >= 3
    by_url = {(e.method, e.url): e for e in episode.entries}
    for item in raw:
        entry = by_url[(item["request"]["method"], item["request"]["url"])]
        assert entry.status == item["response"]["status"]
        assert entry.http_version == item["request"]["httpVersion"]
        assert entry.response_body.decode() == item["response"]["content"]["text"]
        assert [(h["name"], h["value"]) for h in item["response"]["headers"]] == (
            entry.response_headers
        )
    post = next(e for e in episode.entries if e.method == "POST")
    assert json.loads(post.request_body) == {"hello": "world"}
    again = read_episode(write_episode(episode, tmp_path / "again.har"))
    assert again.entries == episode.entries
