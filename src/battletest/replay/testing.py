"""Replay from a pytest test: ``replay_with_client(HAR, bt_client)`` (what ``har to-tests`` writes).

The plugin's ``bt_client`` already goes through the session's transport (its write policy and
pacing); ``ClientSender`` hands the player that client, so a generated test replays exactly as
``battletest replay`` does and returns the differences as lines for its assertion message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from battletest.redact import Redactor
from battletest.replay.har import read_episode
from battletest.replay.masks import MaskSet
from battletest.replay.player import replay_episode
from battletest.results import Status
from battletest.transport import Exchange, WritePolicy


class ClientSender:
    """An ``httpx.Client`` as the player's sender (the client keeps its own cookies)."""

    def __init__(self, client: httpx.Client, redactor: Redactor | None = None) -> None:
        self.client = client
        self.redactor = redactor or Redactor()
        self.policy: WritePolicy | None = None

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str = "",
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
    ) -> Exchange:
        started = time.perf_counter()
        response = self.client.request(method, path, headers=dict(headers or {}), content=content)
        return Exchange(
            method=method,
            url=str(response.request.url),
            request_headers=list(response.request.headers.multi_items()),
            request_body=response.request.content,
            status=response.status_code,
            response_headers=response.headers,
            response_body=response.content,
            elapsed_s=time.perf_counter() - started,
        )

    def release(self, key: str) -> None:
        """Nothing to release: the test owns the client."""

    def url(self, path: str) -> str:
        return str(self.client.base_url).rstrip("/") + path


def replay_with_client(
    har: str | Path,
    client: httpx.Client,
    *,
    inputs: Mapping[str, Any] | None = None,
    masks: str | Path | MaskSet | None = None,
) -> list[str]:
    """Replay a recording with ``client``; one line per difference or request not replayed."""
    mask_set = MaskSet.load(masks) if isinstance(masks, str | Path) else masks
    run = replay_episode(read_episode(har), ClientSender(client), masks=mask_set, inputs=inputs)
    return [f"{c.name}: {c.message}" for c in run.cases if c.status != Status.PASSED]


__all__ = ["ClientSender", "replay_with_client"]
