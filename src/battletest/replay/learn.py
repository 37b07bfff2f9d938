"""Masks learned from recordings: answers to the same operation compared with each other.

``learn_from_episodes`` groups every recorded JSON answer by operation (``GET /v1/calls/{id}``)
and status, and hands each group of two or more to ``masks.learn``; the result is a
``MaskSet`` a user reviews and edits (``battletest har learn-masks``). Only recordings are read:
nothing is sent, so unsafe methods learn as safely as safe ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from battletest.redact import Redactor
from battletest.replay.har import Episode
from battletest.replay.masks import Mask, MaskSet, learn
from battletest.replay.player import operation_of

MAX_ANSWERS = 50  # per operation and status: enough to see what varies, bounded in time


def learn_from_episodes(episodes: Iterable[Episode], redactor: Redactor | None = None) -> MaskSet:
    """Masks proposed from every operation answered at least twice with JSON."""
    red = redactor or Redactor()
    groups: dict[tuple[str, int], list[Any]] = {}
    for episode in episodes:
        for entry in episode.entries:
            if not entry.response_body or "json" not in entry.response_mime.lower():
                continue
            bucket = groups.setdefault((operation_of(entry), entry.status), [])
            if len(bucket) >= MAX_ANSWERS:
                continue
            try:
                bucket.append(json.loads(red.text(entry.response_body.decode("utf-8", "replace"))))
            except ValueError:
                continue
    found: list[Mask] = []
    for (operation, _status), answers in sorted(groups.items()):
        found.extend(learn(operation, answers))
    return MaskSet().merge(found)


__all__ = ["learn_from_episodes"]
