"""``Recorder``: a recording reverse proxy on the fault proxy's HTTP layer, writing HAR 1.2.

The fault proxy (``battletest.chaos.proxy``) already parses HTTP/1.1 on each connection for its
HTTP toxics; a recording proxy is one of its proxies with an ``ExchangeObserver`` per
connection and no toxic, so the bytes pass unchanged and each complete request and answer is
seen once, in order. When the recording stops, the episode is correlated (reused ids and
tokens become named placeholders, ``correlate.correlate``), protected (secrets and personal data
out, ``correlate.protect`` with the ``Redactor``) and written. The listener is loopback unless
``allow_remote`` (the rule of the proxy's control API: a recording proxy on another address is
an open relay to the target).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from battletest.errors import SafetyError, UsageError
from battletest.netutil import is_loopback_host
from battletest.redact import Redactor
from battletest.replay.correlate import correlate, protect
from battletest.replay.har import Entry, Episode, write_episode

PROXY_NAME = "record"


def _headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


class Recording:
    """The exchanges seen so far, from every connection, in the order requests completed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._entries: list[tuple[float, Entry]] = []

    def add(self, started: float, entry: Entry) -> None:
        with self._lock:
            self._entries.append((started, entry))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def episode(self, source: str = "") -> Episode:
        with self._lock:
            ordered = [e for _, e in sorted(self._entries, key=lambda pair: pair[0])]
        return Episode(entries=ordered, source=source)

    def observer(self) -> ConnectionRecorder:
        return ConnectionRecorder(self)


class ConnectionRecorder:
    """One connection's observer: pairs each request with the next answer (HTTP/1.1 order)."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.pending: deque[tuple[float, float, Entry]] = deque()

    def request(
        self,
        method: str,
        target: str,
        version: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        url = (
            target
            if target.startswith(("http://", "https://"))
            else self.recording.base_url + target
        )
        entry = Entry(
            method=method,
            url=url,
            status=0,
            request_headers=_headers(headers),
            request_body=body,
            http_version=f"HTTP/{version}",
            started=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        self.pending.append((time.time(), time.perf_counter(), entry))

    def response(
        self,
        status: int,
        reason: str,
        version: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        if not self.pending:
            return  # an answer without a request seen (a switch to byte forwarding)
        wall, started, entry = self.pending.popleft()
        entry.status = status
        entry.reason = reason
        entry.response_headers = _headers(headers)
        entry.response_body = body
        entry.time_ms = (time.perf_counter() - started) * 1000
        entry.timings = {"send": 0.0, "wait": entry.time_ms, "receive": 0.0}
        self.recording.add(wall, entry)


def finish(episode: Episode, redactor: Redactor | None = None) -> Episode:
    """Correlate, then protect: the episode as it is written to disk."""
    return protect(correlate(episode), redactor)


class Recorder:
    """A recording reverse proxy in a background thread.

    >>> with Recorder("http://127.0.0.1:8000", out="episode.har") as rec:   # doctest: +SKIP
    ...     httpx.get(rec.url + "/health")
    >>> # episode.har now holds the exchange
    """

    def __init__(
        self,
        target: str,
        *,
        out: str | Path | None = None,
        listen: str = "127.0.0.1:0",
        allow_remote: bool = False,
        redactor: Redactor | None = None,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            raise UsageError(
                f"cannot record {target!r}: the recording proxy forwards plain HTTP",
                hint="give an http://HOST:PORT target (record https at a TLS-terminating hop)",
            )
        from battletest.chaos.proxy.core import format_address, parse_address

        host, _ = parse_address(listen, "--listen")
        if not is_loopback_host(host) and not allow_remote:
            raise SafetyError(
                f"the recording proxy address {host} is not loopback; anyone who reaches it "
                "could send requests to the target through it",
                hint="listen on 127.0.0.1, or pass --allow-remote",
            )
        self.target = target.rstrip("/")
        self.upstream = format_address(parts.hostname, parts.port or 80)
        self.listen_address = listen
        self.out = Path(out) if out is not None else None
        self.redactor = redactor
        self.recording = Recording(self.target)
        self._faults: object | None = None
        self.url = ""
        self.episode: Episode | None = None

    def start(self) -> Recorder:
        from battletest.chaos.proxy.facade import FaultProxy

        faults = FaultProxy().start()
        try:
            faults.add(PROXY_NAME, self.upstream, self.listen_address, enabled=False)

            def attach() -> None:
                faults.server.get(PROXY_NAME).observe = self.recording.observer

            faults._sync(attach)
            faults.enable(PROXY_NAME)
            self.url = faults.url(PROXY_NAME)
        except BaseException:
            faults.stop()
            raise
        self._faults = faults
        return self

    def stop(self) -> Episode:
        """Stop listening; correlate, protect and (with ``out``) write the episode."""
        from battletest.chaos.proxy.facade import FaultProxy

        faults, self._faults = self._faults, None
        if isinstance(faults, FaultProxy):
            faults.stop()
        if self.episode is None:
            source = str(self.out) if self.out else ""
            self.episode = finish(self.recording.episode(source), self.redactor)
            if self.out is not None:
                write_episode(self.episode, self.out)
        return self.episode

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ConnectionRecorder", "Recorder", "Recording", "finish"]
