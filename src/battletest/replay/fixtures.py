"""Recording from pytest: ``@pytest.mark.bt_record`` or ``pytest --bt-record DIR``.

The plugin's ``bt_client`` then sends through a recording proxy (``recorder.Recorder``, the
same one ``battletest record`` runs) in front of the target, with the session transport's write
policy and pacing, and the test's traffic is written as ``DIR/<test>.har`` when the test ends
(the marker's ``dir=`` or ``.battletest/recordings`` without the option).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from battletest.replay.recorder import Recorder
from battletest.transport import Transport

DEFAULT_DIR = Path(".battletest") / "recordings"


def recording_path(folder: str | Path | None, nodeid: str) -> Path:
    """``DIR/<test id as a file name>.har``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.replace("::", "__")).strip("_")
    return Path(folder or DEFAULT_DIR) / f"{name}.har"


@contextmanager
def recording_client(transport: Any, out: Path) -> Iterator[httpx.Client]:
    """An httpx client whose requests pass through a recording proxy to ``transport``'s target,
    under the same write policy, pacing and redaction; ``out`` is written on exit."""
    with Recorder(transport.base_url, out=out, redactor=transport.redactor) as recorder:
        proxied = Transport(
            recorder.url,
            timeout=transport.timeout,
            policy=transport.policy,
            redactor=transport.redactor,
            rate_limits=None,
        )
        proxied.pacer = transport.pacer  # the session's pacing, shared
        try:
            yield proxied("recorded")
        finally:
            proxied.close()


__all__ = ["DEFAULT_DIR", "recording_client", "recording_path"]
