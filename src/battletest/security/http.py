"""The scanner's only door to the network: a paced, counted HTTP client that records exchanges.

Every request a check sends goes through ``ScanClient.send``: the scanner's own rate limit
(``--max-rps``, a token bucket on an injectable clock) is applied, the request is counted, and
an ``Exchange`` (request and response, both redacted when rendered) comes back for evidence and
a reproducing curl command. Tests pass an ``httpx`` transport to stay socket-free.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from battletest.errors import TargetUnreachable
from battletest.redact import redact_headers, redact_text

CURL_BODY_LIMIT = 64 * 1024
EXCERPT = 600


@dataclass(slots=True)
class Exchange:
    """One request sent and the response it got."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: httpx.Headers
    response_body: bytes
    elapsed_s: float = 0.0

    @property
    def text(self) -> str:
        return self.response_body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        value = self.response_headers.get(name)
        return str(value) if value is not None else None

    def evidence(self, secrets: Iterable[str] = (), note: str = "") -> dict[str, Any]:
        """A redacted request and response excerpt."""
        known = list(secrets)
        body = self.request_body.decode("utf-8", "replace")
        resp_headers = [
            (k, v)
            for k, v in self.response_headers.multi_items()
            if k.lower() not in {"date", "content-length"}
        ]
        out: dict[str, Any] = {
            "request": "\n".join(
                [f"{self.method} {self.url}", *redact_headers(self.request_headers, known)]
                + ([("\n" + redact_text(body[:EXCERPT], known))] if body else [])
            ),
            "response": "\n".join(
                [f"HTTP {self.status}", *redact_headers(resp_headers, known)]
                + (["\n" + redact_text(self.text[:EXCERPT], known)] if self.response_body else [])
            ),
        }
        if note:
            out["note"] = note
        return out

    def curl(self, secrets: Iterable[str] = ()) -> str:
        """A redacted curl command that sends this request again."""
        known = list(secrets)
        parts = ["curl", "-i", "-X", self.method]
        for line in redact_headers(self.request_headers, known):
            name = line.split(":", 1)[0].lower()
            if name in {"host", "content-length", "accept-encoding", "connection", "user-agent"}:
                continue
            parts += ["-H", line]
        if len(self.request_body) > CURL_BODY_LIMIT:  # a finding about size sets its own
            head = self.request_body[:EXCERPT].decode("utf-8", "replace")
            parts += ["--data-raw", f"{redact_text(head, known)}… ({len(self.request_body)} bytes)"]
        elif self.request_body:
            parts += [
                "--data-raw",
                redact_text(self.request_body.decode("utf-8", "replace"), known),
            ]
        parts.append(self.url)
        return " ".join(shlex.quote(p) for p in parts)


@dataclass
class RateLimiter:
    """A token bucket: at most ``rate`` requests per second (``None``: unpaced)."""

    rate: float | None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self) -> None:
        if not self.rate:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self.sleep(start - now)


class ScanClient:
    """Paced, counted HTTP client bound to one target base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        max_rps: float | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or RateLimiter(max_rps)
        self.requests = 0
        self._client = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "battletest-scan"},
        )

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | str | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> Exchange:
        """Send one request; a network failure raises ``TargetUnreachable``."""
        self.limiter.acquire()
        self.requests += 1
        hdrs = dict(headers or {})
        if cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body: bytes | str | None = content
        if json_body is not None and content is None:
            body = json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        request = self._client.build_request(
            method,
            self.url(path),
            headers=hdrs,
            params=dict(params) if params else None,
            content=body,
        )
        started = time.perf_counter()
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            raise TargetUnreachable(
                f"the target stopped answering during the scan ({method} {request.url}: {exc})",
                hint="check that the service is up, or lower --max-rps",
            ) from None
        elapsed = time.perf_counter() - started
        return Exchange(
            method=method,
            url=str(request.url),
            request_headers=[
                (k, v)
                for k, v in request.headers.multi_items()
                if k.lower() in {h.lower() for h in hdrs} or k.lower() == "content-type"
            ],
            request_body=request.content,
            status=response.status_code,
            response_headers=response.headers,
            response_body=response.content,
            elapsed_s=elapsed,
        )
