"""Replay as mock: a ``MockServer`` that answers as the recordings did.

``stubs_for`` turns recordings into the mock's stubs (``convert.to_stubs``: method, path,
query and body matching with masks, stateful sequences for a request recorded several times),
so everything the mock does applies on top: latency and fault injection, named failure
scenarios, the journal. ``battletest mock serve --har`` and ``battletest replay --frozen``
use it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from battletest.chaos.mock import MockServer
from battletest.chaos.mock.stubs import Stub, parse_stub
from battletest.replay.convert import to_stubs
from battletest.replay.har import Episode
from battletest.replay.masks import MaskSet


def stubs_for(episodes: Sequence[Episode], masks: MaskSet | None = None) -> list[Stub]:
    """The stubs of every recording, in order (a later episode's requests after earlier ones)."""
    raw: list[dict[str, Any]] = []
    for episode in episodes:
        raw.extend(to_stubs(episode, masks))
    return [parse_stub(s, i) for i, s in enumerate(raw)]


@contextmanager
def mock_for(
    episodes: Sequence[Episode], masks: MaskSet | None = None, **options: Any
) -> Iterator[MockServer]:
    """A started mock serving ``episodes`` on a free loopback port (``options``: MockServer's)."""
    options.setdefault("port", 0)
    with MockServer(stubs_for(episodes, masks), **options) as server:
        yield server


__all__ = ["mock_for", "stubs_for"]
